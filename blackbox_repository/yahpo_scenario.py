"""What a YAHPO Gym scenario is: its description, its file layout, and its description file.

A *scenario description* says how a scenario's ONNX model is fed and read, in yahpo-gym's
own vocabulary (the keys of its ``benchmarks/*.py`` dictionaries): output names
(``y_names``) and which to minimize (``y_minimize``), the order of the continuous
(``cont_names``) and categorical (``cat_names``) inputs, the fidelity parameters
(``fidelity_params``), the instance parameter (``instance_names``, or ``None`` with a list of
``instances``), the runtime output (``runtime_name``) and, in yahpo-gym 1.0.2,
``drop_predict``. simtune adds the fidelity grid (``fidelity_values``) and the values of
fixed inputs (``fixed_inputs``).

A *layout* names the three files of a scenario folder: yahpo-gym 1.0.2 reads ``model.onnx``,
``config_space.json`` and ``encoding.json``; the ``v2_final`` branch of yahpo-gym (2.0.0)
reads ``model_v2.onnx``, ``config_space_v2.json`` and ``encoding_v2.json`` and feeds the
instance parameter as the *first* categorical input.

The *description file* ``simtune_scenario.json`` (next to the model) describes a scenario
simtune does not know; its format is documented in docs/blackboxes/yahpo.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blackbox_repository.errors import ConversionError

DESCRIPTION_FILE = "simtune_scenario.json"
DOCS = "docs/blackboxes/yahpo.md"


class ScenarioDescriptionError(ConversionError):
    """A YAHPO scenario description (file) that is incomplete or contradicts itself or its files."""


@dataclass(frozen=True)
class YahpoLayout:
    """The file names of one yahpo-gym version's scenario folder, and how it orders ``x_cat``."""

    name: str
    yahpo_gym_version: str
    model_file: str
    config_space_file: str
    encoding_file: str
    instance_first: bool  # v2 moves the instance parameter to the front of cat_names
    has_drop_predict: bool  # 1.0.2 leaves the cat_names in drop_predict out of x_cat

    @property
    def files(self) -> tuple[str, str, str]:
        return (self.model_file, self.config_space_file, self.encoding_file)


LAYOUTS: dict[str, YahpoLayout] = {
    layout.name: layout
    for layout in (
        YahpoLayout(
            "1.0.2", "1.0.2", "model.onnx", "config_space.json", "encoding.json", False, True
        ),
        YahpoLayout(
            "v2",
            "2.0.0 (v2_final)",
            "model_v2.onnx",
            "config_space_v2.json",
            "encoding_v2.json",
            True,
            False,
        ),
    )
}


@dataclass(frozen=True)
class YahpoScenario:
    """A scenario description (see the module docstring); ``source`` says where it came from.

    ``fidelity_params[0]`` is the blackbox's fidelity; every other fidelity parameter must
    have a value in ``fixed_inputs``. ``fidelity_values`` ``None`` means: every integer of
    the fidelity's range in the config space (an integer fidelity only).
    """

    name: str
    output_names: tuple[str, ...]
    minimize: tuple[bool, ...]
    cont_names: tuple[str, ...]
    cat_names: tuple[str, ...]
    fidelity_params: tuple[str, ...]
    runtime_name: str
    instance_parameter: str | None = None
    instances: tuple[str, ...] = ()  # only for a scenario without an instance parameter
    drop_predict: tuple[str, ...] = ()
    fidelity_values: tuple[float, ...] | None = None
    fixed_inputs: tuple[tuple[str, float | str], ...] = ()
    layout: str | None = None  # None: from the files present (1.0.2 if both sets are)
    source: str = "simtune's description of yahpo-gym 1.0.2"

    @property
    def fidelity_parameter(self) -> str:
        return self.fidelity_params[0]

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ScenarioDescriptionError(
                f"the description of YAHPO scenario {self.name!r} ({self.source}) is not usable: "
                f"{'; '.join(problems)}. See the description format in {DOCS}"
            )

    def model_cat_names(self, layout: YahpoLayout) -> tuple[str, ...]:
        """The categorical inputs in the order the model of ``layout`` takes them."""
        names = self.cat_names
        if layout.has_drop_predict:
            names = tuple(n for n in names if n not in self.drop_predict)
        if layout.instance_first and self.instance_parameter:
            names = (
                self.instance_parameter,
                *(n for n in names if n != self.instance_parameter),
            )
        return names


