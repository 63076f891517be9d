"""Local worker processes over pipes: a killed worker is detected and replaced.

Each worker is a process started with the ``forkserver`` method (``spawn`` where that is
missing) that receives :class:`StepTask` s over a pipe and sends back
:class:`StepOutcome` s. The objective and the shared keyword arguments are sent once,
when the worker starts. The parent waits on the pipes *and* on the process sentinels:
a worker that dies (SIGKILL, segfault, ``os._exit``) ends its task as ``crashed`` and a
fresh worker takes its place.

Workers die with their parent: each asks the kernel for SIGKILL when its parent exits
(``PR_SET_PDEATHSIG`` on Linux) and also exits when its pipe closes. Workers ignore
SIGINT: Ctrl-C in a terminal reaches the whole process group, and only the Tuner decides
what an interrupt means.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from multiprocessing.connection import Connection, wait
from typing import Any

from simulated_backend.real_backend.runners import RunnerError, crashed_outcome
from simulated_backend.real_backend.trial_step import StepOutcome, StepTask, execute_step

_PR_SET_PDEATHSIG = 1


def _die_with_parent(owner_pid: int) -> None:
    """Exit when the process that owns this worker is gone.

    The kernel kills the worker when its direct parent exits (with ``forkserver`` that is
    the fork server, which exits with the owner); a watchdog thread also checks the
    owner itself every half second, for every start method and platform.
    """
    direct_parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != direct_parent:  # the parent died before the request took effect
        os._exit(1)

    def watch_owner() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch_owner, name="simtune-owner-watchdog", daemon=True).start()


def _worker_main(connection: Connection, parent_pid: int) -> None:
    """Body of a worker process: receive the objective once, then tasks until EOF."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        objective, shared = connection.recv()
        while True:
            task = connection.recv()
            if task is None:
                return
            connection.send(execute_step(task, objective, shared))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the parent went away


class _Worker:
    __slots__ = ("connection", "process", "task", "started")

    def __init__(self, connection: Connection, process: multiprocessing.Process) -> None:
        self.connection = connection
        self.process = process
        self.task: StepTask | None = None
        self.started = 0.0


class ProcessRunner:
    """``n_workers`` local worker processes running :func:`execute_step`.

    Args:
        objective: the user's function; it (and ``shared``) must be picklable, e.g. a
            module-level function.
        n_workers: number of worker processes (>= 1).
        shared: keyword arguments handed to every call (sent once to each worker).
        start_method: ``multiprocessing`` start method (default ``forkserver``, else
            ``spawn``).
    """

    def __init__(
        self,
        objective: Callable[..., Mapping[str, float]],
        n_workers: int,
        shared: Mapping[str, Any] | None = None,
        start_method: str | None = None,
    ) -> None:
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be an integer >= 1, got {n_workers!r}")
        methods = multiprocessing.get_all_start_methods()
        if start_method is None:
            start_method = "forkserver" if "forkserver" in methods else "spawn"
        self.n_workers = n_workers
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            # the fork server imports the worker code once; each worker is then a cheap fork
            module = getattr(objective, "__module__", None)
            preload = ["__main__", __name__]
            if module and module != "__main__":
                preload.append(module)
            self._context.set_forkserver_preload(preload)
        self._payload = (objective, dict(shared or {}))
        self._workers: list[_Worker] = []
        self._ready: list[StepOutcome] = []
        self.n_replaced = 0
        self._closed = False

    # ---------------------------------------------------------------- workers
    def _spawn(self) -> _Worker:
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main, args=(child_end, os.getpid()), daemon=True
        )
        process.start()
        child_end.close()
        parent_end.send(self._payload)
        return _Worker(parent_end, process)

    def _ensure_workers(self) -> None:
        if self._closed:
            raise RunnerError("the process runner is closed")
        while len(self._workers) < self.n_workers:
            self._workers.append(self._spawn())

    def start(self) -> None:
        """Start the worker processes now (else they start at the first ``submit``)."""
        self._ensure_workers()

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (starting them if needed)."""
        self._ensure_workers()
        return [worker.process.pid for worker in self._workers]

    # ---------------------------------------------------------------- the protocol
    def submit(self, task: StepTask) -> None:
        self._ensure_workers()
        for worker in self._workers:
            if worker.task is None:
                worker.task, worker.started = task, time.time()
                worker.connection.send(task)
                return
        raise RunnerError("no worker is free: check count_available() before submit()")

    def _collect(self, timeout: float | None) -> None:
        busy = [worker for worker in self._workers if worker.task is not None]
        if not busy:
            return
        handles: dict[Any, _Worker] = {}
        for worker in busy:
            handles[worker.connection] = worker
            handles[worker.process.sentinel] = worker
        for handle in wait(list(handles), timeout):
            worker = handles[handle]
            if worker.task is None:
                continue  # already handled through its other handle
            if handle is worker.connection:
                try:
                    self._ready.append(worker.connection.recv())
                    worker.task = None
                    continue
                except (EOFError, OSError):
                    pass  # the pipe broke: the worker died mid-send
            self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.process.join(timeout=1.0)
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        self._ready.append(
            crashed_outcome(
                worker.task,
                f"the worker process {worker.process.pid} died ({how}) while running this step",
                worker.started,
            )
        )
        worker.task = None
        worker.connection.close()
        index = self._workers.index(worker)
        self._workers[index] = self._spawn()
        self.n_replaced += 1

    def iter_results(self) -> Iterator[StepOutcome]:
        self._collect(0)
        ready, self._ready = self._ready, []
        yield from ready

    def wait(self, timeout: float | None = None) -> None:
        if not self._ready:
            self._collect(timeout)

    def is_running(self) -> bool:
        return bool(self._ready) or any(worker.task is not None for worker in self._workers)

    def count_available(self) -> int:
        if not self._workers:
            return self.n_workers
        return sum(worker.task is None for worker in self._workers)

    def close(self) -> None:
        """Stop every worker: idle ones are told to exit, busy ones are killed."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            try:
                if worker.task is None:
                    worker.connection.send(None)
                else:
                    worker.process.kill()
            except OSError:
                pass
        for worker in self._workers:
            worker.process.join(timeout=2.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=2.0)
            worker.connection.close()
        self._workers = []
        self._ready = []

    def describe(self) -> dict[str, Any]:
        return {
            "runner": "processes",
            "n_workers": self.n_workers,
            "start_method": self._context.get_start_method(),
        }
