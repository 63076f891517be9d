"""Where new configurations come from: the searcher a scheduler asks for each new trial.

Schedulers decide *how long* trials run; a searcher decides *which* configuration a new
trial gets. :class:`RandomSearcher` samples the search space; BOHB's
:class:`~simulated_backend.schedulers.bohb.KernelDensitySearcher` fits density models to
the observations schedulers report at their rung levels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from simulated_backend.schedulers.protocol import Trial
from simulated_backend.schedulers.search_space import SearchSpace

SAMPLE_BATCH_SIZE = 32


class ConfigSearcher(Protocol):
    """What schedulers need from a searcher."""

    @property
    def exhausted(self) -> bool:
        """True when no new configuration can be suggested any more."""

    def next_config(self) -> dict[str, Any] | None:
        """A configuration for a new trial, or ``None`` when the search space is exhausted."""

    def on_observation(self, trial: Trial, level: Any, value: float) -> None:
        """``trial`` reported ``value`` of the metric at rung level (or max resource) ``level``."""

    def metadata(self) -> dict[str, Any]:
        """JSON-able name and arguments."""


def check_points_to_evaluate(
    search_space: SearchSpace, points_to_evaluate: Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]]:
    """Validated plain copies of ``points_to_evaluate`` (each must belong to the space)."""
    if points_to_evaluate is None:
        return []
    if isinstance(points_to_evaluate, Mapping) or not isinstance(points_to_evaluate, Sequence):
        raise ValueError(
            "points_to_evaluate must be a list of configurations (dicts), got "
            f"{type(points_to_evaluate).__name__}"
        )
    return [search_space.validate(point) for point in points_to_evaluate]


class RandomSearcher:
    """Configurations drawn uniformly at random, after ``points_to_evaluate`` in order.

    On a finite search space, candidates are drawn without replacement and the points to
    evaluate are removed from the pool first, so no configuration is suggested twice.
    """

    def __init__(
        self,
        search_space: SearchSpace,
        rng: np.random.Generator,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.search_space = search_space.fresh()
        self.rng = rng
        self._points = check_points_to_evaluate(self.search_space, points_to_evaluate)
        if self.search_space.is_finite:
            for point in self._points:
                self.search_space.take(self.search_space.index_of(point))
        self._points.reverse()  # pop() from the end gives them in the given order
        self._buffer: list[dict[str, Any]] = []

    @property
    def exhausted(self) -> bool:
        return not self._points and self.search_space.exhausted

    @property
    def n_points_left(self) -> int:
        """How many of ``points_to_evaluate`` were not suggested yet."""
        return len(self._points)

    def next_config(self) -> dict[str, Any] | None:
        if self._points:
            return self._points.pop()
        if self.search_space.is_finite:
            sampled = self.search_space.sample(self.rng, 1)
            return sampled[0] if sampled else None
        if not self._buffer:  # ConfigSpace samples a batch 4x faster per config than one
            self._buffer = self.search_space.sample(self.rng, SAMPLE_BATCH_SIZE)
            self._buffer.reverse()
        return self._buffer.pop()

    def on_observation(self, trial: Trial, level: Any, value: float) -> None:
        """Random search learns nothing."""

    def metadata(self) -> dict[str, Any]:
        return {"searcher": "random"}
