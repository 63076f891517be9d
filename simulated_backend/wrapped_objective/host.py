"""The host side of a wrapped-objective run: opens the coordinator, ends and saves the run."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import tempfile
import threading
from multiprocessing.connection import Client, Listener, Pipe
from pathlib import Path
from typing import Any

from blackbox_repository import Blackbox
from simulated_backend.results import RunResults
from simulated_backend.wrapped_objective.client import WrappedObjective
from simulated_backend.wrapped_objective.coordinator import Coordinator
from simulated_backend.wrapped_objective.evaluation import BlackboxEvaluator, FunctionObjective
from simulated_backend.wrapped_objective.recorder import Evaluation, EvaluationRecorder
from simulated_backend.wrapped_objective.run_files import RunAddress, write_run_address
from simulated_backend.wrapped_objective.settings import OptimizerTime, RunSettings

ADDRESS_FAMILIES = ("unix", "tcp")


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
        quiescence, idle_timeout, synchronous, continuation_by_config, optimizer_time: see
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
            idle_timeout=idle_timeout,
            synchronous=synchronous,
            continuation_by_config=continuation_by_config,
            optimizer_time=optimizer_time or OptimizerTime.none(),
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
        self.recorder = EvaluationRecorder()
        self.results: RunResults | None = None
        self._coordinator: Coordinator | None = None
        self._threads: list[threading.Thread] = []
        self._socket_dir: str | None = None
        self._run_file: Path | None = None
        self._objective: WrappedObjective | None = None
        self._end_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> SimulationCoordinator:
        """Start listening; returns ``self``."""
        if self._coordinator is not None:
            raise RuntimeError(
                "this SimulationCoordinator is already open; create a new one per run"
            )
        authkey = os.urandom(32)
        if self.address_family == "unix":
            self._socket_dir = tempfile.mkdtemp(prefix="simtune-")
            listener = Listener(os.path.join(self._socket_dir, "c"), "AF_UNIX", authkey=authkey)
        else:
            listener = Listener((self.host, 0), "AF_INET", authkey=authkey)
        family = "AF_UNIX" if self.address_family == "unix" else "AF_INET"
        self.address = RunAddress(listener.address, family, authkey)
        self._listener = listener
        self._objective = WrappedObjective(self.address, self.function_objective)
        new_connections: queue.SimpleQueue = queue.SimpleQueue()
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        wakeup_reader, self._wakeup_writer = Pipe(duplex=False)
        self._wakeup_lock = threading.Lock()
        self._coordinator = Coordinator(
            self.settings,
            self.evaluator,
            self.recorder,
            new_connections,
            wakeup_reader,
            self._commands,
            self._save,
        )
        self._accepting = True
        self._threads = [
            threading.Thread(
                target=self._accept, args=(new_connections,), name="simtune-accept", daemon=True
            ),
            threading.Thread(
                target=self._coordinator.serve, name="simtune-coordinator", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()
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
        """The calls returned so far, in the order they returned."""
        return list(self.recorder.evaluations)

    @property
    def ended(self) -> bool:
        return self._coordinator is not None and self._coordinator.ended.is_set()

    def wait_until_ended(self, timeout: float | None = None) -> bool:
        """Block until the run ended (budget, failure, idle optimizer); ``False`` on timeout."""
        if self._coordinator is None:
            raise RuntimeError("open the SimulationCoordinator first")
        return self._coordinator.ended.wait(timeout)

    def close(self, interrupted: bool = False) -> RunResults:
        """End the run (if it is still going), stop the coordinator and return the results."""
        coordinator = self._coordinator
        if coordinator is None:
            raise RuntimeError("the SimulationCoordinator was never opened")
        if self._threads:
            self._commands.put(("close", "interrupted" if interrupted else "completed"))
            self._wake()
            self._threads[1].join()
            self._accepting = False
            # wakes the accept thread, which then sees _accepting is False
            with contextlib.suppress(OSError):
                Client(
                    self.address.address, self.address.family, authkey=self.address.authkey
                ).close()
            self._threads[0].join(timeout=5)
            self._listener.close()
            self._threads = []
            if self._run_file is not None:
                self._run_file.unlink(missing_ok=True)
            if self._socket_dir is not None:
                shutil.rmtree(self._socket_dir, ignore_errors=True)
        assert self.results is not None
        return self.results

    # ------------------------------------------------------------------ threads
    def _accept(self, new_connections: queue.SimpleQueue) -> None:
        while self._accepting:
            try:
                conn = self._listener.accept()
            except OSError:  # includes AuthenticationError: a caller with a wrong key
                if not self._accepting:
                    return
                continue
            if not self._accepting:
                conn.close()
                return
            new_connections.put(conn)
            self._wake()

    def _wake(self) -> None:
        with self._wakeup_lock:
            self._wakeup_writer.send_bytes(b"")

    def _save(self, status: str, reason: str) -> None:
        """Called once by the coordinator when the run ends: write everything recorded."""
        coordinator = self._coordinator
        metadata = {
            "status": status if status != "stopped" else "completed",
            "stop_reason": reason,
            "error": None if status != "failed" else {"message": reason},
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
        if coordinator is not None and status == "completed" and "max_simulated_time" in reason:
            metadata["end_time"] = coordinator.now
        objective_names = self.evaluator.objective_names if self.evaluator is not None else None
        self.results = self.recorder.write(self.results_dir, metadata, objective_names)
