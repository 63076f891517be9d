"""Tuner callbacks, and the SimulatorCallback that jumps the clock instead of sleeping.

A real tuner waits until a worker reports. In simulation the :class:`SimulatorCallback`
moves the :class:`~simulated_backend.backend.SimulatedClock` straight to the time of the
next pending result whenever the Tuner would wait (``on_tuning_sleep``), so nobody ever
sleeps and real time never leaks into simulated time. This is Syne Tune's launcher
pattern, ``Tuner(..., callbacks=[SimulatorCallback()])``; simtune's Tuner adds one by
itself when it drives a :class:`~simulated_backend.backend.SimulatorBackend` and none was
given.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulated_backend.schedulers.protocol import Trial
    from simulated_backend.tuner import Tuner


class TunerCallback:
    """Hooks called by the Tuner; override what you need. Per-result hooks cost time."""

    def on_tuning_start(self, tuner: Tuner) -> None:
        """Before the first trial starts."""

    def on_tuning_sleep(self, tuner: Tuner) -> None:
        """The Tuner has no result to process and is about to wait for one."""

    def on_trial_result(self, trial: Trial, result: dict[str, Any], decision: str) -> None:
        """After the scheduler decided on ``result``."""

    def on_tuning_end(self, tuner: Tuner) -> None:
        """After the run stopped (also after a failure), before results are written."""


class SimulatorCallback(TunerCallback):
    """Advances a :class:`~simulated_backend.backend.SimulatorBackend`'s clock when the Tuner waits.

    The clock jumps to the next pending result, but never past the run's
    ``max_wallclock_time``: a run whose next result lies beyond its budget ends exactly at
    the budget.
    """

    def __init__(self) -> None:
        self._advance = None
        self._limit = math.inf

    def on_tuning_start(self, tuner: Tuner) -> None:
        advance = getattr(tuner.backend, "advance_clock", None)
        if advance is None:
            raise TypeError(
                f"SimulatorCallback moves the clock of a SimulatorBackend; the Tuner's backend is a "
                f"{type(tuner.backend).__name__}. Remove the callback for backends that run in real time"
            )
        self._advance = advance
        budget = tuner.stop_criterion.max_wallclock_time
        self._limit = math.inf if budget is None else float(budget)

    @property
    def limit(self) -> float:
        """The clock never passes it: the run's ``max_wallclock_time`` (set at the start)."""
        return self._limit

    def on_tuning_sleep(self, tuner: Tuner) -> None:
        self._advance(self._limit)


class ProgressCallback(TunerCallback):
    """A rich progress bar over the run's time (or results, without a time budget)."""

    def __init__(self, total: float | None, unit: str = "simulated s", every: int = 1000) -> None:
        self.total = total
        self.unit = unit
        self.every = every
        self._count = 0
        self._progress = None
        self._task = None

    def on_tuning_start(self, tuner: Tuner) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("tuning"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} " + self.unit),
            TimeElapsedColumn(),
        )
        self._progress.start()
        self._task = self._progress.add_task("run", total=self.total)

    def on_trial_result(self, trial: Trial, result: dict[str, Any], decision: str) -> None:
        self._count += 1
        if self._count % self.every == 0 and self._progress is not None:
            self._progress.update(
                self._task, completed=min(result["simulated_time"], self.total or float("inf"))
            )

    def on_tuning_end(self, tuner: Tuner) -> None:
        if self._progress is not None:
            self._progress.update(
                self._task,
                completed=min(tuner.backend.current_time(), self.total or float("inf")),
            )
            self._progress.stop()
