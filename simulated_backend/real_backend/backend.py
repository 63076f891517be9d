"""The real backend: trials are a user's training function, run step by step on a runner.

A trial is ``objective(config, fidelity, checkpoint_dir, **shared) -> metrics``: one call
per fidelity step trains the trial from its checkpoint (a folder of its own, kept across
calls) up to ``fidelity`` and returns the metrics measured there. The backend submits
the next step of a trial only after the scheduler has decided on the previous report:

- ``CONTINUE``: the next fidelity is submitted (on the same logical worker);
- ``PAUSE``: nothing is submitted, the worker is free; ``resume_trial`` later submits the
  *next* fidelity, and the function resumes from the checkpoint it left: no work repeats;
- ``STOP``: the worker is free and the trial is over.

Each result carries ``status`` (``success``, ``crashed``, ``timeout``, ``memory-out``),
``wall_time`` and ``cpu_time`` of the call, ``error`` (exception text) and ``timestamp``
(the worker's clock when the call ended); its ``simulated_time`` is real seconds since the
run started. A failed step fails its trial (decision ``FAILED``) and the run goes on.
"""

from __future__ import annotations

import heapq
import math
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from blackbox_repository.blackbox import native, native_config
from simulated_backend.backend_protocol import (
    FIDELITY_KEY,
    REPORT_CONTINUES,
    REPORT_FAILED,
    REPORT_LAST,
    TIME_KEY,
    RunDescription,
    TrialReport,
    check_objective,
)
from simulated_backend.real_backend.runners import Runner
from simulated_backend.real_backend.trial_step import CRASHED, SUCCESS, StepLimits, StepTask

EXTRA_COLUMNS = (
    ("status", "str"),
    ("wall_time", "float"),
    ("cpu_time", "float"),
    ("error", "str"),
    ("timestamp", "float"),
)
CHECKPOINT_PREFIX = "trial-"


