"""YAHPO Gym 1.0.2 surrogate benchmarks: one blackbox per (scenario, instance).

Raw files, per scenario (slds-lmu/yahpo_data at the v1.0.2 commit, stored under
``yahpo/<scenario>/``): ``model.onnx`` (the surrogate), ``config_space.json`` (ConfigSpace
JSON 0.2 of the full input space: hyperparameters, fidelities, instance) and
``encoding.json`` (category -> integer code of every categorical input).

The scenario definitions of yahpo-gym 1.0.2 (output names and which to minimize, the order
of continuous and categorical inputs, fidelity, runtime output, instance parameter) are code
in yahpo-gym, not files of yahpo_data; they are written out in :data:`SCENARIOS` (a test
checks them against ``yahpo_gym_1.0.2_scenario_meta.json``), as are the instances, so that
blackbox names are known before any download. Scenarios whose model is not in the raw data
(``_no_model/``: nb301, rbv2_svm, iaml_ranger, ...) are not offered.

Names: ``yahpo-<scenario>-<instance>``, e.g. ``yahpo-lcbench-3945`` (an OpenML task id) or
``yahpo-rbv2_xgboost-1040`` (an OpenML dataset id). The search space is the scenario's
space without its fidelity and instance parameters. Fidelity grids (see
docs/blackboxes/yahpo.md): lcbench ``epoch`` 1..52; rbv2_* ``trainsize`` at the 12
fractions the data were collected at, ``repl`` fixed to 10; iaml_* ``trainsize`` at its 7
collected fractions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    Constant,
    EqualsCondition,
    Float,
    InCondition,
    Integer,
    NotEqualsCondition,
    OrdinalHyperparameter,
)

from blackbox_repository.blackbox import Objective
from blackbox_repository.recipes._raw_parsing import (
    RecipeWithOwnFiles,
    conversion_error,
    github_raw_url,
    load_json,
)
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile
from blackbox_repository.yahpo_surrogate import ELAPSED_TIME, YahpoModelSpec, YahpoSurrogateBlackbox

FAMILY = "yahpo"
PREFIX = "yahpo-"
YAHPO_GYM_VERSION = "1.0.2"
REPOSITORY = "slds-lmu/yahpo_data"
COMMIT = "efdab907"  # v1.0.2, the commit named by the data README; the full hash was not available offline
MODEL_FILE, CONFIG_SPACE_FILE, ENCODING_FILE = "model.onnx", "config_space.json", "encoding.json"
RUNTIME_OUTPUTS = ("time", "timetrain", "timepredict")
# yahpo-gym 1.0.2 marks rbv2's f1 as minimized; F1 is a score (higher is better, as in its
# iaml scenarios) and later yahpo-gym versions mark it maximized: simtune uses "max"
MODE_CORRECTIONS = {("rbv2_rpart", "f1"): "max", ("rbv2_xgboost", "f1"): "max"}


def _ids(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_RBV2_INSTANCES = _ids(
    "3 6 11 12 14 15 16 18 22 23 24 28 29 31 32 37 38 42 44 46 50 54 60 151 181 182 188 300 307 "
    "312 334 375 377 458 469 470 554 1040 1049 1050 1053 1056 1063 1067 1068 1111 1220 1457 1461 "
    "1462 1464 1468 1475 1476 1478 1479 1480 1485 1486 1487 1489 1493 1494 1497 1501 1510 1515 "
    "1590 4134 4135 4154 4534 4538 4541 6332 23381 23512 23517 40496 40498 40499 40536 40668 "
    "40670 40685 40701 40900 40923 40927 40966 40975 40978 40979 40981 40982 40983 40984 40994 "
    "40996 41027 41138 41142 41143 41146 41150 41156 41157 41159 41161 41162 41163 41164 41165 "
    "41166 41168 41169 41212"
)
_RBV2_OUTPUTS = (
    "acc",
    "bac",
    "auc",
    "brier",
    "f1",
    "logloss",
    "timetrain",
    "timepredict",
    "memory",
)
_RBV2_MINIMIZE = (False, False, False, True, True, True, True, True, True)
# rbv2 data were collected at these training-set fractions (and iaml at the next ones), as
# documented with Syne Tune's YAHPO wrapper; the model is queried there only
_RBV2_TRAINSIZES = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
_IAML_TRAINSIZES = (0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)
_RBV2_REPL = 10  # the largest replication index: every rbv2 blackbox answers for repl=10


@dataclass(frozen=True)
class YahpoScenario:
    """A yahpo-gym 1.0.2 scenario definition plus simtune's fidelity grid and raw checksums."""

    name: str
    output_names: tuple[str, ...]
    minimize: tuple[bool, ...]
    cont_names: tuple[str, ...]
    cat_names: tuple[str, ...]
    fidelity_params: tuple[str, ...]
    runtime_name: str
    instance_parameter: str
    instances: tuple[str, ...]
    fidelity_values: tuple[float, ...]
    fixed_inputs: tuple[tuple[str, float], ...]
    sha256: tuple[tuple[str, str], ...]  # (file name, sha256) of model, config space, encoding

    @property
    def fidelity_parameter(self) -> str:
        return self.fidelity_params[0]

    def raw_path(self, file_name: str) -> str:
        return f"{FAMILY}/{self.name}/{file_name}"