def _problems(scenario: YahpoScenario) -> list[str]:
    problems = []
    inputs = (*scenario.cont_names, *scenario.cat_names)
    if not scenario.output_names:
        problems.append("y_names is empty")
    if len(scenario.minimize) != len(scenario.output_names):
        problems.append(
            f"y_minimize has {len(scenario.minimize)} entries for {len(scenario.output_names)} "
            "y_names"
        )
    repeated = sorted({n for n in inputs if inputs.count(n) > 1})
    if repeated:
        problems.append(f"inputs {repeated} are listed more than once in cont_names/cat_names")
    if not scenario.fidelity_params:
        problems.append("fidelity_params is empty: simtune needs a fidelity")
    elif scenario.fidelity_parameter not in scenario.cont_names:
        problems.append(
            f"the fidelity {scenario.fidelity_parameter!r} (first of fidelity_params) must be "
            "one of cont_names"
        )
    if scenario.runtime_name not in scenario.output_names:
        problems.append(
            f"runtime_name {scenario.runtime_name!r} is not one of y_names "
            f"{list(scenario.output_names)}: simtune needs a runtime output for simulated time"
        )
    fixed = dict(scenario.fixed_inputs)
    unfixed = [p for p in scenario.fidelity_params[1:] if p not in fixed]
    if unfixed:
        problems.append(
            f"the further fidelity parameters {unfixed} need a value in fixed_inputs "
            "(simtune varies only the first one)"
        )
    for name in fixed:
        if name not in inputs:
            problems.append(f"fixed input {name!r} is not one of cont_names/cat_names")
    if scenario.fidelity_parameter in fixed:
        problems.append(f"the fidelity {scenario.fidelity_parameter!r} cannot be fixed")
    if scenario.instance_parameter:
        if scenario.instance_parameter not in scenario.cat_names:
            problems.append(
                f"instance_names {scenario.instance_parameter!r} is not one of cat_names"
            )
        if scenario.instance_parameter in fixed:
            problems.append("the instance parameter cannot be fixed: it is in the blackbox name")
    elif not scenario.instances:
        problems.append("a scenario without instance_names needs a list of instances")
    if scenario.fidelity_values is not None:
        grid = scenario.fidelity_values
        if not grid or any(not math.isfinite(v) for v in grid):
            problems.append("fidelity_values must be a non-empty list of finite numbers")
        elif any(b <= a for a, b in zip(grid, grid[1:])):
            problems.append("fidelity_values must be strictly increasing")
    if scenario.layout is not None and scenario.layout not in LAYOUTS:
        problems.append(f"layout {scenario.layout!r} is not one of {sorted(LAYOUTS)}")
    if any("-" in i or not i for i in scenario.instances):
        problems.append("instances must be non-empty and contain no '-'")
    return problems


# --------------------------------------------------------------------- description files
_REQUIRED = ("y_names", "y_minimize", "cont_names", "cat_names", "fidelity_params", "runtime_name")
_SIMTUNE_KEYS = ("fidelity_values", "fixed_inputs", "layout")
_YAHPO_KEYS = ("config_id", "instance_names", "instances", "drop_predict")
# keys of yahpo-gym's scenario dictionaries that do not change how the model is queried
_IGNORED_KEYS = ("citation", "hierarchical", "memory_name", "is_multicrit", "is_multiclass")


def _fail(path: Path, problem: str) -> ScenarioDescriptionError:
    return ScenarioDescriptionError(
        f"the YAHPO scenario description {path} is not usable: {problem}. Fix the file; its "
        f"format is documented in {DOCS}"
    )


def _names(content: Mapping[str, Any], key: str, path: Path) -> tuple[str, ...]:
    value = content.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, f"{key!r} must be a list of names, got {value!r}")
    return tuple(value)


