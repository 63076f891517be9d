"""YAHPO Gym 1.0.2 ONNX surrogates from the real yahpo_data files: the known value computed
with yahpo-gym itself, the input encoding, names, search spaces, fidelity grids, elapsed
time, agreement of every access path, and the round trip through the cache."""

from __future__ import annotations

import json
import pickle
import sys

import numpy as np
import pytest
from ConfigSpace import Configuration

from blackbox_repository import (
    ConfigNotFoundError,
    FidelityNotOnGridError,
    SeedNotFoundError,
    blackbox_names,
    load_blackbox,
)
from blackbox_repository.cache import BlackboxCache
from blackbox_repository.errors import MissingDependencyError, UnknownBlackboxError
from blackbox_repository.file_format import read_metadata, sha256_file
from blackbox_repository.recipes import find_recipe
from blackbox_repository.recipes._yahpo_gym_1_0_2 import (
    LISTED_INSTANCES,
    RBV2_MINIMIZE_AS_PUBLISHED,
    SCENARIOS,
)
from blackbox_repository.recipes.yahpo import parse_name
from blackbox_repository.yahpo_surrogate import YahpoSurrogateBlackbox

# computed with the reference yahpo-gym 1.0.2 (BenchmarkSet("lcbench", instance="3945"))
KNOWN_CONFIG = {
    "batch_size": 106,
    "learning_rate": 0.002054762512591136,
    "max_dropout": 0.3834415188257777,
    "max_units": 308,
    "momentum": 0.17754507673437125,
    "num_layers": 4,
    "weight_decay": 0.0799178648360302,
}
XGBOOST_LINEAR = {
    "alpha": 0.01,
    "booster": "gblinear",
    "lambda": 2.0,
    "nrounds": 300,
    "num.impute.selected.cpo": "impute.median",
    "subsample": 0.8,
}


@pytest.fixture(scope="module")
def lcbench(session_cache_dir, shared_data_dir) -> YahpoSurrogateBlackbox:
    return load_blackbox(
        "yahpo-lcbench-3945", cache_dir=session_cache_dir, raw_data_dir=shared_data_dir
    )


@pytest.fixture(scope="module")
def xgboost(session_cache_dir, shared_data_dir) -> YahpoSurrogateBlackbox:
    return load_blackbox(
        "yahpo-rbv2_xgboost-1040", cache_dir=session_cache_dir, raw_data_dir=shared_data_dir
    )


@pytest.fixture(scope="module")
def rpart(session_cache_dir, shared_data_dir) -> YahpoSurrogateBlackbox:
    return load_blackbox(
        "yahpo-rbv2_rpart-1040", cache_dir=session_cache_dir, raw_data_dir=shared_data_dir
    )


def sampled(blackbox, n: int, seed: int = 0) -> list[dict]:
    space = blackbox.configuration_space
    space.seed(seed)
    return [dict(c) for c in space.sample_configuration(n)]


def full_curve(curve) -> np.ndarray:
    return np.array([curve[i] for i in range(len(curve))])


# module fixtures are built before the autouse environment fixture: explicit folders
# ------------------------------------------------------------------ exactness
def test_known_value_of_yahpo_gym_for_lcbench_task_3945(lcbench):
    expected_accuracy = {1: 52.24, 29: 94.99, 52: 95.67}
    for epoch, accuracy in expected_accuracy.items():
        assert lcbench.lookup(KNOWN_CONFIG, epoch)["val_accuracy"] == pytest.approx(
            accuracy, abs=0.05
        )
    assert lcbench.lookup(KNOWN_CONFIG, 1)["time"] == pytest.approx(10.5, abs=0.05)
    assert (
        lcbench.lookup(KNOWN_CONFIG, 52)["elapsed_time"] == lcbench.lookup(KNOWN_CONFIG, 52)["time"]
    )


