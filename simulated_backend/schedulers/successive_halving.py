"""Synchronous successive halving: Hyperband's most aggressive bracket, run again and again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.searchers import ConfigSearcher
from simulated_backend.schedulers.settings import FidelitySettings, SchedulerSettings
from simulated_backend.schedulers.synchronous_brackets import SynchronousBracketScheduler


class SuccessiveHalving(SynchronousBracketScheduler):
    """Synchronous successive halving (Jamieson & Talwalkar, 2016) on a fidelity grid.

    Runs bracket ``s = s_max`` of
    :func:`~simulated_backend.schedulers.hyperband_brackets.hyperband_brackets` again and
    again: ``n = ceil(eta**s_max)`` trials start at level ``R * eta**-s_max`` and after
    stage ``i`` the top ``floor(n * eta**-(i+1))`` are resumed to the next level. A stage
    waits for all its trials; meanwhile free workers start the next bracket (see
    :mod:`~simulated_backend.schedulers.synchronous_brackets`).

    Args:
        search_space, metric, mode, fidelity_values: as for ASHA.
        min_fidelity: the minimum fidelity ``r`` (default: the first grid value).
        max_fidelity: ``R`` (default: the last grid value; must be on the grid).
        reduction_factor: ``eta`` >= 2.
        seed, points_to_evaluate, searcher: as for ASHA.
    """

    def __init__(
        self,
        search_space: SearchSpace,
        metric: str,
        mode: str,
        fidelity_values: Sequence[Any],
        *,
        min_fidelity: Any = None,
        max_fidelity: Any = None,
        reduction_factor: Any = 3,
        seed: int = 0,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        searcher: ConfigSearcher | None = None,
    ) -> None:
        super().__init__(
            SchedulerSettings(search_space, metric, mode, seed, points_to_evaluate),
            FidelitySettings(fidelity_values, min_fidelity, max_fidelity, reduction_factor),
            num_brackets=1,
            searcher=searcher,
        )

    @classmethod
    def from_settings(
        cls,
        settings: SchedulerSettings,
        fidelity: FidelitySettings,
        *,
        searcher: ConfigSearcher | None = None,
    ) -> SuccessiveHalving:
        """Successive halving from settings records."""
        scheduler = cls.__new__(cls)
        SynchronousBracketScheduler.__init__(
            scheduler, settings, fidelity, num_brackets=1, searcher=searcher
        )
        return scheduler
