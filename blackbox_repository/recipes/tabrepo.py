"""TabRepo LightGBM (2022 release): 104 LightGBM configurations evaluated on 93 datasets.

Raw format (autogluon/tabrepo ``data/results/lightgbm`` and ``data/configs``):

* ``results_ranked_by_dataset_valid.csv``: one row per (dataset, configuration) with columns
  ``dataset`` (an OpenML task id), ``framework`` (configuration name, e.g. ``LightGBM_r7``),
  ``problem_type``, ``metric_error``, ``time_train_s``, ``time_infer_s``, ``rank``,
  ``loss_rescaled``, ``bestdiff`` and rescaled times. TabRepo aggregated these over its
  folds; fold-level results are not in this file, so each blackbox has one seed.
* ``configs_lightgbm.json``: configuration name -> ``{"hyperparameters": {...}}``. The
  manual configurations leave some hyperparameters at AutoGluon's defaults (``LightGBM_c1``
  sets none); those are filled with the defaults of TabRepo's LightGBM search space.

One blackbox per dataset, ``tabrepo-lightgbm-<OpenML task id>``: configurations of different
datasets are scored with different metrics (1 - AUC, log loss, RMSE), so they are separate
problems. Single fidelity: one full AutoGluon fit; elapsed time is its training time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer

from blackbox_repository.blackbox import Objective
from blackbox_repository.recipes._raw_parsing import (
    check_configurations,
    conversion_error,
    github_raw_url,
    load_json,
    numeric_column,
    read_csv,
)
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile, Recipe
from blackbox_repository.tabular import TabularBlackbox

FAMILY = "tabrepo_lightgbm_2022"
NAME_PREFIX = "tabrepo-lightgbm-"
REPOSITORY = "autogluon/tabrepo"
COMMIT = "051fef15"  # the commit named by the data README; the full hash was not available offline
RESULTS_FILE = f"{FAMILY}/results_ranked_by_dataset_valid.csv"
CONFIGS_FILE = f"{FAMILY}/configs_lightgbm.json"
RAW_FILES = (
    RawFile(
        path=RESULTS_FILE,
        url=github_raw_url(
            REPOSITORY, COMMIT, "data/results/lightgbm/results_ranked_by_dataset_valid.csv"
        ),
        sha256="519932f77089e3d75b7afe81f6e6bdacfff2c058d6dcb155ba5a3a04d073787e",
    ),
    RawFile(
        path=CONFIGS_FILE,
        url=github_raw_url(REPOSITORY, COMMIT, "data/configs/configs_lightgbm.json"),
        sha256="a739185723866a2b78e7b5e6dab836076929478a4e22fb9ad0b9c109274a6dec",
    ),
)

# The 93 OpenML task ids of the ``dataset`` column; one missing from the file is a ConversionError.
TASK_IDS = (
    2073, 3945, 10090, 146818, 146820, 167120, 167210, 168350, 168757, 168784, 168868, 168910,
    168911, 189354, 189356, 189922, 190137, 190146, 190392, 190410, 190411, 190412, 211979,
    211986, 233211, 233213, 233214, 233215, 317614, 359930, 359931, 359932, 359933, 359934,
    359935, 359936, 359937, 359938, 359939, 359940, 359941, 359942, 359943, 359944, 359945,
    359946, 359948, 359949, 359950, 359951, 359952, 359953, 359954, 359955, 359956, 359957,
    359958, 359959, 359960, 359961, 359962, 359963, 359964, 359965, 359966, 359967, 359968,
    359969, 359970, 359971, 359972, 359973, 359974, 359975, 359977, 359979, 359980, 359981,
    359982, 359983, 359984, 359985, 359987, 359990, 359991, 359992, 359993, 360113, 360114,
    360932, 360933, 360945, 360975,
)  # fmt: skip

# Defaults of TabRepo's LightGBM search space (AutoGluon's LightGBM defaults), used where a
# manual configuration leaves a hyperparameter unset.
DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.05,
    "feature_fraction": 1.0,
    "min_data_in_leaf": 20,
    "num_leaves": 31,
    "extra_trees": False,
}
RESULT_COLUMNS = (
    "dataset",
    "framework",
    "problem_type",
    "metric_error",
    "rank",
    "loss_rescaled",
    "bestdiff",
    "time_train_s",
    "time_infer_s",
)
# objective -> raw column
OBJECTIVE_COLUMNS = {
    "metric_error": "metric_error",
    "rank": "rank",
    "loss_rescaled": "loss_rescaled",
    "bestdiff": "bestdiff",
    "train_time": "time_train_s",
    "infer_time": "time_infer_s",
    "elapsed_time": "time_train_s",
}
OBJECTIVES = (
    Objective("metric_error", "min"),
    Objective("rank", "min"),
    Objective("loss_rescaled", "min"),
    Objective("bestdiff", "min"),
    Objective("train_time", "min", "s"),
    Objective("infer_time", "min", "s"),
    Objective("elapsed_time", "min", "s"),
)
METRIC_BY_PROBLEM_TYPE = {"binary": "1 - ROC AUC", "multiclass": "log loss", "regression": "RMSE"}


def blackbox_name(task_id: int) -> str:
    return f"{NAME_PREFIX}{task_id}"


def search_space() -> ConfigurationSpace:
    """TabRepo's LightGBM search space (the random configurations were drawn from it)."""
    return ConfigurationSpace(
        name="tabrepo-lightgbm",
        space=[
            Float("learning_rate", (5e-3, 0.1), log=True, default=DEFAULTS["learning_rate"]),
            Float("feature_fraction", (0.4, 1.0), default=DEFAULTS["feature_fraction"]),
            Integer("min_data_in_leaf", (2, 60), default=DEFAULTS["min_data_in_leaf"]),
            Integer("num_leaves", (16, 255), default=DEFAULTS["num_leaves"]),
            Categorical("extra_trees", [False, True], default=DEFAULTS["extra_trees"]),
        ],
    )