SCENARIOS: dict[str, YahpoScenario] = {
    scenario.name: scenario
    for scenario in (
        YahpoScenario(
            name="lcbench",
            output_names=(
                "time",
                "val_accuracy",
                "val_cross_entropy",
                "val_balanced_accuracy",
                "test_cross_entropy",
                "test_balanced_accuracy",
            ),
            minimize=(True, False, True, False, True, False),
            cont_names=(
                "epoch",
                "batch_size",
                "learning_rate",
                "momentum",
                "weight_decay",
                "num_layers",
                "max_units",
                "max_dropout",
            ),
            cat_names=("OpenML_task_id",),
            fidelity_params=("epoch",),
            runtime_name="time",
            instance_parameter="OpenML_task_id",
            instances=_ids(
                "3945 7593 34539 126025 126026 126029 146212 167104 167149 167152 167161 167168 "
                "167181 167184 167185 167190 167200 167201 168329 168330 168331 168335 168868 "
                "168908 168910 189354 189862 189865 189866 189873 189905 189906 189908 189909"
            ),
            fidelity_values=tuple(range(1, 53)),
            fixed_inputs=(),
            sha256=(
                (MODEL_FILE, "b45c0d85ae39abf8820c8bea5ac82f415763afcbaf3b725e36af452b09cb6dcd"),
                (
                    CONFIG_SPACE_FILE,
                    "4d1c78a91429b4a37628e13f286cf1abe15f778a09722a4c01714f2d72a8200d",
                ),
                (ENCODING_FILE, "d8af928f412bbeb07e58ecd69877fcab35fbc595333d1c1c3f76120d2f2508da"),
            ),
        ),
        YahpoScenario(
            name="rbv2_rpart",
            output_names=_RBV2_OUTPUTS,
            minimize=_RBV2_MINIMIZE,
            cont_names=("cp", "maxdepth", "minbucket", "minsplit", "trainsize", "repl"),
            cat_names=("task_id", "num.impute.selected.cpo"),
            fidelity_params=("trainsize", "repl"),
            runtime_name="timetrain",
            instance_parameter="task_id",
            instances=_RBV2_INSTANCES,
            fidelity_values=_RBV2_TRAINSIZES,
            fixed_inputs=(("repl", _RBV2_REPL),),
            sha256=(
                (MODEL_FILE, "af34bb810107fd809bdd74be227685fb2a1c5cb7b1f3c2dde5629e42ef6819f3"),
                (
                    CONFIG_SPACE_FILE,
                    "86de5b9c8f9bc2f82eaafa099b9920445ce6edbe56509c9736af71d53ef4a630",
                ),
                (ENCODING_FILE, "e978cd3de5b8fbad4f7dbb7a15bed94738d37c24a0bfb3cbdf33509ba91df49c"),
            ),
        ),
        YahpoScenario(
            name="rbv2_xgboost",
            output_names=_RBV2_OUTPUTS,
            minimize=_RBV2_MINIMIZE,
            cont_names=(
                "nrounds",
                "eta",
                "gamma",
                "lambda",
                "alpha",
                "subsample",
                "max_depth",
                "min_child_weight",
                "colsample_bytree",
                "colsample_bylevel",
                "rate_drop",
                "skip_drop",
                "trainsize",
                "repl",
            ),
            cat_names=("task_id", "booster", "num.impute.selected.cpo"),
            fidelity_params=("trainsize", "repl"),
            runtime_name="timetrain",
            instance_parameter="task_id",
            instances=(*_RBV2_INSTANCES, "41216", "41278"),
            fidelity_values=_RBV2_TRAINSIZES,
            fixed_inputs=(("repl", _RBV2_REPL),),
            sha256=(
                (MODEL_FILE, "85125b6d97f553d10cd50f9e632e1a3f1ad44bcb00300dd2880d70dfd043d9f3"),
                (
                    CONFIG_SPACE_FILE,
                    "acf4485d314d86801f61b615d64ffea7859c414c363da9e7f943621468ebbda4",
                ),
                (ENCODING_FILE, "0bd3cf9a4c9459a3148adf740f20b347fd11a6714f89348f41467a8f1206172a"),
            ),
        ),
        YahpoScenario(
            name="iaml_glmnet",
            output_names=(
                "mmce",
                "f1",
                "auc",
                "logloss",
                "ramtrain",
                "rammodel",
                "rampredict",
                "timetrain",
                "timepredict",
                "mec",
                "ias",
                "nf",
            ),
            minimize=(True, False, False, True, True, True, True, True, True, True, True, True),
            cont_names=("alpha", "s", "trainsize"),
            cat_names=("task_id",),
            fidelity_params=("trainsize",),
            runtime_name="timetrain",
            instance_parameter="task_id",
            instances=("1067", "1489", "40981", "41146"),
            fidelity_values=_IAML_TRAINSIZES,
            fixed_inputs=(),
            sha256=(
                (MODEL_FILE, "5c9b1541e37604993098ba23b04695bfe38d009108e9de0a26c3f161265b5a7a"),
                (
                    CONFIG_SPACE_FILE,
                    "0ad5fb8f4205f54be13ded2af5f9b34f840914dc0457f1ed6be215b7885fb0f9",
                ),
                (ENCODING_FILE, "e04ffd8c9bfdcb2e8b9c08c38d828e40d7be3ef90c8895f3e7e84b8b4348c3d1"),
            ),
        ),
    )
}


