"""XGBoost on MNIST: 1,000 random configurations trained on 28 training-set sizes.

Raw format (Syne Tune's ``benchmarking/nursery/othpo``, a numpy pickle loaded with an
unpickler that allows only numpy values): a dict with ``parameters_mat`` (4 lists of
1,000 hyperparameter values), ``train_error_mat``, ``test_error_mat`` and
``execution_times`` (arrays of shape (28 sizes, 1,000 configs, 1 seed)) and
``data_sizes`` (the 28 training-set sizes, 56 to 56,000). Errors are counts of
misclassified examples: on the first ``size`` training examples and on the fixed
14,000-example test split.

Each size was a separate training from scratch. simtune's elapsed time is the cumulative
time from trial start to the report at a fidelity, so it is the sum of the recorded
runtimes at all sizes up to and including that one (as if a trial trained the sizes in
sequence, which is how a multi-fidelity scheduler replays them); the runtime of the
single training at each size is kept as ``train_time``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ConfigSpace import ConfigurationSpace, Float, Integer

from blackbox_repository.blackbox import Objective
from blackbox_repository.recipes._raw_parsing import (
    check_configurations,
    conversion_error,
    github_raw_url,
    load_numpy_pickle,
)
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile, Recipe
from blackbox_repository.tabular import TabularBlackbox

FAMILY = "xgboost_mnist"
NAME = "xgboost-mnist"
REPOSITORY = "syne-tune/syne-tune"
COMMIT = "a88242cdb950cc5a7ff2218dd2e1e364764aa175"
RESULTS_FILE = f"{FAMILY}/aggregated_experiments.p"
RESULTS_URL = github_raw_url(
    REPOSITORY,
    COMMIT,
    "benchmarking/nursery/othpo/xgboost_experiment_results/random-mnist/aggregated_experiments.p",
)
RESULTS_SHA256 = "c0258c9a694385dc429a171c108dd5769ce017df7fd70e2a2395bf4adb00bf17"

MNIST_SIZE = 70_000
TEST_SIZE = MNIST_SIZE - int(0.8 * MNIST_SIZE)  # the othpo script trains on 80%, tests on the rest

# raw key in parameters_mat -> hyperparameter name (XGBoost's own argument names)
HYPERPARAMETERS = {
    "learning_rates": "learning_rate",
    "min_child_weight": "min_child_weight",
    "max_depth": "max_depth",
    "n_estimators": "n_estimators",
}
INTEGER_HYPERPARAMETERS = ("max_depth", "n_estimators")
MEASUREMENTS = ("train_error_mat", "test_error_mat", "execution_times")
OBJECTIVES = (
    Objective("test_error", "min"),
    Objective("train_error", "min"),
    Objective("test_error_count", "min"),
    Objective("train_error_count", "min"),
    Objective("train_time", "min", "s"),
    Objective("elapsed_time", "min", "s"),
)


def search_space() -> ConfigurationSpace:
    """The space the 1,000 configurations were sampled from (log-uniform, integers floored)."""
    return ConfigurationSpace(
        name=NAME,
        space=[
            Float("learning_rate", (1e-6, 1.0), log=True),
            Float("min_child_weight", (1e-6, 32.0), log=True),
            Integer("max_depth", (2, 32), log=True),
            Integer("n_estimators", (2, 256), log=True),
        ],
    )


def _array(results: dict[str, Any], key: str, shape: tuple[int, ...], path: Path) -> np.ndarray:
    value = results.get(key)
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        raise conversion_error(
            path, f"{key!r} is {type(value).__name__}, expected a numeric numpy array"
        )
    if value.shape != shape:
        raise conversion_error(path, f"{key!r} has shape {value.shape}, expected {shape}")
    return value.astype(np.float64)


def parse_results(path: Path) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]]:
    """Configurations, training-set sizes and the (sizes, configs) measurements of the pickle."""
    results = load_numpy_pickle(path)
    if not isinstance(results, dict):
        raise conversion_error(path, f"expected a dict, got {type(results).__name__}")
    parameters = results.get("parameters_mat")
    if not isinstance(parameters, dict) or set(parameters) != set(HYPERPARAMETERS):
        found = sorted(parameters) if isinstance(parameters, dict) else type(parameters).__name__
        raise conversion_error(
            path, f"'parameters_mat' holds {found}, expected {sorted(HYPERPARAMETERS)}"
        )
    columns = {}
    for raw_name, name in HYPERPARAMETERS.items():
        values = parameters[raw_name]
        if not isinstance(values, list | np.ndarray) or len(values) == 0:
            raise conversion_error(path, f"parameters_mat[{raw_name!r}] is not a non-empty list")
        column = np.asarray(values)
        if column.dtype.kind not in "fiu":
            raise conversion_error(
                path, f"parameters_mat[{raw_name!r}] is not numeric ({column.dtype})"
            )
        if name in INTEGER_HYPERPARAMETERS:
            if column.dtype.kind == "f" and not np.all(column == np.round(column)):
                raise conversion_error(
                    path, f"parameters_mat[{raw_name!r}] holds non-integer values"
                )
            column = column.astype(np.int64)
        else:
            column = column.astype(np.float64)
        columns[name] = column
    n_configs = {len(c) for c in columns.values()}
    if len(n_configs) != 1:
        raise conversion_error(
            path, f"the hyperparameter lists have different lengths {sorted(n_configs)}"
        )
    (n_configs,) = n_configs
    sizes = results.get("data_sizes")
    if not isinstance(sizes, np.ndarray) or sizes.ndim != 1 or sizes.dtype.kind not in "iu":
        raise conversion_error(path, "'data_sizes' is not a 1-d integer numpy array")
    if np.any(np.diff(sizes) <= 0):
        raise conversion_error(path, f"'data_sizes' is not increasing: {sizes.tolist()}")
    measurements = {}
    for key in MEASUREMENTS:
        array = _array(results, key, (len(sizes), n_configs, 1), path)
        measurements[key] = array[:, :, 0]
    return pd.DataFrame(columns), sizes.astype(np.int64), measurements


def convert_xgboost_mnist(name: str, raw_dir: Path) -> TabularBlackbox:
    """Build ``xgboost-mnist`` from Syne Tune's aggregated othpo results below ``raw_dir``."""
    path = Path(raw_dir) / RESULTS_FILE
    configurations, sizes, measurements = parse_results(path)
    space = search_space()
    check_configurations(configurations, space, path)
    # measurements are (sizes, configs); blackbox values are (configs, sizes, seed, objective)
    test_count = measurements["test_error_mat"].T
    train_count = measurements["train_error_mat"].T
    train_time = measurements["execution_times"].T
    columns = (
        test_count / TEST_SIZE,
        train_count / sizes[np.newaxis, :],
        test_count,
        train_count,
        train_time,
        np.cumsum(train_time, axis=1),  # a NaN runtime leaves every later elapsed time NaN
    )
    values = np.stack(columns, axis=-1)[:, :, np.newaxis, :]
    return TabularBlackbox(
        name=name,
        configuration_space=space,
        configurations=configurations,
        fidelity_name="train_size",
        fidelity_values=sizes,
        seeds=[0],
        objectives=OBJECTIVES,
        elapsed_time_objective="elapsed_time",
        values=values,
        description=(
            f"XGBoost on MNIST (Syne Tune othpo): {len(configurations)} random configurations x "
            f"{len(sizes)} training-set sizes ({sizes[0]} to {sizes[-1]}), one seed. test_error and "
            f"train_error are error rates (test split of {TEST_SIZE} examples; the first train_size "
            "training examples); *_count are the recorded counts. train_time is the recorded runtime "
            "of the single training at that size; elapsed_time is their cumulative sum over sizes "
            "(sizes trained in sequence)."
        ),
    )


RECIPES = [
    Recipe(
        family=FAMILY,
        benchmark_defaults=(
            BenchmarkDefaults(
                metric="test_error",
                mode="min",
                elapsed_time_objective="elapsed_time",
                fidelity_name="train_size",
                max_wallclock_time=3_600.0,
            ),
        ),
        names=(NAME,),
        raw_files=(RawFile(path=RESULTS_FILE, url=RESULTS_URL, sha256=RESULTS_SHA256),),
        convert=convert_xgboost_mnist,
        description=(
            "XGBoost on MNIST: 1,000 random configurations x 28 training-set sizes (56 to 56,000) "
            "with test/train errors and runtimes, from Syne Tune's ordered-transfer HPO study."
        ),
        license="Apache-2.0",
        citation=(
            "Hellan, Shen, Aubet, Salinas, Klein: Obeying the Order: Introducing Ordered Transfer "
            "Hyperparameter Optimisation, AutoML Conference 2023."
        ),
    )
]
