"""The machinery of ASHA and asynchronous Hyperband: brackets of rungs, decided per result.

A trial belongs to one bracket; bracket ``b`` uses the rung levels ``rung_levels[b:]``
(bracket 0 is ASHA itself). Per result, a trial that has not reached its next milestone
(next rung level, or the max resource) costs one dict lookup and one comparison; at a
milestone the rung decision is O(log n) (see :mod:`simulated_backend.schedulers.rungs`).

- ``type="stopping"``: at a rung the trial continues or is stopped (``StoppingRung``).
- ``type="promotion"``: the trial pauses at every rung; ``suggest`` resumes the best
  promotable paused trial (highest rung first) before starting a new one.

Trials reaching ``max_resource`` are stopped (the engine completes them when it is the
last grid value). A resumed trial continues from where it paused; if the engine restarts
it from scratch, results below its next milestone are simply continued, so repeated rung
results are ignored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from simulated_backend.schedulers.protocol import (
    SchedulerDecision,
    Trial,
    TrialScheduler,
    TrialSuggestion,
)
from simulated_backend.schedulers.rung_levels import asha_rung_settings
from simulated_backend.schedulers.rungs import PromotionRung, StoppingRung, key_function
from simulated_backend.schedulers.scheduler_arguments import (
    check_resource_attr,
    check_scheduler_type,
    check_search_space,
    check_seed,
    missing_key_error,
    points_metadata,
    random_streams,
)
from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.searchers import ConfigSearcher, RandomSearcher

CONTINUE, PAUSE, STOP = SchedulerDecision.CONTINUE, SchedulerDecision.PAUSE, SchedulerDecision.STOP


def bracket_probabilities(levels_with_max: Sequence[float], num_brackets: int) -> list[float]:
    """Probability of each asynchronous bracket (Li et al., 2020; as Syne Tune does).

    Proportional to the number of configurations bracket ``b`` starts in synchronous
    Hyperband, ``K / ((K - b) * level_b)`` with ``K = len(levels_with_max)``; for levels
    ``r * eta**b`` this is ``(s_max + 1) / (s + 1) * eta**s`` up to a constant, ``s = s_max - b``.
    """
    k = len(levels_with_max)
    weights = [k / ((k - b) * float(levels_with_max[b])) for b in range(num_brackets)]
    total = sum(weights)
    return [w / total for w in weights]


class AsynchronousBracketScheduler(TrialScheduler):
    """Shared implementation of :class:`ASHA` and :class:`AsynchronousHyperband`."""

    def __init__(
        self,
        search_space: SearchSpace,
        metric: str,
        mode: str,
        resource_attr: str,
        fidelity_values: Sequence[Any],
        *,
        grace_period: Any,
        reduction_factor: Any,
        rung_levels: Sequence[Any] | None,
        max_resource: Any,
        type: str,
        num_brackets: int | None,
        seed: int,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None,
        searcher: ConfigSearcher | None,
    ) -> None:
        super().__init__(metric, mode)
        self.search_space = check_search_space(search_space)
        self.resource_attr = check_resource_attr(resource_attr)
        self.type = check_scheduler_type(type)
        self.seed = check_seed(seed)
        self.settings = asha_rung_settings(
            fidelity_values, grace_period, reduction_factor, rung_levels, max_resource
        )
        self.rung_levels = self.settings.rung_levels
        self.max_resource = self.settings.max_resource
        self.reduction_factor = self.settings.reduction_factor
        levels_with_max = (*self.rung_levels, self.max_resource)
        if num_brackets is None:
            num_brackets = len(levels_with_max)
        if (
            isinstance(num_brackets, bool)
            or not isinstance(num_brackets, int)
            or not 1 <= num_brackets <= len(levels_with_max)
        ):
            raise ValueError(
                f"num_brackets must be an integer from 1 to {len(levels_with_max)} (the number "
                f"of rung levels {list(self.rung_levels)} plus one), got {num_brackets!r}"
            )
        self.num_brackets = num_brackets
        self.bracket_probabilities = bracket_probabilities(levels_with_max, num_brackets)
        searcher_rng, self._bracket_rng = random_streams(self.seed, 2)
        if searcher is None:
            searcher = RandomSearcher(search_space, searcher_rng, points_to_evaluate)
        elif points_to_evaluate is not None:
            raise ValueError("give points_to_evaluate to the searcher, not to the scheduler")
        self.searcher = searcher
        # random search learns nothing: skip the call on the rung path
        self._observe = None if isinstance(searcher, RandomSearcher) else searcher.on_observation
        self._points_to_evaluate = points_metadata(points_to_evaluate)
        rung_class = StoppingRung if self.type == "stopping" else PromotionRung
        self._rungs = [
            [rung_class(level, self.reduction_factor) for level in self.rung_levels[b:]]
            for b in range(num_brackets)
        ]
        self._key = key_function(mode)
        self._next_milestone: dict[int, Any] = {}
        self._next_rung: dict[int, int] = {}
        self._bracket_of: dict[int, int] = {}
        self._pending_brackets: deque[int] = deque()

    # ------------------------------------------------------------------ suggestions
    def _sample_bracket(self) -> int:
        if self.num_brackets == 1:
            return 0
        return int(self._bracket_rng.choice(self.num_brackets, p=self.bracket_probabilities))

    def _promote(self, bracket: int) -> TrialSuggestion | None:
        for rung in reversed(self._rungs[bracket]):
            trial_id = rung.promotable()
            if trial_id is not None:
                rung.mark_promoted(trial_id)
                return TrialSuggestion.resume(trial_id)
        return None

    def suggest(self) -> TrialSuggestion | None:
        bracket = self._sample_bracket()
        if self.type == "promotion":
            promotion = self._promote(bracket)
            if promotion is not None:
                return promotion
        config = self.searcher.next_config()
        if config is None:
            if self.type == "promotion":  # no new trials: promote in any bracket
                for other in range(self.num_brackets):
                    promotion = self._promote(other)
                    if promotion is not None:
                        return promotion
            return None
        self._pending_brackets.append(bracket)
        return TrialSuggestion.start(config)

    def bracket_of(self, trial_id: int) -> int:
        """The bracket of a running or paused trial (0 is the one with all rung levels)."""
        return self._bracket_of[trial_id]

    @property
    def exhausted(self) -> bool:
        """True when the searcher has no new configuration left (finite search spaces)."""
        return self.searcher.exhausted

    # ------------------------------------------------------------------ callbacks
    def on_trial_add(self, trial: Trial) -> None:
        trial_id = trial.trial_id
        bracket = (
            self._pending_brackets.popleft() if self._pending_brackets else self._sample_bracket()
        )
        self._bracket_of[trial_id] = bracket
        self._next_rung[trial_id] = 0
        rungs = self._rungs[bracket]
        self._next_milestone[trial_id] = rungs[0].level if rungs else self.max_resource

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        try:
            if result[self.resource_attr] < self._next_milestone[trial.trial_id]:
                return CONTINUE
        except KeyError:
            known = trial.trial_id in self._next_milestone
            raise missing_key_error(self, trial.trial_id, result, known) from None
        return self._on_milestone(trial, result)

    def _on_milestone(self, trial: Trial, result: dict[str, Any]) -> str:
        trial_id = trial.trial_id
        milestone = self._next_milestone[trial_id]
        fidelity = result[self.resource_attr]
        if fidelity != milestone:
            raise ValueError(
                f"trial {trial_id} reported {self.resource_attr}={fidelity} but never its next "
                f"milestone {milestone}; schedulers need a result at every rung level (report "
                "every fidelity of the grid, in increasing order)"
            )
        if self.metric not in result:
            raise missing_key_error(self, trial_id, result, known=True)
        value = result[self.metric]
        if self._observe is not None:
            self._observe(trial, milestone, value)
        rungs = self._rungs[self._bracket_of[trial_id]]
        k = self._next_rung[trial_id]
        if k == len(rungs):  # the max resource
            self._forget(trial_id)
            return STOP
        rung = rungs[k]
        if self.type == "stopping":
            if not rung.add_and_decide(self._key(value)):
                self._forget(trial_id)
                return STOP
            decision = CONTINUE
        else:
            rung.add(trial_id, self._key(value))
            decision = PAUSE
        self._next_rung[trial_id] = k + 1
        self._next_milestone[trial_id] = (
            rungs[k + 1].level if k + 1 < len(rungs) else self.max_resource
        )
        return decision

    def _forget(self, trial_id: int) -> None:
        self._next_milestone.pop(trial_id, None)
        self._next_rung.pop(trial_id, None)
        self._bracket_of.pop(trial_id, None)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        self._forget(trial.trial_id)

    def on_trial_error(self, trial: Trial) -> None:
        """A failed trial is never promoted; its recorded rung results stay."""
        trial_id = trial.trial_id
        k = self._next_rung.get(trial_id, 0)
        if self.type == "promotion" and k > 0:
            self._rungs[self._bracket_of[trial_id]][k - 1].mark_promoted(trial_id)
        self._forget(trial_id)

    # on_trial_remove: the engine calls it when the scheduler itself paused or stopped a
    # trial; a paused trial stays promotable, so there is nothing to do (the base no-op).

    def metadata(self) -> dict[str, Any]:
        return {
            **super().metadata(),
            "resource_attr": self.resource_attr,
            "fidelity_values": list(self.settings.fidelity_values),
            "grace_period": self.settings.grace_period,
            "reduction_factor": self.reduction_factor,
            "rung_levels": list(self.rung_levels),
            "max_resource": self.max_resource,
            "type": self.type,
            "seed": self.seed,
            "points_to_evaluate": self._points_to_evaluate,
            "search_space": self.search_space.metadata(),
            "searcher": self.searcher.metadata(),
        }