def test_inputs_are_built_like_yahpo_gym_including_inactive_hyperparameters(
    xgboost, shared_data_dir
):
    # yahpo-gym's _config_to_xs: cont_names order, inactive -> 0, categories through
    # encoding.json with '#na#' for inactive ones, instance from the encoding; one row per call
    encoding = json.loads((shared_data_dir / "yahpo/rbv2_xgboost/encoding.json").read_text())
    scenario = SCENARIOS["rbv2_xgboost"]
    filled = {**XGBOOST_LINEAR, "task_id": "1040", "trainsize": 0.3, "repl": 10}
    x_cont = np.array([[filled.get(name, 0) for name in scenario.cont_names]], dtype=np.float32)
    x_cat = np.array(
        [[encoding[name][filled.get(name, "#na#")] for name in scenario.cat_names]], dtype=np.int32
    )
    assert x_cat[0].tolist() == [1, 2, 3] and x_cont[0, 1] == 0  # eta is inactive
    session = xgboost.session()
    names = [i.name for i in session.get_inputs()]
    reference = session.run(None, {names[0]: x_cat, names[1]: x_cont})[0][0]
    ours = xgboost.lookup(XGBOOST_LINEAR, 0.3)
    np.testing.assert_array_equal([ours[n] for n in scenario.output_names], reference)


def test_every_answer_is_yahpo_gyms_one_row_answer_where_a_batch_would_differ(lcbench):
    # yahpo-gym evaluates a configuration as one row; in a batch, rows in full blocks of 4
    # get other float32 roundings from onnxruntime (about 6% of lcbench rows)
    session = lcbench.session()
    names = [i.name for i in session.get_inputs()]
    configs = sampled(lcbench, 8, seed=11)
    rows = [lcbench.inputs.encode(lcbench.checker.check(c)) for c in configs]
    x_cat = np.repeat(np.stack([cat for cat, _ in rows]), 52, axis=0)
    x_cont = np.repeat(np.stack([cont for _, cont in rows]), 52, axis=0)
    x_cont[:, 0] = np.tile(np.arange(1, 53), 8)  # epoch is the first continuous input
    single = np.array(
        [
            session.run(None, {names[0]: x_cat[i : i + 1], names[1]: x_cont[i : i + 1]})[0][0]
            for i in range(len(x_cat))
        ]
    )
    batch = session.run(None, {names[0]: x_cat, names[1]: x_cont})[0]
    assert (batch != single).any()
    answers = lcbench.lookup_batch(
        [c for c in configs for _ in range(52)], np.tile(np.arange(1, 53), 8)
    )
    np.testing.assert_array_equal(answers[:, :6], single)


def test_lookup_curve_and_lookup_batch_agree_bit_for_bit(xgboost):
    configs = sampled(xgboost, 25, seed=1)
    rng = np.random.default_rng(1)
    fidelities = xgboost.fidelity_values[rng.integers(0, len(xgboost.fidelity_values), 25)]
    batch = xgboost.lookup_batch(configs, fidelities)
    for row, config, fidelity in zip(batch, configs, fidelities):
        np.testing.assert_array_equal(row, list(xgboost.lookup(config, fidelity).values()))
        np.testing.assert_array_equal(xgboost.curve(config)[xgboost.fidelity_index(fidelity)], row)


def test_curves_are_computed_lazily_up_to_the_largest_fidelity_read(lcbench):
    curve = lcbench.curve(KNOWN_CONFIG)
    assert curve._n_done == 0
    first = curve[0].copy()
    assert curve._n_done == 1
    assert curve[9] is not None and curve._n_done == 10
    last = curve[51]
    assert curve._n_done == 52
    np.testing.assert_array_equal(first, curve[0])
    assert last[lcbench.objective_index("val_accuracy")] == pytest.approx(95.67, abs=0.05)


# ------------------------------------------------------------------ elapsed time
def test_elapsed_time_is_the_running_maximum_of_the_runtime_output(rpart):
    runtime, elapsed = rpart.objective_index("timetrain"), rpart.objective_index("elapsed_time")
    decreasing = 0
    for config in sampled(rpart, 30):
        rows = full_curve(rpart.curve(config))
        decreasing += bool((np.diff(rows[:, runtime]) < 0).any())
        np.testing.assert_array_equal(
            rows[:, elapsed], np.maximum.accumulate(np.maximum(rows[:, runtime], 0))
        )
        assert (np.diff(rows[:, elapsed]) >= 0).all()
    assert decreasing > 0  # the model's timetrain does decrease along trainsize


