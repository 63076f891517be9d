"""Runners execute fidelity steps on workers, with submit/collect semantics.

Modelled on SMAC3's ``AbstractRunner``: :meth:`Runner.submit` hands a task to a free
worker, :meth:`Runner.iter_results` yields the tasks finished so far,
:meth:`Runner.wait` blocks until at least one is finished, :meth:`Runner.is_running`
says whether anything runs and :meth:`Runner.count_available` how many workers are free.

Every runner executes ``execute_step(task, objective, shared)``
(:mod:`simulated_backend.real_backend.trial_step`), so a failing call comes back as an
outcome with a status; a worker that dies comes back as a ``crashed`` outcome.

Three runners: :class:`SerialRunner` (in this process, one worker),
:class:`~simulated_backend.real_backend.process_runner.ProcessRunner` (local worker
processes over pipes) and :class:`~simulated_backend.real_backend.dask_runner.DaskRunner`
(a Dask cluster).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

from blackbox_repository.errors import SimtuneError
from simulated_backend.real_backend.trial_step import (
    CRASHED,
    StepOutcome,
    StepTask,
    execute_step,
)


class RunnerError(SimtuneError, RuntimeError):
    """A runner was used against its protocol (e.g. a task submitted with no free worker)."""


@runtime_checkable
class Runner(Protocol):
    """Submit/collect execution of :class:`StepTask` s (see the module docstring)."""

    n_workers: int

    def start(self) -> None:
        """Bring the workers up now (idempotent), so start-up is not charged to a run."""
        ...

    def submit(self, task: StepTask) -> None:
        """Start ``task`` on a free worker (``count_available() > 0``)."""
        ...

    def iter_results(self) -> Iterator[StepOutcome]:
        """The outcomes finished since the last call, without waiting."""
        ...

    def wait(self, timeout: float | None = None) -> None:
        """Block until at least one outcome is ready (or ``timeout`` real seconds passed)."""
        ...

    def is_running(self) -> bool:
        """Whether any submitted task has not been collected yet."""
        ...

    def count_available(self) -> int:
        """Number of workers free for a new task."""
        ...

    def close(self) -> None:
        """Stop the workers (running tasks are abandoned). Idempotent."""
        ...


def crashed_outcome(task: StepTask, message: str, started: float) -> StepOutcome:
    """The outcome of a task whose worker died under it."""
    return StepOutcome(
        trial_id=task.trial_id,
        position=task.position,
        status=CRASHED,
        metrics={},
        wall_time=time.time() - started,
        cpu_time=float("nan"),
        error=message,
        finished_at=time.time(),
    )


class SerialRunner:
    """Runs each task at once in this process (one worker): debugging and no-op overhead.

    ``submit`` executes the call before it returns, so ``Ctrl-C`` interrupts the Tuner
    inside the user's function. Wall-time limits use ``SIGALRM`` when called from the
    main thread.
    """

    def __init__(
        self,
        objective: Callable[..., Mapping[str, float]],
        shared: Mapping[str, Any] | None = None,
    ) -> None:
        self.n_workers = 1
        self._objective = objective
        self._shared = dict(shared or {})
        self._done: list[StepOutcome] = []

    def start(self) -> None:
        """Nothing to start: calls run in this process."""

    def submit(self, task: StepTask) -> None:
        if self._done:
            raise RunnerError("the serial runner's only worker holds an uncollected result")
        self._done.append(execute_step(task, self._objective, self._shared))

    def iter_results(self) -> Iterator[StepOutcome]:
        done, self._done = self._done, []
        yield from done

    def wait(self, timeout: float | None = None) -> None:
        """Nothing to wait for: a submitted task is finished when ``submit`` returns."""

    def is_running(self) -> bool:
        return bool(self._done)

    def count_available(self) -> int:
        return 0 if self._done else 1

    def close(self) -> None:
        self._done = []

    def describe(self) -> dict[str, Any]:
        return {"runner": "serial", "n_workers": 1}