def _fixed_inputs(content: Mapping[str, Any], path: Path) -> tuple[tuple[str, float | str], ...]:
    value = content.get("fixed_inputs", {})
    if not isinstance(value, Mapping):
        raise _fail(path, f"'fixed_inputs' must map input names to values, got {value!r}")
    for name, fixed in value.items():
        if isinstance(fixed, bool) or not isinstance(fixed, (int, float, str)):
            raise _fail(
                path,
                f"fixed input {name!r} has value {fixed!r}: use a number (continuous input) "
                "or a string (category)",
            )
    return tuple(value.items())


def read_description(path: Path | str, scenario_name: str) -> YahpoScenario:
    """The scenario described by the JSON file ``path`` (its folder names the scenario)."""
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _fail(path, f"it cannot be read as JSON ({error})") from None
    if not isinstance(content, Mapping):
        raise _fail(path, "it must hold a JSON object")
    allowed = (*_REQUIRED, *_SIMTUNE_KEYS, *_YAHPO_KEYS, *_IGNORED_KEYS)
    unknown = sorted(set(content) - set(allowed))
    if unknown:
        raise _fail(path, f"unknown keys {unknown}; allowed keys are {sorted(allowed)}")
    missing = [key for key in _REQUIRED if key not in content]
    if missing:
        raise _fail(path, f"required keys {missing} are missing")
    if content.get("config_id", scenario_name) != scenario_name:
        raise _fail(
            path,
            f"config_id {content['config_id']!r} differs from the folder name {scenario_name!r}",
        )
    minimize = content["y_minimize"]
    if not isinstance(minimize, list) or not all(isinstance(v, bool) for v in minimize):
        raise _fail(path, f"'y_minimize' must be a list of true/false, got {minimize!r}")
    runtime, instance = content["runtime_name"], content.get("instance_names")
    if not isinstance(runtime, str):
        raise _fail(path, f"'runtime_name' must be an output name, got {runtime!r}")
    if instance is not None and not isinstance(instance, str):
        raise _fail(path, f"'instance_names' must be a name or null, got {instance!r}")
    grid = content.get("fidelity_values")
    if grid is not None and (
        not isinstance(grid, list)
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in grid)
    ):
        raise _fail(path, f"'fidelity_values' must be a list of numbers, got {grid!r}")
    layout = content.get("layout")
    if layout is not None and layout not in LAYOUTS:
        raise _fail(path, f"'layout' must be one of {sorted(LAYOUTS)}, got {layout!r}")
    instances = content.get("instances", [])
    if not isinstance(instances, list) or isinstance(instance, str) and instances:
        raise _fail(
            path, "'instances' is a list, given only when instance_names is null (yahpo-gym's rule)"
        )
    return YahpoScenario(
        name=scenario_name,
        output_names=_names(content, "y_names", path),
        minimize=tuple(minimize),
        cont_names=_names(content, "cont_names", path),
        cat_names=_names(content, "cat_names", path),
        fidelity_params=_names(content, "fidelity_params", path),
        runtime_name=runtime,
        instance_parameter=instance or None,  # yahpo-gym v2 writes "" for none
        instances=tuple(str(i) for i in instances),
        drop_predict=_names(content, "drop_predict", path),
        fidelity_values=None if grid is None else tuple(grid),
        fixed_inputs=_fixed_inputs(content, path),
        layout=layout,
        source=str(path),
    )


def find_layout(folder: Path, scenario: YahpoScenario) -> YahpoLayout:
    """The layout of ``folder``: the description's, else the one whose three files are there."""
    if scenario.layout is not None:
        return LAYOUTS[scenario.layout]
    present = [
        layout for layout in LAYOUTS.values() if all((folder / f).exists() for f in layout.files)
    ]
    if not present:
        expected = " or ".join(", ".join(layout.files) for layout in LAYOUTS.values())
        raise ScenarioDescriptionError(
            f"the YAHPO scenario folder {folder} holds neither layout's files ({expected})"
        )
    return present[0]
