"""Any YAHPO scenario: the generic loader on scenario folders built from the real search
spaces and encodings of ``yahpo/_no_model/`` with small ONNX models in YAHPO's exact
layout (yahpo-gym 1.0.2 and v2), with and without an instance parameter, with continuous
and categorical fixed inputs; answers compared bit for bit with yahpo-gym's input rule and
one-row evaluation; description errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blackbox_repository import load_blackbox
from blackbox_repository.errors import ConversionError, SimtuneError, UnknownBlackboxError
from blackbox_repository.recipes import find_recipe
from blackbox_repository.recipes._yahpo_gym_1_0_2 import RBV2_TRAINSIZES, SCENARIOS
from blackbox_repository.yahpo_scenario import ScenarioDescriptionError
from tests.blackbox_repository.yahpo_fixture_models import (
    build_model,
    predict_one_row,
    scenario_folder,
    yahpo_gym_inputs,
    yahpo_gym_session,
)

V2_FILES = ("model_v2.onnx", "config_space_v2.json", "encoding_v2.json")
RBV2_V2_OUTPUTS = ["acc", "bac", "auc", "brier", "logloss", "timetrain", "timepredict"]


def no_model(shared_data_dir, scenario: str):
    return shared_data_dir / "yahpo" / "_no_model" / scenario


def read_json(path):
    return json.loads(path.read_text())


def sampled(blackbox, n: int, seed: int = 0) -> list[dict]:
    space = blackbox.configuration_space
    space.seed(seed)
    return [dict(space.sample_configuration()) for _ in range(n)]


def assert_equals_yahpo_gym(blackbox, folder, layout_files, constants, cat_names, n=6):
    """Every answer equals yahpo-gym's: its input rule, one row per call, default session."""
    model_file, space_file, encoding_file = layout_files
    space = read_json(folder / space_file)
    encoding = read_json(folder / encoding_file)
    session = yahpo_gym_session((folder / model_file).read_bytes())
    every_hyperparameter = [h["name"] for h in space["hyperparameters"]]
    spec = blackbox.spec
    runtime = spec.output_names.index(spec.runtime_output)
    for config in sampled(blackbox, n, seed=3):
        elapsed = 0.0
        for fidelity in blackbox.fidelity_values:
            query = {**config, spec.fidelity_parameter: fidelity}
            x_cat, x_cont = yahpo_gym_inputs(
                query, constants, every_hyperparameter, cat_names, spec.cont_names, encoding
            )
            expected = predict_one_row(session, x_cat, x_cont)
            answer = blackbox.lookup(config, fidelity)
            np.testing.assert_array_equal([answer[o] for o in spec.output_names], expected)
            elapsed = max(elapsed, expected[runtime], 0.0)
            assert answer["elapsed_time"] == elapsed


# ------------------------------------------------------------------ scenarios simtune knows
def test_rbv2_ranger_with_its_files_present_is_loaded_with_the_built_in_description(
    tmp_path, fresh_cache_dir, shared_data_dir
):
    scenario = SCENARIOS["rbv2_ranger"]
    folder = scenario_folder(
        tmp_path,
        "rbv2_ranger",
        no_model(shared_data_dir, "rbv2_ranger"),
        model=build_model(len(scenario.cat_names), len(scenario.cont_names), 9, seed=1),
    )
    assert find_recipe("yahpo-rbv2_ranger-1040").family == "yahpo"
    blackbox = load_blackbox(
        "yahpo-rbv2_ranger-1040", cache_dir=fresh_cache_dir, raw_data_dir=tmp_path
    )
    assert tuple(blackbox.fidelity_values) == RBV2_TRAINSIZES
    assert {"task_id", "trainsize", "repl"}.isdisjoint(blackbox.configuration_space)
    assert blackbox.objective("f1").mode == "max" and blackbox.objective("memory").mode == "min"
    assert blackbox.configuration_space.conditions  # num.random.splits only for extratrees
    assert_equals_yahpo_gym(
        blackbox,
        folder,
        ("model.onnx", "config_space.json", "encoding.json"),
        {"task_id": "1040", "repl": 10},
        scenario.cat_names,
    )


