"""The space a surrogate model learns an objective in, and the range it may answer in.

* ``log1p`` for a non-negative elapsed-time objective: times spanning orders of magnitude
  weigh alike.
* ``quantile`` for every other objective: the model learns the objective's empirical
  quantile **among the training configurations at the same fidelity** (a number in [0, 1]),
  and its prediction is mapped back through the inverse of that fidelity's distribution.
  On the raw scale a squared loss is dominated by the gap between diverged and working
  configurations (e.g. error 0.9 against 0.05), and the trees average the rare very good
  configurations with mediocre ones; on the quantile scale a step among the best
  configurations weighs as much as one among the worst, so the ranking of the good
  configurations (what optimizers compete on) is learned as carefully as the rest. Per
  fidelity, because values improve with the fidelity: pooled, the best configurations at
  the highest fidelity would share a sliver of quantiles. Mapped back, every prediction lies
  within the training values at its fidelity.
* ``identity``: the raw value.

Besides, every objective's predictions are clipped, per fidelity, to the range of the
training targets at that fidelity (:func:`fidelity_bounds`): a surrogate must not invent
values better than any recorded one, which optimizers would otherwise find and exploit
(Eggensperger et al., 2015).

**Calibration** (``quantile`` only, optional): a model trained on quantiles regresses
towards the middle — it rarely answers the extreme quantiles, so the best configurations of
the search space would look worse on the surrogate than on the table, and every method's
best value would pile up in a narrow band (sklearn-mlp-digits: the tuned model's best answer
over 2,000 random configurations was about the 5 % quantile). The published transform
therefore maps the model's output, per fidelity, through the empirical distribution of its
outputs over a seeded random sample of the search space (:func:`calibration_knots`) before
the inverse quantile map: the surrogate's answers over the search space then follow the
table's distribution of values at that fidelity (histogram matching). The map is monotone
per fidelity, so it changes no ranking of configurations at a fidelity (the Kendall tau and
Spearman rho per fidelity stay the same).

The knots and bounds of a published model are taken from the rows it was fitted on
(train + validation after the refit); while tuning, from the training rows only, so the
validation set stays unseen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from blackbox_repository.surrogate_training.errors import SurrogateTrainingError

TARGET_TRANSFORMS = ("identity", "log1p", "quantile")
MAX_QUANTILE_KNOTS = 257
"""Knots per fidelity of a quantile transform (evenly spaced in quantile)."""


@dataclass(frozen=True)
class TargetTransform:
    """A monotone map, per fidelity, between an objective's values and the space its model
    learns in.

    ``values[f]`` and ``quantiles[f]`` are the knots of the ``quantile`` transform at
    fidelity position ``f`` (ascending, the same length); empty for the other transforms.
    ``calibration_outputs[f]`` and ``calibration_quantiles[f]`` (optional, ``quantile``
    only) map the model's raw output at fidelity ``f`` to the quantile it stands for.
    """

    name: str
    values: tuple[tuple[float, ...], ...] = field(default=())
    quantiles: tuple[tuple[float, ...], ...] = field(default=())
    calibration_outputs: tuple[tuple[float, ...], ...] = field(default=())
    calibration_quantiles: tuple[tuple[float, ...], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.name not in TARGET_TRANSFORMS:
            raise ValueError(
                f"unknown target transform {self.name!r}; known: {list(TARGET_TRANSFORMS)}"
            )
        if self.name == "quantile" and (
            not self.values
            or len(self.values) != len(self.quantiles)
            or any(len(v) < 1 or len(v) != len(q) for v, q in zip(self.values, self.quantiles))
        ):
            raise ValueError(
                "a quantile transform needs, per fidelity, (value, quantile) knots of equal "
                f"count; got {len(self.values)} value lists and {len(self.quantiles)} quantile lists"
            )
        if self.calibration_outputs and (
            self.name != "quantile"
            or len(self.calibration_outputs) != len(self.values)
            or len(self.calibration_quantiles) != len(self.calibration_outputs)
            or any(
                len(o) < 1 or len(o) != len(q)
                for o, q in zip(self.calibration_outputs, self.calibration_quantiles)
            )
        ):
            raise ValueError(
                "a calibration needs a quantile transform and, per fidelity of its knots, "
                "(output, quantile) pairs of equal count"
            )

    def forward(self, values: np.ndarray, fidelity_positions: np.ndarray) -> np.ndarray:
        """Objective values at their fidelity positions -> the model's target space."""
        values = np.asarray(values, dtype=float)
        if self.name == "log1p":
            return np.log1p(values)
        if self.name == "quantile":
            return self._per_fidelity(values, fidelity_positions, inverse=False)
        return values

    def inverse(self, predictions: np.ndarray, fidelity_positions: np.ndarray) -> np.ndarray:
        """The model's predictions at their fidelity positions -> objective values."""
        predictions = np.asarray(predictions, dtype=float)
        if self.name == "log1p":
            return np.expm1(predictions)
        if self.name == "quantile":
            quantiles = self.calibrated(predictions, fidelity_positions)
            return self._per_fidelity(quantiles, fidelity_positions, inverse=True)
        return predictions

    def calibrated(self, predictions: np.ndarray, fidelity_positions: np.ndarray) -> np.ndarray:
        """The quantile a model output stands for (the output itself without calibration)."""
        predictions = np.asarray(predictions, dtype=float)
        if not self.calibration_outputs:
            return predictions
        return self._per_fidelity(
            predictions,
            fidelity_positions,
            inverse=False,
            knots=self._calibration_arrays,
        )

    def with_calibration(
        self, outputs: np.ndarray, fidelity_positions: np.ndarray
    ) -> TargetTransform:
        """This ``quantile`` transform calibrated by model ``outputs`` on a sample of the
        search space at ``fidelity_positions`` (:func:`calibration_knots`)."""
        if self.name != "quantile":
            return self
        knots = calibration_knots(outputs, fidelity_positions, len(self.values))
        return TargetTransform(
            self.name,
            self.values,
            self.quantiles,
            tuple(k[0] for k in knots),
            tuple(k[1] for k in knots),
        )

    @cached_property
    def _knot_arrays(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(values, quantiles) knots per fidelity as arrays, built once (a study asks the
        surrogate for thousands of curves)."""
        return [np.asarray(v, dtype=float) for v in self.values], [
            np.asarray(q, dtype=float) for q in self.quantiles
        ]

    @cached_property
    def _calibration_arrays(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [np.asarray(o, dtype=float) for o in self.calibration_outputs], [
            np.asarray(q, dtype=float) for q in self.calibration_quantiles
        ]

    def _per_fidelity(
        self,
        data: np.ndarray,
        positions: np.ndarray,
        inverse: bool,
        knots: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
    ) -> np.ndarray:
        positions = np.broadcast_to(np.asarray(positions), data.shape)
        all_values, all_quantiles = knots if knots is not None else self._knot_arrays
        mapped = np.empty_like(data)
        n_fidelities = len(all_values)
        if data.shape == (n_fidelities,) and np.array_equal(positions, np.arange(n_fidelities)):
            groups = [(p, slice(p, p + 1)) for p in range(n_fidelities)]  # one whole curve
        else:
            groups = [(int(p), positions == p) for p in np.unique(positions)]
        for position, here in groups:
            values, quantiles = all_values[position], all_quantiles[position]
            if len(values) == 1:  # one recorded value at this fidelity: it is the answer
                mapped[here] = quantiles[0] if not inverse else values[0]
            elif inverse:
                mapped[here] = np.interp(data[here], quantiles, values)
            else:
                mapped[here] = np.interp(data[here], values, quantiles)
        return mapped

    def parameters(self) -> dict[str, Any]:
        """The knots as JSON-able lists (empty for knot-less transforms)."""
        if self.name != "quantile":
            return {}
        parameters = {
            "values": [list(v) for v in self.values],
            "quantiles": [list(q) for q in self.quantiles],
        }
        if self.calibration_outputs:
            parameters["calibration_outputs"] = [list(o) for o in self.calibration_outputs]
            parameters["calibration_quantiles"] = [list(q) for q in self.calibration_quantiles]
        return parameters

    @classmethod
    def from_parameters(cls, name: str, parameters: Mapping[str, Any] | None) -> TargetTransform:
        parameters = parameters or {}

        def lists(key: str) -> tuple[tuple[float, ...], ...]:
            return tuple(tuple(float(v) for v in knots) for knots in parameters.get(key, ()))

        return cls(
            name,
            lists("values"),
            lists("quantiles"),
            lists("calibration_outputs"),
            lists("calibration_quantiles"),
        )


def calibration_knots(
    outputs: np.ndarray, fidelity_positions: np.ndarray, n_fidelities: int
) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """Per fidelity, (output, quantile) knots of the empirical distribution of a model's
    ``outputs`` (tied outputs share their mid-rank; at most :data:`MAX_QUANTILE_KNOTS`)."""
    outputs = np.asarray(outputs, dtype=float)
    positions = np.asarray(fidelity_positions)
    return [quantile_knots(outputs[positions == p]) for p in range(n_fidelities)]


def quantile_knots(targets: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(values, quantiles) of the empirical distribution of ``targets``: at most
    :data:`MAX_QUANTILE_KNOTS` observed values, evenly spaced in quantile (the smallest and
    largest always among them); tied values share their mid-rank."""
    targets = np.sort(np.asarray(targets, dtype=float)[np.isfinite(targets)])
    if len(targets) == 1:
        return (float(targets[0]),), (0.5,)
    positions = np.linspace(0.0, 1.0, min(len(targets), MAX_QUANTILE_KNOTS))
    knots = np.quantile(targets, positions, method="inverted_cdf")  # observed values only
    values, inverse = np.unique(knots, return_inverse=True)
    quantiles = np.bincount(inverse, weights=positions) / np.bincount(inverse)
    return tuple(values.tolist()), tuple(quantiles.tolist())


def quantile_transform(
    targets: np.ndarray, fidelity_positions: np.ndarray, n_fidelities: int
) -> TargetTransform:
    """The per-fidelity empirical-quantile transform of training ``targets``; a fidelity
    without a recorded value takes the knots of all rows."""
    targets = np.asarray(targets, dtype=float)
    positions = np.asarray(fidelity_positions)
    finite = np.isfinite(targets)
    if len(np.unique(targets[finite])) < 2:
        raise SurrogateTrainingError(
            "a quantile transform needs at least two different finite training values"
        )
    overall = quantile_knots(targets[finite])
    knots = [
        quantile_knots(targets[finite & (positions == p)])
        if np.any(finite & (positions == p))
        else overall
        for p in range(n_fidelities)
    ]
    return TargetTransform("quantile", tuple(k[0] for k in knots), tuple(k[1] for k in knots))


def choose_transform(
    targets: np.ndarray,
    fidelity_positions: np.ndarray,
    n_fidelities: int,
    *,
    elapsed_time: bool,
    name: str | None = None,
) -> TargetTransform:
    """The transform of an objective with training ``targets`` at ``fidelity_positions``.

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
        return quantile_transform(targets, fidelity_positions, n_fidelities)
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
