"""Random search: every trial runs to the maximum fidelity with a random configuration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulated_backend.schedulers.protocol import (
    SchedulerDecision,
    Trial,
    TrialScheduler,
    TrialSuggestion,
    with_grid_config,
)
from simulated_backend.schedulers.scheduler_arguments import random_streams
from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.searchers import (
    RandomSearcher,
    config_and_index_function,
    grid_row_function,
)
from simulated_backend.schedulers.settings import SchedulerSettings

_new_tuple = tuple.__new__  # a TrialSuggestion without its Python-level __new__


class RandomSearch(TrialScheduler):
    """Uniformly random configurations, each trained to the maximum fidelity.

    ``points_to_evaluate`` are started first, in order. On a finite search space each
    candidate is suggested at most once; when all were, ``suggest`` returns ``None`` and
    :attr:`exhausted` is True.

    Example:
        >>> rs = RandomSearch(SearchSpace.from_blackbox(bb), "valid_error", "min")  # doctest: +SKIP
    """

    def __init__(
        self,
        search_space: SearchSpace,
        metric: str,
        mode: str,
        seed: int = 0,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.settings = SchedulerSettings(search_space, metric, mode, seed, points_to_evaluate)
        super().__init__(metric, mode)
        self.search_space = search_space
        self.seed = self.settings.seed
        (rng,) = random_streams(self.seed, 1)
        self.searcher = RandomSearcher(search_space, rng, points_to_evaluate)
        self._next_candidate = config_and_index_function(self.searcher)
        # grid rows drawn at random are suggested by their row (see TrialSuggestion)
        self._next_row = grid_row_function(self.searcher)
        self.grid_configs = self.searcher.grid_configs if self._next_row is not None else None

    @property
    def exhausted(self) -> bool:
        """True when every candidate of a finite search space was suggested."""
        return self.searcher.exhausted

    def suggest(self) -> TrialSuggestion | None:
        return with_grid_config(self.suggest_by_row(), self.grid_configs)

    def suggest_by_row(self) -> TrialSuggestion | int | None:
        """:meth:`suggest`, a new trial on a grid row drawn at random given as its row (an
        int) alone: its config is :attr:`grid_configs`' row, built only when read."""
        if self._next_row is not None:
            row = self._next_row()
            if row is not None:
                return row
        candidate = self._next_candidate()
        if candidate is None:
            return None
        return _new_tuple(TrialSuggestion, (candidate[0], None, candidate[1]))

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        return SchedulerDecision.CONTINUE

    def decision_fidelities(self) -> frozenset[Any] | None:
        """None: random search continues every trial (only last results need showing);
        ``None`` when ``on_trial_result`` was replaced (by a subclass or on the instance)."""
        if getattr(self.on_trial_result, "__func__", None) is not RandomSearch.on_trial_result:
            return None
        return frozenset()

    def metadata(self) -> dict[str, Any]:
        return {**super().metadata(), **self.settings.metadata()}