def _config_order(config_name: str) -> tuple[str, int, str]:
    """Manual configs (``_c1``...) before random ones (``_r1``...), numbers in numeric order."""
    match = re.search(r"_([a-z]+)(\d+)$", config_name)
    if match is None:
        return ("~", 0, config_name)
    return (match.group(1), int(match.group(2)), config_name)


def _hyperparameters(config_name: str, entry: Any, path: Path) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("hyperparameters"), dict):
        raise conversion_error(
            path, f"configuration {config_name!r} has no 'hyperparameters' object"
        )
    given = {k: v for k, v in entry["hyperparameters"].items() if k != "ag_args"}
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise conversion_error(
            path,
            f"configuration {config_name!r} sets {unknown}, not in the LightGBM space {sorted(DEFAULTS)}",
        )
    config = {**DEFAULTS, **given}
    for name, default in DEFAULTS.items():
        value = config[name]
        if isinstance(default, bool):
            valid = isinstance(value, bool)
        else:
            valid = isinstance(value, int | float) and not isinstance(value, bool)
            valid = valid and (isinstance(default, float) or float(value).is_integer())
        if not valid:
            raise conversion_error(path, f"configuration {config_name!r} has {name}={value!r}")
        config[name] = type(default)(value)
    return config


def parse_configurations(path: Path, config_names: list[str]) -> pd.DataFrame:
    """The hyperparameters of ``config_names`` (in that order) from ``configs_lightgbm.json``."""
    entries = load_json(path)
    if not isinstance(entries, dict):
        raise conversion_error(
            path, "expected a JSON object mapping configuration names to configs"
        )
    missing = [n for n in config_names if n not in entries]
    if missing:
        raise conversion_error(
            path, f"configurations {missing[:5]} of the results file are not defined"
        )
    rows = [_hyperparameters(n, entries[n], path) for n in config_names]
    return pd.DataFrame(rows, columns=list(DEFAULTS))


