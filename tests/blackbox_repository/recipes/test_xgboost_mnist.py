"""XGBoost-on-MNIST recipe: Syne Tune's numpy pickle, loaded safely and checked value by value."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from blackbox_repository import (
    ChecksumMismatchError,
    ConfigNotFoundError,
    ConversionError,
    load_blackbox,
)
from blackbox_repository.recipes import find_recipe
from blackbox_repository.recipes.xgboost_mnist import RECIPES

NAME = "xgboost-mnist"
RAW_FILE = "xgboost_mnist/aggregated_experiments.p"
RECIPE = RECIPES[0]


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """The test's own reader of the raw pickle (independent of the recipe's)."""

    def find_class(self, module, name):
        if (module, name) in {("numpy", "ndarray"), ("numpy", "dtype")}:
            return getattr(np, name)
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in (
            "_reconstruct",
            "scalar",
        ):
            return getattr(np._core.multiarray, name)
        raise pickle.UnpicklingError(f"{module}.{name}")


@pytest.fixture
def xgboost(load_real_blackbox):
    return load_real_blackbox(NAME)


@pytest.fixture
def raw_results(shared_data_dir):
    with open(shared_data_dir / RAW_FILE, "rb") as stream:
        return _NumpyOnlyUnpickler(stream).load()


def test_xgboost_blackbox_has_the_recorded_grid_and_objectives(xgboost, raw_results):
    assert xgboost.values.shape == (1000, 28, 1, 6)
    assert xgboost.fidelity_name == "train_size"
    assert xgboost.fidelity_values.tolist() == raw_results["data_sizes"].tolist()
    assert xgboost.fidelity_values[0] == 56 and xgboost.fidelity_values[-1] == 56_000
    assert all(o.mode == "min" for o in xgboost.objectives)
    assert xgboost.elapsed_time_objective == "elapsed_time"
    space = xgboost.configuration_space
    assert space["learning_rate"].log and space["max_depth"].log
    assert (space["n_estimators"].lower, space["n_estimators"].upper) == (2, 256)
    assert not np.isnan(xgboost.values).any()


@pytest.mark.parametrize("config_index, size_index", [(0, 0), (5, 10), (999, 27), (431, 19)])
def test_xgboost_values_match_the_raw_pickle(xgboost, raw_results, config_index, size_index):
    parameters = raw_results["parameters_mat"]
    config = {
        "learning_rate": parameters["learning_rates"][config_index],
        "min_child_weight": parameters["min_child_weight"][config_index],
        "max_depth": parameters["max_depth"][config_index],
        "n_estimators": parameters["n_estimators"][config_index],
    }
    size = int(raw_results["data_sizes"][size_index])
    result = xgboost.lookup(config, fidelity=size)
    test_errors = raw_results["test_error_mat"][size_index, config_index, 0]
    train_errors = raw_results["train_error_mat"][size_index, config_index, 0]
    runtimes = raw_results["execution_times"][: size_index + 1, config_index, 0]
    assert result["test_error_count"] == test_errors
    assert result["test_error"] == test_errors / 14_000
    assert result["train_error_count"] == train_errors
    assert result["train_error"] == train_errors / size
    assert result["train_time"] == runtimes[-1]
    assert result["elapsed_time"] == pytest.approx(runtimes.sum(), rel=1e-12)


def test_xgboost_elapsed_time_grows_along_the_sizes(xgboost):
    elapsed = xgboost.values[:, :, 0, xgboost.elapsed_time_index]
    assert np.all(np.diff(elapsed, axis=1) > 0)


def test_xgboost_name_is_provided():
    assert find_recipe(NAME) is RECIPE
    (raw_file,) = RECIPE.raw_files_for(NAME)
    assert raw_file.url.startswith("https://raw.githubusercontent.com/syne-tune/syne-tune/a88242cd")


def test_xgboost_config_off_the_grid_is_rejected(xgboost):
    config = xgboost.configuration(3)
    config["n_estimators"] = int(config["n_estimators"]) + 1
    with pytest.raises(ConfigNotFoundError):
        xgboost.lookup(config, fidelity=56)


class _RemovesAFile:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.remove, (self.path,))


def test_pickle_with_a_foreign_global_is_refused_and_nothing_runs(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("still here")
    path = tmp_path / RAW_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps({"parameters_mat": _RemovesAFile(str(victim))}))
    with pytest.raises(ConversionError, match="refusing to load global"):
        RECIPE.convert(NAME, tmp_path)
    assert victim.read_text() == "still here"


def test_pickle_with_an_object_array_is_refused(tmp_path):
    path = tmp_path / RAW_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps({"data_sizes": np.array([1, "a"], dtype=object)}))
    with pytest.raises(ConversionError, match="object dtype"):
        RECIPE.convert(NAME, tmp_path)


def test_pickle_without_the_expected_fields_is_a_conversion_error(tmp_path, raw_results):
    path = tmp_path / RAW_FILE
    path.parent.mkdir(parents=True)
    broken = dict(raw_results)
    broken["test_error_mat"] = broken["test_error_mat"][:, :10]
    path.write_bytes(pickle.dumps(broken))
    with pytest.raises(ConversionError, match=r"'test_error_mat' has shape \(28, 10, 1\)"):
        RECIPE.convert(NAME, tmp_path)


def test_xgboost_raw_file_with_a_changed_byte_fails_its_checksum(
    copy_raw_files, flip_one_byte, fresh_cache_dir
):
    raw_dir = copy_raw_files(RECIPE, NAME)
    flip_one_byte(raw_dir / RAW_FILE, position=5000)
    with pytest.raises(ChecksumMismatchError):
        load_blackbox(NAME, raw_data_dir=raw_dir, cache_dir=fresh_cache_dir)
