"""The host side of a wrapped-objective run: starts the coordinator process, ends the run."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from blackbox_repository import Blackbox
from simulated_backend.results import RunResults
from simulated_backend.wrapped_objective.client import WrappedObjective
from simulated_backend.wrapped_objective.coordinator_process import (
    CoordinatorSpec,
    serve_coordinator,
)
from simulated_backend.wrapped_objective.errors import WrappedObjectiveError
from simulated_backend.wrapped_objective.evaluation import BlackboxEvaluator, FunctionObjective
from simulated_backend.wrapped_objective.recorder import Evaluation, EvaluationRecorder
from simulated_backend.wrapped_objective.run_files import write_run_address
from simulated_backend.wrapped_objective.settings import OptimizerTime, RunSettings

ADDRESS_FAMILIES = ("unix", "tcp")
START_TIMEOUT_SECONDS = 60.0
CLOSE_TIMEOUT_SECONDS = 60.0


class SimulationCoordinator:
    """Simulates ``n_workers`` parallel workers for an optimizer that calls an objective.

    Open it (``with`` block or :meth:`open`) in the optimizer's process, hand
    :attr:`objective` to the optimizer, and close it (end of the ``with`` block or
    :meth:`close`) to get the :class:`~simulated_backend.results.RunResults`. Calls return in
    the order in which ``n_workers`` parallel workers would finish them; see
    docs/wrapped-optimizers.md for the release rule and its exactness.

    Args:
        blackbox: the tabular or surrogate blackbox that answers the calls; or ``None`` with
            ``function_objective``.
        n_workers: simulated parallel workers; at most this many callers may be connected.
        max_evaluations, max_simulated_time: budgets; the run ends at the first one reached
            and later calls raise :class:`SimulationFinished`.
        function_objective: a :class:`FunctionObjective` (user function reporting its own
            runtime) instead of a blackbox.
        metric, mode: the objective the optimizer optimizes (recorded for ``simtune
            collect``); defaults: the blackbox's first objective and its mode.
        results_dir: the run's results folder, written when the run ends (also on failure).
        run_name: publish the coordinator under this name so that independently started
            processes can open it with :meth:`WrappedObjective.connect`.
        runs_dir: where run names are published (default: see ``default_runs_dir``).
        address_family: ``"unix"`` (a Unix socket, this machine) or ``"tcp"``.
        host: the TCP interface to listen on (``"0.0.0.0"`` for Dask workers on other
            machines; connections are authenticated with a random key).
        blackbox_seed: the recorded seed of the blackbox answering every call (default: the first).
        quiescence, worker_start_grace, idle_timeout, synchronous, continuation_by_config,
            optimizer_time: see
            :class:`RunSettings` and :class:`OptimizerTime`.
        metadata: extra JSON-able fields for ``metadata.json`` (e.g. ``method``, ``seed``).

    Example:
        >>> with SimulationCoordinator(blackbox, n_workers=4, max_evaluations=100) as run:  # doctest: +SKIP
        ...     with ProcessPoolExecutor(4) as pool:
        ...         futures = [pool.submit(run.objective, config, 27) for config in configs]
        >>> run.results.results  # doctest: +SKIP
    """

    def __init__(
        self,
        blackbox: Blackbox | None = None,
        *,
        n_workers: int,
        max_evaluations: int | None = None,
        max_simulated_time: float | None = None,
        function_objective: FunctionObjective | None = None,
        metric: str | None = None,
        mode: str | None = None,
        results_dir: Path | str | None = None,
        run_name: str | None = None,
        runs_dir: Path | str | None = None,
        address_family: str = "unix",
        host: str = "127.0.0.1",
        blackbox_seed: int | None = None,
        quiescence: float = 0.5,
        worker_start_grace: float = 5.0,
        idle_timeout: float | None = 60.0,
        synchronous: bool = False,
        continuation_by_config: bool = False,
        optimizer_time: OptimizerTime | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if (blackbox is None) == (function_objective is None):
            raise ValueError(
                "pass exactly one of blackbox (a tabular or surrogate blackbox) and "
                "function_objective (a FunctionObjective reporting its own runtime)"
            )
        if address_family not in ADDRESS_FAMILIES:
            raise ValueError(
                f"address_family must be one of {ADDRESS_FAMILIES}, got {address_family!r}"
            )
        self.settings = RunSettings(
            n_workers=n_workers,
            max_evaluations=max_evaluations,
            max_simulated_time=max_simulated_time,
            quiescence=quiescence,
            worker_start_grace=worker_start_grace,
            idle_timeout=idle_timeout,
            synchronous=synchronous,
            continuation_by_config=continuation_by_config,
            optimizer_time=optimizer_time or OptimizerTime.none(),
            host_pid=os.getpid(),
        )
        self.evaluator = (
            BlackboxEvaluator(blackbox, blackbox_seed) if blackbox is not None else None
        )
        self.function_objective = function_objective
        if blackbox is not None:
            metric = metric or blackbox.objective_names[0]
            objective_mode = blackbox.objective(metric).mode
            if mode is not None and mode != objective_mode:
                raise ValueError(
                    f"mode {mode!r} does not match objective {metric!r} of blackbox "
                    f"{blackbox.name!r}; use mode={objective_mode!r}"
                )
            mode = objective_mode
        elif metric is None or mode not in ("min", "max"):
            raise ValueError(
                "with a function_objective pass metric (a key of its result) and mode ('min' or 'max')"
            )
        self.metric, self.mode = metric, mode
        self.results_dir = Path(results_dir) if results_dir is not None else None
        self.run_name, self.runs_dir = run_name, runs_dir
        self.address_family, self.host = address_family, host
        self.extra_metadata = dict(metadata or {})
        self.results: RunResults | None = None
        self._process: Any = None
        self._run_file: Path | None = None
        self._objective: WrappedObjective | None = None
        self._evaluations: list[Evaluation] = []
        self._end: tuple[str, str] | None = None

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> SimulationCoordinator:
        """Start the coordinator process and wait until it listens; returns ``self``."""
        if self._process is not None:
            raise RuntimeError(
                "this SimulationCoordinator is already open; create a new one per run"
            )
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self._control, child_end = context.Pipe(duplex=True)
        spec = CoordinatorSpec(
            self.settings,
            self.evaluator,
            self.address_family,
            self.host,
            self.results_dir,
            self._base_metadata(),
            self.evaluator.objective_names if self.evaluator is not None else None,
        )
        self._process = context.Process(
            target=serve_coordinator,
            args=(child_end, self._control, spec),
            name="simtune-coordinator",
            daemon=True,
        )
        self._process.start()
        child_end.close()
        if not self._control.poll(START_TIMEOUT_SECONDS):
            self._process.terminate()
            raise WrappedObjectiveError(
                f"the coordinator process did not start listening within {START_TIMEOUT_SECONDS:g} s"
            )
        message = self._control.recv()
        if message[0] != "address":
            raise WrappedObjectiveError(message[1])
        self.address = message[1]
        self._objective = WrappedObjective(self.address, self.function_objective)
        if self.run_name is not None:
            self._run_file = write_run_address(
                self.run_name, self.runs_dir, self.address, self.function_objective
            )
        return self

    def __enter__(self) -> SimulationCoordinator:
        return self.open()

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        self.close(interrupted=exc_type is KeyboardInterrupt)

    @property
    def objective(self) -> WrappedObjective:
        """The picklable objective to hand to the optimizer."""
        if self._objective is None:
            raise RuntimeError("open the SimulationCoordinator first (with-block or .open())")
        return self._objective

    @property
    def evaluations(self) -> list[Evaluation]:
        """The calls that returned, in the order they returned (available after :meth:`close`)."""
        if self.results is None:
            raise RuntimeError("the evaluations are available once the run is closed")
        return list(self._evaluations)

    @property
    def status(self) -> str | None:
        """``None`` while the run goes on, then ``"completed"``, ``"stopped"`` or ``"failed"``."""
        self._take_messages(0)
        return self._end[0] if self._end else None

    @property
    def reason(self) -> str | None:
        """Why the run ended (``None`` while it goes on)."""
        self._take_messages(0)
        return self._end[1] if self._end else None

    def wait_until_ended(self, timeout: float | None = None) -> bool:
        """Block until the run ended (budget, failure, idle optimizer); ``False`` on timeout."""
        if self._process is None:
            raise RuntimeError("open the SimulationCoordinator first")
        self._take_messages(timeout)
        return self._end is not None

    def close(self, interrupted: bool = False) -> RunResults:
        """End the run (if it is still going), stop the coordinator and return the results."""
        if self._process is None:
            raise RuntimeError("the SimulationCoordinator was never opened")
        if self.results is not None:
            return self.results
        try:
            with contextlib.suppress(OSError):  # a coordinator that is gone is reported below
                self._control.send(("close", "interrupted" if interrupted else "completed"))
            closed = None
            while closed is None:
                if not self._control.poll(CLOSE_TIMEOUT_SECONDS):
                    break
                try:
                    message = self._control.recv()
                except (EOFError, OSError):
                    break
                if message[0] == "ended":
                    self._end = (message[1], message[2])
                elif message[0] == "closed":
                    closed = message
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.terminate()
        finally:
            if self._run_file is not None:
                self._run_file.unlink(missing_ok=True)
            self._control.close()
        if closed is None:
            raise WrappedObjectiveError(
                f"the coordinator process ended unexpectedly (exit code {self._process.exitcode}); "
                f"what it recorded before is in {self.results_dir}"
                if self.results_dir is not None
                else f"the coordinator process ended unexpectedly (exit code {self._process.exitcode})"
            )
        _, rows, metadata, path = closed
        recorder = EvaluationRecorder()
        recorder.rows.extend(rows)
        self._evaluations = recorder.evaluations
        objective_names = self.evaluator.objective_names if self.evaluator is not None else None
        table: pa.Table = recorder.to_table(objective_names)
        self.results = RunResults(table.to_pandas(), metadata, path)
        return self.results

    # ------------------------------------------------------------------ helpers
    def _take_messages(self, timeout: float | None) -> None:
        if self._end is not None or self._process is None or self.results is not None:
            return
        try:
            if self._control.poll(timeout):
                message = self._control.recv()
                if message[0] == "ended":
                    self._end = (message[1], message[2])
        except (EOFError, OSError):
            self._end = ("failed", "the coordinator process ended unexpectedly")

    def _base_metadata(self) -> dict[str, Any]:
        return {
            "method": self.extra_metadata.get("method", "wrapped-optimizer"),
            "seed": self.extra_metadata.get("seed", 0),
            "metric": self.metric,
            "mode": self.mode,
            "n_workers": self.settings.n_workers,
            "backend": "SimulationCoordinator",
            "scheduler": {"scheduler_name": "wrapped-objective"},
            "stop_criterion": {
                "max_wallclock_time": self.settings.max_simulated_time,
                "max_num_results": self.settings.max_evaluations,
            },
            "wrapped_objective": self.settings.to_dict(),
            "tie_breaking": "calls finishing at equal simulated time return in increasing trial id",
            **(
                self.evaluator.metadata()
                if self.evaluator is not None
                else self.function_objective.metadata()
            ),
            **self.extra_metadata,
        }