# --------------------------------------------------------------------- names
def blackbox_name(scenario: str, instance: str) -> str:
    return f"{PREFIX}{scenario}-{instance}"


def parse_name(name: str) -> tuple[YahpoScenario, str]:
    """(scenario, instance) of ``yahpo-<scenario>-<instance>``; anything else is a ValueError."""
    scenario_name, _, instance = name.removeprefix(PREFIX).rpartition("-")
    scenario = SCENARIOS.get(scenario_name)
    if not name.startswith(PREFIX) or scenario is None or instance not in scenario.instances:
        raise ValueError(
            f"{name!r} is not a YAHPO blackbox name: use yahpo-<scenario>-<instance> with a scenario "
            f"in {sorted(SCENARIOS)} and one of its instances (simtune blackbox list)"
        )
    return scenario, instance


# --------------------------------------------------------------------- search space
def _hyperparameter(item: Mapping[str, Any], path: Path):
    kind, name = item.get("type"), item.get("name")
    try:
        if kind == "uniform_float":
            return Float(
                name,
                (item["lower"], item["upper"]),
                default=item.get("default"),
                log=item.get("log", False),
            )
        if kind == "uniform_int":
            return Integer(
                name,
                (item["lower"], item["upper"]),
                default=item.get("default"),
                log=item.get("log", False),
            )
        if kind == "categorical":
            return Categorical(name, item["choices"], default=item.get("default"))
        if kind == "ordinal":
            return OrdinalHyperparameter(name, item["sequence"], default_value=item.get("default"))
        if kind == "constant":
            return Constant(name, item["value"])
    except (KeyError, TypeError, ValueError) as error:
        raise conversion_error(path, f"hyperparameter {name!r} is malformed ({error})") from None
    raise conversion_error(path, f"hyperparameter {name!r} has unsupported type {kind!r}")


