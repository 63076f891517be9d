"""The coordinator's own process: listens, runs the :class:`Coordinator`, saves the run.

Running it in a process of its own keeps it off the optimizer's GIL (a coordinator thread
in the optimizer's process would wait for the optimizer's threads on every message) and
lets it save the run when the optimizer's process dies: its end of the control pipe then
reports end of file, and the coordinator writes everything recorded so far and exits.

Messages to the host: ``("address", RunAddress)`` once listening, ``("ended", status,
reason)`` when the run ends, ``("closed", rows, metadata, path)`` on close (``rows``: the
fields of every returned :class:`Evaluation`, see :class:`EvaluationRecorder`), or
``("error", message)`` if it could not start.
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection, Listener, Pipe
from pathlib import Path
from typing import Any

from simulated_backend.wrapped_objective import messages
from simulated_backend.wrapped_objective.coordinator import Coordinator
from simulated_backend.wrapped_objective.recorder import EvaluationRecorder
from simulated_backend.wrapped_objective.run_files import RunAddress
from simulated_backend.wrapped_objective.settings import RunSettings


@dataclass(frozen=True, slots=True)
class CoordinatorSpec:
    """Everything the coordinator process needs (pickled when processes are spawned)."""

    settings: RunSettings
    evaluator: Any
    address_family: str
    host: str
    results_dir: Path | None
    metadata: dict[str, Any]
    objective_names: list[str] | None


def serve_coordinator(control: Connection, host_end: Connection, spec: CoordinatorSpec) -> None:
    """Entry point of the coordinator process.

    ``host_end`` is the host's end of the control pipe, inherited by a forked process: it is
    closed first, or the host's death would never show as end of file here.
    """
    host_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host handles Ctrl-C and closes the run
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # everything inherited from the host (its modules, its optimizer's objects) stays for the
    # whole run: the collector need never walk it again (a full collection in a long run
    # would walk the host's whole heap, and copy its pages on the way)
    gc.freeze()
    socket_dir = None
    try:
        authkey = os.urandom(32)
        if spec.address_family == "unix":
            socket_dir = tempfile.mkdtemp(prefix="simtune-")
            listener = Listener(os.path.join(socket_dir, "c"), "AF_UNIX", authkey=authkey)
            address = RunAddress(listener.address, "AF_UNIX", authkey)
        else:
            listener = Listener((spec.host, 0), "AF_INET", authkey=authkey)
            address = RunAddress(listener.address, "AF_INET", authkey)
    except Exception as error:
        control.send(("error", f"the coordinator cannot listen: {type(error).__name__}: {error}"))
        return
    recorder = EvaluationRecorder()
    new_connections: queue.SimpleQueue = queue.SimpleQueue()
    wakeup_reader, wakeup_writer = Pipe(duplex=False)
    saved: dict[str, Any] = {}

    def save(status: str, reason: str) -> None:
        metadata = {
            **spec.metadata,
            "status": status if status != "stopped" else "completed",
            "stop_reason": reason,
            "error": {"message": reason} if status == "failed" else None,
        }
        if "max_simulated_time" in reason and status == "completed":
            metadata["end_time"] = coordinator.now
        run = recorder.write(spec.results_dir, metadata, spec.objective_names)
        saved.update(metadata=run.metadata, path=run.path)
        with contextlib.suppress(OSError):
            control.send(("ended", status, reason))

    coordinator = Coordinator(
        spec.settings, spec.evaluator, recorder, new_connections, wakeup_reader, control, save
    )

    def accept() -> None:
        while True:
            try:
                conn = listener.accept()
            except OSError:  # includes AuthenticationError: a caller with a wrong key
                continue
            if address.family == "AF_INET":
                with contextlib.suppress(OSError):  # a caller already gone fails at its read
                    messages.no_delay(conn)
            new_connections.put(conn)
            wakeup_writer.send_bytes(b"")

    threading.Thread(target=accept, name="simtune-accept", daemon=True).start()
    control.send(("address", address))
    try:
        coordinator.serve()
    finally:
        listener.close()  # also removes the socket file
        if socket_dir is not None:
            shutil.rmtree(socket_dir, ignore_errors=True)
    with contextlib.suppress(OSError):
        control.send(("closed", recorder.rows, saved.get("metadata"), saved.get("path")))


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)
