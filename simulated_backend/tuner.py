"""The Tuner: drives a scheduler through any backend and records every result.

The loop: process the results the backend reported (hand each to the scheduler, apply its
decision: continue, pause, stop; a trial at its max fidelity completes; a failed step
fails the trial), then check the stop criterion; when no result is there, ask the
scheduler for work while workers are free, and wait: callbacks hear ``on_tuning_sleep``
(the :class:`~simulated_backend.callback.SimulatorCallback` jumps the simulated clock to
the next result there) and the backend is asked for its next results. All results
reported at the same time are handed to the scheduler before it is asked for new work,
so it decides with everything known at that moment.

The Tuner talks to its backend only through
:class:`~simulated_backend.backend_protocol.TrialBackend`; it works the same on the
simulator and on a real backend.
"""

from __future__ import annotations

import inspect
import math
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

from simulated_backend.backend import SimulatorBackend
from simulated_backend.backend_protocol import (
    COMPLETED,
    FAILED,
    FIDELITY_KEY,
    PAUSED,
    REPORT_CONTINUES,
    REPORT_LAST,
    REPORT_UNDECIDED,
    RUNNING,
    STOPPED,
    TIME_KEY,
    ClockJumpingBackend,
    ResultLoggingBackend,
    RunLedger,
    StoppingRuleBackend,
    TrialBackend,
    TrialReport,
)
from simulated_backend.callback import ProgressCallback, SimulatorCallback, TunerCallback
from simulated_backend.errors import SchedulerFailure, SchedulerProtocolError
from simulated_backend.result_recorder import DECISION_CODES, ResultRecorder
from simulated_backend.results import (
    RESULTS_FORMAT_VERSION,
    RunResults,
    software_versions,
    write_run,
)
from simulated_backend.schedulers.protocol import (
    GridTrial,
    Trial,
    TrialScheduler,
    TrialSuggestion,
    by_row_suggest_function,
)
from simulated_backend.stop_criterion import StopCriterion, TuningStatus

_NO_LIMIT = sys.maxsize  # a count budget that is not set
_NOT_DRAWN = object()  # _fill_workers: no suggestion drawn before the call
_STATES = ("running", "paused", "stopped", "completed", "failed")
new_object = object.__new__
_CONTINUE, _PAUSE, _STOP, _COMPLETED, _FAILED = (
    DECISION_CODES[name] for name in ("CONTINUE", "PAUSE", "STOP", "COMPLETED", "FAILED")
)


