"""ASHA: asynchronous successive halving (Li et al., 2020, "A system for massively parallel
hyperparameter tuning"), stopping and promotion variants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulated_backend.schedulers.asynchronous_brackets import AsynchronousBracketScheduler
from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.searchers import ConfigSearcher
from simulated_backend.schedulers.settings import FidelitySettings, SchedulerSettings


class ASHA(AsynchronousBracketScheduler):
    """Asynchronous successive halving on a fidelity grid.

    Args:
        search_space: where new configurations come from.
        metric: the result key to optimize; mode: ``"min"`` or ``"max"``.
        fidelity_values: the blackbox's sorted fidelity grid (results carry the fidelity
            under the key ``"fidelity"``).
        min_fidelity: the first rung level (ASHA's grace period; default: the first grid
            value), snapped to the grid.
        max_fidelity: trials stop there (default: the last grid value; must be on the grid).
        reduction_factor: ``eta`` >= 2.
        rung_levels: explicit rung levels on the grid (default: ``min_fidelity * eta**k``
            snapped to the grid, see :func:`~simulated_backend.schedulers.rung_levels.asha_rung_settings`).
        type: ``"stopping"``: at a rung a trial continues iff at most ``1/eta`` of the
            results recorded there (itself included) are strictly better; ``"promotion"``:
            trials pause at each rung and the top ``floor(n/eta)`` of a rung's ``n`` results
            are resumed, each once, highest rung first.
        seed: seeds every random choice; the same seed gives the same suggestions.
        points_to_evaluate: configurations started first, in order.
        searcher: a model-based :class:`ConfigSearcher` instead of random search.

    Example:
        >>> asha = ASHA(space, "valid_error", "min", range(1, 82))  # doctest: +SKIP
        >>> asha.rung_levels  # doctest: +SKIP
        (1, 3, 9, 27)
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
        rung_levels: Sequence[Any] | None = None,
        type: str = "stopping",
        seed: int = 0,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        searcher: ConfigSearcher | None = None,
    ) -> None:
        super().__init__(
            SchedulerSettings(search_space, metric, mode, seed, points_to_evaluate),
            FidelitySettings(
                fidelity_values, min_fidelity, max_fidelity, reduction_factor, rung_levels
            ),
            type=type,
            num_brackets=1,
            searcher=searcher,
        )

    @classmethod
    def from_settings(
        cls,
        settings: SchedulerSettings,
        fidelity: FidelitySettings,
        *,
        type: str = "stopping",
        searcher: ConfigSearcher | None = None,
    ) -> ASHA:
        """ASHA from settings records (see :mod:`~simulated_backend.schedulers.settings`)."""
        scheduler = cls.__new__(cls)
        AsynchronousBracketScheduler.__init__(
            scheduler, settings, fidelity, type=type, num_brackets=1, searcher=searcher
        )
        return scheduler
