"""YAHPO Gym surrogate benchmarks: one blackbox per (scenario, instance), for any scenario.

Names: ``yahpo-<scenario>-<instance>``, e.g. ``yahpo-lcbench-3945`` (an OpenML task id),
``yahpo-rbv2_xgboost-1040`` (an OpenML dataset id) or ``yahpo-nb301-CIFAR10`` (a scenario
without an instance parameter). The scenario's folder ``yahpo/<scenario>/`` below the raw
data holds its files in yahpo-gym 1.0.2's layout (``model.onnx``, ``config_space.json``,
``encoding.json``) or in the v2 layout of yahpo-gym's ``v2_final`` branch
(``model_v2.onnx``, ``config_space_v2.json``, ``encoding_v2.json``).

* The 14 scenarios of yahpo-gym 1.0.2 come with their description
  (``_yahpo_gym_1_0_2.py``) and are read in the 1.0.2 layout. The four whose models are in
  the shared data (lcbench, rbv2_rpart, rbv2_xgboost, iaml_glmnet) are listed with all
  their instances and downloaded with pinned checksums; the ten others (nb301, rbv2_ranger,
  rbv2_svm, ...) work as soon as their files are present (or downloadable, the model's
  checksum recorded at first use).
* Any other folder needs a description file ``simtune_scenario.json`` next to the model
  (format: :mod:`blackbox_repository.yahpo_scenario`, docs/blackboxes/yahpo.md); its files
  are read from the local raw-data folder (``SIMTUNE_RAW_DATA_DIR`` / ``raw_data_dir=``) or
  the cache's raw folder, never downloaded.

The search space is the scenario's space without its fidelity parameters, instance
parameter and fixed inputs. The fidelity grid is the description's ``fidelity_values``, or
every integer of an integer fidelity's range.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ConfigSpace.hyperparameters import IntegerHyperparameter

from blackbox_repository.blackbox import Objective
from blackbox_repository.errors import CorruptBlackboxError, UnknownBlackboxError
from blackbox_repository.recipes._raw_parsing import conversion_error, github_raw_url, load_json
from blackbox_repository.recipes._yahpo_config_space import read_config_space, search_space
from blackbox_repository.recipes._yahpo_gym_1_0_2 import (
    LISTED_INSTANCES,
    PUBLISHED_SHA256,
    SCENARIOS,
)
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile, Recipe
from blackbox_repository.yahpo_inputs import YahpoModelSpec
from blackbox_repository.yahpo_scenario import (
    DESCRIPTION_FILE,
    DOCS,
    LAYOUTS,
    ScenarioDescriptionError,
    YahpoLayout,
    YahpoScenario,
    find_layout,
    read_description,
)
from blackbox_repository.yahpo_surrogate import ELAPSED_TIME, YahpoSurrogateBlackbox

FAMILY = "yahpo"
PREFIX = "yahpo-"
REPOSITORY = "slds-lmu/yahpo_data"
COMMIT = "efdab907"  # v1.0.2, the commit named by the data README; the full hash was not available offline
RUNTIME_OUTPUTS = ("time", "timetrain", "timepredict", "runtime")
SCENARIO_NAME = re.compile(r"[A-Za-z0-9_.]+")
MAX_INTEGER_GRID = 10_000


# --------------------------------------------------------------------- names
def blackbox_name(scenario: str, instance: str) -> str:
    return f"{PREFIX}{scenario}-{instance}"


def parse_name(name: str) -> tuple[str, str]:
    """(scenario, instance) of ``yahpo-<scenario>-<instance>``; the instance may hold '-'."""
    scenario, _, instance = name.removeprefix(PREFIX).partition("-")
    if not name.startswith(PREFIX) or not SCENARIO_NAME.fullmatch(scenario) or not instance:
        raise UnknownBlackboxError(
            f"{name!r} is not a YAHPO blackbox name: use yahpo-<scenario>-<instance>, e.g. "
            "yahpo-lcbench-3945 (the scenario is a folder name of letters, digits, '_' and '.')"
        )
    return scenario, instance


def _raw_path(scenario: str, file_name: str) -> str:
    return f"{FAMILY}/{scenario}/{file_name}"


def _published_files(scenario: str) -> tuple[RawFile, ...]:
    """The 1.0.2 files of a scenario simtune knows, at yahpo_data's v1.0.2 commit."""
    return tuple(
        RawFile(
            path=_raw_path(scenario, file_name),
            url=github_raw_url(REPOSITORY, COMMIT, f"{scenario}/{file_name}"),
            sha256=sha256,
        )
        for file_name, sha256 in PUBLISHED_SHA256[scenario].items()
    )


