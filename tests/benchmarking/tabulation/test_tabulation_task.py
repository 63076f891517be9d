"""Task validation, search-space helpers, stable dump names and atomic writes."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from tabulation_test_objectives import quadratic_curve, quadratic_task, tiny_mlp_task

from benchmarking.tabulation import (
    LEARNING_CURVE,
    PER_FIDELITY,
    DumpFolder,
    config_hash,
    fidelity_hash,
    grid_configurations,
    sample_configurations,
)
from benchmarking.tabulation.dump_files import canonical_json, write_json_atomically
from benchmarking.tabulation.manifest import spec_differences, spec_hash, study_spec
from benchmarking.tabulation.sklearn_objectives import mlp_learning_curve, mlp_search_space
from benchmarking.tabulation.task import callable_identity
from blackbox_repository import Objective


def test_config_hash_ignores_key_order_numpy_types_and_inactive_values():
    reference = config_hash({"alpha": 0.1, "n_layers": 2, "solver": "adam"})
    same = {
        "solver": np.str_("adam"),
        "n_layers": np.int64(2),
        "alpha": np.float64(0.1),
        "momentum": None,
    }
    assert config_hash(same) == reference
    assert config_hash({"alpha": 0.1, "n_layers": 3, "solver": "adam"}) != reference
    assert len(reference) == 16


def test_fidelity_hash_tells_one_epoch_from_a_whole_curve():
    assert fidelity_hash(3) == fidelity_hash(np.int64(3))
    assert fidelity_hash(3) != fidelity_hash([3])
    assert fidelity_hash([1, 2, 3]) != fidelity_hash([1, 2, 3, 4])


def test_canonical_json_refuses_nan():
    assert canonical_json({"b": 1, "a": (1.5, 2)}) == '{"a":[1.5,2],"b":1}'
    with pytest.raises(ValueError, match="no canonical JSON"):
        canonical_json({"a": float("nan")})


def test_atomic_write_leaves_only_the_complete_file(tmp_path):
    path = tmp_path / "sub" / "dump.json"
    write_json_atomically(path, {"loss": 0.25})
    assert json.loads(path.read_text()) == {"loss": 0.25}
    with pytest.raises(ValueError):
        write_json_atomically(tmp_path / "sub" / "bad.json", {"loss": float("nan")})
    assert sorted(p.name for p in path.parent.iterdir()) == ["dump.json"]  # no temp left


def test_dump_folder_refuses_a_non_empty_foreign_folder(tmp_path):
    DumpFolder(tmp_path / "new").check_is_dump_folder()  # a new folder is fine
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(FileExistsError, match="not a tabulation dump folder"):
        DumpFolder(tmp_path).check_is_dump_folder()


def test_grid_configurations_cover_every_combination_in_an_exact_space():
    space, configs = grid_configurations({"lr": [0.1, 0.01, 0.001], "activation": ["relu", "tanh"]})
    assert len(configs) == 6
    assert {"lr": 0.01, "activation": "tanh"} in configs
    assert space["lr"].sequence == (0.1, 0.01, 0.001)
    assert set(space["activation"].choices) == {"relu", "tanh"}
    with pytest.raises(ValueError, match="must be non-empty and unique"):
        grid_configurations({"lr": [0.1, 0.1]})


def test_sampled_configurations_are_distinct_plain_and_reproducible():
    space = mlp_search_space()
    configs = sample_configurations(space, 50, seed=3)
    assert configs == sample_configurations(space, 50, seed=3)
    assert configs != sample_configurations(space, 50, seed=4)
    assert len({config_hash(c) for c in configs}) == 50
    assert all(type(v) in (int, float, str) for c in configs for v in c.values())
    assert all(("momentum" in c) == (c["solver"] == "sgd") for c in configs)  # conditional
    small_space, _ = grid_configurations({"x": [1, 2]})
    with pytest.raises(ValueError, match="only 2 distinct configurations"):
        sample_configurations(small_space, 3, seed=0)


def test_task_rejects_bad_input_with_the_value_and_what_to_do():
    with pytest.raises(ValueError, match="objective_kind='epochs'; use 'per_fidelity'"):
        quadratic_task(objective_kind="epochs")
    with pytest.raises(
        ValueError, match=r"configuration 1 \{'x': 7.0\} is not in the search space"
    ):
        quadratic_task(configurations=[{"x": 0.0}, {"x": 7.0}])
    with pytest.raises(ValueError, match="configuration 1 repeats configuration 0"):
        quadratic_task(configurations=[{"x": 0.0}, {"x": np.float64(0.0)}])
    with pytest.raises(ValueError, match="strictly increasing"):
        quadratic_task(fidelity_values=(1, 3, 2))
    with pytest.raises(ValueError, match="seeds repeat"):
        quadratic_task(seeds=(0, 0))
    with pytest.raises(ValueError, match="clash with the blackbox index columns"):
        quadratic_task(metrics=(Objective("seed", "min"),))
    with pytest.raises(ValueError, match="not allowed"):
        quadratic_task(name="no spaces")


def test_task_adds_the_elapsed_time_metric_and_counts_evaluations_by_kind():
    task = quadratic_task()
    assert task.metric_names == ("loss", "elapsed_time")
    assert task.n_evaluations == 4 * 2  # one evaluation per (config, seed) for a curve
    assert quadratic_task(objective_kind=PER_FIDELITY).n_evaluations == 4 * 3 * 2


def test_study_spec_names_the_objective_with_its_arguments_and_excludes_seeds():
    task = tiny_mlp_task(LEARNING_CURVE)
    spec = study_spec(task)
    assert spec["objective"] == (
        "benchmarking.tabulation.sklearn_objectives.mlp_learning_curve"
        '(args=[],keywords={"n_samples":300})'
    )
    assert spec_hash(spec) == spec_hash(study_spec(tiny_mlp_task(seeds=(5,))))
    other = study_spec(
        tiny_mlp_task(objective=functools.partial(mlp_learning_curve, n_samples=400))
    )
    differences = spec_differences(spec, other)
    assert len(differences) == 1 and differences[0].startswith("objective differs: stored")
    assert "400" in differences[0]
    assert callable_identity(quadratic_curve) == "tabulation_test_objectives.quadratic_curve"
