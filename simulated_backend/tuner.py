"""The Tuner: drives a scheduler through a simulator backend and records every result.

The loop: ask the scheduler for work while workers are free; let the SimulatorCallback
jump the clock to the next pending result; hand it to the scheduler; apply its decision
(continue, pause, stop; a trial at its max fidelity completes); check the stop criterion.
All results at the same simulated time are handed to the scheduler before it is asked
for new work, so it decides with everything known at that moment.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulated_backend.backend import SimulatorBackend
from simulated_backend.callback import ProgressCallback, SimulatorCallback, TunerCallback
from simulated_backend.errors import SchedulerFailure, SchedulerProtocolError
from simulated_backend.results import (
    RESULTS_FORMAT_VERSION,
    ResultRecorder,
    RunResults,
    software_versions,
    write_run,
)
from simulated_backend.schedulers.protocol import (
    Trial,
    TrialScheduler,
    TrialSuggestion,
    check_metric_and_mode,
)
from simulated_backend.stop_criterion import StopCriterion, TuningStatus

RUNNING, PAUSED, STOPPED, COMPLETED, FAILED = range(5)
_CONTINUE, _PAUSE, _STOP, _COMPLETED = range(4)  # codes of results.DECISIONS


class Tuner:
    """Runs ``scheduler`` on ``backend`` until ``stop_criterion`` is met.

    Args:
        scheduler: any object following :class:`TrialScheduler`'s protocol.
        backend: the :class:`SimulatorBackend` (holds the blackbox and the workers).
        stop_criterion: the budgets of the run.
        results_dir: if given, ``results.parquet`` and ``metadata.json`` are written there
            when the run ends, also when the scheduler fails or the run is interrupted.
        metadata: extra JSON-able fields for ``metadata.json`` (e.g. method and task names).
        progress: show a progress bar in simulated time.
        callbacks: extra :class:`TunerCallback` objects.

    Example:
        >>> tuner = Tuner(scheduler, SimulatorBackend(blackbox, n_workers=4),  # doctest: +SKIP
        ...               StopCriterion(max_wallclock_time=3600))
        >>> run = tuner.run()  # doctest: +SKIP
    """

    def __init__(
        self,
        scheduler: TrialScheduler,
        backend: SimulatorBackend,
        stop_criterion: StopCriterion,
        *,
        results_dir: Path | str | None = None,
        metadata: dict[str, Any] | None = None,
        progress: bool = False,
        callbacks: Sequence[TunerCallback] = (),
    ) -> None:
        blackbox = backend.blackbox
        check_metric_and_mode(
            getattr(scheduler, "metric", None), getattr(scheduler, "mode", None), blackbox
        )
        if not isinstance(stop_criterion, StopCriterion):
            raise TypeError(
                f"stop_criterion must be a StopCriterion, got {type(stop_criterion).__name__}"
            )
        self.scheduler = scheduler
        self.backend = backend
        self.stop_criterion = stop_criterion
        self.results_dir = Path(results_dir) if results_dir is not None else None
        self.extra_metadata = dict(metadata or {})
        self.callbacks = list(callbacks)
        if progress:
            total = stop_criterion.max_wallclock_time
            self.callbacks.append(
                ProgressCallback(total=total, unit="simulated s" if total else "s")
            )
        simulator_callbacks = [c for c in self.callbacks if isinstance(c, SimulatorCallback)]
        if not simulator_callbacks:
            simulator_callbacks = [SimulatorCallback()]
            self.callbacks.insert(0, simulator_callbacks[0])
        self.simulator_callback = simulator_callbacks[0]
        self.trials: list[Trial] = []
        self.trial_status: list[int] = []
        self.failed_trials: list[int] = []
        self.stop_reason = ""

    # ------------------------------------------------------------------ the run
    def run(self) -> RunResults:
        """Run to the stop criterion; returns (and writes, if ``results_dir``) the results."""
        self.backend.reset()
        self.trials, self.trial_status, self.failed_trials = [], [], []
        self._n_paused = 0
        self.recorder = ResultRecorder(self.backend.blackbox)
        status, error, current = "completed", None, [None]
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
                f"; the {len(run.results)} results recorded so far are in {run.path}"
                if run.path
                else ""
            )
            raise SchedulerFailure(
                f"the run stopped: {type(exception).__name__}: {exception}{where}{saved}",
                current[0],
            ) from exception
        return self._finish(status, error)

    def _loop(self, current: list) -> None:  # noqa: C901 - the hot loop is kept in one place on purpose
        backend = self.backend
        scheduler = self.scheduler
        blackbox = backend.blackbox
        stop = self.stop_criterion
        clock = backend.clock
        budget = stop.max_wallclock_time if stop.max_wallclock_time is not None else math.inf
        max_results = stop.max_num_results or math.inf
        max_started = stop.max_num_trials_started or math.inf
        max_finished = stop.max_num_trials_finished or math.inf
        target = stop.target_metric_value
        minimize = scheduler.mode == "min"
        predicate = stop.predicate
        metric_index = blackbox.objective_index(scheduler.metric)
        names = blackbox.objective_names
        fidelity_name = blackbox.fidelity_name
        fidelity_values = backend.fidelity_values
        last_position = backend.last_fidelity_index
        trials, trial_status = self.trials, self.trial_status
        recorder = self.recorder
        record_trial, record_worker = recorder.trial_ids.append, recorder.workers.append
        record_position, record_time = recorder.positions.append, recorder.times.append
        record_decision = recorder.decisions.append
        record_row = None if recorder.gather_from_table else recorder.rows.append
        workers = backend.workers
        on_result, on_complete = scheduler.on_trial_result, scheduler.on_trial_complete
        advance_clock = self.simulator_callback.advance_clock
        prepare_next, push_prepared = backend.prepare_next, backend.push_prepared
        result_callbacks = [
            c.on_trial_result
            for c in self.callbacks
            if type(c).on_trial_result is not TunerCallback.on_trial_result
        ]
        events = backend._events
        n_results = 0
        n_finished = 0
        best = math.inf if minimize else -math.inf
        while True:
            # 1. give free workers work, unless more results are due at this very moment
            if (
                backend.num_free_workers
                and (len(trials) < max_started or self._n_paused)
                and not (events and events[0][0] <= clock.now)
            ):
                n_finished += self._fill_workers(max_started, current)
                if n_finished >= max_finished:
                    self.stop_reason = "max_num_trials_finished"
                    return
            # 2. jump the clock to the next result
            time = advance_clock(backend)
            if time is None:
                self.stop_reason = (
                    "max_num_trials_started reached and every trial ended"
                    if len(trials) >= max_started
                    else "the scheduler has nothing more to run"
                )
                return
            if time > budget:
                clock.now = budget
                self.stop_reason = "max_wallclock_time"
                return
            time, trial_id, position, row = backend.pop_event()
            current[0] = trial_id
            trial = trials[trial_id]
            # a trial completes at the max fidelity, or where its recorded curve ends
            is_last = position == last_position or not prepare_next(trial_id)
            result = dict(zip(names, row))
            result[fidelity_name] = result["fidelity"] = fidelity_values[position]
            result["simulated_time"] = time
            decision = on_result(trial, result)
            # 3. apply the decision
            if is_last:
                code = _COMPLETED
                trial_status[trial_id] = COMPLETED
                backend.release_worker(trial_id)
                on_complete(trial, result)
                n_finished += 1
            elif decision == "CONTINUE":
                code = _CONTINUE
                push_prepared(trial_id)
            elif decision == "PAUSE":
                code = _PAUSE
                trial_status[trial_id] = PAUSED
                self._n_paused += 1
                backend.release_worker(trial_id)
            elif decision == "STOP":
                code = _STOP
                trial_status[trial_id] = STOPPED
                backend.release_worker(trial_id)
                n_finished += 1
            else:
                raise SchedulerProtocolError(
                    f"on_trial_result returned {decision!r}; it must return 'CONTINUE', 'PAUSE' or 'STOP'"
                )
            record_trial(trial_id)
            record_worker(workers[trial_id])
            record_position(position)
            record_time(time)
            record_decision(code)
            if record_row is not None:
                record_row(row)
            n_results += 1
            for callback in result_callbacks:
                callback(trial, result, decision)
            # 4. stop criteria
            value = row[metric_index]
            if (value < best) if minimize else (value > best):
                best = value
            if n_results >= max_results:
                self.stop_reason = "max_num_results"
                return
            if n_finished >= max_finished:
                self.stop_reason = "max_num_trials_finished"
                return
            if target is not None and ((best <= target) if minimize else (best >= target)):
                self.stop_reason = "target_metric_value"
                return
            if predicate is not None and predicate(
                TuningStatus(time, len(trials), n_finished, n_results, float(best))
            ):
                self.stop_reason = "predicate"
                return

    def _fill_workers(self, max_started: float, current: list) -> int:
        """Ask for work while workers are free; returns how many trials failed at start."""
        backend, scheduler = self.backend, self.scheduler
        trials, trial_status = self.trials, self.trial_status
        failed = 0
        while backend.num_free_workers:
            if len(trials) >= max_started and not self._n_paused:
                break
            suggestion = scheduler.suggest()
            if suggestion is None:
                break
            if not isinstance(suggestion, TrialSuggestion):
                raise SchedulerProtocolError(
                    f"suggest() returned {type(suggestion).__name__}; it must return a TrialSuggestion or None"
                )
            if suggestion.resume_trial_id is None:
                if len(trials) >= max_started:
                    break  # the start budget is spent: the suggestion is dropped, documented
                if suggestion.config is None:
                    raise SchedulerProtocolError(
                        "suggest() asked to start a trial without a config"
                    )
                trial_id = len(trials)
                current[0] = trial_id
                started = backend.start_trial(trial_id, suggestion.config, suggestion.config_index)
                trial = Trial(trial_id, backend.configs[trial_id], backend.clock.now)
                trials.append(trial)
                trial_status.append(RUNNING)
                scheduler.on_trial_add(trial)
            else:
                trial_id = suggestion.resume_trial_id
                current[0] = trial_id
                if not (0 <= trial_id < len(trials)) or trial_status[trial_id] != PAUSED:
                    state = (
                        "unknown"
                        if not (0 <= trial_id < len(trials))
                        else ("running", "paused", "stopped", "completed", "failed")[
                            trial_status[trial_id]
                        ]
                    )
                    raise SchedulerProtocolError(
                        f"suggest() asked to resume trial {trial_id}, which is {state}, not paused"
                    )
                trial_status[trial_id] = RUNNING
                self._n_paused -= 1
                started = backend.resume_trial(trial_id, suggestion.config)
                trials[trial_id].config = backend.configs[trial_id]
            if not started:
                failed += self._fail_trial(trial_id)
        return failed

    def _fail_trial(self, trial_id: int) -> int:
        """The blackbox has no elapsed time for the trial's next step: the trial fails."""
        self.trial_status[trial_id] = FAILED
        self.failed_trials.append(trial_id)
        self.backend.release_worker(trial_id)
        self.scheduler.on_trial_error(self.trials[trial_id])
        return 1

    # ------------------------------------------------------------------ results
    def _finish(self, status: str, error: dict[str, Any] | None) -> RunResults:
        self.backend.drop_running()
        for callback in self.callbacks:
            try:
                callback.on_tuning_end(self)
            except Exception:  # a failing progress bar must not hide the run's own outcome
                if status == "completed":
                    raise
        backend = self.backend
        table = self.recorder.to_table(
            backend.configs, backend.config_indices, backend.seed_indices
        )
        metadata = self.metadata(status, error)
        path = None
        if self.results_dir is not None:
            path = write_run(self.results_dir, table, metadata)
        return RunResults(table.to_pandas(), metadata, path)

    def metadata(self, status: str, error: dict[str, Any] | None) -> dict[str, Any]:
        """What ``metadata.json`` holds for this run (no real time: it must be reproducible)."""
        backend, scheduler = self.backend, self.scheduler
        scheduler_metadata = scheduler.metadata() if hasattr(scheduler, "metadata") else {}
        versions = software_versions()
        return {
            "format_version": RESULTS_FORMAT_VERSION,
            "simtune_version": versions.get("simtune"),
            "status": status,
            "error": error,
            "stop_reason": self.stop_reason,
            "benchmark": backend.blackbox.name,
            "blackbox_kind": backend.blackbox.kind,
            "fidelity_name": backend.blackbox.fidelity_name,
            "scheduler": scheduler_metadata,
            "seed": backend.seed,
            "metric": scheduler.metric,
            "mode": scheduler.mode,
            **backend.metadata(),
            "stop_criterion": self.stop_criterion.to_dict(),
            "n_results": len(self.recorder),
            "n_trials": len(self.trials),
            "failed_trials": list(self.failed_trials),
            "end_time": backend.clock.now,
            "versions": versions,
            **self.extra_metadata,
        }
