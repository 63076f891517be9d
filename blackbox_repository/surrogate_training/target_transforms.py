"""The space a surrogate model learns an objective in, and the range it may answer in.

* ``log1p`` for a non-negative elapsed-time objective: times spanning orders of magnitude
  weigh alike.
* ``quantile`` for every other objective: the model learns the objective's empirical
  quantile among the training rows (a number in [0, 1]), and its prediction is mapped back
  through the inverse of that distribution. On the raw scale a squared loss is dominated by
  the gap between diverged and working configurations (e.g. error 0.9 against 0.05), and
  the trees average the rare very good configurations with mediocre ones; on the quantile
  scale a step among the best configurations weighs as much as one among the worst, so the
  ranking of the good configurations (what optimizers compete on) is learned as carefully
  as the rest. Mapped back, every prediction lies within the training values.
* ``identity``: the raw value.

Besides, every objective's predictions are clipped, per fidelity, to the range of the
training targets at that fidelity (:func:`fidelity_bounds`): a surrogate must not invent
values better than any recorded one, which optimizers would otherwise find and exploit
(Eggensperger et al., 2015).

Both are fitted on the training configurations only, so validation and test sets stay
unseen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blackbox_repository.surrogate_training.errors import SurrogateTrainingError

TARGET_TRANSFORMS = ("identity", "log1p", "quantile")
MAX_QUANTILE_KNOTS = 1025


@dataclass(frozen=True)
class TargetTransform:
    """A monotone map between an objective's values and the space its model learns in.

    ``values`` and ``quantiles`` are the knots of the ``quantile`` transform (ascending,
    the same length); empty for the other transforms.
    """

    name: str
    values: tuple[float, ...] = field(default=())
    quantiles: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.name not in TARGET_TRANSFORMS:
            raise ValueError(
                f"unknown target transform {self.name!r}; known: {list(TARGET_TRANSFORMS)}"
            )
        if self.name == "quantile" and (
            len(self.values) < 2 or len(self.values) != len(self.quantiles)
        ):
            raise ValueError(
                "a quantile transform needs at least two (value, quantile) knots of equal "
                f"count, got {len(self.values)} values and {len(self.quantiles)} quantiles"
            )

    def forward(self, values: np.ndarray) -> np.ndarray:
        """Objective values -> the model's target space."""
        values = np.asarray(values, dtype=float)
        if self.name == "log1p":
            return np.log1p(values)
        if self.name == "quantile":
            return np.interp(values, self.values, self.quantiles)
        return values

    def inverse(self, predictions: np.ndarray) -> np.ndarray:
        """The model's predictions -> objective values."""
        predictions = np.asarray(predictions, dtype=float)
        if self.name == "log1p":
            return np.expm1(predictions)
        if self.name == "quantile":
            return np.interp(predictions, self.quantiles, self.values)
        return predictions

    def parameters(self) -> dict[str, Any]:
        """The knots as JSON-able lists (empty for knot-less transforms)."""
        if self.name != "quantile":
            return {}
        return {"values": list(self.values), "quantiles": list(self.quantiles)}

    @classmethod
    def from_parameters(cls, name: str, parameters: Mapping[str, Any] | None) -> TargetTransform:
        parameters = parameters or {}
        return cls(
            name,
            tuple(float(v) for v in parameters.get("values", ())),
            tuple(float(q) for q in parameters.get("quantiles", ())),
        )


def quantile_transform(targets: np.ndarray) -> TargetTransform:
    """The empirical-quantile transform of ``targets`` (ties share their mid-rank).

    At most :data:`MAX_QUANTILE_KNOTS` knots, evenly spaced in quantile; the smallest and
    largest target are always knots.
    """
    targets = np.sort(np.asarray(targets, dtype=float)[np.isfinite(targets)])
    if len(targets) < 2 or targets[0] == targets[-1]:
        raise SurrogateTrainingError(
            "a quantile transform needs at least two different finite training values"
        )
    positions = np.linspace(0.0, 1.0, min(len(targets), MAX_QUANTILE_KNOTS))
    knots = np.quantile(targets, positions, method="inverted_cdf")  # observed values only
    values, inverse = np.unique(knots, return_inverse=True)
    quantiles = np.bincount(inverse, weights=positions) / np.bincount(inverse)
    return TargetTransform("quantile", tuple(values.tolist()), tuple(quantiles.tolist()))


def choose_transform(
    targets: np.ndarray, *, elapsed_time: bool, name: str | None = None
) -> TargetTransform:
    """The transform of an objective with training ``targets``.

    Default: ``log1p`` for a non-negative elapsed time, ``quantile`` for every other
    objective (``identity`` when it has fewer than two distinct values). ``name`` forces one.
    """
    targets = np.asarray(targets, dtype=float)
    finite = targets[np.isfinite(targets)]
    if name is None:
        if elapsed_time:
            name = "log1p" if len(finite) and float(np.min(finite)) >= 0 else "identity"
        else:
            name = "quantile" if len(np.unique(finite)) >= 2 else "identity"
    if name == "quantile":
        return quantile_transform(finite)
    if name == "log1p" and len(finite) and float(np.min(finite)) < 0:
        raise SurrogateTrainingError("the log1p transform needs non-negative training values")
    return TargetTransform(name)


def fidelity_bounds(
    targets: np.ndarray, fidelity_positions: np.ndarray, n_fidelities: int
) -> tuple[tuple[float, float], ...]:
    """Per fidelity position, (smallest, largest) training target; positions without a
    recorded target take the bounds over all rows."""
    targets = np.asarray(targets, dtype=float)
    positions = np.asarray(fidelity_positions)
    finite = np.isfinite(targets)
    overall = (float(np.min(targets[finite])), float(np.max(targets[finite])))
    bounds = []
    for position in range(n_fidelities):
        here = targets[finite & (positions == position)]
        bounds.append((float(np.min(here)), float(np.max(here))) if len(here) else overall)
    return tuple(bounds)
