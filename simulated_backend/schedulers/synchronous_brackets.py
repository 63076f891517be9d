"""The machinery of synchronous successive halving and Hyperband (Li et al., 2018).

Brackets run one after the other (then the cycle starts again). Within a bracket, stage
``i`` runs its ``n_i`` trials to level ``r_i``: stage 0 starts new trials, later stages
resume the top ``n_i`` trials of the previous stage (best metric first, ties in arrival
order). A stage waits for *all* its trials: while results are outstanding and nothing is
left to hand out, ``suggest`` returns ``None`` and free workers stay idle, as in the
paper's algorithm. Trials that are not promoted stay paused forever; trials of a
bracket's last stage run to ``max_resource`` and stop there.

Failed trials count as done and are never promoted; if fewer than ``n_{i+1}`` trials of a
stage succeed, the next stage is that much smaller. If a finite search space runs out,
stage 0 keeps the trials already started.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from simulated_backend.schedulers.hyperband_brackets import Bracket, hyperband_brackets
from simulated_backend.schedulers.protocol import (
    SchedulerDecision,
    Trial,
    TrialScheduler,
    TrialSuggestion,
)
from simulated_backend.schedulers.rung_levels import (
    resolve_grace_period,
    validate_fidelity_values,
    validate_reduction_factor,
)
from simulated_backend.schedulers.rungs import key_function
from simulated_backend.schedulers.scheduler_arguments import (
    check_resource_attr,
    check_search_space,
    check_seed,
    missing_key_error,
    points_metadata,
    random_streams,
)
from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.searchers import ConfigSearcher, RandomSearcher

CONTINUE, PAUSE, STOP = SchedulerDecision.CONTINUE, SchedulerDecision.PAUSE, SchedulerDecision.STOP


class SynchronousBracketScheduler(TrialScheduler):
    """Shared implementation of :class:`SuccessiveHalving` and :class:`Hyperband`."""

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
        max_resource: Any,
        num_brackets: int | None,
        seed: int,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None,
        searcher: ConfigSearcher | None,
    ) -> None:
        super().__init__(metric, mode)
        self.search_space = check_search_space(search_space)
        self.resource_attr = check_resource_attr(resource_attr)
        self.seed = check_seed(seed)
        brackets = hyperband_brackets(fidelity_values, grace_period, reduction_factor, max_resource)
        if num_brackets is None:
            num_brackets = len(brackets)
        if (
            isinstance(num_brackets, bool)
            or not isinstance(num_brackets, int)
            or not 1 <= num_brackets <= len(brackets)
        ):
            raise ValueError(
                f"num_brackets must be an integer from 1 to {len(brackets)} (s_max + 1 for these "
                f"settings), got {num_brackets!r}"
            )
        self.brackets: tuple[Bracket, ...] = brackets[:num_brackets]
        self.fidelity_values = validate_fidelity_values(fidelity_values)
        self.max_resource = brackets[0].stages[-1].level
        self.grace_period = resolve_grace_period(
            self.fidelity_values, grace_period, self.max_resource
        )
        self.reduction_factor = validate_reduction_factor(reduction_factor)
        (searcher_rng,) = random_streams(self.seed, 1)
        if searcher is None:
            searcher = RandomSearcher(search_space, searcher_rng, points_to_evaluate)
        elif points_to_evaluate is not None:
            raise ValueError("give points_to_evaluate to the searcher, not to the scheduler")
        self.searcher = searcher
        # random search learns nothing: skip the call on the rung path
        self._observe = None if isinstance(searcher, RandomSearcher) else searcher.on_observation
        self._points_to_evaluate = points_metadata(points_to_evaluate)
        self._key = key_function(mode)
        self._milestone: dict[int, Any] = {}  # trials running in the current stage
        self._pending_starts = 0
        self._arrivals = 0
        self.n_brackets_started = 0
        self.finished = False
        self._start_bracket(0)

    # ------------------------------------------------------------------ stages
    @property
    def current_bracket(self) -> Bracket:
        return self.brackets[self._bracket_index]

    @property
    def current_stage(self) -> int:
        return self._stage_index

    def _start_bracket(self, index: int) -> None:
        self._bracket_index = index % len(self.brackets)
        self.n_brackets_started += 1
        self._start_stage(0, [])

    def _start_stage(self, stage_index: int, promoted: list[int]) -> None:
        stage = self.current_bracket.stages[stage_index]
        self._stage_index = stage_index
        self._stage_level = stage.level
        self._to_resume = deque(promoted)
        self._to_start = stage.n_trials if stage_index == 0 else 0
        self._stage_size = self._to_start + len(promoted)
        self._stage_results: list[tuple[float, int, int]] = []
        self._stage_failures = 0

    def _finish_stage_if_done(self) -> None:
        while (
            not self.finished
            and len(self._stage_results) + self._stage_failures == self._stage_size
        ):
            stages = self.current_bracket.stages
            if self._stage_size == 0 and self._stage_index == 0:
                self.finished = True  # the search space is exhausted: nothing left to run
                return
            if self._stage_index + 1 == len(stages):
                self._start_bracket(self._bracket_index + 1)
                if self.searcher.exhausted:
                    self._stage_size = self._to_start = 0
                continue
            ranked = sorted(self._stage_results)
            n_next = stages[self._stage_index + 1].n_trials
            self._start_stage(self._stage_index + 1, [entry[2] for entry in ranked[:n_next]])

    # ------------------------------------------------------------------ suggestions
    def suggest(self) -> TrialSuggestion | None:
        if self._to_resume:
            trial_id = self._to_resume.popleft()
            self._milestone[trial_id] = self._stage_level
            return TrialSuggestion.resume(trial_id)
        if self._to_start > 0:
            config = self.searcher.next_config()
            if config is not None:
                self._to_start -= 1
                self._pending_starts += 1
                return TrialSuggestion.start(config)
            self._stage_size -= self._to_start  # exhausted: the stage keeps what started
            self._to_start = 0
            self._finish_stage_if_done()
            if self._to_resume:
                return self.suggest()
        return None

    @property
    def exhausted(self) -> bool:
        """True when the searcher has no new configuration left (finite search spaces)."""
        return self.searcher.exhausted

    # ------------------------------------------------------------------ callbacks
    def on_trial_add(self, trial: Trial) -> None:
        if self._pending_starts == 0:
            raise ValueError(
                f"{type(self).__name__} did not suggest trial {trial.trial_id}: synchronous "
                "brackets only run the trials they start"
            )
        self._pending_starts -= 1
        self._milestone[trial.trial_id] = self._stage_level

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        try:
            if result[self.resource_attr] < self._milestone[trial.trial_id]:
                return CONTINUE
        except KeyError:
            known = trial.trial_id in self._milestone
            raise missing_key_error(self, trial.trial_id, result, known) from None
        return self._on_milestone(trial, result)

    def _on_milestone(self, trial: Trial, result: dict[str, Any]) -> str:
        trial_id = trial.trial_id
        level = self._milestone[trial_id]
        if result[self.resource_attr] != level:
            raise ValueError(
                f"trial {trial_id} reported {self.resource_attr}={result[self.resource_attr]} "
                f"but never its stage level {level}; report every fidelity of the grid in order"
            )
        if self.metric not in result:
            raise missing_key_error(self, trial_id, result, known=True)
        value = result[self.metric]
        if self._observe is not None:
            self._observe(trial, level, value)
        del self._milestone[trial_id]
        self._stage_results.append((self._key(value), self._arrivals, trial_id))
        self._arrivals += 1
        last_stage = self._stage_index + 1 == len(self.current_bracket.stages)
        self._finish_stage_if_done()
        return STOP if last_stage else PAUSE

    def on_trial_error(self, trial: Trial) -> None:
        if self._milestone.pop(trial.trial_id, None) is not None:
            self._stage_failures += 1
            self._finish_stage_if_done()

    def metadata(self) -> dict[str, Any]:
        return {
            **super().metadata(),
            "resource_attr": self.resource_attr,
            "fidelity_values": list(self.fidelity_values),
            "grace_period": self.grace_period,
            "reduction_factor": self.reduction_factor,
            "max_resource": self.max_resource,
            "num_brackets": len(self.brackets),
            "seed": self.seed,
            "points_to_evaluate": self._points_to_evaluate,
            "search_space": self.search_space.metadata(),
            "searcher": self.searcher.metadata(),
            "brackets": [
                {
                    "s": b.s,
                    "n_trials": [st.n_trials for st in b.stages],
                    "levels": [st.level for st in b.stages],
                }
                for b in self.brackets
            ],
        }