class RealBackend:
    """Runs real trials on ``runner``; follows :class:`~simulated_backend.backend_protocol.TrialBackend`.

    Args:
        runner: a :class:`~simulated_backend.real_backend.runners.Runner` (serial,
            processes, Dask) that holds the objective.
        fidelities: the fidelity values of a trial's steps, in order (e.g. epochs 1..30).
        objectives: metric names the objective returns, each with ``"min"`` or ``"max"``.
        fidelity_name: what the fidelity is called (e.g. ``"epoch"``).
        checkpoint_dir: parent of the trials' checkpoint folders; default: a temporary
            folder created (and removed at ``close``) by the backend.
        limits: per-call wall-time and memory limits, enforced in the worker.
        benchmark: a name for the problem, recorded in ``metadata.json``.
        ordered: release the steps' results in the order the steps were submitted, not in
            the order workers finish them. The scheduler then sees the same sequence of
            results, and makes the same decisions, whichever worker is faster (a repeatable
            run with several workers); a worker whose result waits for an earlier step's
            stays idle meanwhile. A result's ``simulated_time`` is then the later of its
            own end and the previous result's, so that the column never decreases.
    """

    def __init__(
        self,
        runner: Runner,
        fidelities: Sequence[Any],
        objectives: Mapping[str, str],
        *,
        fidelity_name: str = "epoch",
        checkpoint_dir: Path | str | None = None,
        limits: StepLimits | None = None,
        benchmark: str = "custom",
        ordered: bool = False,
    ) -> None:
        if not isinstance(runner, Runner):
            raise TypeError(
                f"runner must be a simulated_backend.real_backend Runner (SerialRunner, "
                f"ProcessRunner, DaskRunner), got {type(runner).__name__}"
            )
        fidelities = [native(value) for value in fidelities]
        if not fidelities:
            raise ValueError("fidelities must list at least one fidelity value")
        if not objectives or any(mode not in ("min", "max") for mode in objectives.values()):
            raise ValueError(
                f"objectives must map metric names to 'min' or 'max', got {dict(objectives)!r}"
            )
        self.runner = runner
        self.fidelities = fidelities
        self.objectives = dict(objectives)
        self.fidelity_name = fidelity_name
        self.limits = limits or StepLimits()
        self.benchmark = benchmark
        self.ordered = ordered
        self.n_workers = runner.n_workers
        self._own_checkpoints = checkpoint_dir is None
        self.checkpoint_dir = (
            Path(tempfile.mkdtemp(prefix="simtune-checkpoints-"))
            if checkpoint_dir is None
            else Path(checkpoint_dir)
        )
        self._metric: str | None = None
        self._closed = False
        self._reset()

    def _reset(self) -> None:
        self._start = time.time()
        self.configs: list[dict[str, Any]] = []
        self._next_position: list[int] = []
        self._workers: list[int] = []
        self._running: list[bool] = []
        self._awaiting: list[int] = []  # reported, decision pending: next step not submitted
        self._free_slots = list(range(self.n_workers))
        # ordered: trial ids of the submitted steps, oldest first, and the steps' results
        # that arrived before an older step's (a trial has at most one step in flight)
        self._submitted: deque[int] = deque()
        self._held: dict[int, Any] = {}
        self._last_time = 0.0
        self._fill_first = True

    # ---------------------------------------------------------------- the protocol
    def open(self, metric: str, mode: str) -> RunDescription:
        check_objective(self.objectives, metric, mode, self.benchmark)
        if self._closed:
            raise RuntimeError("this RealBackend was closed; create a new one for another run")
        self._metric = metric
        self.runner.start()  # worker start-up is not charged to the run's time
        self._reset()
        return RunDescription(
            objective_names=tuple(self.objectives),
            fidelity_name=self.fidelity_name,
            hyperparameter_names=(),
            extra_columns=EXTRA_COLUMNS,
            fidelity_kind="int" if all(isinstance(v, int) for v in self.fidelities) else "float",
        )

    @property
    def num_free_workers(self) -> int:
        self._submit_continued()
        return min(len(self._free_slots), self.runner.count_available())

    def current_time(self) -> float:
        """Real seconds since the run started."""
        return time.time() - self._start

    def trial_checkpoint_dir(self, trial_id: int) -> Path:
        return self.checkpoint_dir / f"{CHECKPOINT_PREFIX}{trial_id:06d}"

    def start_trial(self, trial_id: int, config: Mapping[str, Any]) -> dict[str, Any] | None:
        if trial_id != len(self.configs):
            raise ValueError(
                f"trial ids must be 0, 1, 2, ... in start order; got {trial_id}, expected {len(self.configs)}"
            )
        self._submit_continued()
        config = native_config(config)
        self.configs.append(config)
        self._next_position.append(0)
        self._workers.append(heapq.heappop(self._free_slots))
        self._running.append(True)
        self._submit(trial_id)
        return config

    def resume_trial(
        self, trial_id: int, config: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        self._submit_continued()
        if config is not None:
            self.configs[trial_id] = native_config(config)
        self._workers[trial_id] = heapq.heappop(self._free_slots)
        self._running[trial_id] = True
        self._submit(trial_id)
        return self.configs[trial_id]

    def pause_trial(self, trial_id: int) -> None:
        self._end_run_of(trial_id)

    def stop_trial(self, trial_id: int) -> None:
        self._end_run_of(trial_id)

    def next_results(self, timeout: float = 0.0) -> list[TrialReport]:
        self._submit_continued()
        if self.ordered:
            return self._next_in_submission_order(timeout)
        runner = self.runner
        outcomes = list(runner.iter_results())
        if not outcomes and timeout > 0 and runner.is_running():
            runner.wait(timeout)
            outcomes = list(runner.iter_results())
        outcomes.sort(key=lambda outcome: (outcome.finished_at, outcome.trial_id))
        reports = []
        for outcome in outcomes:
            trial_id = outcome.trial_id
            if not self._running[trial_id]:
                continue  # a step of a trial that was dropped (cannot happen in a normal run)
            reports.append(self._report(outcome))
        return reports

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._awaiting = []
        self._held.clear()
        self.runner.close()
        if self._own_checkpoints:
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)

    def metadata(self) -> dict[str, Any]:
        describe = getattr(self.runner, "describe", None)
        return {
            "benchmark": self.benchmark,
            "blackbox_kind": "real",
            "fidelity_name": self.fidelity_name,
            "seed": None,
            "backend": type(self).__name__,
            "n_workers": self.n_workers,
            "runner": describe() if describe else type(self.runner).__name__,
            "limits": {"wall_time": self.limits.wall_time, "memory_mb": self.limits.memory_mb},
            "results_released": "in submission order" if self.ordered else "as steps finish",
            "fidelities": list(self.fidelities),
            "checkpoint_dir": None if self._own_checkpoints else str(self.checkpoint_dir),
            "time": "simulated_time holds real seconds since the run started",
        }

    # ---------------------------------------------------------------- steps
    def _next_in_submission_order(self, timeout: float) -> list[TrialReport]:
        """The oldest submitted step's result, alone, once it has arrived.

        The first time it is asked after a result while a worker is free, it gives
        nothing: the Tuner then fills the free workers before it hears the next result.
        Results, decisions and starts therefore interleave the same way however fast each
        worker is.
        """
        if self._fill_first and self._free_slots:
            self._fill_first = False
            return []
        runner, held, submitted = self.runner, self._held, self._submitted
        deadline = time.monotonic() + timeout
        while submitted:
            for outcome in runner.iter_results():
                held[outcome.trial_id] = outcome
            if submitted[0] in held:
                outcome = held.pop(submitted.popleft())
                if self._running[outcome.trial_id]:
                    self._fill_first = True
                    return [self._report(outcome)]
                continue  # a step of a trial that was dropped (cannot happen in a normal run)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not runner.is_running():
                return []
            runner.wait(remaining)
        return []

    def _submit(self, trial_id: int, continued: bool = False) -> None:
        position = self._next_position[trial_id]
        if self.ordered:
            self._submitted.append(trial_id)
        self.runner.submit(
            StepTask(
                trial_id=trial_id,
                position=position,
                fidelity=self.fidelities[position],
                config=self.configs[trial_id],
                checkpoint_dir=str(self.trial_checkpoint_dir(trial_id)),
                limits=self.limits,
                continued=continued,
                submitted_at=time.time(),
            )
        )

    def _submit_continued(self) -> None:
        """Trials reported last and neither paused nor stopped go on to their next fidelity."""
        if self._awaiting:
            awaiting, self._awaiting = self._awaiting, []
            for trial_id in awaiting:
                if self._running[trial_id]:
                    self._submit(trial_id, continued=True)

    def _end_run_of(self, trial_id: int) -> None:
        if self._running[trial_id]:
            self._running[trial_id] = False
            heapq.heappush(self._free_slots, self._workers[trial_id])
        if trial_id in self._awaiting:
            self._awaiting.remove(trial_id)

    def _report(self, outcome) -> TrialReport:
        trial_id, position = outcome.trial_id, outcome.position
        status, error, metrics = outcome.status, outcome.error, dict(outcome.metrics)
        if status == SUCCESS and self._metric not in metrics:
            status = CRASHED
            error = (
                f"the objective returned {sorted(metrics)} without the tuned metric "
                f"{self._metric!r}; return it from every call"
            )
        result: dict[str, Any] = {name: math.nan for name in self.objectives}
        result.update(metrics)
        fidelity = self.fidelities[position]
        result[FIDELITY_KEY] = fidelity
        result[self.fidelity_name] = fidelity  # until every scheduler reads "fidelity"
        elapsed = outcome.finished_at - self._start
        if self.ordered:
            elapsed = self._last_time = max(elapsed, self._last_time)
        result[TIME_KEY] = elapsed
        result["worker"] = self._workers[trial_id]
        result["status"] = status
        result["wall_time"] = outcome.wall_time
        result["cpu_time"] = outcome.cpu_time
        result["error"] = error
        result["timestamp"] = outcome.finished_at
        self._next_position[trial_id] = position + 1
        if status != SUCCESS:
            self._end_run_of(trial_id)
            return trial_id, result, REPORT_FAILED
        if position == len(self.fidelities) - 1:
            self._end_run_of(trial_id)
            return trial_id, result, REPORT_LAST
        self._awaiting.append(trial_id)
        return trial_id, result, REPORT_CONTINUES
