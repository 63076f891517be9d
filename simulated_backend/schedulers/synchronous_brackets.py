"""The machinery of synchronous successive halving and Hyperband (Li et al., 2018).

A bracket runs in stages: stage ``i`` runs its ``n_i`` trials to level ``r_i``; stage 0
starts new trials, later stages resume the top ``n_i`` trials of the previous stage (best
metric first, ties in arrival order) once *all* trials of the stage reported (or failed).
Trials that are not promoted stay paused forever; trials of a bracket's last stage run to
``max_fidelity`` and stop there.

Brackets overlap, as in HpBandSter: a free worker gets a job of the oldest bracket that has
one; when no running bracket has a job (every stage waits for its last results), the next
bracket of the cycle starts (Hyperband: ``s = s_max, ..., 0``, then again). So no worker
idles while there is work, and every bracket still holds exactly the paper's numbers of
trials and fidelities.

Failed trials count as done and are never promoted; if fewer than ``n_{i+1}`` trials of a
stage succeed, the next stage is that much smaller. A trial whose recorded learning curve
ends (the engine completes it: NMT and LCDB curves stop early) is never resumed: if it
ended at its stage level it is ranked with the others, and the next best trial that can
continue takes its promotion; if it ended below its stage level it counts as done without a
value, like a failed trial. If a finite search space runs out,
stage 0 keeps the trials already started and no new bracket starts.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from simulated_backend.schedulers.hyperband_brackets import Bracket, hyperband_brackets
from simulated_backend.schedulers.protocol import (
    SchedulerDecision,
    Trial,
    TrialScheduler,
    TrialSuggestion,
)
from simulated_backend.schedulers.rung_levels import (
    resolve_min_fidelity,
    validate_reduction_factor,
)
from simulated_backend.schedulers.rungs import key_function
from simulated_backend.schedulers.scheduler_arguments import missing_key_error, random_streams
from simulated_backend.schedulers.searchers import ConfigSearcher, RandomSearcher, default_searcher
from simulated_backend.schedulers.settings import FidelitySettings, SchedulerSettings

CONTINUE, PAUSE, STOP = SchedulerDecision.CONTINUE, SchedulerDecision.PAUSE, SchedulerDecision.STOP


class BracketRun:
    """One running bracket: its current stage, the jobs it can hand out, the results it waits for."""

    def __init__(self, bracket: Bracket, number: int, ended: set[int]) -> None:
        self.bracket = bracket
        self.number = number  # 0, 1, 2, ... in start order
        self.finished = False
        self.stage_sizes: list[int] = []  # trials per stage, as each stage started
        # trials whose recorded curve ended (completed): never resumed (shared, read only)
        self._ended = ended
        self._start_stage(0, [], 0)

    def _start_stage(self, stage_index: int, ranked: list[int], n_promoted: int) -> None:
        stage = self.bracket.stages[stage_index]
        self.stage_index = stage_index
        self.level = stage.level
        # the previous stage's trials, best first: the first ``to_promote`` of them that can
        # continue are resumed (chosen when handed out, once every completion is known)
        self.to_resume = deque(ranked)
        self.to_promote = n_promoted
        self.to_start = stage.n_trials if stage_index == 0 else 0
        self.size = self.to_start + n_promoted
        self.stage_sizes.append(self.size)
        self.results: list[tuple[float, int, int]] = []
        self.failures = 0

    @property
    def is_last_stage(self) -> bool:
        return self.stage_index + 1 == len(self.bracket.stages)

    @property
    def has_job(self) -> bool:
        return self.to_promote > 0 or self.to_start > 0

    def next_to_resume(self) -> int | None:
        """The best trial of the previous stage that can continue, or None (the stage
        shrinks by the promotions left when too few trials can continue)."""
        while self.to_resume:
            trial_id = self.to_resume.popleft()
            if trial_id not in self._ended:
                self.to_promote -= 1
                if not self.to_promote:
                    self.to_resume.clear()
                return trial_id
        self.size -= self.to_promote
        self.stage_sizes[-1] = self.size
        self.to_promote = 0
        self.advance_if_done()
        return None

    def shrink_stage_zero(self) -> None:
        """The search space ran out: stage 0 keeps the trials already started."""
        self.size -= self.to_start
        self.stage_sizes[-1] = self.size
        self.to_start = 0
        self.advance_if_done()

    def record(self, key: float, arrival: int, trial_id: int) -> None:
        self.results.append((key, arrival, trial_id))
        self.advance_if_done()

    def record_failure(self) -> None:
        self.failures += 1
        self.advance_if_done()

    def advance_if_done(self) -> None:
        """Start the next stage (or finish) once every trial of this stage is done."""
        while not self.finished and not self.has_job:
            if len(self.results) + self.failures < self.size:
                return
            if self.is_last_stage or self.size == 0:
                self.finished = True
                return
            n_next = self.bracket.stages[self.stage_index + 1].n_trials
            ranked = [entry[2] for entry in sorted(self.results)]
            self._start_stage(self.stage_index + 1, ranked, min(n_next, len(ranked)))


class SynchronousBracketScheduler(TrialScheduler):
    """Shared implementation of :class:`SuccessiveHalving`, :class:`Hyperband` and
    synchronous BOHB."""

    def __init__(
        self,
        settings: SchedulerSettings,
        fidelity: FidelitySettings,
        *,
        num_brackets: int | None,
        searcher: ConfigSearcher | None,
    ) -> None:
        super().__init__(settings.metric, settings.mode)
        if fidelity.rung_levels is not None:
            raise ValueError(
                "synchronous brackets take no rung_levels: their levels follow from "
                "min_fidelity, max_fidelity and reduction_factor"
            )
        self.settings = settings
        self.search_space = settings.search_space
        self.seed = settings.seed
        brackets = hyperband_brackets(
            fidelity.fidelity_values,
            fidelity.min_fidelity,
            fidelity.reduction_factor,
            fidelity.max_fidelity,
        )
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
        self.fidelity_values = fidelity.fidelity_values
        self.max_fidelity = brackets[0].stages[-1].level
        self.min_fidelity = resolve_min_fidelity(
            self.fidelity_values, fidelity.min_fidelity, self.max_fidelity
        )
        self.reduction_factor = validate_reduction_factor(fidelity.reduction_factor)
        (searcher_rng,) = random_streams(self.seed, 1)
        self.searcher = default_searcher(settings, searcher, searcher_rng)
        # random search learns nothing: skip the call on the rung path
        self._observe = (
            None if isinstance(self.searcher, RandomSearcher) else self.searcher.on_observation
        )
        self._key = key_function(settings.mode)
        self._running: list[BracketRun] = []  # brackets started and not finished, oldest first
        self._run_of: dict[int, BracketRun] = {}  # running trial id -> its bracket
        self._milestone: dict[int, Any] = {}  # trial id -> the level it runs to now
        self._pending_starts: deque[BracketRun] = deque()
        self._ended: set[int] = set()  # trials whose recorded curve ended (completed)
        self._arrivals = 0
        self.n_brackets_started = 0
        self._last_started: BracketRun | None = None
        # (s, trials per stage) of every bracket that ended, in the order they ended
        self.finished_brackets: list[tuple[int, tuple[int, ...]]] = []
        self.finished = False

    # ------------------------------------------------------------------ brackets
    @property
    def running_brackets(self) -> list[BracketRun]:
        """The brackets started and not finished, oldest first."""
        return list(self._running)

    @property
    def current_bracket(self) -> Bracket | None:
        """The bracket started last (``None`` before the first suggestion)."""
        return None if self._last_started is None else self._last_started.bracket

    def _start_next_bracket(self) -> BracketRun | None:
        if self.searcher.exhausted:
            return None
        bracket = self.brackets[self.n_brackets_started % len(self.brackets)]
        run = BracketRun(bracket, self.n_brackets_started, self._ended)
        self.n_brackets_started += 1
        self._running.append(run)
        self._last_started = run
        return run

    def _drop_finished(self) -> None:
        if any(run.finished for run in self._running):
            for run in self._running:
                if run.finished:
                    self.finished_brackets.append((run.bracket.s, tuple(run.stage_sizes)))
            self._running = [run for run in self._running if not run.finished]
        if not self._running and self.searcher.exhausted and not self._pending_starts:
            self.finished = True

    # ------------------------------------------------------------------ suggestions
    def suggest(self) -> TrialSuggestion | None:
        for run in self._running:
            suggestion = self._job_of(run)
            if suggestion is not None:
                return suggestion
        while not self.finished:
            run = self._start_next_bracket()
            if run is None:
                self._drop_finished()
                return None
            suggestion = self._job_of(run)
            if suggestion is not None:
                return suggestion
        return None

    def _job_of(self, run: BracketRun) -> TrialSuggestion | None:
        if run.to_promote > 0:
            trial_id = run.next_to_resume()
            if trial_id is not None:
                self._milestone[trial_id] = run.level
                self._run_of[trial_id] = run
                return TrialSuggestion.resume(trial_id)
            if run.finished:
                self._drop_finished()
            return self._job_of(run) if run.has_job else None
        if run.to_start > 0:
            candidate = self.searcher.next_candidate()
            if candidate is not None:
                run.to_start -= 1
                self._pending_starts.append(run)
                return TrialSuggestion(candidate.config, None, candidate.config_index)
            run.shrink_stage_zero()
            self._drop_finished()
            if run.has_job:
                return self._job_of(run)
        return None

    @property
    def exhausted(self) -> bool:
        """True when the searcher has no new configuration left (finite search spaces)."""
        return self.searcher.exhausted

    # ------------------------------------------------------------------ callbacks
    def on_trial_add(self, trial: Trial) -> None:
        if not self._pending_starts:
            raise ValueError(
                f"{type(self).__name__} did not suggest trial {trial.trial_id}: synchronous "
                "brackets only run the trials they start"
            )
        run = self._pending_starts.popleft()
        self._run_of[trial.trial_id] = run
        self._milestone[trial.trial_id] = run.level

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        try:
            if result["fidelity"] < self._milestone[trial.trial_id]:
                return CONTINUE
        except KeyError:
            known = trial.trial_id in self._milestone
            raise missing_key_error(self, trial.trial_id, result, known) from None
        return self._on_milestone(trial, result)

    def decision_fidelities(self) -> frozenset[Any] | None:
        """Every stage level of every bracket: below its stage level a trial continues, and
        nothing changes. ``None`` when ``on_trial_result`` was replaced (by a subclass or on
        the instance)."""
        if (
            getattr(self.on_trial_result, "__func__", None)
            is not SynchronousBracketScheduler.on_trial_result
        ):
            return None
        return frozenset(stage.level for bracket in self.brackets for stage in bracket.stages)

    def _on_milestone(self, trial: Trial, result: dict[str, Any]) -> str:
        trial_id = trial.trial_id
        level = self._milestone[trial_id]
        if result["fidelity"] != level:
            raise ValueError(
                f"trial {trial_id} reported fidelity {result['fidelity']} but never its stage "
                f"level {level}; report every fidelity of the grid in order"
            )
        if self.metric not in result:
            raise missing_key_error(self, trial_id, result, known=True)
        value = result[self.metric]
        if self._observe is not None:
            self._observe(trial, level, value)
        del self._milestone[trial_id]
        run = self._run_of.pop(trial_id)
        last_stage = run.is_last_stage
        run.record(self._key(value), self._arrivals, trial_id)
        self._arrivals += 1
        if run.finished:
            self._drop_finished()
        return STOP if last_stage else PAUSE

    def on_trial_error(self, trial: Trial) -> None:
        if self._milestone.pop(trial.trial_id, None) is not None:
            run = self._run_of.pop(trial.trial_id)
            run.record_failure()
            if run.finished:
                self._drop_finished()

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """The trial's recorded curve ended (or it reached the max fidelity): it is never
        resumed. If it ended below its stage level, the stage counts it as done without a
        value (as a failed trial), so the bracket never waits for it."""
        trial_id = trial.trial_id
        self._ended.add(trial_id)
        if self._milestone.pop(trial_id, None) is not None:
            run = self._run_of.pop(trial_id)
            run.record_failure()
            if run.finished:
                self._drop_finished()

    # on_trial_remove: the engine calls it after a PAUSE or STOP; a paused trial waits for
    # its stage to end (and is resumed if promoted), so there is nothing to do here.

    def metadata(self) -> dict[str, Any]:
        return {
            **super().metadata(),
            **self.settings.metadata(),
            "fidelity_values": list(self.fidelity_values),
            "min_fidelity": self.min_fidelity,
            "max_fidelity": self.max_fidelity,
            "reduction_factor": self.reduction_factor,
            "num_brackets": len(self.brackets),
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
