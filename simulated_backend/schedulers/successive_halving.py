"""Synchronous successive halving: Hyperband's most aggressive bracket, run again and again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.searchers import ConfigSearcher
from simulated_backend.schedulers.synchronous_brackets import SynchronousBracketScheduler


class SuccessiveHalving(SynchronousBracketScheduler):
    """Synchronous successive halving (Jamieson & Talwalkar, 2016) on a fidelity grid.

    Runs bracket ``s = s_max`` of
    :func:`~simulated_backend.schedulers.hyperband_brackets.hyperband_brackets` again and
    again: ``n = ceil(eta**s_max)`` trials start at level ``R * eta**-s_max`` and after
    stage ``i`` the top ``floor(n * eta**-(i+1))`` are resumed to the next level. Each
    stage waits for all its trials (``suggest`` returns ``None`` meanwhile).

    Args:
        search_space, metric, mode, resource_attr, fidelity_values: as for ASHA.
        grace_period: the minimum resource ``r`` (default: the first grid value).
        reduction_factor: ``eta`` >= 2.
        max_resource: ``R`` (default: the last grid value; must be on the grid).
        seed, points_to_evaluate, searcher: as for ASHA.
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
            num_brackets=1,
            seed=seed,
            points_to_evaluate=points_to_evaluate,
            searcher=searcher,
        )
