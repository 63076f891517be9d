"""Synchronous Hyperband (Li et al., 2018, JMLR, Algorithm 1) on a fidelity grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.searchers import ConfigSearcher
from simulated_backend.schedulers.settings import FidelitySettings, SchedulerSettings
from simulated_backend.schedulers.synchronous_brackets import SynchronousBracketScheduler


class Hyperband(SynchronousBracketScheduler):
    """Synchronous Hyperband: brackets ``s = s_max, ..., 0``, repeated.

    Bracket sizes and fidelities are exactly those of the paper's Algorithm 1 (see
    :func:`~simulated_backend.schedulers.hyperband_brackets.hyperband_brackets`), each
    fidelity snapped to the smallest grid value >= it. Each stage waits for all its trials
    before the top ``n_{i+1}`` are resumed; meanwhile free workers get jobs of the next
    brackets, as in HpBandSter (see :mod:`~simulated_backend.schedulers.synchronous_brackets`).

    Args are those of :class:`~simulated_backend.schedulers.successive_halving.SuccessiveHalving`,
    plus ``num_brackets``: run only the first (most aggressive) ones (default: all).

    Example:
        >>> hb = Hyperband(space, "valid_error", "min", range(1, 82))  # doctest: +SKIP
        >>> [b.n_initial for b in hb.brackets]  # doctest: +SKIP
        [81, 34, 15, 8, 5]
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
        num_brackets: int | None = None,
        seed: int = 0,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        searcher: ConfigSearcher | None = None,
    ) -> None:
        super().__init__(
            SchedulerSettings(search_space, metric, mode, seed, points_to_evaluate),
            FidelitySettings(fidelity_values, min_fidelity, max_fidelity, reduction_factor),
            num_brackets=num_brackets,
            searcher=searcher,
        )

    @classmethod
    def from_settings(
        cls,
        settings: SchedulerSettings,
        fidelity: FidelitySettings,
        *,
        num_brackets: int | None = None,
        searcher: ConfigSearcher | None = None,
    ) -> Hyperband:
        """Hyperband from settings records."""
        scheduler = cls.__new__(cls)
        SynchronousBracketScheduler.__init__(
            scheduler, settings, fidelity, num_brackets=num_brackets, searcher=searcher
        )
        return scheduler
