"""Where new configurations come from: the searcher a scheduler asks for each new trial.

Schedulers decide *how long* trials run; a searcher decides *which* configuration a new
trial gets. :class:`RandomSearcher` samples the search space; BOHB's
:class:`~simulated_backend.schedulers.kde_searcher.KernelDensitySearcher` fits density models to
the observations schedulers report at their rung levels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from simulated_backend.schedulers.protocol import Trial, defined_together
from simulated_backend.schedulers.search_space import Candidate, SearchSpace

if TYPE_CHECKING:
    from simulated_backend.schedulers.settings import SchedulerSettings

SAMPLE_BATCH_SIZE = 32
UNIFORM_BATCH_SIZE = 1024


class ConfigSearcher(Protocol):
    """What schedulers need from a searcher."""

    @property
    def exhausted(self) -> bool:
        """True when no new configuration can be suggested any more."""

    def next_candidate(self) -> Candidate | None:
        """A configuration for a new trial, or ``None`` when the search space is exhausted.

        Give ``config_index`` only for a configuration drawn from a search space whose
        :attr:`~SearchSpace.candidates_are_grid_rows` is True (its candidate index), else
        ``None``: the engine trusts it.
        """

    def on_observation(self, trial: Trial, level: Any, value: float) -> None:
        """``trial`` reported ``value`` of the metric at rung level (or max resource) ``level``."""

    def metadata(self) -> dict[str, Any]:
        """JSON-able name and arguments."""

    # Optional: ``next_config_and_index()``, the same as ``next_candidate`` as a plain
    # ``(config, config_index)`` tuple; schedulers call it at every trial start when the
    # class defining it also defines ``next_candidate`` (see config_and_index_function).
    # Optional: ``next_grid_row()`` and ``grid_configs`` (a GridConfigs): the next
    # candidate's grid row alone (its config not built), or None (then call
    # next_candidate); see grid_row_function.


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
        self._uniforms: list[float] = []
        # grid rows drawn ahead by next_grid_row (a batch of draws at once, last one first):
        # given out before anything else is drawn, so the draws stay in the same order
        self._rows_ahead: list[int] = []
        self._grid_rows = self.search_space.candidates_are_grid_rows
        self._finite = self.search_space.is_finite
        # the grid that next_grid_row's rows name (None: it always returns None)
        self.grid_configs = self.search_space.grid_configs() if self._grid_rows else None

    @property
    def exhausted(self) -> bool:
        return not self._points and not self._rows_ahead and self.search_space.exhausted

    @property
    def n_points_left(self) -> int:
        """How many of ``points_to_evaluate`` were not suggested yet."""
        return len(self._points)

    def next_config(self) -> dict[str, Any] | None:
        """The configuration of :meth:`next_candidate` alone."""
        candidate = self.next_candidate()
        return None if candidate is None else candidate.config

    def next_candidate(self) -> Candidate | None:
        drawn = self.next_config_and_index()
        return None if drawn is None else Candidate(*drawn)

    def next_grid_row(self) -> int | None:
        """The next candidate's grid row, its config not built (read it from
        :attr:`grid_configs` when needed), if it is a grid row drawn at random; ``None``
        otherwise (a point to evaluate is next, the space has no grid rows, or every
        candidate was drawn): call :meth:`next_candidate` then. Draws as it does."""
        rows = self._rows_ahead
        if rows:
            return rows.pop()
        if self._points or not self._grid_rows:
            return None
        uniforms = self._uniforms
        if uniforms:  # left by next_config_and_index: the draws of every uniform left
            rows = self._rows_ahead = self.search_space.draw_indices(uniforms)
            uniforms.clear()
        elif self.search_space.exhausted:
            return None
        else:  # one generator call per batch, its uniforms used first to last as popped
            # from the reversed list next_config_and_index keeps (no list made)
            batch = self.rng.random(UNIFORM_BATCH_SIZE)
            rows = self._rows_ahead = self.search_space.draw_indices(batch[::-1])
        return rows.pop() if rows else None

    def next_config_and_index(self) -> tuple[dict[str, Any], int | None] | None:
        """:meth:`next_candidate` as a plain ``(config, config_index)`` tuple (the scheduler's
        path at every trial start, see :func:`config_and_index_function`)."""
        space = self.search_space
        if self._rows_ahead:  # drawn ahead by next_grid_row: given out first
            index = self._rows_ahead.pop()
            return (space.candidate(index), index)
        if self._points:
            config = self._points.pop()
            if space.is_finite and self._grid_rows:
                return (config, space.index_of(config))
            return (config, None)
        if self._finite:
            uniforms = self._uniforms
            if not uniforms:  # one generator call per batch, not per trial
                if space.exhausted:
                    return None
                uniforms = self._uniforms = self.rng.random(UNIFORM_BATCH_SIZE).tolist()
                uniforms.reverse()
            # None once exhausted (the uniform popped then is never needed)
            return space.draw_config_and_index(uniforms.pop())
        if not self._buffer:  # ConfigSpace samples a batch 4x faster per config than one
            self._buffer = space.sample(self.rng, SAMPLE_BATCH_SIZE)
            self._buffer.reverse()
        return (self._buffer.pop(), None)

    def on_observation(self, trial: Trial, level: Any, value: float) -> None:
        """Random search learns nothing."""

    def metadata(self) -> dict[str, Any]:
        return {"searcher": "random"}


class _NextConfigSearcher:
    """A searcher written against the older protocol (``next_config`` only), as a ConfigSearcher."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher

    @property
    def exhausted(self) -> bool:
        return self.searcher.exhausted

    def next_candidate(self) -> Candidate | None:
        config = self.searcher.next_config()
        return None if config is None else Candidate(config)

    def on_observation(self, trial: Trial, level: Any, value: float) -> None:
        self.searcher.on_observation(trial, level, value)

    def metadata(self) -> dict[str, Any]:
        return self.searcher.metadata()