@dataclass(frozen=True)
class YahpoRecipe(Recipe):
    """The YAHPO recipe: listed names of four scenarios, and any ``yahpo-<scenario>-<instance>``.

    A name of a listed scenario must have a listed instance (so that a typo gets the close
    names); any other name is accepted here and checked against the scenario's files and
    description when it is converted.
    """

    def provides(self, name: str) -> bool:
        if name in self.names:
            return True
        try:
            scenario, _ = parse_name(name)
        except UnknownBlackboxError:
            return False
        return scenario not in LISTED_INSTANCES

    def raw_files_for(self, name: str) -> tuple[RawFile, ...]:
        if not self.provides(name):
            raise ValueError(f"recipe {self.family!r} does not provide {name!r}")
        scenario, _ = parse_name(name)
        # a scenario simtune does not know is read where the user put it: nothing to fetch
        return _published_files(scenario) if scenario in SCENARIOS else ()


# --------------------------------------------------------------------- scenario folders
def _unknown_scenario(folder: Path, scenario: str) -> ScenarioDescriptionError:
    close = difflib.get_close_matches(scenario, sorted(SCENARIOS), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    files = " or ".join(", ".join(layout.files) for layout in LAYOUTS.values())
    return ScenarioDescriptionError(
        f"YAHPO scenario {scenario!r} is not one simtune knows ({', '.join(sorted(SCENARIOS))})."
        f"{hint} To use another scenario, put its files ({files}) and a description file "
        f"{DESCRIPTION_FILE} in {folder} (the folder is read from SIMTUNE_RAW_DATA_DIR / "
        f"raw_data_dir=, else the cache's raw folder); the description format is in {DOCS}"
    )


def scenario_of_folder(folder: Path, scenario_name: str) -> tuple[YahpoScenario, YahpoLayout]:
    """The description and layout of ``folder``: simtune's for a yahpo-gym 1.0.2 scenario,
    else the folder's description file."""
    description = folder / DESCRIPTION_FILE
    if scenario_name in SCENARIOS:
        if description.exists():
            raise ScenarioDescriptionError(
                f"{description}: {scenario_name!r} is a yahpo-gym 1.0.2 scenario that simtune "
                "describes itself; to describe these files yourself (e.g. the v2 models), put "
                f"them with the description in a folder of another name, e.g. {scenario_name}_v2"
            )
        return SCENARIOS[scenario_name], LAYOUTS["1.0.2"]
    if not description.exists():
        raise _unknown_scenario(folder, scenario_name)
    scenario = read_description(description, scenario_name)
    return scenario, find_layout(folder, scenario)


def _instance_choices(
    scenario: YahpoScenario, hyperparameters: Mapping[str, Any], path: Path
) -> tuple[str, ...]:
    if scenario.instance_parameter is None:
        return scenario.instances
    choices = getattr(hyperparameters[scenario.instance_parameter], "choices", None)
    if choices is None:
        raise ScenarioDescriptionError(
            f"{path}: the instance parameter {scenario.instance_parameter!r} is not categorical"
        )
    return tuple(str(c) for c in choices)


def _check_fixed_inputs(
    scenario: YahpoScenario, hyperparameters: Mapping[str, Any], path: Path
) -> None:
    for name, value in scenario.fixed_inputs:
        hyperparameter = hyperparameters[name]
        choices = getattr(hyperparameter, "choices", None)
        legal = (
            str(value) in [str(c) for c in choices]
            if choices is not None
            else not isinstance(value, str) and hyperparameter.legal_value(value)
        )
        if not legal:
            raise ScenarioDescriptionError(
                f"the fixed input {name}={value!r} of scenario {scenario.name!r} "
                f"({scenario.source}) is not a value of {hyperparameter} in {path}"
            )


def _fidelity_grid(
    scenario: YahpoScenario, hyperparameters: Mapping[str, Any], path: Path
) -> tuple[float, ...]:
    hyperparameter = hyperparameters[scenario.fidelity_parameter]
    lower, upper = getattr(hyperparameter, "lower", None), getattr(hyperparameter, "upper", None)
    if lower is None:
        raise ScenarioDescriptionError(
            f"{path}: the fidelity {scenario.fidelity_parameter!r} is not numeric ({hyperparameter})"
        )
    grid = scenario.fidelity_values
    if grid is None:
        if not isinstance(hyperparameter, IntegerHyperparameter):
            raise ScenarioDescriptionError(
                f"the description of scenario {scenario.name!r} ({scenario.source}) needs "
                f"fidelity_values: its fidelity {scenario.fidelity_parameter!r} is not an integer "
                "(list the values the data were collected at, see the description format in "
                f"{DOCS})"
            )
        if upper - lower >= MAX_INTEGER_GRID:
            raise ScenarioDescriptionError(
                f"the fidelity {scenario.fidelity_parameter!r} of scenario {scenario.name!r} "
                f"ranges over {upper - lower + 1} integers: give fidelity_values in the description"
            )
        grid = tuple(range(int(lower), int(upper) + 1))
    outside = [v for v in grid if not lower <= v <= upper]
    if outside:
        raise ScenarioDescriptionError(
            f"fidelity_values {outside} of scenario {scenario.name!r} are outside the range "
            f"[{lower}, {upper}] of {scenario.fidelity_parameter!r} in {path}"
        )
    return tuple(grid)


# --------------------------------------------------------------------- conversion
def convert_yahpo(name: str, raw_dir: Path) -> YahpoSurrogateBlackbox:
    """The blackbox ``yahpo-<scenario>-<instance>`` from its scenario folder below ``raw_dir``."""
    scenario_name, instance = parse_name(name)
    folder = Path(raw_dir) / FAMILY / scenario_name
    scenario, layout = scenario_of_folder(folder, scenario_name)
    space_path, encoding_path = folder / layout.config_space_file, folder / layout.encoding_file
    model_path = folder / layout.model_file
    content = load_json(space_path)
    hyperparameters = read_config_space(content, space_path)
    missing = [n for n in (*scenario.cont_names, *scenario.cat_names) if n not in hyperparameters]
    if missing:
        raise ScenarioDescriptionError(
            f"the inputs {missing} of scenario {scenario_name!r} ({scenario.source}) are not in "
            f"its config space {space_path}"
        )
    instances = _instance_choices(scenario, hyperparameters, space_path)
    if instance not in instances:
        where = scenario.instance_parameter or "the description's instances"
        raise UnknownBlackboxError(
            f"unknown blackbox {name!r}: {instance!r} is not an instance of YAHPO scenario "
            f"{scenario_name!r} (choices of {where}: {', '.join(instances[:20])}"
            f"{', ...' if len(instances) > 20 else ''})"
        )
    _check_fixed_inputs(scenario, hyperparameters, space_path)
    excluded = {*scenario.fidelity_params, *dict(scenario.fixed_inputs)}
    if scenario.instance_parameter:
        excluded.add(scenario.instance_parameter)
    space = search_space(content, hyperparameters, excluded, scenario_name, space_path)
    grid = _fidelity_grid(scenario, hyperparameters, space_path)
    encoding = load_json(encoding_path)
    if not isinstance(encoding, dict) or not all(isinstance(v, dict) for v in encoding.values()):
        raise conversion_error(
            encoding_path, "it is not a mapping of input names to category codes"
        )
    try:
        model = model_path.read_bytes()
    except FileNotFoundError:
        raise conversion_error(model_path, "the file is missing") from None
    spec = YahpoModelSpec(
        scenario=scenario_name,
        instance=instance,
        instance_parameter=scenario.instance_parameter,
        cont_names=scenario.cont_names,
        cat_names=scenario.model_cat_names(layout),
        fidelity_parameter=scenario.fidelity_parameter,
        fixed_inputs=scenario.fixed_inputs,
        output_names=scenario.output_names,
        runtime_output=scenario.runtime_name,
        yahpo_gym_version=layout.yahpo_gym_version,
    )
    objectives = [
        Objective(
            output,
            "min" if minimize else "max",
            "s" if output in (*RUNTIME_OUTPUTS, scenario.runtime_name) else "",
        )
        for output, minimize in zip(scenario.output_names, scenario.minimize)
    ]
    fixed = ", ".join(f"{k}={v}" for k, v in scenario.fixed_inputs)
    blackbox = YahpoSurrogateBlackbox(
        model=model,
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
            f"YAHPO Gym {layout.yahpo_gym_version} surrogate (ONNX) of {scenario_name}, "
            f"{scenario.instance_parameter or 'instance'}={instance}: any configuration of the "
            f"{len(space)}-dimensional space, {scenario.fidelity_parameter} in "
            f"{grid[0]}..{grid[-1]} ({len(grid)} values){', ' + fixed if fixed else ''}. "
            f"elapsed_time is the running maximum of max({scenario.runtime_name}, 0) over the grid."
        ),
    )
    try:
        blackbox.check_model()
    except CorruptBlackboxError as error:  # not a loadable ONNX file
        raise conversion_error(model_path, str(error)) from error
    return blackbox


