"""One fidelity step of a real trial, run inside a worker under time and memory limits.

A trial is a user's function ``objective(config, fidelity, checkpoint_dir, **shared) ->
metrics``: one call trains the trial from its checkpoint up to ``fidelity`` and returns
the metrics measured there (a mapping of names to numbers). An objective that declares a
``step`` keyword argument also gets a :class:`StepInfo` (whether the call continues the
trial's previous report, when it was submitted). :func:`execute_step` runs one
call in the current process and never raises for a failure of the call itself: it
returns a :class:`StepOutcome` with a status, the metrics, the wall and CPU time and the
exception text.

Limits are enforced where the call runs:

- wall time: a ``SIGALRM`` timer when the call runs in a process's main thread (process
  workers, the serial runner), else a timer thread that raises in the call's thread
  (Dask workers run tasks in threads); over the limit the call ends with status
  ``timeout``. (A call blocked inside C code is interrupted when it returns to Python.)
- memory: ``RLIMIT_AS`` of the worker process is lowered for the call to its current
  address space plus ``memory_limit_mb``, and restored after; an allocation over it fails
  (``MemoryError``) and the call ends with status ``memory-out``.
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import math
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUCCESS, CRASHED, TIMEOUT, MEMORY_OUT = "success", "crashed", "timeout", "memory-out"
STATUSES = (SUCCESS, CRASHED, TIMEOUT, MEMORY_OUT)


@dataclass(frozen=True)
class StepLimits:
    """Per-call limits: ``wall_time`` in seconds, ``memory_mb`` of extra address space."""

    wall_time: float | None = None
    memory_mb: float | None = None

    def __post_init__(self) -> None:
        for name in ("wall_time", "memory_mb"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, (int, float)) and math.isfinite(value) and value > 0
            ):
                raise ValueError(f"{name} must be a positive number or None, got {value!r}")


@dataclass(frozen=True)
class StepTask:
    """One call of the objective: train ``trial_id`` up to ``fidelity`` (position ``position``).

    ``continued`` is true when the step follows the trial's previous report directly
    (the scheduler said CONTINUE), false when the trial starts or resumes;
    ``submitted_at`` is the backend's ``time.time()`` at submission.
    """

    trial_id: int
    position: int
    fidelity: Any
    config: Mapping[str, Any]
    checkpoint_dir: str
    limits: StepLimits = field(default_factory=StepLimits)
    continued: bool = False
    submitted_at: float = 0.0


@dataclass(frozen=True)
class StepInfo:
    """What an objective that declares a ``step`` keyword argument is told about its call."""

    trial_id: int
    position: int
    continued: bool
    submitted_at: float


@functools.lru_cache(maxsize=64)
def _wants_step_info(objective: Callable) -> bool:
    try:
        return "step" in inspect.signature(objective).parameters
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class StepOutcome:
    """What one call produced; ``finished_at`` is the worker's ``time.time()`` at its end."""

    trial_id: int
    position: int
    status: str
    metrics: Mapping[str, float]
    wall_time: float
    cpu_time: float
    error: str | None
    finished_at: float


class StepTimeout(BaseException):
    """Raised inside a call that ran over its wall-time limit (not an Exception: user
    code catching ``Exception`` cannot swallow it)."""


@contextmanager
def _wall_time_limit(seconds: float | None):
    if seconds is None:
        yield
        return
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):

        def on_alarm(signum, frame):
            raise StepTimeout()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    thread_id = threading.get_ident()
    done = threading.Event()

    def interrupt() -> None:
        if not done.is_set():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread_id), ctypes.py_object(StepTimeout)
            )

    timer = threading.Timer(seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        done.set()
        timer.cancel()


@contextmanager
def _memory_limit(megabytes: float | None):
    if megabytes is None:
        yield
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = current + int(megabytes * (1 << 20))
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def execute_step(
    task: StepTask,
    objective: Callable[..., Mapping[str, float]],
    shared: Mapping[str, Any] | None = None,
) -> StepOutcome:
    """Run one call of ``objective`` for ``task`` here, under its limits; never raises for
    the call's own failures (a ``KeyboardInterrupt`` is passed on)."""
    if not os.path.isdir(task.checkpoint_dir):
        Path(task.checkpoint_dir).mkdir(parents=True, exist_ok=True)
    status, metrics, error = SUCCESS, {}, None
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    try:
        with _memory_limit(task.limits.memory_mb), _wall_time_limit(task.limits.wall_time):
            keywords = dict(shared or {})
            if _wants_step_info(objective):
                keywords["step"] = StepInfo(
                    task.trial_id, task.position, task.continued, task.submitted_at
                )
            returned = objective(dict(task.config), task.fidelity, task.checkpoint_dir, **keywords)
        metrics = _checked_metrics(returned)
    except StepTimeout:
        status, error = (
            TIMEOUT,
            f"the call ran over its wall-time limit of {task.limits.wall_time} s",
        )
    except MemoryError:
        status = MEMORY_OUT
        error = f"MemoryError: the call ran over its memory limit of {task.limits.memory_mb} MB\n"
        error += traceback.format_exc(limit=-3)
    except Exception as exception:  # the user's code failed: recorded, the run goes on
        status = CRASHED
        error = f"{type(exception).__name__}: {exception}\n{traceback.format_exc()}"
    return StepOutcome(
        trial_id=task.trial_id,
        position=task.position,
        status=status,
        metrics=metrics,
        wall_time=time.perf_counter() - wall_start,
        cpu_time=time.process_time() - cpu_start,
        error=error,
        finished_at=time.time(),
    )


def _checked_metrics(returned: Any) -> dict[str, float]:
    if not isinstance(returned, Mapping):
        raise TypeError(
            f"the objective returned {type(returned).__name__}; it must return a mapping of "
            "metric names to numbers, e.g. {'valid_error': 0.12}"
        )
    metrics = {}
    for name, value in returned.items():
        try:
            metrics[str(name)] = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"the objective returned {name!r}: {value!r}; metric values must be numbers"
            ) from None
    return metrics
