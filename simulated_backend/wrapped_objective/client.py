"""The objective an optimizer calls: a small picklable handle to the coordinator.

Pickling it (process pools with fork or spawn, Dask) copies only the coordinator's address
and key (and a user function, if the run uses one). Each thread of each process opens its
own connection to a run on its first call and receives a worker index from the coordinator.

The connection belongs to the thread, not to the handle: a process pool unpickles a fresh
handle for every task, and opening a connection per task (connect, HMAC handshake, worker
index) cost more than the call itself. :class:`ThreadConnections` keeps one connection per
run address per thread, reused by every handle of that run in the thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection
from pathlib import Path
from typing import Any

from simulated_backend.wrapped_objective import messages
from simulated_backend.wrapped_objective.errors import (
    CoordinatorUnavailable,
    SimulationFinished,
    WorkerLost,
    WorkerSlotsFull,
    WrappedObjectiveError,
)
from simulated_backend.wrapped_objective.run_files import RunAddress, read_run_address


class WrappedObjective:
    """``objective(config, fidelity=None, trial_key=None) -> dict``, in simulated-time order.

    The call returns the measured objectives plus ``fidelity``, ``simulated_start_time``,
    ``simulated_time`` (when the call finished in simulated time), ``worker`` and
    ``trial_id``; it returns only when it is the call's turn. Pass ``trial_key`` (e.g. a
    config id) to mark a call as the continuation of an earlier evaluation at a lower
    fidelity: it is then charged only the remaining runtime.

    Get one from :attr:`SimulationCoordinator.objective`, or in an independently started
    process with :meth:`connect`.
    """

    def __init__(self, address: RunAddress, function_objective: Any = None) -> None:
        self.address = address
        self.function_objective = function_objective

    def __reduce__(self) -> tuple:
        # pickled with every task a process pool sends (by its feeder thread, in the
        # optimizer's process) and unpickled by the worker: one global and plain values
        # (each global costs an import lookup both ways), and the worker gets back the handle
        # it unpickled for the previous task (see LastHandle)
        address = self.address
        return _unpickle_objective, (
            address.address,
            address.family,
            address.authkey,
            self.function_objective,
        )

    @classmethod
    def connect(cls, run_name: str, runs_dir: Path | str | None = None) -> WrappedObjective:
        """The objective of the run ``run_name`` hosted by another process on this machine."""
        address, function_objective = read_run_address(run_name, runs_dir)
        return cls(address, function_objective)

    # ------------------------------------------------------------------ calls
    def __call__(
        self, config: Mapping[str, Any], fidelity: Any = None, trial_key: Hashable | None = None
    ) -> dict[str, Any]:
        plain_config = (
            config if _is_plain(config) else {str(k): _plain(v) for k, v in dict(config).items()}
        )
        measured = None
        if self.function_objective is not None:
            measurement = self.function_objective.measure(plain_config, fidelity)
            plain_config = measurement.config
            measured = (
                measurement.fidelity,
                measurement.objectives,
                measurement.cumulative_runtime,
            )
        tag, payload = self._exchange(
            (messages.CALL, plain_config, _plain(fidelity), trial_key, measured)
        )
        # raised from this frame, which holds no connection: a traceback the optimizer keeps
        # (futures keep them) must not keep this thread's connection and worker slot open
        if tag == messages.RESULT:
            return payload
        if tag == messages.FINISHED:
            raise SimulationFinished(payload)
        if "disconnected while its call was pending" in payload:
            raise WorkerLost(payload)
        raise WrappedObjectiveError(payload)

    @property
    def worker_index(self) -> int:
        """This thread's worker index (connects first if needed)."""
        return self._connection().worker

    def close(self) -> None:
        """Close this thread's connection to the run (its worker index is handed out again)."""
        _THREAD_CONNECTIONS.close(self.address)

    # ------------------------------------------------------------------ connection
    def _exchange(self, message: tuple) -> tuple[str, Any]:
        fd = self._connection().fd
        try:
            messages.write_message(fd, message)
            return messages.read_message(fd)
        except (EOFError, OSError) as error:
            _THREAD_CONNECTIONS.close(self.address)
            failure = (
                "the coordinator of this wrapped objective closed the connection: the run was "
                f"closed or its host process ended ({type(error).__name__})"
            )
        raise CoordinatorUnavailable(failure)

    def _connection(self) -> OpenConnection:
        opened = _THREAD_CONNECTIONS.get(self.address)
        if opened is not None:
            return opened
        try:
            conn = Client(self.address.address, self.address.family, authkey=self.address.authkey)
        except (OSError, EOFError) as error:
            raise CoordinatorUnavailable(
                f"cannot reach the coordinator at {self.address.address!r}: {error}. Is the "
                "SimulationCoordinator still open in its host process?"
            ) from None
        if self.address.family == "AF_INET":
            messages.no_delay(conn)
        try:
            messages.send(conn, (messages.HELLO, os.getpid()))
            tag, payload = messages.receive(conn)
        except (EOFError, OSError) as error:
            conn.close()
            raise CoordinatorUnavailable(
                f"the coordinator closed the connection while assigning a worker index ({error})"
            ) from None
        if tag != messages.WORKER:
            conn.close()
            raise WorkerSlotsFull(payload)
        opened = OpenConnection(conn, conn.fileno(), _THIS_PROCESS.pid, payload)
        _THREAD_CONNECTIONS.put(self.address, opened)
        return opened