def _scenario_defaults(
    scenario: str, metric: str, mode: str, fidelity_name: str, max_wallclock_time: float
) -> BenchmarkDefaults:
    """Benchmark defaults of the blackboxes of one listed scenario (yahpo-<scenario>-*)."""
    return BenchmarkDefaults(
        name_prefix=f"yahpo-{scenario}-",
        metric=metric,
        mode=mode,
        elapsed_time_objective=ELAPSED_TIME,
        fidelity_name=fidelity_name,
        max_wallclock_time=max_wallclock_time,
    )


RECIPES = [
    YahpoRecipe(
        family=FAMILY,
        benchmark_defaults=(
            _scenario_defaults("lcbench", "val_accuracy", "max", "epoch", 3_600.0),
            _scenario_defaults("rbv2_xgboost", "acc", "max", "trainsize", 1_800.0),
            _scenario_defaults("rbv2_rpart", "acc", "max", "trainsize", 120.0),
            _scenario_defaults("iaml_glmnet", "mmce", "min", "trainsize", 10.0),
        ),
        names=tuple(
            blackbox_name(scenario, instance)
            for scenario, instances in LISTED_INSTANCES.items()
            for instance in instances
        ),
        raw_files=tuple(f for scenario in LISTED_INSTANCES for f in _published_files(scenario)),
        convert=convert_yahpo,
        description=(
            "YAHPO Gym ONNX surrogates, one blackbox per instance; answers any configuration "
            "of the search space. Listed: lcbench, rbv2_rpart, rbv2_xgboost, iaml_glmnet; any "
            "other scenario of yahpo-gym 1.0.2, or one described in simtune_scenario.json, by "
            "name yahpo-<scenario>-<instance>."
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
