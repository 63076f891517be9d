"""The objective an optimizer calls: a small picklable handle to the coordinator.

Pickling it (process pools with fork or spawn, Dask) copies only the coordinator's address
and key (and a user function, if the run uses one). Each thread of each process opens its
own connection on its first call and receives a worker index from the coordinator.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Hashable, Mapping
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
        self._local = threading.local()

    @classmethod
    def connect(cls, run_name: str, runs_dir: Path | str | None = None) -> WrappedObjective:
        """The objective of the run ``run_name`` hosted by another process on this machine."""
        address, function_objective = read_run_address(run_name, runs_dir)
        return cls(address, function_objective)

    def __getstate__(self) -> dict[str, Any]:
        return {"address": self.address, "function_objective": self.function_objective}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.address = state["address"]
        self.function_objective = state["function_objective"]
        self._local = threading.local()

    # ------------------------------------------------------------------ calls
    def __call__(
        self, config: Mapping[str, Any], fidelity: Any = None, trial_key: Hashable | None = None
    ) -> dict[str, Any]:
        plain_config = {str(k): _plain(v) for k, v in dict(config).items()}
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
        self._connection()
        return self._local.worker

    def close(self) -> None:
        """Close this thread's connection (its worker index is handed out again)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._forget_connection()

    # ------------------------------------------------------------------ connection
    def _exchange(self, message: tuple) -> tuple[str, Any]:
        conn = self._connection()
        try:
            conn.send_bytes(messages.encode(message))
            return messages.decode(conn.recv_bytes())
        except (EOFError, OSError) as error:
            self._forget_connection()
            failure = (
                "the coordinator of this wrapped objective closed the connection: the run was "
                f"closed or its host process ended ({type(error).__name__})"
            )
        raise CoordinatorUnavailable(failure)

    def _connection(self) -> Connection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None and local.pid == os.getpid():
            return conn
        try:
            conn = Client(self.address.address, self.address.family, authkey=self.address.authkey)
        except (OSError, EOFError) as error:
            raise CoordinatorUnavailable(
                f"cannot reach the coordinator at {self.address.address!r}: {error}. Is the "
                "SimulationCoordinator still open in its host process?"
            ) from None
        try:
            conn.send_bytes(messages.encode((messages.HELLO, os.getpid())))
            tag, payload = messages.decode(conn.recv_bytes())
        except (EOFError, OSError) as error:
            conn.close()
            raise CoordinatorUnavailable(
                f"the coordinator closed the connection while assigning a worker index ({error})"
            ) from None
        if tag != messages.WORKER:
            conn.close()
            raise WorkerSlotsFull(payload)
        local.conn, local.pid, local.worker = conn, os.getpid(), payload
        return conn

    def _forget_connection(self) -> None:
        self._local.conn = None


def _plain(value: Any) -> Any:
    """Numpy scalars as Python numbers (cheap to pickle, comparable across processes)."""
    item = getattr(value, "item", None)
    if item is not None and callable(item) and getattr(value, "ndim", 1) == 0:
        return item()
    return value