@dataclass(frozen=True, slots=True)
class OpenConnection:
    """A thread's connection to one run (and its descriptor), the process that opened it and
    its worker index."""

    conn: Connection
    fd: int
    pid: int
    worker: int


class ThreadConnections:
    """Per thread: the open connection to each run address (see the module docstring).

    A connection inherited through ``fork`` belongs to the parent and is never used (nor
    closed) by the child. Connections to runs whose coordinator is gone are closed when the
    thread opens its next connection, so a long-lived pool process does not collect them.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def _table(self) -> dict[RunAddress, OpenConnection]:
        table = getattr(self._local, "table", None)
        if table is None:
            table = self._local.table = {}
        return table

    def get(self, address: RunAddress) -> OpenConnection | None:
        opened = self._table().get(address)
        if opened is not None and opened.pid == _THIS_PROCESS.pid:
            return opened
        return None

    def put(self, address: RunAddress, opened: OpenConnection) -> None:
        table = self._table()
        for other, entry in list(table.items()):
            if entry.pid != _THIS_PROCESS.pid:  # inherited through fork: the parent's
                del table[other]
            elif _is_closed_by_peer(entry.conn):
                entry.conn.close()
                del table[other]
        table[address] = opened

    def close(self, address: RunAddress) -> None:
        opened = self._table().pop(address, None)
        if opened is not None and opened.pid == _THIS_PROCESS.pid:
            opened.conn.close()


def _is_closed_by_peer(conn: Connection) -> bool:
    """An idle connection is readable only when the coordinator closed it (or is gone)."""
    try:
        return conn.closed or conn.poll(0)
    except (OSError, EOFError, ValueError):
        return True


class LastHandle:
    """The handle this process unpickled last, returned again for the same run.

    A process pool unpickles the objective with every task; building a new handle and its
    frozen :class:`RunAddress` each time cost more than comparing them. A handle with a
    user function is built afresh (the function is whatever the task carried).
    """

    def __init__(self) -> None:
        self.handle: WrappedObjective | None = None

    def unpickle(
        self, address: Any, family: str, authkey: bytes, function_objective: Any
    ) -> WrappedObjective:
        handle = self.handle
        if function_objective is None and handle is not None:
            known = handle.address
            if known.authkey == authkey and known.address == address and known.family == family:
                return handle
        handle = WrappedObjective(RunAddress(address, family, authkey), function_objective)
        if function_objective is None:
            self.handle = handle
        return handle


class ProcessId:
    """This process's id, kept current across ``fork`` (``os.getpid`` is a system call, and
    every call checks that its connection was opened by this process)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.pid = os.getpid()


_THIS_PROCESS = ProcessId()

# the connections of the threads of this process (module level: the handles that share them
# are unpickled afresh for every task of a pool)
_THREAD_CONNECTIONS = ThreadConnections()

# the handle this process unpickled last
_LAST_HANDLE = LastHandle()


def _unpickle_objective(
    address: Any, family: str, authkey: bytes, function_objective: Any
) -> WrappedObjective:
    """Rebuilds a pickled :class:`WrappedObjective` (see its ``__reduce__``)."""
    return _LAST_HANDLE.unpickle(address, family, authkey, function_objective)


_PLAIN_TYPES = frozenset({int, float, str, bool, type(None)})


def _is_plain(config: Any) -> bool:
    """Whether ``config`` is a dict of str keys to plain Python values (sent as it is)."""
    if type(config) is not dict:
        return False
    for key, value in config.items():
        if type(key) is not str or type(value) not in _PLAIN_TYPES:
            return False
    return True


def _plain(value: Any) -> Any:
    """Numpy scalars as Python numbers (cheap to pickle, comparable across processes)."""
    item = getattr(value, "item", None)
    if item is not None and callable(item) and getattr(value, "ndim", 1) == 0:
        return item()
    return value