def test_nb301_without_instance_parameter_uses_its_instance_list_and_drop_predict(
    tmp_path, fresh_cache_dir, shared_data_dir
):
    scenario = SCENARIOS["nb301"]
    folder = scenario_folder(
        tmp_path,
        "nb301",
        no_model(shared_data_dir, "nb301"),
        model=build_model(len(scenario.cat_names), 1, 2, seed=2),
    )
    blackbox = load_blackbox(
        "yahpo-nb301-CIFAR10", cache_dir=fresh_cache_dir, raw_data_dir=tmp_path
    )
    assert blackbox.spec.instance_parameter is None and blackbox.spec.instance == "CIFAR10"
    assert list(blackbox.fidelity_values) == list(range(1, 99))
    assert len(blackbox.configuration_space) == 34
    config = sampled(blackbox, 1, seed=5)[0]
    space = read_json(folder / "config_space.json")
    encoding = read_json(folder / "encoding.json")
    session = yahpo_gym_session((folder / "model.onnx").read_bytes())
    names = [h["name"] for h in space["hyperparameters"]]
    for epoch in (1, 50, 98):
        x_cat, x_cont = yahpo_gym_inputs(
            {**config, "epoch": epoch}, {}, names, scenario.cat_names, ("epoch",), encoding
        )
        answer = blackbox.lookup(config, epoch)
        expected = predict_one_row(session, x_cat, x_cont)
        np.testing.assert_array_equal([answer["val_accuracy"], answer["runtime"]], expected)
    assert (x_cat == 0).any()  # inactive cells are fed as '#na#'
    with pytest.raises(UnknownBlackboxError, match="'CIFAR100' is not an instance.*CIFAR10"):
        load_blackbox("yahpo-nb301-CIFAR100", cache_dir=fresh_cache_dir, raw_data_dir=tmp_path)


# ------------------------------------------------------------------ described scenarios
def v2_glmnet_folder(tmp_path, shared_data_dir, **description_changes):
    """rbv2_glmnet in the v2 layout: repl a categorical input fixed to "10", the instance
    listed last in cat_names (v2 feeds it first)."""
    source = no_model(shared_data_dir, "rbv2_glmnet")
    space = read_json(source / "config_space.json")
    for hyperparameter in space["hyperparameters"]:
        if hyperparameter["name"] == "repl":
            hyperparameter.clear()
            hyperparameter.update(
                name="repl",
                type="categorical",
                choices=[str(k) for k in range(1, 11)],
                default="10",
            )
    encoding = read_json(source / "encoding.json")
    encoding["repl"] = {
        "#na#": 0,
        **{c: k + 1 for k, c in enumerate(sorted(map(str, range(1, 11))))},
    }
    description = {
        "config_id": "rbv2_glmnet_v2",
        "y_names": RBV2_V2_OUTPUTS,
        "y_minimize": [False, False, False, True, True, True, True],
        "cont_names": ["alpha", "s", "trainsize"],
        "cat_names": ["num.impute.selected.cpo", "repl", "task_id"],
        "fidelity_params": ["trainsize", "repl"],
        "instance_names": "task_id",
        "runtime_name": "timetrain",
        "fidelity_values": list(RBV2_TRAINSIZES),
        "fixed_inputs": {"repl": "10"},
        **description_changes,
    }
    return scenario_folder(
        tmp_path,
        "rbv2_glmnet_v2",
        source,
        model=build_model(3, 3, len(RBV2_V2_OUTPUTS), seed=3),
        file_names=V2_FILES,
        config_space=space,
        encoding=encoding,
        description=description,
    )


def test_v2_layout_with_a_categorical_fixed_input_and_the_instance_fed_first(
    tmp_path, fresh_cache_dir, shared_data_dir
):
    folder = v2_glmnet_folder(tmp_path, shared_data_dir)
    name = "yahpo-rbv2_glmnet_v2-1040"
    blackbox = load_blackbox(name, cache_dir=fresh_cache_dir, raw_data_dir=tmp_path)
    spec = blackbox.spec
    assert spec.cat_names == ("task_id", "num.impute.selected.cpo", "repl")
    assert spec.yahpo_gym_version.startswith("2.0.0") and dict(spec.fixed_inputs) == {"repl": "10"}
    assert set(blackbox.configuration_space) == {"alpha", "s", "num.impute.selected.cpo"}
    assert_equals_yahpo_gym(
        blackbox,
        folder,
        V2_FILES,
        {"task_id": "1040", "repl": "10"},
        ("task_id", "num.impute.selected.cpo", "repl"),  # v2: the instance first
        n=4,
    )
    reread = load_blackbox(name, cache_dir=fresh_cache_dir, raw_data_dir=tmp_path)
    configs = sampled(blackbox, 5, seed=9)
    np.testing.assert_array_equal(
        reread.lookup_batch(configs, 1.0), blackbox.lookup_batch(configs, 1.0)
    )


