"""ASHA: asynchronous successive halving (Li et al., 2020, "A system for massively parallel
hyperparameter tuning"), stopping and promotion variants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulated_backend.schedulers.asynchronous_brackets import AsynchronousBracketScheduler
from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.searchers import ConfigSearcher


class ASHA(AsynchronousBracketScheduler):
    """Asynchronous successive halving on a fidelity grid.

    Args:
        search_space: where new configurations come from.
        metric: the result key to optimize; mode: ``"min"`` or ``"max"``.
        resource_attr: the fidelity's name in results (e.g. ``"epoch"``).
        fidelity_values: the blackbox's sorted fidelity grid.
        grace_period: the first rung level (default: the first grid value), snapped to the grid.
        reduction_factor: ``eta`` >= 2.
        rung_levels: explicit rung levels on the grid (default: ``grace_period * eta**k``
            snapped to the grid, see :func:`~simulated_backend.schedulers.rung_levels.asha_rung_settings`).
        max_resource: trials stop there (default: the last grid value; must be on the grid).
        type: ``"stopping"``: at a rung a trial continues iff at most ``1/eta`` of the
            results recorded there (itself included) are strictly better; ``"promotion"``:
            trials pause at each rung and the top ``floor(n/eta)`` of a rung's ``n`` results
            are resumed, each once, highest rung first.
        seed: seeds every random choice; the same seed gives the same suggestions.
        points_to_evaluate: configurations started first, in order.
        searcher: a model-based :class:`ConfigSearcher` instead of random search.

    Example:
        >>> asha = ASHA(space, "valid_error", "min", "epoch", range(1, 82))  # doctest: +SKIP
        >>> asha.rung_levels  # doctest: +SKIP
        (1, 3, 9, 27)
    """

    def __init__(
        self,
        search_space: SearchSpace,
        metric: str,
        mode: str,
        resource_attr: str,
        fidelity_values: Sequence[Any],
        grace_period: Any = None,
        reduction_factor: Any = 3,
        rung_levels: Sequence[Any] | None = None,
        max_resource: Any = None,
        type: str = "stopping",
        seed: int = 0,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        searcher: ConfigSearcher | None = None,
    ) -> None:
        super().__init__(
            search_space,
            metric,
            mode,
            resource_attr,
            fidelity_values,
            grace_period=grace_period,
            reduction_factor=reduction_factor,
            rung_levels=rung_levels,
            max_resource=max_resource,
            type=type,
            num_brackets=1,
            seed=seed,
            points_to_evaluate=points_to_evaluate,
            searcher=searcher,
        )
