"""The machinery of ASHA and asynchronous Hyperband: brackets of rungs, decided per result.

A trial belongs to one bracket; bracket ``b`` uses the rung levels ``rung_levels[b:]``
(bracket 0 is ASHA itself). Per result, a trial that has not reached its next milestone
(next rung level, or the max fidelity) costs one dict lookup and one comparison; at a
milestone the rung decision is O(log n) (see :mod:`simulated_backend.schedulers.rungs`).

- ``type="stopping"``: at a rung the trial continues or is stopped (``StoppingRung``).
- ``type="promotion"``: the trial pauses at every rung; ``suggest`` resumes the best
  promotable paused trial (highest rung first) before starting a new one.

Trials reaching ``max_fidelity`` are stopped (the engine completes them when it is the
last grid value). A resumed trial continues from where it paused; if the engine restarts
it from scratch, results below its next milestone are simply continued, so repeated rung
results are ignored.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

from simulated_backend.schedulers.protocol import (
    SchedulerDecision,
    Trial,
    TrialScheduler,
    TrialSuggestion,
    defined_together,
    with_grid_config,
)
from simulated_backend.schedulers.rung_levels import asha_rung_settings
from simulated_backend.schedulers.rungs import PromotionRung, StoppingRung
from simulated_backend.schedulers.scheduler_arguments import (
    check_scheduler_type,
    missing_key_error,
    random_streams,
)
from simulated_backend.schedulers.searchers import (
    ConfigSearcher,
    RandomSearcher,
    config_and_index_function,
    default_searcher,
    grid_row_function,
)
from simulated_backend.schedulers.settings import FidelitySettings, SchedulerSettings
from simulated_backend.schedulers.stopping_rule import StoppingRule, missed_milestone

CONTINUE, PAUSE, STOP = SchedulerDecision.CONTINUE, SchedulerDecision.PAUSE, SchedulerDecision.STOP
# TrialSuggestion records made by tuple.__new__ directly (cheaper than the named tuple's
# Python-level __new__, and than new_trial_suggestion's functools.partial)
_new_tuple = tuple.__new__


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
        settings: SchedulerSettings,
        fidelity: FidelitySettings,
        *,
        type: str,
        num_brackets: int | None,
        searcher: ConfigSearcher | None,
    ) -> None:
        super().__init__(settings.metric, settings.mode)
        self.settings = settings
        self.search_space = settings.search_space
        self.seed = settings.seed
        self.type = check_scheduler_type(type)
        self.rung_settings = asha_rung_settings(
            fidelity.fidelity_values,
            fidelity.min_fidelity,
            fidelity.reduction_factor,
            fidelity.rung_levels,
            fidelity.max_fidelity,
        )
        self.rung_levels = self.rung_settings.rung_levels
        self.max_fidelity = self.rung_settings.max_fidelity
        self.reduction_factor = self.rung_settings.reduction_factor
        levels_with_max = (*self.rung_levels, self.max_fidelity)
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
        self.searcher = default_searcher(settings, searcher, searcher_rng)
        # random search learns nothing: skip the call on the rung path
        self._observe = (
            None if isinstance(self.searcher, RandomSearcher) else self.searcher.on_observation
        )
        self._next_candidate = config_and_index_function(self.searcher)
        # a searcher drawing grid rows at random: new trials are suggested by their row, and
        # their config is built only if something reads it (see TrialSuggestion)
        self._next_row = grid_row_function(self.searcher)
        self.grid_configs = self.searcher.grid_configs if self._next_row is not None else None
        rung_class = StoppingRung if self.type == "stopping" else PromotionRung
        self._rungs = [
            [rung_class(level, self.reduction_factor) for level in self.rung_levels[b:]]
            for b in range(num_brackets)
        ]
        # the milestone a trial of each bracket reaches first
        self._first_milestones = [
            rungs[0].level if rungs else self.max_fidelity for rungs in self._rungs
        ]
        # per bracket, milestone -> its rung's position (len(rungs): the max fidelity); the
        # levels increase strictly below max_fidelity, so a milestone names its rung
        self._rung_position = [
            {**{rung.level: k for k, rung in enumerate(rungs)}, self.max_fidelity: len(rungs)}
            for rungs in self._rungs
        ]
        # per bracket, milestone -> (its rung, the milestone after it); (None, None) at the
        # max fidelity: a decision looks its rung and the trial's next milestone up at once
        self._milestone_steps = [
            {
                **{
                    rung.level: (
                        rung,
                        rungs[k + 1].level if k + 1 < len(rungs) else self.max_fidelity,
                    )
                    for k, rung in enumerate(rungs)
                },
                self.max_fidelity: (None, None),
            }
            for rungs in self._rungs
        ]
        self._minimize = settings.mode == "min"
        self._stopping = self.type == "stopping"
        self._one_stopping_bracket = self._stopping and num_brackets == 1
        # the per-trial state, one entry per running or paused trial: its next milestone
        # (its next rung follows from it) and, with several brackets, its bracket. One dict
        # entry made at the start and one deleted at the stop: a trial's whole bookkeeping
        self._next_milestone: dict[int, Any] = {}
        self._bracket_of: dict[int, int] = {}  # empty with one bracket (every trial is in 0)
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
        return with_grid_config(self.suggest_by_row(), self.grid_configs)

    def suggest_by_row(self) -> TrialSuggestion | int | None:
        """:meth:`suggest`, a new trial on a grid row drawn at random given as its row (an
        int) alone: its config is :attr:`grid_configs`' row, built only when read (the
        Tuner's path, see :func:`~simulated_backend.schedulers.protocol.by_row_suggest_function`)."""
        if self._one_stopping_bracket:  # ASHA's stopping rule: a new trial
            if self._next_row is not None:
                row = self._next_row()
                if row is not None:
                    return row
            candidate = self._next_candidate()
            if candidate is None:
                return None
            return _new_tuple(TrialSuggestion, (candidate[0], None, candidate[1]))
        bracket = self._sample_bracket()
        if self.type == "promotion":
            promotion = self._promote(bracket)
            if promotion is not None:
                return promotion
        row = self._next_row() if self._next_row is not None else None
        if row is not None:
            if self.num_brackets > 1:
                self._pending_brackets.append(bracket)
            return row
        candidate = self._next_candidate()
        if candidate is None:
            if self.type == "promotion":  # no new trials: promote in any bracket
                for other in range(self.num_brackets):
                    promotion = self._promote(other)
                    if promotion is not None:
                        return promotion
            return None
        if self.num_brackets > 1:
            self._pending_brackets.append(bracket)
        return _new_tuple(TrialSuggestion, (candidate[0], None, candidate[1]))

    def bracket_of(self, trial_id: int) -> int:
        """The bracket of a running or paused trial (0 is the one with all rung levels)."""
        if self.num_brackets == 1:
            if trial_id not in self._next_milestone:
                raise KeyError(trial_id)
            return 0
        return self._bracket_of[trial_id]

    @property
    def exhausted(self) -> bool:
        """True when the searcher has no new configuration left (finite search spaces)."""
        return self.searcher.exhausted

    # ------------------------------------------------------------------ callbacks
    def on_trial_add(self, trial: Trial) -> None:
        if self.num_brackets == 1:  # (nothing is pending with one bracket)
            self._next_milestone[trial.trial_id] = self._first_milestones[0]
            return
        bracket = (
            self._pending_brackets.popleft() if self._pending_brackets else self._sample_bracket()
        )
        self._bracket_of[trial.trial_id] = bracket
        self._next_milestone[trial.trial_id] = self._first_milestones[bracket]

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        # below its next milestone a trial continues; at it, the decision is made here (one
        # Python call per decision: this runs for every rung result of every trial)
        trial_id = trial.trial_id
        try:
            milestone = self._next_milestone[trial_id]
            fidelity = result["fidelity"]
        except KeyError:
            known = trial_id in self._next_milestone
            raise missing_key_error(self, trial_id, result, known) from None
        if fidelity < milestone:
            return CONTINUE
        if fidelity != milestone:
            raise missed_milestone(trial_id, fidelity, milestone)
        try:
            value = result[self.metric]
        except KeyError:
            raise missing_key_error(self, trial_id, result, known=True) from None
        if self._observe is not None:
            self._observe(trial, milestone, value)
        several = self.num_brackets > 1
        rung, following = self._milestone_steps[self._bracket_of[trial_id] if several else 0][
            milestone
        ]
        if rung is None:  # the max fidelity
            self._forget(trial_id)
            return STOP
        # the rung key (see rungs.key_function): smaller is better, NaN is the worst
        if value != value:
            key = math.inf
        elif self._minimize:
            key = float(value)
        else:
            key = -float(value)
        if self._stopping:
            if not rung.add_and_decide(key):  # stopped: forgotten
                del self._next_milestone[trial_id]
                if several:
                    del self._bracket_of[trial_id]
                return STOP
            self._next_milestone[trial_id] = following
            return CONTINUE
        rung.add(trial_id, key)
        self._next_milestone[trial_id] = following
        return PAUSE

    def decision_fidelities(self) -> frozenset[Any] | None:
        """The rung levels and the max fidelity (every bracket's milestones are among them):
        below its next milestone a trial continues, and nothing changes. ``None`` when
        ``on_trial_result`` was replaced (by a subclass or on the instance)."""
        if (
            getattr(self.on_trial_result, "__func__", None)
            is not AsynchronousBracketScheduler.on_trial_result
        ):
            return None
        return frozenset((*self.rung_levels, self.max_fidelity))

    def stopping_rule(self) -> StoppingRule | None:
        """ASHA's stopping rule with one bracket, its new trials on grid rows drawn by the
        searcher, as a :class:`StoppingRule` the engine may apply itself; ``None`` for
        other settings (promotion type, several brackets, a searcher without grid rows) or
        when a subclass or the instance replaced a method the rule stands for."""
        methods = (
            "suggest_by_row",
            "suggest",
            "on_trial_add",
            "on_trial_result",
            "on_trial_complete",
            "on_trial_error",
        )
        if (
            not self._one_stopping_bracket
            or self._next_row is None
            or self.grid_configs is None
            or not defined_together(self, "stopping_rule", *methods)
            or any(name in vars(self) for name in (*methods, "stopping_rule"))
        ):
            return None
        return StoppingRule(
            metric=self.metric,
            minimize=self._minimize,
            first_milestone=self._first_milestones[0],
            steps={
                milestone: (None if rung is None else rung.add_and_decide, following)
                for milestone, (rung, following) in self._milestone_steps[0].items()
            },
            next_milestone=self._next_milestone,
            next_row=self._next_row,
            next_candidate=self._next_candidate,
            observe=self._observe,
            grid=self.grid_configs,
        )

    def _forget(self, trial_id: int) -> None:
        if self._next_milestone.pop(trial_id, None) is not None and self.num_brackets > 1:
            del self._bracket_of[trial_id]

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """A trial whose recorded curve ended (or at the max fidelity) is never promoted;
        its recorded rung results stay."""
        self._leave_rungs(trial.trial_id)

    def on_trial_error(self, trial: Trial) -> None:
        """A failed trial is never promoted; its recorded rung results stay."""
        self._leave_rungs(trial.trial_id)

    def _leave_rungs(self, trial_id: int) -> None:
        milestone = self._next_milestone.get(trial_id)
        if self.type == "promotion" and milestone is not None:
            bracket = self._bracket_of[trial_id] if self.num_brackets > 1 else 0
            k = self._rung_position[bracket][milestone]
            if k > 0:
                self._rungs[bracket][k - 1].mark_promoted(trial_id)
        self._forget(trial_id)

    # on_trial_remove: the engine calls it after this scheduler paused or stopped a trial;
    # a paused trial stays promotable and a stopped one was forgotten when it was stopped,
    # so there is nothing to do (the base no-op).

    def metadata(self) -> dict[str, Any]:
        return {
            **super().metadata(),
            **self.settings.metadata(),
            "fidelity_values": list(self.rung_settings.fidelity_values),
            "min_fidelity": self.rung_settings.min_fidelity,
            "max_fidelity": self.max_fidelity,
            "reduction_factor": self.reduction_factor,
            "rung_levels": list(self.rung_levels),
            "type": self.type,
            "searcher": self.searcher.metadata(),
        }