def test_described_scenario_without_instance_parameter_and_a_fixed_category(
    tmp_path, fresh_cache_dir, shared_data_dir
):
    source = no_model(shared_data_dir, "iaml_rpart")
    iaml = SCENARIOS["iaml_rpart"]
    folder = scenario_folder(
        tmp_path,
        "iaml_rpart_1489",
        source,
        model=build_model(1, 5, 12, seed=4),
        description={
            "y_names": list(iaml.output_names),
            "y_minimize": list(iaml.minimize),
            "cont_names": list(iaml.cont_names),
            "cat_names": ["task_id"],
            "fidelity_params": ["trainsize"],
            "instance_names": None,
            "instances": ["credit"],
            "runtime_name": "timetrain",
            "fidelity_values": [0.1, 0.5, 1.0],
            "fixed_inputs": {"task_id": "1489"},
            "citation": ["kept for reference, not used"],
        },
    )
    blackbox = load_blackbox(
        "yahpo-iaml_rpart_1489-credit", cache_dir=fresh_cache_dir, raw_data_dir=tmp_path
    )
    assert "task_id" not in blackbox.configuration_space
    assert_equals_yahpo_gym(
        blackbox,
        folder,
        ("model.onnx", "config_space.json", "encoding.json"),
        {"task_id": "1489"},
        ("task_id",),
    )


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"y_minimize": [True]}, r"y_minimize has 1 entries for 7 y_names"),
        ({"fixed_inputs": {}}, r"further fidelity parameters \['repl'\] need a value"),
        ({"fixed_inputs": {"repl": "11"}}, r"fixed input repl='11'.*is not a value"),
        ({"fidelity_values": None}, r"needs fidelity_values: its fidelity 'trainsize'"),
        ({"runtime_name": "time"}, r"runtime_name 'time' is not one of y_names"),
        ({"cont_names": ["alpha", "trainsize"]}, r"does not fit the scenario's description"),
        ({"max_epochs": 3}, r"unknown keys \['max_epochs'\]"),
        ({"cont_names": ["alpha", "ss", "trainsize"]}, r"inputs \['ss'\].*not in its config"),
    ],
)
def test_description_problems_are_named_without_blaming_the_original_files(
    tmp_path, fresh_cache_dir, shared_data_dir, change, message
):
    v2_glmnet_folder(tmp_path, shared_data_dir, **change)
    with pytest.raises(ScenarioDescriptionError, match=message) as raised:
        load_blackbox("yahpo-rbv2_glmnet_v2-1040", cache_dir=fresh_cache_dir, raw_data_dir=tmp_path)
    assert "fetch the original file again" not in str(raised.value)
    assert isinstance(raised.value, SimtuneError)


def test_an_unknown_scenario_without_files_says_where_to_put_them(tmp_path, fresh_cache_dir):
    with pytest.raises(ScenarioDescriptionError) as raised:
        load_blackbox("yahpo-rbv2_rangr-1040", cache_dir=fresh_cache_dir, raw_data_dir=tmp_path)
    text = str(raised.value)
    assert "Did you mean rbv2_ranger" in text and "simtune_scenario.json" in text
    assert str(tmp_path / "yahpo" / "rbv2_rangr") in text


def test_a_description_file_in_a_known_scenario_folder_is_refused(
    tmp_path, fresh_cache_dir, shared_data_dir
):
    scenario_folder(
        tmp_path,
        "rbv2_glmnet",
        no_model(shared_data_dir, "rbv2_glmnet"),
        model=build_model(2, 4, 9),
        description={"y_names": ["acc"]},
    )
    with pytest.raises(ScenarioDescriptionError, match="another name, e.g. rbv2_glmnet_v2"):
        load_blackbox("yahpo-rbv2_glmnet-1040", cache_dir=fresh_cache_dir, raw_data_dir=tmp_path)


def test_a_model_file_that_is_not_onnx_is_a_conversion_error(
    tmp_path, fresh_cache_dir, shared_data_dir
):
    folder = v2_glmnet_folder(tmp_path, shared_data_dir)
    (folder / "model_v2.onnx").write_bytes(b"not a model")
    with pytest.raises(ConversionError, match="not an ONNX model onnxruntime can load"):
        load_blackbox("yahpo-rbv2_glmnet_v2-1040", cache_dir=fresh_cache_dir, raw_data_dir=tmp_path)


def test_names_of_listed_scenarios_keep_suggesting_close_names():
    with pytest.raises(UnknownBlackboxError, match="Did you mean: yahpo-lcbench-3945"):
        find_recipe("yahpo-lcbench-394")
    with pytest.raises(UnknownBlackboxError, match="unknown blackbox 'yahpo-lc/bench-3945'"):
        find_recipe("yahpo-lc/bench-3945")