# ------------------------------------------------------------------ names and recipe
def test_every_listed_name_parses_and_converts(shared_data_dir):
    names = [n for n in blackbox_names() if n.startswith("yahpo-")]
    assert len(names) == sum(len(i) for i in LISTED_INSTANCES.values()) == 274
    assert not any(
        s in n for n in names for s in ("nb301", "rbv2_svm", "iaml_ranger", "rbv2_super")
    )
    recipe = find_recipe("yahpo-lcbench-3945")
    assert all(recipe.provides(name) and parse_name(name)[0] in SCENARIOS for name in names)
    # converting checks the model with an onnxruntime session (~0.1 s): every 20th name and
    # the last instance of each scenario
    chosen = {*names[::20], *(f"yahpo-{s}-{i[-1]}" for s, i in LISTED_INSTANCES.items())}
    for name in sorted(chosen):
        scenario_name, instance = parse_name(name)
        scenario = SCENARIOS[scenario_name]
        blackbox = recipe.convert(name, shared_data_dir)
        assert blackbox.name == name and blackbox.spec.instance == instance
        assert blackbox.fidelity_name == scenario.fidelity_parameter
        assert scenario.instance_parameter not in blackbox.configuration_space
        assert set(scenario.fidelity_params).isdisjoint(blackbox.configuration_space)
    with pytest.raises(UnknownBlackboxError, match="not a YAHPO blackbox name"):
        parse_name("yahpo-lcbench")
    with pytest.raises(UnknownBlackboxError, match="unknown blackbox 'yahpo-lcbench-1'"):
        find_recipe("yahpo-lcbench-1")  # a listed scenario needs a listed instance


def test_scenarios_match_the_yahpo_gym_meta_and_config_spaces(shared_data_dir):
    meta = json.loads((shared_data_dir / "yahpo/yahpo_gym_1.0.2_scenario_meta.json").read_text())
    assert sorted(SCENARIOS) == sorted(meta)  # every scenario of yahpo-gym 1.0.2
    for scenario in SCENARIOS.values():
        defined = meta[scenario.name]
        assert list(scenario.output_names) == defined["y_names"]
        published = RBV2_MINIMIZE_AS_PUBLISHED if scenario.name.startswith("rbv2") else None
        assert list(published or scenario.minimize) == defined["y_minimize"]
        assert list(scenario.cont_names) == defined["cont_names"]
        assert list(scenario.cat_names) == defined["cat_names"]
        assert list(scenario.fidelity_params) == defined["fidelity_params"]
        assert scenario.runtime_name == defined["runtime_name"]
        assert scenario.instance_parameter == defined["instance_names"]
        if scenario.name not in LISTED_INSTANCES:
            continue
        space = json.loads(
            (shared_data_dir / f"yahpo/{scenario.name}/config_space.json").read_text()
        )
        (instance,) = [
            h for h in space["hyperparameters"] if h["name"] == scenario.instance_parameter
        ]
        assert sorted(LISTED_INSTANCES[scenario.name]) == sorted(instance["choices"])


def test_modes_come_from_the_meta_with_f1_maximized(xgboost):
    assert xgboost.objective("acc").mode == "max" and xgboost.objective("logloss").mode == "min"
    assert xgboost.objective("f1").mode == "max"  # yahpo-gym 1.0.2 lists it as minimized
    assert xgboost.objective("elapsed_time").unit == "s" and list(xgboost.seeds) == [0]


def test_raw_files_of_a_name_are_its_scenario_files_with_the_manifest_checksums(shared_data_dir):
    manifest = dict(
        reversed(line.split())
        for line in (shared_data_dir / "MANIFEST.sha256").read_text().splitlines()
    )
    recipe = find_recipe("yahpo-iaml_glmnet-1489")
    files = recipe.raw_files_for("yahpo-iaml_glmnet-1489")
    assert sorted(f.path for f in files) == [
        "yahpo/iaml_glmnet/config_space.json",
        "yahpo/iaml_glmnet/encoding.json",
        "yahpo/iaml_glmnet/model.onnx",
    ]
    for raw_file in recipe.raw_files:
        assert raw_file.sha256 == manifest[f"./{raw_file.path}"]
        assert raw_file.url.startswith("https://raw.githubusercontent.com/slds-lmu/yahpo_data/")


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({**KNOWN_CONFIG, "depth": 3}, "'depth' is not a hyperparameter"),
        ({**KNOWN_CONFIG, "epoch": 3}, "it is the fidelity"),
        ({**KNOWN_CONFIG, "OpenML_task_id": "3945"}, "the instance is fixed to 3945"),
        ({**KNOWN_CONFIG, "batch_size": 1024}, r"batch_size=1024 is outside \[16, 512\]"),
        ({**KNOWN_CONFIG, "num_layers": 2.5}, "num_layers=2.5 is not an integer"),
        (
            {k: v for k, v in KNOWN_CONFIG.items() if k != "momentum"},
            r"\['momentum'\] have no value",
        ),
    ],
)
def test_configs_outside_the_space_are_rejected(lcbench, config, message):
    with pytest.raises(ConfigNotFoundError, match=message):
        lcbench.lookup(config, 1)
    with pytest.raises(ConfigNotFoundError, match=message):
        lcbench.curve(config)