def config_and_index_function(
    searcher: ConfigSearcher,
) -> Callable[[], tuple[dict[str, Any], int | None] | None]:
    """The cheapest call giving a new trial's ``(config, config_index)`` (or ``None``): the
    searcher's optional ``next_config_and_index`` (a plain tuple, for the trial-start path),
    else its ``next_candidate`` (a :class:`Candidate`, a tuple of the same two fields).

    A subclass that overrides ``next_candidate`` but not ``next_config_and_index`` gets its
    ``next_candidate`` called (the inherited fast method would bypass the override).
    """
    if defined_together(searcher, "next_config_and_index", "next_candidate"):
        return searcher.next_config_and_index
    return searcher.next_candidate


def grid_row_function(searcher: ConfigSearcher) -> Callable[[], int | None] | None:
    """The searcher's ``next_grid_row`` if it has one and a ``grid_configs``, and the class
    defining ``next_grid_row`` also defines the ``next_candidate`` and
    ``next_config_and_index`` in use (a subclass that overrides those alone keeps getting
    them called); else ``None``."""
    if getattr(searcher, "grid_configs", None) is None or not defined_together(
        searcher, "next_grid_row", "next_candidate", "next_config_and_index"
    ):
        return None
    return searcher.next_grid_row


def default_searcher(
    settings: SchedulerSettings, searcher: ConfigSearcher | None, rng: np.random.Generator
) -> ConfigSearcher:
    """``searcher``, or random search over ``settings.search_space`` if it is ``None``."""
    if searcher is None:
        return RandomSearcher(settings.search_space, rng, settings.points_to_evaluate)
    if settings.points_to_evaluate is not None:
        raise ValueError("give points_to_evaluate to the searcher, not to the scheduler")
    if not hasattr(searcher, "next_candidate"):
        if not hasattr(searcher, "next_config"):
            raise TypeError(
                f"searcher must follow the ConfigSearcher protocol (next_candidate, "
                f"on_observation, exhausted, metadata), got {type(searcher).__name__}"
            )
        return _NextConfigSearcher(searcher)
    return searcher