class Tuner:
    """Runs ``scheduler`` on ``backend`` until ``stop_criterion`` is met.

    Args:
        scheduler: any object following :class:`TrialScheduler`'s protocol.
        backend: any :class:`~simulated_backend.backend_protocol.TrialBackend`: the
            :class:`SimulatorBackend` or a real backend.
        stop_criterion: the budgets of the run (``max_wallclock_time`` in the backend's
            seconds: simulated for the simulator, real for a real backend).
        results_dir: if given, ``results.parquet`` and ``metadata.json`` are written there
            when the run ends, also when the scheduler fails or the run is interrupted.
        metadata: extra JSON-able fields for ``metadata.json`` (e.g. method and task names).
        progress: show a progress bar over the run's time.
        callbacks: extra :class:`TunerCallback` objects. A :class:`SimulatorBackend`
            needs a :class:`SimulatorCallback`; one is added if none is given.
        wait_timeout: real seconds the Tuner waits for a result of a real backend before it
            checks its budgets again.
        result_chunk_rows: results kept in memory before they are spilled to disk in one
            typed chunk (memory stays bounded however long the run).
        fsync_results: flush the results files to disk before they are renamed into place
            (``write_run(durable=...)``); a caller that flushes many runs at once (the
            study runner, once per batch of tasks) passes False.
        one_loop: let a backend that can run the scheduler's stopping rule in one loop do
            so (:class:`~simulated_backend.backend_protocol.StoppingRuleBackend`: ASHA on a
            table); the same results bit for bit, about a fifth less CPU per result in a
            long run. False: always the layered loop (to compare the two).

    Example:
        >>> tuner = Tuner(scheduler, SimulatorBackend(blackbox, n_workers=4),  # doctest: +SKIP
        ...               StopCriterion(max_wallclock_time=3600),
        ...               callbacks=[SimulatorCallback()])
        >>> run = tuner.run()  # doctest: +SKIP
    """

    def __init__(
        self,
        scheduler: TrialScheduler,
        backend: TrialBackend,
        stop_criterion: StopCriterion,
        *,
        results_dir: Path | str | None = None,
        metadata: dict[str, Any] | None = None,
        progress: bool = False,
        callbacks: Sequence[TunerCallback] = (),
        wait_timeout: float = 0.5,
        result_chunk_rows: int | None = None,
        fsync_results: bool = True,
        one_loop: bool = True,
    ) -> None:
        if not isinstance(stop_criterion, StopCriterion):
            raise TypeError(
                f"stop_criterion must be a StopCriterion, got {type(stop_criterion).__name__}"
            )
        if not isinstance(backend, TrialBackend):
            raise TypeError(
                f"backend must follow simulated_backend.backend_protocol.TrialBackend (open, "
                f"start_trial, resume_trial, pause_trial, stop_trial, next_results, "
                f"num_free_workers, current_time, metadata, close); got {type(backend).__name__}"
            )
        self.scheduler = scheduler
        self.backend = backend
        # backends that take the grid row a scheduler drew (SimulatorBackend) get it with
        # the config, and skip looking the config up (TrialSuggestion.config_index)
        self._backend_takes_rows = (
            "config_index" in inspect.signature(backend.start_trial).parameters
        )
        # a simulated clock moves only when the engine moves it (never within _fill_workers)
        self._clock_stands_still = isinstance(backend, ClockJumpingBackend)
        # checks the metric and mode against the backend's objectives (clear errors here)
        self.description = backend.open(
            getattr(scheduler, "metric", None), getattr(scheduler, "mode", None)
        )
        self.stop_criterion = stop_criterion
        self.results_dir = Path(results_dir) if results_dir is not None else None
        self.extra_metadata = dict(metadata or {})
        self.callbacks = list(callbacks)
        self.wait_timeout = float(wait_timeout)
        self.result_chunk_rows = result_chunk_rows
        self.fsync_results = bool(fsync_results)
        self.one_loop = bool(one_loop)
        if progress:
            total = stop_criterion.max_wallclock_time
            unit = "s" if not isinstance(backend, SimulatorBackend) else "simulated s"
            self.callbacks.append(ProgressCallback(total=total, unit=unit))
        if isinstance(backend, SimulatorBackend) and not any(
            isinstance(c, SimulatorCallback) for c in self.callbacks
        ):
            self.callbacks.insert(0, SimulatorCallback())
        # indexed by trial id: the Trial of every trial that may still run (started or
        # paused); None once it stopped, completed or failed. Finished trials' records are
        # dropped: kept, they were the one object per trial the garbage collector tracked,
        # and full collections of long runs walked them all (see docs/performance.md)
        self.trials: list[Trial | None] = []
        self.trial_status: list[int] = []
        # indexed by trial id: the config as run, or its row of the scheduler's grid_configs
        # (an int) for a trial suggested by its row (its config never built for this);
        # None once the trial ended and its results were spilled to disk (read only for
        # the results' config columns)
        self.trial_configs: list[dict[str, Any] | int | None] = []
        self.failed_trials: list[int] = []
        self.stop_reason = ""
        # how the last run went: "layered" (the Tuner's loop, the scheduler and the backend
        # talking through their protocols) or "one loop" (run_stopping_rule)
        self.engine_path = ""

    # ------------------------------------------------------------------ the run
    def run(self) -> RunResults:
        """Run to the stop criterion; returns (and writes, if ``results_dir``) the results."""
        scheduler = self.scheduler
        self.description = self.backend.open(scheduler.metric, scheduler.mode)
        self.trials, self.trial_status, self.failed_trials = [], [], []
        self.trial_configs = []
        # the grid a suggestion's config_index names when it leaves the config None; a
        # scheduler with suggest_by_row gives new trials on its rows as the row alone
        self._grid = getattr(scheduler, "grid_configs", None)
        self._suggest = by_row_suggest_function(scheduler) or scheduler.suggest
        self._row_checked = False
        # a backend replaying a tabular blackbox starts such trials by their row alone
        self._start_at_row = (
            self.backend.start_trial_at_row
            if self._backend_takes_rows and getattr(self.backend, "replays_grid_rows", False)
            else None
        )
        self._n_paused = 0
        self._n_running = 0
        self._fill = self._row_filler() or self._fill_workers
        chunk = {} if self.result_chunk_rows is None else {"chunk_rows": self.result_chunk_rows}
        # a backend that logs its results by reference (the simulator on a table) gives the
        # recorder their columns; the Tuner then records each result's decision code only
        log = (
            self.backend.result_log()
            if isinstance(self.backend, ResultLoggingBackend) and not self.description.extra_columns
            else None
        )
        self.recorder = ResultRecorder(
            self.description, spill_parent=self.results_dir, log=log, grid=self._grid, **chunk
        )
        status, error, current = "completed", None, [None]
        try:
            try:
                for callback in self.callbacks:
                    callback.on_tuning_start(self)
                self._loop(current)
            except KeyboardInterrupt:
                status = "interrupted"
                self._finish(status, None)
                raise
            except Exception as exception:
                status = "failed"
                error = {
                    "trial_id": current[0],
                    "message": f"{type(exception).__name__}: {exception}",
                    "traceback": traceback.format_exc(),
                }
                run = self._finish(status, error)
                where = f" while handling trial {current[0]}" if current[0] is not None else ""
                saved = (
                    f"; the {len(self.recorder)} results recorded so far are in {run.path}"
                    if run.path
                    else ""
                )
                raise SchedulerFailure(
                    f"the run stopped: {type(exception).__name__}: {exception}{where}{saved}",
                    current[0],
                ) from exception
            return self._finish(status, error)
        finally:
            self.recorder.close()

    def _loop(self, current: list) -> None:  # noqa: C901 - the hot loop is kept in one place on purpose
        backend = self.backend
        scheduler = self.scheduler
        stop = self.stop_criterion
        budget = stop.max_wallclock_time if stop.max_wallclock_time is not None else math.inf
        # counts are compared with ints (an int against math.inf takes the slow generic path)
        max_results = stop.max_num_results or _NO_LIMIT
        max_started = stop.max_num_trials_started or _NO_LIMIT
        max_finished = stop.max_num_trials_finished or _NO_LIMIT
        target = stop.target_metric_value
        minimize = scheduler.mode == "min"
        predicate = stop.predicate
        metric = scheduler.metric
        trials, trial_status, configs = self.trials, self.trial_status, self.trial_configs
        recorder = self.recorder
        record = recorder.rows.extend  # flat: see ResultRecorder.rows
        # with the backend's log of results: the decision codes only (no dict is held)
        record_code = recorder.codes.append if recorder.log is not None else None
        record_codes = recorder.codes.extend
        # the held dicts are read into typed columns every block (and spilled every chunk)
        next_compaction = recorder.next_compaction()
        on_result, on_complete = scheduler.on_trial_result, scheduler.on_trial_complete
        on_error = scheduler.on_trial_error
        # the base class's on_trial_remove does nothing: not calling it saves a call per stop
        on_remove = (
            None
            if getattr(type(scheduler), "on_trial_remove", None) is TrialScheduler.on_trial_remove
            else scheduler.on_trial_remove
        )
        pause_trial, stop_trial = backend.pause_trial, backend.stop_trial
        result_callbacks = [
            c.on_trial_result
            for c in self.callbacks
            if type(c).on_trial_result is not TunerCallback.on_trial_result
        ]
        continues, last, undecided = REPORT_CONTINUES, REPORT_LAST, REPORT_UNDECIDED
        fill = self._fill
        n_results = 0
        n_finished = 0
        best = math.inf if minimize else -math.inf
        track_best = target is not None or predicate is not None  # the best value so far
        # results the scheduler does not decide on may pass it by (no result dict is made)
        # when nothing else reads them: the recorder takes them from the backend's log
        decision_fidelities = (
            self._decision_fidelities()
            if record_code is not None and not result_callbacks and not track_best
            else None
        )
        if self.one_loop and self._run_stopping_rule(
            current, record_code, result_callbacks, on_remove, next_compaction
        ):
            self.engine_path = "one loop"
            return
        self.engine_path = "layered"
        # how many results the backend may pass over before it must count them to the Tuner
        # (they are recorded, count against max_num_results and compact at the same counts)
        due = min(next_compaction, max_results)
        room = [due]
        # None: nothing is due now (the clock jumps, or a real backend waits, after it)
        for report in self._reports(budget, decision_fidelities, room):
            if report is None:
                # 1. nothing due now: give free workers work
                if backend.num_free_workers and (len(trials) < max_started or self._n_paused):
                    n_finished += fill(max_started, current)
                    if n_finished >= max_finished:
                        self.stop_reason = "max_num_trials_finished"
                        return
                if not self._n_running:
                    self.stop_reason = (
                        "max_num_trials_started reached and every trial ended"
                        if len(trials) >= max_started
                        else "the scheduler has nothing more to run"
                    )
                    return
                continue
            trial_id, result, final = report
            if final == undecided:  # trial_id results continued past fidelities of no decision
                record_codes(repeat(_CONTINUE, trial_id))
                n_results += trial_id
                if n_results == next_compaction:
                    next_compaction = self._compact(recorder, configs)
                    due = min(next_compaction, max_results)
                if n_results >= max_results:
                    self.stop_reason = "max_num_results"
                    return
                room[0] = due - n_results
                continue
            current[0] = trial_id
            trial = trials[trial_id]
            # 2. the decision, applied at the report
            if final == continues:
                decision = on_result(trial, result)
                if decision == "CONTINUE":
                    code = _CONTINUE
                elif decision == "STOP":
                    code = _STOP
                    trial_status[trial_id] = STOPPED
                    trials[trial_id] = None
                    self._n_running -= 1
                    stop_trial(trial_id)
                    if on_remove is not None:
                        on_remove(trial)
                    n_finished += 1
                elif decision == "PAUSE":
                    code = _PAUSE
                    trial_status[trial_id] = PAUSED
                    self._n_paused += 1
                    self._n_running -= 1
                    pause_trial(trial_id)
                    if on_remove is not None:
                        on_remove(trial)
                else:
                    raise SchedulerProtocolError(
                        f"on_trial_result returned {decision!r}; it must return 'CONTINUE', 'PAUSE' or 'STOP'"
                    )
            elif final == last:
                decision = on_result(trial, result)
                code = _COMPLETED
                trial_status[trial_id] = COMPLETED
                trials[trial_id] = None
                self._n_running -= 1
                on_complete(trial, result)
                n_finished += 1
            else:  # REPORT_FAILED
                decision = "FAILED"
                code = _FAILED
                trial_status[trial_id] = FAILED
                trials[trial_id] = None
                self.failed_trials.append(trial_id)
                self._n_running -= 1
                n_finished += 1
                on_error(trial)
            if record_code is not None:
                record_code(code)
            else:
                record((trial_id, code, result))
            n_results += 1
            if n_results == next_compaction:
                next_compaction = self._compact(recorder, configs)
                due = min(next_compaction, max_results)
            room[0] = due - n_results
            if result_callbacks:
                for callback in result_callbacks:
                    callback(trial, result, decision)
            # 3. stop criteria
            if n_results >= max_results:
                self.stop_reason = "max_num_results"
                return
            if n_finished >= max_finished:
                self.stop_reason = "max_num_trials_finished"
                return
            if track_best:
                value = result[metric]
                if (value < best) if minimize else (value > best):
                    best = value
                if target is not None and ((best <= target) if minimize else (best >= target)):
                    self.stop_reason = "target_metric_value"
                    return
                if predicate is not None and predicate(
                    TuningStatus(result[TIME_KEY], len(trials), n_finished, n_results, float(best))
                ):
                    self.stop_reason = "predicate"
                    return
        self.stop_reason = "max_wallclock_time"

    def _run_stopping_rule(
        self,
        current: list,
        record_code: Callable[[int], None] | None,
        result_callbacks: list,
        on_remove: Callable[[Trial], None] | None,
        next_compaction: int,
    ) -> bool:
        """Hand the whole run to the backend if it runs the scheduler's stopping rule in one
        loop (:class:`~simulated_backend.backend_protocol.StoppingRuleBackend`); whether it
        did (``stop_reason`` is then set). It does when the results are logged by reference
        (``record_code``), the simulated clock jumps (:meth:`_jumping_clock_limit`), the
        scheduler gives a rule (``stopping_rule()``, e.g. ASHA with one bracket drawing grid
        rows) and the rule's metric is not also a key the engine adds to results."""
        backend, scheduler = self.backend, self.scheduler
        make_rule = getattr(scheduler, "stopping_rule", None)
        limit = self._jumping_clock_limit()
        if (
            record_code is None
            or limit is None
            or make_rule is None
            or self._grid is None
            or not isinstance(backend, StoppingRuleBackend)
            or not backend.runs_stopping_rules
        ):
            return False
        rule = make_rule()
        if (
            rule is None
            or rule.grid is not self._grid
            or rule.metric in (TIME_KEY, FIDELITY_KEY, "worker", self.description.fidelity_name)
        ):
            return False
        stop = self.stop_criterion
        self.stop_reason = backend.run_stopping_rule(
            rule,
            RunLedger(
                trials=self.trials,
                trial_status=self.trial_status,
                trial_configs=self.trial_configs,
                fail_trial=self._fail_trial,
                record_code=record_code,
                decision_codes=(_CONTINUE, _STOP, _COMPLETED),
                compact=lambda: self._compact(self.recorder, self.trial_configs),
                next_compaction=next_compaction,
                result_callbacks=result_callbacks,
                on_remove=on_remove,
                on_complete=scheduler.on_trial_complete,
                limit=limit,
                max_results=stop.max_num_results or _NO_LIMIT,
                max_started=stop.max_num_trials_started or _NO_LIMIT,
                max_finished=stop.max_num_trials_finished or _NO_LIMIT,
                target=stop.target_metric_value,
                predicate=stop.predicate,
                current=current,
            ),
        )
        return True

    def _jumping_clock_limit(self) -> float | None:
        """The :class:`SimulatorCallback`'s time limit if the backend jumps its own clock and
        that callback is the only one acting on sleeps (the backend's generator, or its one
        loop, then stands for polling and sleeping); else ``None``."""
        sleep_hooks = [
            c
            for c in self.callbacks
            if type(c).on_tuning_sleep is not TunerCallback.on_tuning_sleep
        ]
        if (
            len(sleep_hooks) == 1
            and type(sleep_hooks[0]).on_tuning_sleep is SimulatorCallback.on_tuning_sleep
            and isinstance(self.backend, ClockJumpingBackend)
        ):
            return sleep_hooks[0].limit
        return None

    def _decision_fidelities(self) -> frozenset[Any] | None:
        """The scheduler's fidelities of decision, if it declares them
        (:meth:`~simulated_backend.schedulers.protocol.TrialScheduler.decision_fidelities`)."""
        declared = getattr(self.scheduler, "decision_fidelities", None)
        if declared is None:
            return None
        fidelities = declared()
        return None if fidelities is None else frozenset(fidelities)

    def _reports(
        self,
        budget: float,
        decision_fidelities: frozenset[Any] | None = None,
        room: list[int] | None = None,
    ) -> Iterator[TrialReport | None]:
        """The backend's results in order, ``None`` whenever none is due now.

        After a ``None`` (the Tuner gave free workers work) the clock jumps, or a real
        backend waits: callbacks hear ``on_tuning_sleep`` (the :class:`SimulatorCallback`
        jumps the clock there), then the backend is asked again. A backend with a simulated
        clock does both in one generator when the :class:`SimulatorCallback` is the only
        callback that acts on sleeps
        (:class:`~simulated_backend.backend_protocol.ClockJumpingBackend`), which then
        passes over results at fidelities other than ``decision_fidelities`` (if given),
        counting them to the Tuner in one report at most ``room[0]`` at a time.
        Ends at the budget of simulated (or real) time.
        """
        limit = self._jumping_clock_limit()
        if limit is not None:
            if decision_fidelities is None:
                return self.backend.reports_jumping_clock(limit)
            return self.backend.reports_jumping_clock(limit, decision_fidelities, room)
        sleeps = [
            c.on_tuning_sleep
            for c in self.callbacks
            if type(c).on_tuning_sleep is not TunerCallback.on_tuning_sleep
        ]
        return self._polled_reports(sleeps, budget)

    def _polled_reports(self, sleeps: list, budget: float) -> Iterator[TrialReport | None]:
        """The protocol's generic path: ``next_results`` polled, sleep hooks between polls."""
        backend = self.backend
        next_results, current_time = backend.next_results, backend.current_time
        wait_timeout = self.wait_timeout
        while True:
            reports = next_results(0.0)
            if not reports:
                yield None
                for sleep in sleeps:
                    sleep(self)
                reports = next_results(wait_timeout)
                if not reports:
                    if current_time() >= budget:
                        return
                    continue
            for report in reports:
                if report[1][TIME_KEY] > budget:
                    return
                yield report

    def _row_filler(self) -> Callable[[float, list], int] | None:
        """:meth:`_fill_workers` for the common case of a long simulated run, or ``None``:
        the scheduler suggests new trials by their grid row (``suggest_by_row``) and the
        backend starts them by row, on a clock that stands still while workers are filled.

        The returned function starts such trials exactly as :meth:`_fill_workers` does (the
        same records, calls and order) with the run's objects bound once, not read from the
        Tuner at every filling (in a long ASHA run a filling starts one trial, about every
        fifth result); anything else (the run's first start, which checks the row; a
        suggestion that is not a row; the start budget reached; resumes) goes to
        :meth:`_fill_workers`, with the suggestion already drawn.
        """
        start_at_row, grid = self._start_at_row, self._grid
        if start_at_row is None or grid is None or not self._clock_stands_still:
            return None
        backend, suggest, on_add = self.backend, self._suggest, self.scheduler.on_trial_add
        trials, trial_status, trial_configs = self.trials, self.trial_status, self.trial_configs
        current_time, fill_workers, fail_trial = (
            backend.current_time,
            self._fill_workers,
            self._fail_trial,
        )

        def fill(max_started: float, current: list) -> int:
            if not self._row_checked:
                return fill_workers(max_started, current)
            now = current_time()  # the clock stands still while workers are filled
            failed = 0
            while backend.num_free_workers:
                trial_id = len(trials)
                if trial_id >= max_started:
                    return failed + fill_workers(max_started, current)
                suggestion = suggest()
                if type(suggestion) is not int:  # a config, a resume or None
                    return failed + fill_workers(max_started, current, suggestion)
                current[0] = trial_id
                trial = new_object(GridTrial)  # its config built only if something reads it
                trial.trial_id = trial_id
                trial.creation_time = now
                trial.config_index = suggestion
                trial.grid = grid
                trials.append(trial)
                trial_status.append(RUNNING)
                trial_configs.append(suggestion)  # the recorder reads the grid row
                on_add(trial)
                if start_at_row(trial_id, suggestion):
                    self._n_running += 1
                else:
                    failed += fail_trial(trial_id)
            return failed

        return fill

    def _fill_workers(self, max_started: float, current: list, drawn: Any = _NOT_DRAWN) -> int:
        """Ask for work while workers are free; returns how many trials failed at start.
        ``drawn``: the first suggestion, if it was already drawn (by :meth:`_row_filler`'s)."""
        backend, scheduler = self.backend, self.scheduler
        trials, trial_status, trial_configs = self.trials, self.trial_status, self.trial_configs
        suggest, on_add = self._suggest, scheduler.on_trial_add
        start_trial = backend.start_trial
        takes_rows = self._backend_takes_rows
        # suggestions may name a grid row without its config (TrialSuggestion)
        grid, start_at_row = self._grid, self._start_at_row
        # a simulated clock stands still while workers are filled: every trial started here
        # is created at the same time (one call instead of one per start); a real one moves
        now = backend.current_time() if self._clock_stands_still else None
        failed = 0
        while backend.num_free_workers:
            n_trials = len(trials)
            if n_trials >= max_started and not self._n_paused:
                break
            if drawn is _NOT_DRAWN:
                suggestion = suggest()
            else:
                suggestion, drawn = drawn, _NOT_DRAWN
            if type(suggestion) is int:  # suggest_by_row: a new trial on this grid row
                config, trial_id, config_index = None, None, suggestion
            elif suggestion is None:
                break
            elif not isinstance(suggestion, TrialSuggestion):
                raise SchedulerProtocolError(
                    f"suggest() returned {type(suggestion).__name__}; it must return a TrialSuggestion or None"
                )
            else:
                config, trial_id, config_index = suggestion
            if trial_id is None:
                if n_trials >= max_started:
                    break  # the start budget is spent: the suggestion is dropped, documented
                trial_id = n_trials
                current[0] = trial_id
                if config is None and config_index is not None and grid is not None:
                    # a grid row: its config is built only if something reads it
                    trial = new_object(GridTrial)
                    trial.trial_id = trial_id
                    trial.creation_time = backend.current_time() if now is None else now
                    trial.config_index = config_index
                    trial.grid = grid
                    trials.append(trial)
                    trial_status.append(RUNNING)
                    trial_configs.append(config_index)  # the recorder reads the grid row
                    on_add(trial)
                    if start_at_row is not None and self._row_checked:
                        if start_at_row(trial_id, config_index):
                            self._n_running += 1
                        else:
                            failed += self._fail_trial(trial_id)
                        continue
                    # the first start of a run goes with its config: the backend checks the
                    # row against it once (and a backend without rows needs the config)
                    config = trial.config  # built here, unless on_trial_add read it
                    self._row_checked = True
                else:
                    if config is None:
                        raise SchedulerProtocolError(
                            "suggest() asked to start a trial without a config (a config "
                            "may be left None only with a config_index and a scheduler "
                            "with grid_configs)"
                        )
                    if type(config) is not dict:
                        config = dict(config)
                    trial = Trial(trial_id, config, backend.current_time() if now is None else now)
                    trials.append(trial)
                    trial_status.append(RUNNING)
                    trial_configs.append(config)
                    on_add(trial)
                if config_index is not None and takes_rows:
                    run_config = start_trial(trial_id, config, config_index)
                else:
                    run_config = start_trial(trial_id, config)
                if run_config is None:
                    failed += self._fail_trial(trial_id)
                    continue
                if run_config is not config:  # the backend's plain-value copy
                    trial.config = run_config
                    trial_configs[trial_id] = run_config
            else:
                current[0] = trial_id
                if not (0 <= trial_id < n_trials) or trial_status[trial_id] != PAUSED:
                    state = (
                        "unknown"
                        if not (0 <= trial_id < n_trials)
                        else _STATES[trial_status[trial_id]]
                    )
                    raise SchedulerProtocolError(
                        f"suggest() asked to resume trial {trial_id}, which is {state}, not paused"
                    )
                trial_status[trial_id] = RUNNING
                self._n_paused -= 1
                run_config = backend.resume_trial(trial_id, config)
                if run_config is None:
                    failed += self._fail_trial(trial_id)
                    continue
                if config is not None:  # resumed with a new config: the backend's copy
                    trials[trial_id].config = run_config
                    trial_configs[trial_id] = run_config
            self._n_running += 1
        return failed

    def _compact(self, recorder: ResultRecorder, configs: Any) -> int:
        """Compact the results ``recorder`` holds (spilling a full chunk), forget the configs
        of the spilled trials that have ended; the result count of the next compaction."""
        spilled = recorder.compact(configs)
        if spilled is not None:
            self._forget_spilled_configs(spilled)
        return recorder.next_compaction()

    def _forget_spilled_configs(self, trial_ids: Any) -> None:
        """The configs of the trials of a spilled chunk that have ended are never read again
        (their every result is on disk): dropped, so a long run holds no config per trial
        ever started (the backend drops its reference when the trial ends)."""
        status, configs = self.trial_status, self.trial_configs
        for trial_id in trial_ids.tolist():
            if status[trial_id] >= STOPPED:
                configs[trial_id] = None

    def _fail_trial(self, trial_id: int) -> int:
        """The backend could not run the trial (e.g. no recorded time): the trial fails."""
        self.trial_status[trial_id] = FAILED
        self.failed_trials.append(trial_id)
        trial, self.trials[trial_id] = self.trials[trial_id], None
        self.scheduler.on_trial_error(trial)
        return 1

    # ------------------------------------------------------------------ results
    def _finish(self, status: str, error: dict[str, Any] | None) -> RunResults:
        self.backend.close()
        for callback in self.callbacks:
            try:
                callback.on_tuning_end(self)
            except Exception:  # a failing progress bar must not hide the run's own outcome
                if status == "completed":
                    raise
        recorder, configs = self.recorder, self.trial_configs
        metadata = self.metadata(status, error)
        if self.results_dir is None:
            return RunResults(recorder.to_table(configs).to_pandas(), metadata, None)
        if recorder.n_spilled_chunks:  # a long run: written chunk by chunk, read back lazily
            path = write_run(
                self.results_dir,
                recorder.tables(configs),
                metadata,
                recorder.schema(configs),
                durable=self.fsync_results,
            )
            return RunResults(None, metadata, path)
        table = recorder.to_table(configs)
        path = write_run(self.results_dir, table, metadata, durable=self.fsync_results)
        return RunResults(table.to_pandas(), metadata, path)

    def metadata(self, status: str, error: dict[str, Any] | None) -> dict[str, Any]:
        """What ``metadata.json`` holds for this run (no real time for a simulated run)."""
        backend, scheduler = self.backend, self.scheduler
        scheduler_metadata = scheduler.metadata() if hasattr(scheduler, "metadata") else {}
        versions = software_versions()
        backend_metadata = backend.metadata()
        return {
            "format_version": RESULTS_FORMAT_VERSION,
            "simtune_version": versions.get("simtune"),
            "status": status,
            "error": error,
            "stop_reason": self.stop_reason,
            "benchmark": backend_metadata.get("benchmark"),
            "blackbox_kind": backend_metadata.get("blackbox_kind"),
            "fidelity_name": self.description.fidelity_name,
            "scheduler": scheduler_metadata,
            "seed": backend_metadata.get("seed"),
            "metric": scheduler.metric,
            "mode": scheduler.mode,
            **backend_metadata,
            "stop_criterion": self.stop_criterion.to_dict(),
            "n_results": len(self.recorder),
            "n_trials": len(self.trials),
            "failed_trials": list(self.failed_trials),
            "end_time": backend.current_time(),
            "versions": versions,
            **self.extra_metadata,
        }
