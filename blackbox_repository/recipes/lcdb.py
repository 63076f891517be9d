"""LCDB: learning curves of scikit-learn learners over training-set sizes, OpenML dataset 3.

Raw format (the ``lcdb`` 0.1.0 package's ``database-accuracy.csv``; the raw-data folder holds
its rows of OpenML dataset 3, ``lcdb/database-accuracy_openmlid_3.csv``): one row per
(learner, training-set size, outer seed, inner seed) with columns ``openmlid, learner,
size_train, size_test, outer_seed, inner_seed, traintime, score_train, score_valid,
score_test``; scores are accuracies, ``traintime`` is seconds.

The configurations are the learners (one categorical hyperparameter, learner names as LCDB
writes them); the fidelity is the training-set size (LCDB's anchors); each (outer seed,
inner seed) split pair is one seed, numbered ``100 * outer_seed + inner_seed``. Each anchor
is a separate fit, so elapsed time at an anchor is the cumulative ``traintime`` of all anchors
up to it (as if trained in sequence); the single fit's time is kept as ``train_time``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from ConfigSpace import Categorical, ConfigurationSpace

from blackbox_repository.blackbox import Objective
from blackbox_repository.recipes._raw_parsing import (
    check_configurations,
    conversion_error,
    numeric_column,
    read_csv,
)
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile, Recipe
from blackbox_repository.tabular import TabularBlackbox

FAMILY = "lcdb"
OPENML_ID = 3
NAME = f"lcdb-openml{OPENML_ID}"
RESULTS_FILE = f"{FAMILY}/database-accuracy_openmlid_{OPENML_ID}.csv"
RESULTS_SHA256 = "1f824bf06e17844a2d114ec38e100329753407ecc75e375c370cc60a94d369cc"
# The rows come from this source distribution's lcdb/database-accuracy.csv. Downloading it gives
# the whole archive, not this extract: put the extract in SIMTUNE_RAW_DATA_DIR (see docs).
SOURCE_URL = "https://files.pythonhosted.org/packages/source/l/lcdb/lcdb-0.1.0.tar.gz"

SEEDS_PER_OUTER_SEED = 100
KEY_COLUMNS = ("openmlid", "learner", "size_train", "outer_seed", "inner_seed")
MEASURED_COLUMNS = ("score_train", "score_valid", "score_test", "traintime")
OBJECTIVES = (
    Objective("train_accuracy", "max"),
    Objective("valid_accuracy", "max"),
    Objective("test_accuracy", "max"),
    Objective("train_time", "min", "s"),
    Objective("elapsed_time", "min", "s"),
)


def search_space(learners: list[str]) -> ConfigurationSpace:
    """One categorical hyperparameter: the learner."""
    return ConfigurationSpace(name=NAME, space=[Categorical("learner", learners)])


def parse_results(path: Path) -> pd.DataFrame:
    """The rows of OpenML dataset 3 (the full LCDB table is accepted too), types checked."""
    table = read_csv(path, KEY_COLUMNS + MEASURED_COLUMNS)
    for column in KEY_COLUMNS + MEASURED_COLUMNS:
        if column != "learner":
            table[column] = numeric_column(table, column, path)
    table = table[table["openmlid"] == OPENML_ID]
    if table.empty:
        raise conversion_error(path, f"it has no rows of OpenML dataset {OPENML_ID}")
    for column in ("size_train", "outer_seed", "inner_seed"):
        values = table[column].to_numpy()
        if np.any(values != np.round(values)) or np.any(values < 0):
            raise conversion_error(path, f"column {column!r} holds values that are not counts")
        table[column] = values.astype(np.int64)
    if np.any(table["inner_seed"] >= SEEDS_PER_OUTER_SEED):
        raise conversion_error(
            path, f"inner_seed reaches {table['inner_seed'].max()}, expected < 100"
        )
    duplicated = table.duplicated(list(KEY_COLUMNS))
    if duplicated.any():
        row = table[duplicated].iloc[0]
        raise conversion_error(
            path, f"the measurement {row[list(KEY_COLUMNS)].to_dict()} appears twice"
        )
    return table


def convert_lcdb(name: str, raw_dir: Path) -> TabularBlackbox:
    """Build ``lcdb-openml3`` from the LCDB accuracy rows below ``raw_dir``."""
    path = Path(raw_dir) / RESULTS_FILE
    table = parse_results(path)
    learners = sorted(table["learner"].astype(str).unique())
    sizes = np.sort(table["size_train"].unique())
    seed_of_row = (
        table["outer_seed"].to_numpy() * SEEDS_PER_OUTER_SEED + table["inner_seed"].to_numpy()
    )
    seeds = np.unique(seed_of_row)
    config_rows = np.searchsorted(learners, table["learner"].astype(str).to_numpy())
    size_rows = np.searchsorted(sizes, table["size_train"].to_numpy())
    seed_rows = np.searchsorted(seeds, seed_of_row)
    values = np.full((len(learners), len(sizes), len(seeds), len(OBJECTIVES)), np.nan)
    for k, column in enumerate(MEASURED_COLUMNS):
        values[config_rows, size_rows, seed_rows, k] = table[column].to_numpy()
    # a missing anchor (NaN) leaves every later elapsed time unknown (NaN), as it should
    values[..., -1] = np.cumsum(values[..., MEASURED_COLUMNS.index("traintime")], axis=1)
    configurations = pd.DataFrame({"learner": learners})
    space = search_space(learners)
    check_configurations(configurations, space, path)
    n_holes = int(np.isnan(values[..., 0]).sum())
    return TabularBlackbox(
        name=name,
        configuration_space=space,
        configurations=configurations,
        fidelity_name="train_size",
        fidelity_values=sizes,
        seeds=seeds,
        objectives=OBJECTIVES,
        elapsed_time_objective="elapsed_time",
        values=values,
        description=(
            f"LCDB accuracy curves on OpenML dataset {OPENML_ID}: {len(learners)} scikit-learn "
            f"learners x {len(sizes)} training-set sizes ({sizes[0]} to {sizes[-1]}) x {len(seeds)} "
            "seeds (seed = 100 * outer_seed + inner_seed). train_time is the recorded fit time at "
            "that size; elapsed_time is its cumulative sum over sizes (sizes trained in sequence). "
            f"{n_holes} (learner, size, seed) cells are not in the database (NaN)."
        ),
    )


RECIPES = [
    Recipe(
        family=FAMILY,
        benchmark_defaults=(
            BenchmarkDefaults(
                metric="valid_accuracy",
                mode="max",
                elapsed_time_objective="elapsed_time",
                fidelity_name="train_size",
                max_wallclock_time=30.0,
            ),
        ),
        names=(NAME,),
        raw_files=(RawFile(path=RESULTS_FILE, url=SOURCE_URL, sha256=RESULTS_SHA256),),
        convert=convert_lcdb,
        description=(
            "LCDB 1.0 accuracy learning curves of scikit-learn learners on OpenML dataset 3 "
            "(training-set size as fidelity, 125 train/test splits as seeds). The raw file is an "
            "extract of the lcdb 0.1.0 sdist's database-accuracy.csv; it is not downloaded "
            "automatically."
        ),
        license="MIT",
        citation=(
            "Mohr, Viering, Loog, van Rijn: LCDB 1.0: An Extensive Learning Curves Database for "
            "Classification Tasks, ECML PKDD 2022."
        ),
    )
]
