"""Checking configurations against a ConfigSpace search space, encoding them as numbers,
and keeping elapsed times cumulative: shared by the surrogate blackboxes.

Configurations are encoded as numbers: a numeric hyperparameter on its scale (log where it
is log-scaled) normalised to [0, 1], an ordinal by its position in [0, 1], a categorical
one-hot with entries 1/sqrt(2) (so changing the category weighs as much as crossing a
numeric range), a constant not at all; an inactive hyperparameter is -1 (numeric) or all
zeros (one-hot).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace
from ConfigSpace.conditions import Condition
from ConfigSpace.hyperparameters import (
    CategoricalHyperparameter,
    Constant,
    FloatHyperparameter,
    IntegerHyperparameter,
    OrdinalHyperparameter,
)
from ConfigSpace.types import NotSet

from blackbox_repository.blackbox import native
from blackbox_repository.errors import ConfigNotFoundError

ONE_HOT_VALUE = 1.0 / math.sqrt(2.0)
INACTIVE_NUMERIC = -1.0
# relative slack at numeric bounds, so that e.g. 1e-4 passes a bound stored as 1.0000000000000009e-4
BOUND_TOLERANCE = 1e-9


class SearchSpaceChecker:
    """Checks configurations against a ConfigSpace search space, with errors that name the problem.

    ``check(config)`` returns a plain-Python copy holding the active values (constants filled
    in) or raises :class:`ConfigNotFoundError` for an unknown key, a value out of range, a
    wrong category, a missing or inactive hyperparameter or a forbidden combination.
    ``hints`` maps keys that are not hyperparameters (e.g. the fidelity) to an explanation.
    """

    def __init__(
        self, space: ConfigurationSpace, blackbox_name: str, hints: Mapping[str, str] | None = None
    ) -> None:
        self.space = space
        self.blackbox_name = blackbox_name
        self.hints = dict(hints or {})
        self.names = tuple(space.keys())
        self.constants = {
            name: native(hp.value) for name, hp in space.items() if isinstance(hp, Constant)
        }
        self.unconditional = not space.conditions and not space.forbidden_clauses
        # simple conditions (one parent each) are evaluated here, in the space's topological
        # order; conjunctions and forbidden clauses go through a (slower) ConfigSpace check
        simple = all(isinstance(c, Condition) for c in space.conditions)
        self.condition_of = (
            {c.child.name: c for c in space.conditions}
            if simple and not space.forbidden_clauses
            else None
        )

    def _fail(self, config: Mapping[str, Any], problem: str) -> ConfigNotFoundError:
        return ConfigNotFoundError(
            f"configuration {dict(config)} is outside the search space of blackbox "
            f"{self.blackbox_name!r}: {problem}. See blackbox.configuration_space"
        )

    def check(self, config: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(config, Mapping):
            raise ConfigNotFoundError(
                f"a configuration must be a mapping of hyperparameter names to values, got {config!r}"
            )
        values = {}
        for key, value in config.items():
            value = native(value)
            if key not in self.space:
                hint = self.hints.get(key, "")
                raise self._fail(
                    config,
                    f"{key!r} is not a hyperparameter{'; ' + hint if hint else ''} "
                    f"(hyperparameters: {list(self.names)})",
                )
            if value is not None:
                values[key] = self._checked_value(config, self.space[key], value)
        for name, value in self.constants.items():
            values.setdefault(name, value)
        if self.unconditional:
            missing = [name for name in self.names if name not in values]
            if missing:
                raise self._fail(config, f"hyperparameters {missing} have no value")
        else:
            self._check_conditions(config, values)
        return values

    def key(self, checked: Mapping[str, Any]) -> tuple:
        """A hashable key of a checked configuration (None for inactive hyperparameters)."""
        return tuple(checked.get(name) for name in self.names)

    def check_distinct(
        self, configs: Sequence[Mapping[str, Any]]
    ) -> tuple[list[dict[str, Any]], np.ndarray]:
        """The distinct checked configurations of ``configs`` and each one's position among them.

        Repeated configurations are checked once (a conditional space costs a ConfigSpace check).
        """
        positions_of_input: dict[tuple, int] = {}
        positions_of_key: dict[tuple, int] = {}
        distinct: list[dict[str, Any]] = []
        rows = np.empty(len(configs), dtype=np.int64)
        for i, config in enumerate(configs):
            # with the types: True == 1 but they are different categories
            given = (
                tuple((k, type(v), v) for k, v in config.items())
                if isinstance(config, Mapping)
                else None
            )
            try:
                position = positions_of_input.get(given)
            except TypeError:  # unhashable values: checked (and rejected) below
                given, position = None, None
            if position is None:
                checked = self.check(config)
                position = positions_of_key.setdefault(self.key(checked), len(distinct))
                if position == len(distinct):
                    distinct.append(checked)
                if given is not None:
                    positions_of_input[given] = position
            rows[i] = position
        return distinct, rows

    def _checked_value(self, config: Mapping[str, Any], hp, value: Any) -> Any:
        if isinstance(hp, (FloatHyperparameter, IntegerHyperparameter)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise self._fail(config, f"{hp.name}={value!r} is not a number")
            if isinstance(hp, IntegerHyperparameter) and value != int(value):
                raise self._fail(config, f"{hp.name}={value!r} is not an integer")
            lower, upper = float(hp.lower), float(hp.upper)
            tolerance = BOUND_TOLERANCE
            if not lower - tolerance * abs(lower) <= value <= upper + tolerance * abs(upper):
                raise self._fail(config, f"{hp.name}={value!r} is outside [{hp.lower}, {hp.upper}]")
            return int(value) if isinstance(hp, IntegerHyperparameter) else float(value)
        if isinstance(hp, (CategoricalHyperparameter, OrdinalHyperparameter)):
            sequence = hp.choices if isinstance(hp, CategoricalHyperparameter) else hp.sequence
            choices = [native(c) for c in sequence]
            for choice in choices:
                # "1", 1 and True are different choices even though 1 == True
                if value == choice and _kind(value) == _kind(choice):
                    return choice
            raise self._fail(config, f"{hp.name}={value!r} is not one of the choices {choices}")
        if isinstance(hp, Constant):
            if value != native(hp.value):
                raise self._fail(
                    config, f"{hp.name} is the constant {native(hp.value)!r}, got {value!r}"
                )
            return value
        raise self._fail(
            config, f"hyperparameter {hp.name} of type {type(hp).__name__} is not supported"
        )

    def _check_conditions(self, config: Mapping[str, Any], values: dict[str, Any]) -> None:
        if self.condition_of is None:
            self._check_with_configspace(config, values)
            return
        state: dict[str, Any] = {}
        for name in self.names:
            condition = self.condition_of.get(name)
            active = condition is None or condition.satisfied_by_value(state)
            if active and name not in values:
                raise self._fail(config, f"{name} is active but has no value")
            if not active and name in values:
                raise self._fail(
                    config, f"{name}={values[name]!r} is set but inactive ({condition})"
                )
            state[name] = values[name] if active else NotSet

    def _check_with_configspace(self, config: Mapping[str, Any], values: dict[str, Any]) -> None:
        # values within the bound tolerance are clipped: ConfigSpace checks bounds exactly
        clipped = {}
        for name, value in values.items():
            hp = self.space[name]
            if isinstance(hp, (FloatHyperparameter, IntegerHyperparameter)):
                value = min(max(value, hp.lower), hp.upper)
            clipped[name] = value
        try:
            Configuration(self.space, values=clipped)
        except ValueError as error:
            reason = " ".join(str(error).split())
            raise self._fail(config, reason) from None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, (int, float)) else type(value).__name__


# --------------------------------------------------------------------- numeric encoding
def _float_column(column: Sequence[Any] | np.ndarray) -> np.ndarray:
    array = np.asarray(column)
    if array.dtype.kind in "fiub":
        return array.astype(np.float64)
    return np.array([math.nan if native(v) is None else float(native(v)) for v in array])


class ConfigEncoder:
    """Encodes configurations of a search space as rows of numbers in [0, 1] (see module doc)."""

    def __init__(self, space: ConfigurationSpace) -> None:
        self.space = space
        self.n_features = 0
        for hp in space.values():
            if isinstance(hp, CategoricalHyperparameter):
                self.n_features += len(hp.choices)
            elif not isinstance(hp, Constant):
                self.n_features += 1

    def encode(self, columns: Mapping[str, Sequence[Any] | np.ndarray], n_rows: int) -> np.ndarray:
        """Features of ``n_rows`` configurations given column-wise (missing/NaN = inactive)."""
        features = np.zeros((n_rows, self.n_features))
        position = 0
        for name, hp in self.space.items():
            if isinstance(hp, Constant):
                continue
            column = columns.get(name)
            if column is None:
                column = [None] * n_rows
            if isinstance(hp, CategoricalHyperparameter):
                observed = [native(v) for v in np.asarray(column, dtype=object)]
                for choice in hp.choices:
                    choice = native(choice)
                    features[:, position] = [
                        ONE_HOT_VALUE if v == choice else 0.0 for v in observed
                    ]
                    position += 1
                continue
            if isinstance(hp, OrdinalHyperparameter):
                ranks = {native(v): i for i, v in enumerate(hp.sequence)}
                scale = max(len(hp.sequence) - 1, 1)
                encoded = np.array(
                    [
                        ranks.get(native(v), math.nan) / scale
                        for v in np.asarray(column, dtype=object)
                    ]
                )
            else:
                values, lower, upper = _float_column(column), float(hp.lower), float(hp.upper)
                if hp.log:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        values = np.log(values)
                    lower, upper = math.log(lower), math.log(upper)
                encoded = (values - lower) / (upper - lower) if upper > lower else values * 0.0
            features[:, position] = np.where(np.isnan(encoded), INACTIVE_NUMERIC, encoded)
            position += 1
        return features

    def encode_configs(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        columns = {name: [c.get(name) for c in configs] for name in self.space}
        return self.encode(columns, len(configs))


# --------------------------------------------------------------------- elapsed time
def enforce_elapsed_time(elapsed: np.ndarray, axis: int = 0, start: float = math.nan) -> np.ndarray:
    """Elapsed times made non-negative and non-decreasing along ``axis`` (the fidelity axis).

    Each value becomes the running maximum of the clipped values up to it (``start`` is a
    maximum carried over from earlier fidelities); missing values (NaN) stay NaN and do not
    interrupt the running maximum.
    """
    missing = np.isnan(elapsed)
    clipped = np.maximum(elapsed, 0.0)
    if not math.isnan(start):
        first = [slice(None)] * elapsed.ndim
        first[axis] = slice(0, 1)
        clipped = np.concatenate([np.full_like(clipped[tuple(first)], start), clipped], axis=axis)
        running = np.fmax.accumulate(clipped, axis=axis)
        rest = [slice(None)] * elapsed.ndim
        rest[axis] = slice(1, None)
        running = running[tuple(rest)]
    else:
        running = np.fmax.accumulate(clipped, axis=axis)
    running[missing] = math.nan
    return running


# --------------------------------------------------------------------- models