def _condition(item: Mapping[str, Any], hyperparameters: Mapping[str, Any], path: Path):
    kind = item.get("type")
    try:
        child, parent = hyperparameters[item["child"]], hyperparameters[item["parent"]]
        if kind == "EQ":
            return EqualsCondition(child, parent, item["value"])
        if kind == "NEQ":
            return NotEqualsCondition(child, parent, item["value"])
        if kind == "IN":
            return InCondition(child, parent, item["values"])
    except (KeyError, TypeError, ValueError) as error:
        raise conversion_error(path, f"condition {item} is malformed ({error})") from None
    raise conversion_error(path, f"condition type {kind!r} is not supported")


def search_space(
    content: Mapping[str, Any], scenario: YahpoScenario, path: Path
) -> tuple[ConfigurationSpace, tuple[str, ...]]:
    """The space without fidelity and instance parameters, and the instance parameter's choices."""
    if not isinstance(content, Mapping) or not isinstance(content.get("hyperparameters"), list):
        raise conversion_error(path, "it has no 'hyperparameters' list")
    hyperparameters = {
        item.get("name"): _hyperparameter(item, path) for item in content["hyperparameters"]
    }
    excluded = {*scenario.fidelity_params, scenario.instance_parameter}
    missing = sorted(set(scenario.cont_names + scenario.cat_names) - set(hyperparameters))
    if missing:
        raise conversion_error(path, f"the model inputs {missing} are not in the config space")
    kept = {name: hp for name, hp in hyperparameters.items() if name not in excluded}
    space = ConfigurationSpace(name=scenario.name)
    space.add(list(kept.values()))
    conditions = [
        _condition(item, kept, path)
        for item in content.get("conditions", [])
        if item.get("child") in kept and item.get("parent") in kept
    ]
    if conditions:
        space.add(conditions)
    if content.get("forbiddens"):
        raise conversion_error(path, "forbidden clauses are not supported")
    instances = tuple(str(c) for c in hyperparameters[scenario.instance_parameter].choices)
    return space, instances


# --------------------------------------------------------------------- conversion
def convert_yahpo(name: str, raw_dir: Path) -> YahpoSurrogateBlackbox:
    """The blackbox ``yahpo-<scenario>-<instance>`` from the scenario's three raw files."""
    scenario, instance = parse_name(name)
    folder = Path(raw_dir) / FAMILY / scenario.name
    space_path, encoding_path = folder / CONFIG_SPACE_FILE, folder / ENCODING_FILE
    space, instances = search_space(load_json(space_path), scenario, space_path)
    if instance not in instances:
        raise conversion_error(
            space_path, f"instance {instance!r} is not a choice of {scenario.instance_parameter!r}"
        )
    encoding = load_json(encoding_path)
    if not isinstance(encoding, dict) or not all(isinstance(v, dict) for v in encoding.values()):
        raise conversion_error(
            encoding_path, "it is not a mapping of input names to category codes"
        )
    spec = YahpoModelSpec(
        scenario=scenario.name,
        instance=instance,
        instance_parameter=scenario.instance_parameter,
        cont_names=scenario.cont_names,
        cat_names=scenario.cat_names,
        fidelity_parameter=scenario.fidelity_parameter,
        fixed_inputs=scenario.fixed_inputs,
        output_names=scenario.output_names,
        runtime_output=scenario.runtime_name,
        yahpo_gym_version=YAHPO_GYM_VERSION,
    )
    objectives = [
        Objective(
            output,
            MODE_CORRECTIONS.get((scenario.name, output), "min" if minimize else "max"),
            "s" if output in RUNTIME_OUTPUTS else "",
        )
        for output, minimize in zip(scenario.output_names, scenario.minimize)
    ]
    grid = scenario.fidelity_values
    try:
        return YahpoSurrogateBlackbox(
            model=(folder / MODEL_FILE).read_bytes(),
            encoding=encoding,
            spec=spec,
            name=name,
            configuration_space=space,
            fidelity_name=scenario.fidelity_parameter,
            fidelity_values=grid,
            seeds=[0],
            objectives=[*objectives, Objective(ELAPSED_TIME, "min", "s")],
            elapsed_time_objective=ELAPSED_TIME,
            description=(
                f"YAHPO Gym {YAHPO_GYM_VERSION} surrogate (ONNX) of {scenario.name}, "
                f"{scenario.instance_parameter}={instance}: any configuration of the "
                f"{len(space)}-dimensional space, {scenario.fidelity_parameter} in {grid[0]}..{grid[-1]} "
                f"({len(grid)} values){', ' + ', '.join(f'{k}={v}' for k, v in scenario.fixed_inputs) if scenario.fixed_inputs else ''}. "
                f"elapsed_time is the running maximum of max({scenario.runtime_name}, 0) over the grid."
            ),
        )
    except ValueError as error:
        raise conversion_error(encoding_path, str(error)) from error


