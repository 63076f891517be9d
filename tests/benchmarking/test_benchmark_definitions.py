"""Benchmark definitions: a definition for every recipe name, validation against real blackboxes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarking.benchmark_definitions import (
    BenchmarkDefinition,
    BenchmarkDefinitionError,
    UnknownBenchmarkError,
    benchmark_definition,
    benchmark_definitions,
    truncate_fidelity,
)
from benchmarking.simulation import run_simulation
from blackbox_repository import load_blackbox
from blackbox_repository.recipes import Recipe, all_recipes, blackbox_names
from tests.benchmarking.study_helpers import short_benchmarks
from tests.benchmarking.user_benchmarks import renamed_blackbox

# one benchmark per family (and YAHPO scenario) whose data is on this machine (seconds to convert)
LOCAL_BENCHMARKS = {
    "taskset": "taskset-imdb-gru128-bs128",
    "xgboost_mnist": "xgboost-mnist",
    "tabrepo_lightgbm_2022": "tabrepo-lightgbm-3945",
    "hpo_nmt": "nmt-zh-en",
    "lcdb": "lcdb-openml3",
    "embedded": "sklearn-mlp-digits",
    "yahpo": "yahpo-lcbench-3945",
    "yahpo-rbv2_xgboost": "yahpo-rbv2_xgboost-1040",
    "yahpo-rbv2_rpart": "yahpo-rbv2_rpart-1040",
    "yahpo-iaml_glmnet": "yahpo-iaml_glmnet-1067",
}


def test_every_recipe_name_has_defaults_on_its_recipe():
    missing = {n: r.family for r in all_recipes() for n in r.names if r.defaults_for(n) is None}
    assert missing == {}, f"recipes without benchmark defaults: {sorted(set(missing.values()))}"
    definitions = benchmark_definitions()
    assert sorted(definitions) == blackbox_names()
    for name in blackbox_names():
        definition = benchmark_definition(name)
        assert definition.blackbox == name
        assert definition.max_wallclock_time is not None or definition.max_num_results is not None


@pytest.mark.usefixtures("shared_data_dir")
@pytest.mark.parametrize("family", sorted(LOCAL_BENCHMARKS))
def test_family_defaults_apply_to_the_real_blackbox(family):
    name = LOCAL_BENCHMARKS[family]
    if name not in blackbox_names():
        pytest.fail(
            f"no recipe provides {name!r} any more; update LOCAL_BENCHMARKS and the defaults"
        )
    definition = benchmark_definition(name)
    blackbox = load_blackbox(definition.blackbox)
    definition.validate(blackbox)  # raises on any setting that does not apply
    assert definition.family == family.split("-")[0]
    assert blackbox.objective(definition.metric).mode == definition.mode


def test_a_recipe_without_defaults_gets_settings_derived_from_its_blackbox():
    renamed = renamed_blackbox("brand-new-1")
    recipes = (Recipe("brand_new_family", ("brand-new-1",), (), convert=lambda n, d: renamed),)
    assert "brand-new-1" not in benchmark_definitions(recipes)
    definition = benchmark_definition("brand-new-1", recipes)
    assert (definition.metric, definition.mode, definition.fidelity_name) == (
        "valid_error",
        "min",
        "epoch",
    )
    assert definition.max_wallclock_time is None and definition.max_num_results == 100 * 30


def test_old_setting_names_say_their_new_names():
    definition = benchmark_definition("xgboost-mnist")
    with pytest.raises(BenchmarkDefinitionError, match="max_resource_value is now max_fidelity"):
        definition.with_overrides(max_resource_value=56000)


def test_unknown_benchmark_suggests_close_names():
    with pytest.raises(UnknownBenchmarkError, match="Did you mean: xgboost-mnist"):
        benchmark_definition("xgboost-mnst")


@pytest.fixture
def xgboost_mnist(shared_data_dir):
    return load_blackbox("xgboost-mnist")


def test_settings_that_do_not_apply_to_the_blackbox_fail_loudly(xgboost_mnist):
    definition = benchmark_definition("xgboost-mnist")
    cases = [
        (dict(metric="valid_error"), r"metric 'valid_error' is not an objective.*test_error"),
        (dict(mode="max"), "mode 'max' contradicts objective 'test_error'"),
        (dict(elapsed_time_objective="train_time"), "elapsed_time_objective 'train_time'"),
        (dict(fidelity_name="epoch"), "fidelity_name 'epoch'"),
        (dict(max_fidelity=1000), r"max_fidelity.*train_size=1000 is not on the grid"),
    ]
    for change, message in cases:
        with pytest.raises(BenchmarkDefinitionError, match=message):
            dataclasses.replace(definition, **change).validate(xgboost_mnist)


def test_settings_that_never_apply_fail_when_the_definition_is_made():
    definition = benchmark_definition("xgboost-mnist")
    cases = [
        (dict(mode="maximize"), "mode must be 'min' or 'max'"),
        (dict(n_workers=0), "n_workers must be an integer >= 1, got 0"),
        (dict(max_wallclock_time=0.0), "budget <= 0 can never be reached"),
        (dict(max_wallclock_time=-5), "max_wallclock_time must be a positive number"),
        (dict(max_num_results=0), "max_num_results must be a positive integer"),
        (dict(max_wallclock_time=None), "otherwise a run never stops"),
    ]
    for change, message in cases:
        with pytest.raises(BenchmarkDefinitionError, match=message):
            dataclasses.replace(definition, **change)


def test_overrides_ignore_none_and_reject_unknown_settings():
    definition = benchmark_definition("xgboost-mnist")
    changed = definition.with_overrides(n_workers=8, max_wallclock_time=None)
    assert changed.n_workers == 8 and changed.max_wallclock_time == definition.max_wallclock_time
    with pytest.raises(
        BenchmarkDefinitionError, match=r"unknown benchmark settings \['n_worker'\]"
    ):
        definition.with_overrides(n_worker=8)
    assert BenchmarkDefinition.from_dict(changed.to_dict()) == changed


def test_max_resource_on_the_grid_cuts_the_grid_without_copying(xgboost_mnist):
    sizes = xgboost_mnist.fidelity_values
    definition = dataclasses.replace(
        benchmark_definition("xgboost-mnist"), max_fidelity=int(sizes[9])
    )
    definition.validate(xgboost_mnist)
    cut = truncate_fidelity(xgboost_mnist, definition.max_fidelity)
    assert cut.fidelity_values.tolist() == sizes[:10].tolist()
    assert cut.values.shape[1] == 10
    assert np.shares_memory(cut.values, xgboost_mnist.values)
    assert truncate_fidelity(xgboost_mnist, int(sizes[-1])) is xgboost_mnist


def test_a_surrogate_benchmark_answers_configurations_off_the_grid(xgboost_mnist):
    definition = dataclasses.replace(
        short_benchmarks()[0], surrogate="knn", surrogate_kwargs={"n_neighbors": 1}
    )
    run = run_simulation("RS", definition, seed=0)
    assert run.metadata["blackbox_kind"] == "surrogate"
    assert run.metadata["benchmark_definition"]["surrogate_kwargs"] == {"n_neighbors": 1}
    sampled = run.results[[f"config_{n}" for n in xgboost_mnist.hyperparameter_names]]
    sampled.columns = list(xgboost_mnist.hyperparameter_names)
    on_grid = sampled.merge(xgboost_mnist.configurations.drop_duplicates(), how="inner")
    assert len(on_grid) < len(sampled)  # the surrogate answered for configurations not in the table
