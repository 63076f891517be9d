"""A child process that runs evaluations for a Dask worker, so that objectives cannot take
the worker down with them or hold it forever.

A Dask worker keeps one :class:`EvaluationSandbox` per thread: a plain Python process
started once and reused for every evaluation. The worker sends it a function and its
argument over a pipe and waits for the answer with a deadline:

- the objective ends its process (``os._exit``, a segfault, the OOM killer): the worker
  sees the pipe close, reports :class:`SandboxProcessDied` with the exit code and starts a
  new sandbox for the next evaluation;
- the evaluation runs past its time limit: the worker kills the sandbox (SIGKILL) and
  reports :class:`EvaluationTimedOut`.

The worker itself never dies, so Dask never reschedules an evaluation that already ran,
and a collection cannot hang on a lost worker. The sandbox exits with its worker
(:func:`benchmarking.parent_watch.exit_with_parent`). Functions and results travel with
cloudpickle (as they would to a Dask worker); the objective's own output to stdout goes
to the worker's stderr.

Example:
    >>> sandbox = EvaluationSandbox()  # doctest: +SKIP
    >>> sandbox.call(math.sqrt, 4.0, time_limit=5)  # doctest: +SKIP
    2.0
"""

from __future__ import annotations

import os
import select
import struct
import subprocess
import sys
import threading
import time
import traceback
from typing import Any, BinaryIO

from benchmarking.tabulation.errors import TabulationError

_HEADER = struct.Struct("!Q")
_READY = b"ready"
START_TIMEOUT = 120.0
"""Seconds a new sandbox may take to start and answer (imports on a loaded machine)."""


class EvaluationTimedOut(TabulationError):
    """An evaluation that ran past its time limit; its sandbox was killed."""


class SandboxProcessDied(TabulationError):
    """The sandbox process ended during an evaluation (the objective ended it)."""

    def __init__(self, message: str, returncode: int | None) -> None:
        super().__init__(message)
        self.returncode = returncode


def describe_exit(returncode: int | None) -> str:
    """``exit code 3`` or ``killed by signal 9 (SIGKILL)``."""
    if returncode is None:
        return "an unknown exit status"
    if returncode < 0:
        import signal

        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-returncode} ({name})"
    return f"exit code {returncode}"


class EvaluationSandbox:
    """One reusable child process that runs functions with a time limit (see module doc)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarking.tabulation.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )
        self._process = process
        reply = self._read_frame(process, time.monotonic() + START_TIMEOUT)
        if reply is None:
            raise TabulationError(
                f"the evaluation sandbox did not start within {START_TIMEOUT:g} s (machine "
                "overloaded?)"
            )
        if reply != _READY:
            self.close()
            raise TabulationError(f"the evaluation sandbox answered {reply[:80]!r} on start")
        return process

    def call(self, function: Any, argument: Any, time_limit: float | None = None) -> Any:
        """``function(argument)`` in the sandbox; its exception is raised here.

        Raises:
            EvaluationTimedOut: it ran longer than ``time_limit`` seconds (then the sandbox
                is killed; the next call starts a new one).
            SandboxProcessDied: the sandbox process ended before answering.
        """
        import cloudpickle

        process = self._process
        if process is None or process.poll() is not None:
            process = self._start()
        payload = cloudpickle.dumps((function, argument))
        started = time.monotonic()
        try:
            _write_frame(process.stdin, payload)
        except (BrokenPipeError, OSError):
            raise self._died() from None
        deadline = None if time_limit is None else started + time_limit
        reply = self._read_frame(process, deadline)
        if reply is None:
            raise EvaluationTimedOut(
                f"the evaluation ran longer than its time limit of {time_limit:g} s and "
                "was ended (its process killed); raise time_limit if it needs longer"
            )
        outcome = cloudpickle.loads(reply)
        if outcome[0] == "ok":
            return outcome[1]
        error, remote_traceback = outcome[1], outcome[2]
        if isinstance(error, BaseException):
            error.add_note(f"raised in the evaluation sandbox:\n{remote_traceback}")
            raise error
        raise TabulationError(f"the evaluation failed in its sandbox:\n{remote_traceback}")

    def _read_frame(self, process: subprocess.Popen, deadline: float | None) -> bytes | None:
        """The next frame from ``process``; ``None`` (and the process killed) at the deadline."""
        descriptor = process.stdout.fileno()
        buffer = bytearray()
        wanted = _HEADER.size
        header_done = False
        while len(buffer) < wanted:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                self.close()
                return None
            ready, _, _ = select.select([descriptor], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(descriptor, max(wanted - len(buffer), 1 << 16))
            if not chunk:
                raise self._died()
            buffer.extend(chunk)
            if not header_done and len(buffer) >= _HEADER.size:
                header_done = True
                wanted = _HEADER.size + _HEADER.unpack(bytes(buffer[: _HEADER.size]))[0]
        return bytes(buffer[_HEADER.size : wanted])

    def _died(self) -> SandboxProcessDied:
        process = self._process
        self._process = None
        returncode = process.wait() if process is not None else None
        return SandboxProcessDied(
            f"the objective ended the process evaluating it ({describe_exit(returncode)})",
            returncode,
        )

    def close(self) -> None:
        """Kill the sandbox process (a new one starts on the next call)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            process.wait()


_per_thread = threading.local()


def sandbox_of_this_thread() -> EvaluationSandbox:
    """The sandbox of the calling worker thread (started on first use, then reused)."""
    sandbox = getattr(_per_thread, "sandbox", None)
    if sandbox is None:
        sandbox = _per_thread.sandbox = EvaluationSandbox()
    return sandbox


# --------------------------------------------------------------------- the child side
def _write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve() -> None:
    """The sandbox's main loop: read a call, run it, answer; exit at end of input."""
    import cloudpickle

    from benchmarking.parent_watch import exit_with_parent

    exit_with_parent()
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the objective's prints go to stderr
    _write_frame(replies, _READY)
    while True:
        header = _read_exactly(requests, _HEADER.size)
        if header is None:
            return
        frame = _read_exactly(requests, _HEADER.unpack(header)[0])
        if frame is None:
            return
        try:
            function, argument = cloudpickle.loads(frame)
            outcome: tuple = ("ok", function(argument))
        except BaseException as error:  # noqa: BLE001 - every error goes back to the worker
            outcome = ("raised", error, traceback.format_exc())
        try:
            payload = cloudpickle.dumps(outcome)
        except Exception:  # an unpicklable result or exception: send its text
            payload = cloudpickle.dumps(("raised", None, traceback.format_exc()))
        _write_frame(replies, payload)


if __name__ == "__main__":
    serve()
