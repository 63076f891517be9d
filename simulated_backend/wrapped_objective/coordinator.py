"""The coordinator: one thread that places every call in simulated time and releases it.

Each call is answered at once (blackbox lookup) but its reply is held back until it is the
call's turn. With ``n`` workers, the pending calls are kept in a heap keyed by
``(finish time, trial id)``. The earliest may be released only when no call that is not
here yet could finish before it. A call that arrives later starts at the time of the last
released result (or later), so it cannot finish earlier than any pending call... unless the
optimizer is still about to start it on a worker that is free *now*. Hence the rule:

- release the earliest pending call when all ``n`` workers have a pending call (no free
  worker can start anything earlier), or
- when no new call arrived for ``quiescence`` real seconds (and, while fewer than ``n``
  callers are connected, none connected for ``worker_start_grace``): the optimizer is waiting
  for a result (the end of a run, a synchronous batch, or an optimizer that keeps fewer calls in
  flight). With ``synchronous=True`` a batch, once its first call returned, drains at once.

Ties go to the lower trial id, as in :class:`~simulated_backend.backend.SimulatorBackend`.
"""

from __future__ import annotations

import heapq
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from simulated_backend.wrapped_objective import messages
from simulated_backend.wrapped_objective.evaluation import ContinuationLedger
from simulated_backend.wrapped_objective.polling import ReadinessPoller
from simulated_backend.wrapped_objective.recorder import EvaluationRecorder
from simulated_backend.wrapped_objective.settings import RunSettings

HELLO_GRACE_SECONDS = 5.0  # a caller beyond n_workers waits this long for a slot to free


@dataclass(slots=True)
class _Caller:
    conn: Connection
    fd: int
    pid: int
    worker: int | None = None
    pending: bool = False


# a pending call in the heap: (finish time, trial id, call index, caller, start time,
# (config, fidelity, objectives, cumulative runtime), continued); a plain tuple because it is
# built and taken apart on every evaluation's path (call indices are unique: the comparison
# never reaches the caller)
_PendingCall = tuple[float, int, int, _Caller, float, tuple, bool]


