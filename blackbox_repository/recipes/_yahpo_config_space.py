"""A YAHPO scenario's search space from its ConfigSpace JSON 0.2 file (``config_space*.json``).

The file is parsed directly (uniform float/int, categorical, ordinal, constant; EQ, NEQ, IN
conditions and their AND/OR conjunctions), so that files written by any ConfigSpace version
of the 0.2 JSON format read the same. The blackbox's space is the file's space without the
fidelity parameters, the instance parameter and the fixed inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ConfigSpace import (
    AndConjunction,
    Categorical,
    ConfigurationSpace,
    Constant,
    EqualsCondition,
    Float,
    InCondition,
    Integer,
    NotEqualsCondition,
    OrConjunction,
    OrdinalHyperparameter,
)

from blackbox_repository.recipes._raw_parsing import conversion_error
from blackbox_repository.yahpo_scenario import ScenarioDescriptionError


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
        if kind in ("AND", "OR"):
            parts = [_condition(part, hyperparameters, path) for part in item["conditions"]]
            return (AndConjunction if kind == "AND" else OrConjunction)(*parts)
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


def _parents(item: Mapping[str, Any]) -> set[str]:
    """The parents of a (possibly conjunctive) condition."""
    if item.get("type") in ("AND", "OR"):
        return set().union(*(_parents(part) for part in item.get("conditions", [])))
    return {item.get("parent")}


def read_config_space(content: Any, path: Path) -> dict[str, Any]:
    """Every hyperparameter of the file, by name, in file order."""
    if not isinstance(content, Mapping) or not isinstance(content.get("hyperparameters"), list):
        raise conversion_error(path, "it has no 'hyperparameters' list")
    if content.get("forbiddens"):
        raise conversion_error(path, "forbidden clauses are not supported")
    return {item.get("name"): _hyperparameter(item, path) for item in content["hyperparameters"]}


def search_space(
    content: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    excluded: set[str],
    name: str,
    path: Path,
) -> ConfigurationSpace:
    """The space of ``hyperparameters`` without ``excluded``, with the conditions among the rest.

    The condition of an excluded child (a fixed input) is dropped: its fixed value is always
    fed to the model, as yahpo-gym does with a constant. An excluded parent would make the
    activity of its children fixed too; that is refused rather than guessed.
    """
    kept = {n: hp for n, hp in hyperparameters.items() if n not in excluded}
    space = ConfigurationSpace(name=name)
    space.add(list(kept.values()))
    conditions = []
    for item in content.get("conditions", []):
        fixed_parents = sorted(_parents(item) & excluded)
        if fixed_parents:
            raise ScenarioDescriptionError(
                f"the inputs {fixed_parents} cannot be fixed (or be a fidelity or the instance): "
                f"the condition {item} of {path} depends on them. Leave them free"
            )
        if item.get("child") in kept:
            conditions.append(_condition(item, kept, path))
    if conditions:
        space.add(conditions)
    return space