def _raw_files() -> tuple[RawFile, ...]:
    return tuple(
        RawFile(
            path=scenario.raw_path(file_name),
            url=github_raw_url(REPOSITORY, COMMIT, f"{scenario.name}/{file_name}"),
            sha256=sha256,
        )
        for scenario in SCENARIOS.values()
        for file_name, sha256 in scenario.sha256
    )


RECIPES = [
    RecipeWithOwnFiles(
        family=FAMILY,
        benchmark_defaults=(
            BenchmarkDefaults(
                name_prefix="yahpo-lcbench-",
                metric="val_accuracy",
                mode="max",
                elapsed_time_objective="elapsed_time",
                fidelity_name="epoch",
                max_wallclock_time=3_600.0,
            ),
            BenchmarkDefaults(
                name_prefix="yahpo-rbv2_xgboost-",
                metric="acc",
                mode="max",
                elapsed_time_objective="elapsed_time",
                fidelity_name="trainsize",
                max_wallclock_time=1_800.0,
            ),
            BenchmarkDefaults(
                name_prefix="yahpo-rbv2_rpart-",
                metric="acc",
                mode="max",
                elapsed_time_objective="elapsed_time",
                fidelity_name="trainsize",
                max_wallclock_time=120.0,
            ),
            BenchmarkDefaults(
                name_prefix="yahpo-iaml_glmnet-",
                metric="mmce",
                mode="min",
                elapsed_time_objective="elapsed_time",
                fidelity_name="trainsize",
                max_wallclock_time=10.0,
            ),
        ),
        names=tuple(
            blackbox_name(scenario.name, instance)
            for scenario in SCENARIOS.values()
            for instance in scenario.instances
        ),
        raw_files=_raw_files(),
        convert=convert_yahpo,
        files_by_name=tuple(
            (
                blackbox_name(scenario.name, instance),
                tuple(scenario.raw_path(file_name) for file_name, _ in scenario.sha256),
            )
            for scenario in SCENARIOS.values()
            for instance in scenario.instances
        ),
        description=(
            "YAHPO Gym 1.0.2 ONNX surrogates (lcbench, rbv2_rpart, rbv2_xgboost, iaml_glmnet), "
            "one blackbox per instance; answers any configuration of the search space."
        ),
        license="Apache-2.0",
        citation=(
            "F. Pfisterer, L. Schneider, J. Moosbauer, M. Binder, B. Bischl. YAHPO Gym - An "
            "Efficient Multi-Objective Multi-Fidelity Benchmark for Hyperparameter Optimization. "
            "AutoML Conference 2022. Also cite the scenarios' data sources (LCBench: Zimmer et al. "
            "2021; rbv2: Binder et al. 2020)."
        ),
        extras=("surrogates",),
    )
]