class Coordinator:
    """Owns all run state; driven by :meth:`serve` on its own thread.

    Args:
        settings: budgets and release rule.
        evaluator: answers calls that bring no measurement (a blackbox evaluator with
            ``answer(config, fidelity) -> (config, fidelity, objectives, runtime)``), or ``None``.
        recorder: where returned evaluations go.
        new_connections: connections accepted by the accept thread.
        wakeup: readable end of a pipe written whenever a connection was accepted.
        control: the connection to the host process; it sends ``("close", status)``, and
            its end of file means that the host process is gone.
        on_end: called once, on this thread, when the run ends: ``(status, reason)``.
    """

    def __init__(
        self,
        settings: RunSettings,
        evaluator: Any,
        recorder: EvaluationRecorder,
        new_connections: queue.SimpleQueue,
        wakeup: Connection,
        control: Connection,
        on_end: Callable[[str, str], None],
    ) -> None:
        self.settings = settings
        self.evaluator = evaluator
        self.recorder = recorder
        self._new_connections = new_connections
        self._wakeup = wakeup
        self._control = control
        self._on_end = on_end
        self.ledger = ContinuationLedger(settings.continuation_by_config)
        self.now = 0.0
        self.status = "running"
        self.reason = ""
        self.ended = False
        self._callers: dict[int, _Caller] = {}  # by file descriptor
        self._free_workers = list(range(settings.n_workers))
        self._waiting_hellos: list[tuple[float, _Caller]] = []
        self._pending: list[_PendingCall] = []
        self._n_calls = 0
        self._draining = False
        self._last_activity = time.monotonic()
        self._last_connect = self._last_activity
        self._last_start = 0.0
        self._optimizer_cpu = self._optimizer_cpu_seconds()
        # read on every call's path: kept here rather than looked up through settings
        self._start_at_now = settings.optimizer_time.kind == "none"
        self._closing = False
        self._poller = ReadinessPoller()
        self._poller.register(wakeup.fileno())
        self._poller.register(control.fileno())

    # ------------------------------------------------------------------ the loop
    def serve(self) -> None:
        """Run until the host closes the run; the run may end earlier (budget, failure)."""
        wakeup, control, callers = self._wakeup.fileno(), self._control.fileno(), self._callers
        wait = self._poller.wait
        try:
            while not self._closing:
                ready = wait(self._timeout())
                if not ready:
                    self._on_quiet()
                for fd, _ in ready:
                    caller = callers.get(fd)
                    if caller is not None:
                        self._receive(caller)
                    elif fd == wakeup:
                        self._take_new_connections()
                    elif fd == control:
                        self._on_host_message()
                self._release_ready()
        except SystemExit:
            self._end("failed", "the coordinator process was terminated (SIGTERM)")
            raise
        except BaseException as error:
            self._end("failed", f"the coordinator failed: {type(error).__name__}: {error}")
            raise
        finally:
            for caller in list(self._callers.values()):
                caller.conn.close()
            self._poller.close()

    def _timeout(self) -> float | None:
        if self._pending:
            deadline = None if self.ended else self._quiescence_deadline()
        elif self.ended or self.settings.idle_timeout is None:
            deadline = None
        else:
            deadline = self._last_activity + self.settings.idle_timeout
        if self._waiting_hellos:
            hello_deadline = self._waiting_hellos[0][0] + HELLO_GRACE_SECONDS
            deadline = hello_deadline if deadline is None else min(deadline, hello_deadline)
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def _on_quiet(self) -> None:
        now = time.monotonic()
        while self._waiting_hellos and self._waiting_hellos[0][0] + HELLO_GRACE_SECONDS <= now:
            _, caller = self._waiting_hellos.pop(0)
            n = self.settings.n_workers
            _send(
                caller,
                (
                    messages.FAILED,
                    f"more than n_workers={n} callers are connected at once; start at most "
                    f"{n} workers (threads, processes or Dask worker threads) or raise n_workers",
                ),
            )
            self._forget(caller)
        if self.ended:
            return
        if self._pending:
            if now >= self._quiescence_deadline():
                if self.settings.synchronous:
                    self._draining = True
                self._release_earliest()
        elif (
            self.settings.idle_timeout is not None
            and now >= self._last_activity + self.settings.idle_timeout
        ):
            self._end(
                "stopped",
                f"no call for {self.settings.idle_timeout:g} s of real time: the optimizer "
                f"stopped calling after {len(self.recorder)} evaluations",
            )

    def _take_new_connections(self) -> None:
        while self._wakeup.poll():
            self._wakeup.recv_bytes()
        while True:
            try:
                conn = self._new_connections.get_nowait()
            except queue.Empty:
                break
            caller = _Caller(conn, conn.fileno(), pid=-1)
            self._callers[caller.fd] = caller
            self._poller.register(caller.fd)

    def _on_host_message(self) -> None:
        try:
            command, status = self._control.recv()
        except (EOFError, OSError):
            command, status = "close", "failed"
            if not self.ended:
                self._end(
                    "failed",
                    "the host process ended without closing the run; "
                    f"{len(self.recorder)} evaluations were recorded",
                )
        if command == "close":
            self._closing = True
            if not self.ended:
                self._end(status, f"closed by the host after {len(self.recorder)} evaluations")

    # ------------------------------------------------------------------ messages
    def _receive(self, caller: _Caller) -> None:
        try:
            message = messages.read_message(caller.fd)
        except (EOFError, OSError):
            self._disconnected(caller)
            return
        tag = message[0]
        if tag == messages.CALL:
            self._on_call(caller, message)
        elif tag == messages.HELLO:
            caller.pid = int(message[1])
            if self._free_workers:
                self._assign_worker(caller)
            else:
                self._waiting_hellos.append((time.monotonic(), caller))
        else:
            _send(caller, (messages.FAILED, f"unknown message {tag!r}"))

    def _quiescence_deadline(self) -> float:
        """When fewer calls than workers are pending, the earliest returns at this real time.

        While fewer than ``n_workers`` callers are connected, workers may still be starting
        (a spawned process importing its modules): wait ``worker_start_grace`` seconds after
        the last new connection as well, so that their first calls start at time 0.
        """
        deadline = self._last_activity + self.settings.quiescence
        if self._free_workers:  # fewer callers connected than workers
            deadline = max(deadline, self._last_connect + self.settings.worker_start_grace)
        return deadline

    def _assign_worker(self, caller: _Caller) -> None:
        self._last_connect = time.monotonic()
        worker = heapq.heappop(self._free_workers)
        caller.worker = worker
        _send(caller, (messages.WORKER, worker))

    def _forget(self, caller: _Caller) -> None:
        """Stop serving ``caller``: unregister and close its connection."""
        if self._callers.pop(caller.fd, None) is not None:
            self._poller.unregister(caller.fd)
        caller.conn.close()
        caller.fd = -1  # its number may be reused by the next connection: never write to it

    def _disconnected(self, caller: _Caller) -> None:
        self._forget(caller)
        self._waiting_hellos = [(t, c) for t, c in self._waiting_hellos if c is not caller]
        if caller.worker is not None:
            heapq.heappush(self._free_workers, caller.worker)
            if self._waiting_hellos:
                _, waiting = self._waiting_hellos.pop(0)
                self._assign_worker(waiting)
        if caller.pending and not self.ended:
            self._pending = [entry for entry in self._pending if entry[3] is not caller]
            heapq.heapify(self._pending)
            self._end(
                "failed",
                f"worker {caller.worker} (process {caller.pid}) disconnected while its call was "
                f"pending: the worker process died. {len(self.recorder)} evaluations were "
                "recorded before",
            )

    def _on_call(self, caller: _Caller, message: tuple) -> None:
        _, config, fidelity, trial_key, measured = message
        if self.ended:
            _send(caller, (messages.FINISHED, self._ended_message()))
            return
        if caller.worker is None:
            _send(caller, (messages.FAILED, "a call arrived before the caller got a worker index"))
            return
        try:
            if measured is None:
                answer = self.evaluator.answer(config, fidelity)
            else:
                answer = (config, *measured)
        except Exception as error:  # a bad config or fidelity fails this call, not the run
            _send(caller, (messages.FAILED, f"{type(error).__name__}: {error}"))
            return
        start = self.now if self._start_at_now else self._start_time()
        trial_id, charged, continued = self.ledger.begin(trial_key, answer[0], answer[1], answer[3])
        call_index = self._n_calls
        self._n_calls = call_index + 1
        heapq.heappush(
            self._pending,
            (start + charged, trial_id, call_index, caller, start, answer, continued),
        )
        caller.pending = True
        self._last_activity = time.monotonic()

    def _start_time(self) -> float:
        charge = self.settings.optimizer_time
        if charge.kind == "none":
            return self.now
        if charge.kind == "fixed":
            cost = charge.seconds_per_call
        else:
            cpu = self._optimizer_cpu_seconds()
            cost, self._optimizer_cpu = max(0.0, cpu - self._optimizer_cpu), cpu
        self._last_start = max(self.now, self._last_start) + cost
        return self._last_start

    def _optimizer_cpu_seconds(self) -> float:
        if self.settings.optimizer_time.kind != "cpu":
            return 0.0
        return process_cpu_seconds(self.settings.host_pid)

    # ------------------------------------------------------------------ releasing
    def _release_ready(self) -> None:
        pending = self._pending
        n_workers = self.settings.n_workers
        while pending and not self.ended:
            if len(pending) >= n_workers:
                if self.settings.synchronous:
                    self._draining = True
            elif not self._draining:
                break
            self._release_earliest()
        if not pending:
            self._draining = False

    def _release_earliest(self) -> None:
        entry = heapq.heappop(self._pending)
        finish, trial_id, call_index, caller, start, answer, continued = entry
        limit = self.settings.max_simulated_time
        if limit is not None and finish > limit:
            heapq.heappush(self._pending, entry)
            self.now = float(limit)
            self._end("completed", f"max_simulated_time={limit:g} s reached")
            return
        self.now = finish
        config, fidelity, objectives, cumulative_runtime = answer
        result = {
            **objectives,
            "fidelity": fidelity,
            "simulated_start_time": start,
            "simulated_time": finish,
            "worker": caller.worker,
            "trial_id": trial_id,
        }
        # the reply first: the rest of the run waits for it (the optimizer's next call), the
        # bookkeeping below does not
        _send(caller, (messages.RESULT, result))
        caller.pending = False
        self.ledger.finish(trial_id, fidelity, cumulative_runtime)
        recorder = self.recorder
        recorder.add(
            call_index,
            trial_id,
            caller.worker,
            config,
            fidelity,
            start,
            finish,
            objectives,
            continued,
        )
        self._last_activity = time.monotonic()
        maximum = self.settings.max_evaluations
        if maximum is not None and len(recorder) >= maximum:
            self._end("completed", f"max_evaluations={maximum} reached")

    # ------------------------------------------------------------------ the end
    def _ended_message(self) -> str:
        return f"the simulated run has ended ({self.status}): {self.reason}"

    def _end(self, status: str, reason: str) -> None:
        if self.ended:
            return
        self.status, self.reason = status, reason
        self.ended = True
        tag = messages.FINISHED if status == "completed" else messages.FAILED
        for entry in self._pending:
            caller = entry[3]
            caller.pending = False
            _send(caller, (tag, self._ended_message()))
        self._pending.clear()
        self._on_end(status, reason)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``; clock-tick resolution)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            fields = stream.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0  # the host is gone: nothing more to charge
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _send(caller: _Caller, message: tuple) -> None:
    try:  # (not contextlib.suppress: this is on every call's path, and try costs nothing)
        messages.write_message(caller.fd, message)
    except (OSError, EOFError, ValueError):
        return  # a caller that is gone is handled when its socket reports end of file
