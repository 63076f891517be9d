"""TabRepo LightGBM recipe: one blackbox per OpenML task, checked against the raw CSV and JSON."""

from __future__ import annotations

import csv
import json

import pytest

from blackbox_repository import (
    ChecksumMismatchError,
    ConfigNotFoundError,
    ConversionError,
    load_blackbox,
)
from blackbox_repository.recipes import find_recipe
from blackbox_repository.recipes.tabrepo import RECIPES

TASK_ID = 10090
NAME = f"tabrepo-lightgbm-{TASK_ID}"
RESULTS_FILE = "tabrepo_lightgbm_2022/results_ranked_by_dataset_valid.csv"
CONFIGS_FILE = "tabrepo_lightgbm_2022/configs_lightgbm.json"
RECIPE = RECIPES[0]
LIGHTGBM_DEFAULTS = {
    "learning_rate": 0.05,
    "feature_fraction": 1.0,
    "min_data_in_leaf": 20,
    "num_leaves": 31,
    "extra_trees": False,
}


@pytest.fixture
def tabrepo(load_real_blackbox):
    return load_real_blackbox(NAME)


@pytest.fixture
def raw_rows(shared_data_dir):
    with open(shared_data_dir / RESULTS_FILE, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture
def raw_configs(shared_data_dir):
    return json.loads((shared_data_dir / CONFIGS_FILE).read_text())


def test_tabrepo_blackbox_is_single_fidelity_with_all_configurations(tabrepo):
    assert tabrepo.values.shape == (104, 1, 1, 7)
    assert tabrepo.fidelity_values.tolist() == [1]
    assert tabrepo.seeds.tolist() == [0]
    assert all(o.mode == "min" for o in tabrepo.objectives)
    assert tabrepo.objective("elapsed_time").unit == "s"
    assert tabrepo.configuration(0) == LIGHTGBM_DEFAULTS  # LightGBM_c1 sets nothing
    assert tabrepo.configuration(1) == {**LIGHTGBM_DEFAULTS, "extra_trees": True}
    assert "log loss" in tabrepo.description  # a multiclass task


@pytest.mark.parametrize(
    "config_name", ["LightGBM_c1", "LightGBM_c3", "LightGBM_r7", "LightGBM_r100"]
)
def test_tabrepo_values_match_the_raw_csv(tabrepo, raw_rows, raw_configs, config_name):
    (row,) = [r for r in raw_rows if r["dataset"] == str(TASK_ID) and r["framework"] == config_name]
    given = raw_configs[config_name]["hyperparameters"]
    config = {**LIGHTGBM_DEFAULTS, **{k: v for k, v in given.items() if k != "ag_args"}}
    result = tabrepo.lookup(config, fidelity=1)
    assert result["metric_error"] == float(row["metric_error"])
    assert result["rank"] == float(row["rank"])
    assert result["train_time"] == float(row["time_train_s"])
    assert result["infer_time"] == float(row["time_infer_s"])
    assert result["elapsed_time"] == float(row["time_train_s"])


def test_every_tabrepo_task_of_the_raw_file_is_a_blackbox(raw_rows, shared_data_dir):
    task_ids = {r["dataset"] for r in raw_rows}
    assert sorted(RECIPE.names) == sorted(f"tabrepo-lightgbm-{t}" for t in task_ids)
    assert len(RECIPE.names) == 93
    for name in RECIPE.names:
        assert find_recipe(name) is RECIPE
        blackbox = RECIPE.convert(name, shared_data_dir)
        assert blackbox.name == name
        assert blackbox.values.shape == (104, 1, 1, 7)


def test_tabrepo_config_off_the_grid_is_rejected(tabrepo):
    with pytest.raises(ConfigNotFoundError):
        tabrepo.lookup({**LIGHTGBM_DEFAULTS, "num_leaves": 32}, fidelity=1)


def test_tabrepo_results_without_a_needed_column_are_a_conversion_error(copy_raw_files):
    raw_dir = copy_raw_files(RECIPE, NAME)
    path = raw_dir / RESULTS_FILE
    path.write_text(path.read_text().replace("metric_error", "error", 1))
    with pytest.raises(ConversionError, match=r"columns \['metric_error'\] are missing"):
        RECIPE.convert(NAME, raw_dir)


def test_tabrepo_config_with_an_unknown_hyperparameter_is_a_conversion_error(copy_raw_files):
    raw_dir = copy_raw_files(RECIPE, NAME)
    path = raw_dir / CONFIGS_FILE
    configs = json.loads(path.read_text())
    configs["LightGBM_r3"]["hyperparameters"]["max_bin"] = 255
    path.write_text(json.dumps(configs))
    with pytest.raises(ConversionError, match=r"LightGBM_r3.*\['max_bin'\]"):
        RECIPE.convert(NAME, raw_dir)


def test_tabrepo_raw_file_with_a_changed_byte_fails_its_checksum(
    copy_raw_files, flip_one_byte, fresh_cache_dir
):
    raw_dir = copy_raw_files(RECIPE, NAME)
    flip_one_byte(raw_dir / CONFIGS_FILE)
    with pytest.raises(ChecksumMismatchError):
        load_blackbox(NAME, raw_data_dir=raw_dir, cache_dir=fresh_cache_dir)
