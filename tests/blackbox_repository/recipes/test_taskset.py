"""TaskSet recipe: the real DyHPO/TaskSet JSON files, converted and checked against the raw text."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from blackbox_repository import (
    ChecksumMismatchError,
    ConfigNotFoundError,
    ConversionError,
    TabularBlackbox,
    load_blackbox,
)
from blackbox_repository.recipes import find_recipe
from blackbox_repository.recipes.taskset import RECIPES, SECONDS_PER_STEP, TASKS

NAME = "taskset-imdb-lstm128-bs64"  # about 9% of its runs diverge: many NaN losses
RAW_FILE = "taskset/FixedTextRNNClassification_imdb_patch128_LSTM128_bs64.json"
RECIPE = RECIPES[0]


@pytest.fixture
def taskset(load_real_blackbox):
    return load_real_blackbox(NAME)


@pytest.fixture
def raw_runs(shared_data_dir):
    """The raw JSON parsed by the standard library alone (bare NaN tokens become float NaN)."""
    return json.loads((shared_data_dir / RAW_FILE).read_text())


def test_taskset_blackbox_has_the_recorded_grid_and_objectives(taskset):
    assert isinstance(taskset, TabularBlackbox)
    assert taskset.values.shape == (1000, 51, 1, 4)
    assert taskset.fidelity_name == "step"
    assert taskset.fidelity_values.tolist() == list(range(1, 52))
    assert taskset.seeds.tolist() == [0]
    assert {o.name: o.mode for o in taskset.objectives} == {
        "train_loss": "min",
        "valid_loss": "min",
        "test_loss": "min",
        "elapsed_time": "min",
    }
    assert taskset.elapsed_time_objective == "elapsed_time"
    assert set(taskset.hyperparameter_names) == {
        "learning_rate", "beta1", "beta2", "epsilon", "l1", "l2", "linear_decay", "exponential_decay",
    }  # fmt: skip
    assert taskset.configuration_space["learning_rate"].log
    assert not taskset.configuration_space["beta1"].log
    assert "ASSUMES" in taskset.description


def test_taskset_losses_match_the_raw_json(taskset, raw_runs):
    for run_index, step in [(0, 1), (17, 10), (523, 51), (999, 33)]:
        run = raw_runs[run_index]
        result = taskset.lookup(run["hp"], fidelity=step)
        for split in ("train", "valid", "test"):
            expected = run[split]["loss"][step - 1]
            actual = result[f"{split}_loss"]
            assert (math.isnan(expected) and math.isnan(actual)) or actual == expected
        assert result["elapsed_time"] == step * SECONDS_PER_STEP


def test_taskset_keeps_every_nan_token_as_nan(taskset, raw_runs, shared_data_dir):
    n_nan_tokens = (shared_data_dir / RAW_FILE).read_text().count("NaN")
    losses = taskset.values[:, :, 0, :3]
    assert n_nan_tokens > 1000
    assert int(np.isnan(losses).sum()) == n_nan_tokens
    raw_valid = np.array([run["valid"]["loss"] for run in raw_runs], dtype=float)
    np.testing.assert_array_equal(np.isnan(losses[:, :, 1]), np.isnan(raw_valid))
    assert not np.isnan(taskset.values[:, :, 0, 3]).any(), "elapsed time is defined at every step"


def test_every_taskset_name_is_provided_and_converts(shared_data_dir):
    assert len(RECIPE.names) == 12
    for name in RECIPE.names:
        assert find_recipe(name) is RECIPE
        (raw_file,) = RECIPE.raw_files_for(name)
        assert raw_file.path == f"taskset/{TASKS[name][0]}.json"
        assert raw_file.url.endswith(f"/data/taskset/{TASKS[name][0]}.json")
        blackbox = RECIPE.convert(name, shared_data_dir)
        assert blackbox.name == name
        assert blackbox.values.shape == (1000, 51, 1, 4)


def test_taskset_config_off_the_grid_is_rejected(taskset):
    config = taskset.configuration(0)
    config["learning_rate"] *= 1.0001
    with pytest.raises(ConfigNotFoundError, match="not on the grid"):
        taskset.lookup(config, fidelity=1)


@pytest.mark.parametrize(
    "content, problem",
    [
        ('[{"hp": {"learning_rate": 0.1}', "not valid JSON"),
        ('{"hp": {}}', "non-empty JSON list"),
        ('[{"hp": {"learning_rate": 0.1}, "train": {"loss": [1.0]}}]', "hyperparameters"),
    ],
)
def test_malformed_taskset_json_is_a_conversion_error(tmp_path, content, problem):
    path = tmp_path / RECIPE.raw_files_for(NAME)[0].path
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(ConversionError, match=problem) as error:
        RECIPE.convert(NAME, tmp_path)
    assert path.name in str(error.value)


def test_null_loss_is_refused_rather_than_turned_into_nan(tmp_path, raw_runs):
    runs = raw_runs[:3]
    runs[1]["valid"]["loss"][4] = None
    path = tmp_path / RECIPE.raw_files_for(NAME)[0].path
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(runs))
    with pytest.raises(ConversionError, match="run 1 valid loss holds None"):
        RECIPE.convert(NAME, tmp_path)


def test_taskset_raw_file_with_a_changed_byte_fails_its_checksum(
    copy_raw_files, flip_one_byte, fresh_cache_dir
):
    raw_dir = copy_raw_files(RECIPE, NAME)
    flip_one_byte(raw_dir / RAW_FILE)
    with pytest.raises(ChecksumMismatchError, match="checksum mismatch"):
        load_blackbox(NAME, raw_data_dir=raw_dir, cache_dir=fresh_cache_dir)
    assert not (fresh_cache_dir / "blackboxes" / NAME).exists()