def test_conditional_and_categorical_errors_name_the_problem(xgboost):
    with pytest.raises(ConfigNotFoundError, match="booster='linear' is not one of the choices"):
        xgboost.lookup({**XGBOOST_LINEAR, "booster": "linear"}, 1.0)
    with pytest.raises(ConfigNotFoundError, match="eta"):
        xgboost.lookup({**XGBOOST_LINEAR, "eta": 0.1}, 1.0)  # inactive for gblinear
    with pytest.raises(ConfigNotFoundError, match="it is fixed to 10"):
        xgboost.lookup({**XGBOOST_LINEAR, "repl": 3}, 1.0)
    with pytest.raises(ConfigNotFoundError, match="active but has no value"):
        xgboost.lookup({**XGBOOST_LINEAR, "booster": "gbtree"}, 1.0)


def test_condition_checks_agree_with_configspace(xgboost):
    rng = np.random.default_rng(4)
    outcomes = []
    for config in sampled(xgboost, 120, seed=4):
        config["booster"] = str(rng.choice(["gblinear", "gbtree", "dart"]))  # often breaks it
        try:
            Configuration(xgboost.configuration_space, values=config)
            valid = True
        except ValueError:
            valid = False
        try:
            xgboost.checker.check(config)
            outcomes.append((valid, True))
        except ConfigNotFoundError:
            outcomes.append((valid, False))
    assert all(ours == theirs for theirs, ours in outcomes)
    assert {valid for valid, _ in outcomes} == {True, False}


def test_fidelities_off_the_grid_and_unknown_seeds_are_rejected(lcbench, xgboost):
    with pytest.raises(FidelityNotOnGridError, match="epoch=53"):
        lcbench.lookup(KNOWN_CONFIG, 53)
    with pytest.raises(FidelityNotOnGridError, match="epoch=1.5"):
        lcbench.lookup_batch([KNOWN_CONFIG], [1.5])
    with pytest.raises(FidelityNotOnGridError, match="trainsize=0.25"):
        xgboost.lookup(XGBOOST_LINEAR, 0.25)
    with pytest.raises(SeedNotFoundError):
        lcbench.lookup(KNOWN_CONFIG, 1, seed=1)
    with pytest.raises(SeedNotFoundError):
        lcbench.curve(KNOWN_CONFIG, seed_index=1)


# ------------------------------------------------------------------ storage
def test_round_trip_through_the_cache_gives_identical_predictions(fresh_cache_dir, shared_data_dir):
    name = "yahpo-iaml_glmnet-41146"
    first = load_blackbox(name, cache_dir=fresh_cache_dir)
    entry = BlackboxCache(fresh_cache_dir).entry_path(name)
    metadata = read_metadata(entry)
    assert metadata["kind"] == "yahpo-onnx" and metadata["yahpo"]["instance"] == "41146"
    assert metadata["yahpo"]["cont_names"] == ["alpha", "s", "trainsize"]
    assert sha256_file(entry / "model.onnx") == sha256_file(
        shared_data_dir / "yahpo/iaml_glmnet/model.onnx"
    )
    second = load_blackbox(name, cache_dir=fresh_cache_dir)
    assert second is not first and second.configuration_space == first.configuration_space
    configs = sampled(first, 20, seed=2)
    grid = np.resize(first.fidelity_values, 20)
    np.testing.assert_array_equal(
        first.lookup_batch(configs, grid), second.lookup_batch(configs, grid)
    )
    restored = pickle.loads(pickle.dumps(second))
    np.testing.assert_array_equal(
        restored.lookup_batch(configs, grid), second.lookup_batch(configs, grid)
    )


def test_without_onnxruntime_entries_load_and_predictions_ask_to_install_it(monkeypatch, lcbench):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    blackbox = load_blackbox("yahpo-lcbench-3945")  # reading needs no onnxruntime
    curve = blackbox.curve(KNOWN_CONFIG)
    with pytest.raises(MissingDependencyError, match=r"pip install simtune\[surrogates\]"):
        curve[0]
