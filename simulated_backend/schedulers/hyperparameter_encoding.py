"""How a configuration becomes a numeric vector, one column per hyperparameter.

- numeric (float and integer): ``(x - lower) / (upper - lower)`` in [0, 1], computed on
  ``log(x)`` when the hyperparameter is on a log scale;
- ordinal: ``index / (k - 1)`` in [0, 1] (ordered, so a model may treat it as numeric);
- categorical and constant: the index of the value among the choices (0 .. k - 1), a float;
- inactive (conditional) hyperparameters: ``NaN``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ConfigSpace import CategoricalHyperparameter, Constant, OrdinalHyperparameter
from ConfigSpace.hyperparameters import IntegerHyperparameter, NumericalHyperparameter

from blackbox_repository.blackbox import native

NUMERIC, ORDINAL, CATEGORICAL = "numeric", "ordinal", "categorical"


@dataclass(frozen=True)
class Dimension:
    """One column of the encoding: ``kind`` is ``"numeric"``, ``"ordinal"`` or ``"categorical"``.

    ``cardinality`` is the number of values of an ordinal or categorical dimension, 0 for
    a numeric one.
    """

    name: str
    kind: str
    cardinality: int = 0


class HyperparameterCodec:
    """Encodes and decodes the values of one hyperparameter (see the module docstring)."""

    def __init__(self, hyperparameter: Any) -> None:
        self.name = hyperparameter.name
        self.choices: tuple = ()
        self.is_integer = False
        self.log = False
        if isinstance(hyperparameter, NumericalHyperparameter):
            self.kind = NUMERIC
            self.lower, self.upper = float(hyperparameter.lower), float(hyperparameter.upper)
            self.log = bool(hyperparameter.log)
            self.is_integer = isinstance(hyperparameter, IntegerHyperparameter)
            if self.log:
                self.low, self.span = (
                    math.log(self.lower),
                    math.log(self.upper) - math.log(self.lower),
                )
            else:
                self.low, self.span = self.lower, self.upper - self.lower
        elif isinstance(hyperparameter, OrdinalHyperparameter):
            self.kind = ORDINAL
            self.choices = tuple(native(v) for v in hyperparameter.sequence)
        elif isinstance(hyperparameter, CategoricalHyperparameter):
            self.kind = CATEGORICAL
            self.choices = tuple(native(v) for v in hyperparameter.choices)
        elif isinstance(hyperparameter, Constant):
            self.kind = CATEGORICAL
            self.choices = (native(hyperparameter.value),)
        else:
            raise TypeError(
                f"hyperparameter {hyperparameter.name!r} has type {type(hyperparameter).__name__}, "
                "which SearchSpace cannot encode; use a numerical, ordinal, categorical or "
                "constant hyperparameter"
            )
        self.index_of = {value: i for i, value in enumerate(self.choices)}
        # value -> encode_value(value) of every choice and of None (inactive), for a one-
        # lookup encoding (SearchSpace.encode_config); None for a numeric hyperparameter
        self.value_encodings: dict[Any, float] | None = None
        if self.kind != NUMERIC:
            self.value_encodings = {value: self.encode_value(value) for value in self.choices}
            self.value_encodings[None] = self.encode_value(None)

    @property
    def dimension(self) -> Dimension:
        return Dimension(self.name, self.kind, len(self.choices))

    def encode(self, values: Sequence[Any]) -> np.ndarray:
        """Encoded column of ``values``; ``None``/NaN (inactive) becomes NaN."""
        if self.kind == NUMERIC:
            try:
                column = np.array([np.nan if v is None else v for v in values], dtype=float)
            except (TypeError, ValueError):
                raise ValueError(
                    f"hyperparameter {self.name!r} is numeric but got values "
                    f"{sorted({repr(v) for v in values})[:5]}; the configurations do not "
                    "belong to the space"
                ) from None
            slack = 1e-9 * max(self.upper - self.lower, abs(self.upper), 1.0)
            outside = (column < self.lower - slack) | (column > self.upper + slack)
            if outside.any():
                raise ValueError(
                    f"value {float(column[outside][0])!r} of hyperparameter {self.name!r} is outside "
                    f"its range [{self.lower}, {self.upper}]; the configuration does not "
                    "belong to the space"
                )
            if self.log:
                with np.errstate(divide="ignore", invalid="ignore"):
                    column = np.log(column)
            if self.span > 0:
                return (column - self.low) / self.span
            return np.where(np.isnan(column), np.nan, 0.0)
        try:  # the common case: every value one of the choices, as is
            column = np.array([self.index_of[value] for value in values], dtype=float)
        except (KeyError, TypeError):  # inactive (None/NaN), numpy values, or not a choice
            column = self._encode_one_by_one(values)
        if self.kind == ORDINAL:
            return column / (len(self.choices) - 1) if len(self.choices) > 1 else column * 0.0
        return column

    def encode_value(self, value: Any) -> float:
        """Encoded ``value`` of one configuration (as :meth:`encode`, without the arrays)."""
        index = self.index_of.get(value) if self.kind != NUMERIC else None
        if index is None:  # numeric, inactive, or not one of the choices (encode says so)
            return float(self.encode([value])[0])
        if self.kind == ORDINAL:
            return index / (len(self.choices) - 1) if len(self.choices) > 1 else 0.0
        return float(index)

    def _encode_one_by_one(self, values: Sequence[Any]) -> np.ndarray:
        column = np.empty(len(values))
        for row, value in enumerate(values):
            value = native(value)
            if value is None:
                column[row] = np.nan
                continue
            index = self.index_of.get(value)
            if index is None:
                raise ValueError(
                    f"value {value!r} of hyperparameter {self.name!r} is not one of its "
                    f"choices {list(self.choices)}; the configuration does not belong to the space"
                )
            column[row] = index
        return column

    def decode(self, x: float) -> Any:
        """The value at encoded position ``x`` (clipped into the valid range)."""
        if self.kind == NUMERIC:
            position = self.low + min(max(float(x), 0.0), 1.0) * self.span
            value = math.exp(position) if self.log else position
            value = min(max(value, self.lower), self.upper)
            return int(round(value)) if self.is_integer else value
        k = len(self.choices)
        index = round(float(x) * (k - 1)) if self.kind == ORDINAL else int(x)
        return self.choices[min(max(index, 0), k - 1)]
