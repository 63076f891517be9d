"""Asynchronous Hyperband (Li et al., 2020): ASHA brackets with different grace periods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulated_backend.schedulers.asynchronous_brackets import AsynchronousBracketScheduler
from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.searchers import ConfigSearcher


class AsynchronousHyperband(AsynchronousBracketScheduler):
    """Brackets of ASHA; each new trial joins a bracket drawn at random.

    Bracket ``b`` (0 .. num_brackets - 1) skips the first ``b`` rung levels, so its grace
    period is ``rung_levels[b]``; the last possible bracket has no rung and runs trials
    to ``max_resource`` (random search). Brackets are drawn with probability proportional
    to the number of configurations they would start in synchronous Hyperband (see
    :func:`~simulated_backend.schedulers.asynchronous_brackets.bracket_probabilities`);
    rungs are kept per bracket. In the promotion variant the bracket is drawn per
    ``suggest``: a promotable trial of that bracket is resumed, else a new trial starts
    there.

    Args are those of :class:`~simulated_backend.schedulers.asha.ASHA`, plus
    ``num_brackets`` (default: all, ``len(rung_levels) + 1``).
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
            rung_levels=rung_levels,
            max_resource=max_resource,
            type=type,
            num_brackets=num_brackets,
            seed=seed,
            points_to_evaluate=points_to_evaluate,
            searcher=searcher,
        )

    def metadata(self) -> dict[str, Any]:
        return {**super().metadata(), "num_brackets": self.num_brackets}