def parse_results(path: Path) -> pd.DataFrame:
    """The results table, with its numeric columns checked."""
    table = read_csv(path, RESULT_COLUMNS)
    for column in RESULT_COLUMNS:
        if column not in ("framework", "problem_type"):
            table[column] = numeric_column(table, column, path)
    if table.duplicated(["dataset", "framework"]).any():
        row = table[table.duplicated(["dataset", "framework"])].iloc[0]
        raise conversion_error(
            path,
            f"dataset {row['dataset']:g} has configuration {row['framework']!r} more than once",
        )
    return table


def convert_tabrepo(name: str, raw_dir: Path) -> TabularBlackbox:
    """Build ``tabrepo-lightgbm-<task id>`` from the TabRepo files below ``raw_dir``."""
    task_id = int(name.removeprefix(NAME_PREFIX))
    raw_dir = Path(raw_dir)
    results_path = raw_dir / RESULTS_FILE
    results = parse_results(results_path)
    # every blackbox of the family has the same configurations: all that the file evaluates
    config_names = sorted(results["framework"].astype(str).unique(), key=_config_order)
    configurations = parse_configurations(raw_dir / CONFIGS_FILE, config_names)
    space = search_space()
    check_configurations(configurations, space, raw_dir / CONFIGS_FILE)
    rows = results[results["dataset"] == task_id]
    if rows.empty:
        raise conversion_error(results_path, f"it has no results for dataset {task_id}")
    problem_types = rows["problem_type"].unique()
    if len(problem_types) != 1 or problem_types[0] not in METRIC_BY_PROBLEM_TYPE:
        raise conversion_error(
            results_path,
            f"dataset {task_id} has problem types {list(problem_types)}, expected one of "
            f"{sorted(METRIC_BY_PROBLEM_TYPE)}",
        )
    position = {config_name: i for i, config_name in enumerate(config_names)}
    config_rows = rows["framework"].astype(str).map(position).to_numpy()
    values = np.full((len(config_names), 1, 1, len(OBJECTIVES)), np.nan)
    for k, objective in enumerate(OBJECTIVES):
        values[config_rows, 0, 0, k] = rows[OBJECTIVE_COLUMNS[objective.name]].to_numpy()
    n_missing = len(config_names) - len(rows)
    metric = METRIC_BY_PROBLEM_TYPE[problem_types[0]]
    return TabularBlackbox(
        name=name,
        configuration_space=space,
        configurations=configurations,
        fidelity_name="fidelity",
        fidelity_values=[1],
        seeds=[0],
        objectives=OBJECTIVES,
        elapsed_time_objective="elapsed_time",
        values=values,
        description=(
            f"TabRepo 2022 LightGBM on OpenML task {task_id} ({problem_types[0]}): metric_error is "
            f"the validation {metric}, aggregated over TabRepo's folds (one seed). "
            f"{len(config_names)} configurations, rows in TabRepo's order {config_names[0]}, "
            f"{config_names[1]}, ..., {config_names[-1]}; {n_missing} not evaluated (NaN). Single "
            "fidelity; elapsed_time = train_time. rank, loss_rescaled and bestdiff are TabRepo's "
            "per-task comparisons of the configurations."
        ),
    )


RECIPES = [
    Recipe(
        family=FAMILY,
        benchmark_defaults=(
            BenchmarkDefaults(
                metric="metric_error",
                mode="min",
                elapsed_time_objective="elapsed_time",
                fidelity_name="fidelity",
                max_wallclock_time=30.0,
            ),
        ),
        names=tuple(blackbox_name(t) for t in TASK_IDS),
        raw_files=RAW_FILES,
        convert=convert_tabrepo,
        description=(
            "TabRepo (2022) LightGBM: 104 configurations x 93 OpenML tasks, validation error, "
            "training and inference time; single fidelity, one blackbox per task."
        ),
        license="Apache-2.0",
        citation=(
            "Salinas, Erickson: TabRepo: A Large Scale Repository of Tabular Model Evaluations and "
            "its AutoML Applications, AutoML Conference 2024 (arXiv:2311.02971)."
        ),
    )
]
