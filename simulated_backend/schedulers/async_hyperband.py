"""Asynchronous Hyperband (Li et al., 2020): ASHA brackets with different minimum fidelities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulated_backend.schedulers.asynchronous_brackets import AsynchronousBracketScheduler
from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.searchers import ConfigSearcher
from simulated_backend.schedulers.settings import FidelitySettings, SchedulerSettings


class AsynchronousHyperband(AsynchronousBracketScheduler):
    """Brackets of ASHA; each new trial joins a bracket drawn at random.

    Bracket ``b`` (0 .. num_brackets - 1) skips the first ``b`` rung levels, so its minimum
    fidelity is ``rung_levels[b]``; the last possible bracket has no rung and runs trials
    to ``max_fidelity`` (random search). Brackets are drawn with probability proportional
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
        fidelity_values: Sequence[Any],
        *,
        min_fidelity: Any = None,
        max_fidelity: Any = None,
        reduction_factor: Any = 3,
        rung_levels: Sequence[Any] | None = None,
        type: str = "stopping",
        num_brackets: int | None = None,
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
            num_brackets=num_brackets,
            searcher=searcher,
        )

    @classmethod
    def from_settings(
        cls,
        settings: SchedulerSettings,
        fidelity: FidelitySettings,
        *,
        type: str = "stopping",
        num_brackets: int | None = None,
        searcher: ConfigSearcher | None = None,
    ) -> AsynchronousHyperband:
        """Asynchronous Hyperband from settings records."""
        scheduler = cls.__new__(cls)
        AsynchronousBracketScheduler.__init__(
            scheduler, settings, fidelity, type=type, num_brackets=num_brackets, searcher=searcher
        )
        return scheduler

    def metadata(self) -> dict[str, Any]:
        return {**super().metadata(), "num_brackets": self.num_brackets}
