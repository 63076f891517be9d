"""Synchronous Hyperband (Li et al., 2018, JMLR, Algorithm 1) on a fidelity grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.searchers import ConfigSearcher
from simulated_backend.schedulers.synchronous_brackets import SynchronousBracketScheduler


class Hyperband(SynchronousBracketScheduler):
    """Synchronous Hyperband: brackets ``s = s_max, ..., 0`` one after the other, repeated.

    Bracket sizes and budgets are exactly those of the paper's Algorithm 1 (see
    :func:`~simulated_backend.schedulers.hyperband_brackets.hyperband_brackets`), each
    budget snapped to the smallest grid value >= it. Each stage waits for all its trials
    before the top ``n_{i+1}`` are resumed (``suggest`` returns ``None`` meanwhile).

    Args are those of :class:`~simulated_backend.schedulers.successive_halving.SuccessiveHalving`,
    plus ``num_brackets``: run only the first (most aggressive) ones (default: all).

    Example:
        >>> hb = Hyperband(space, "valid_error", "min", "epoch", range(1, 82))  # doctest: +SKIP
        >>> [b.n_initial for b in hb.brackets]  # doctest: +SKIP
        [81, 34, 15, 8, 5]
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
        max_resource: Any = None,
        num_brackets: int | None = None,
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
            max_resource=max_resource,
            num_brackets=num_brackets,
            seed=seed,
            points_to_evaluate=points_to_evaluate,
            searcher=searcher,
        )
