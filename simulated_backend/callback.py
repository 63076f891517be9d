"""Tuner callbacks, and the SimulatorCallback that jumps the clock instead of sleeping.

A real tuner sleeps until a worker reports. In simulation the :class:`SimulatorCallback`
moves the :class:`~simulated_backend.backend.SimulatedClock` straight to the time of the
next pending result, so nobody ever sleeps and real time never leaks into simulated time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulated_backend.backend import SimulatorBackend
    from simulated_backend.schedulers.protocol import Trial
    from simulated_backend.tuner import Tuner


class TunerCallback:
    """Hooks called by the Tuner; override what you need. Per-result hooks cost time."""

    def on_tuning_start(self, tuner: Tuner) -> None:
        """Before the first trial starts."""

    def on_trial_result(self, trial: Trial, result: dict[str, Any], decision: str) -> None:
        """After the scheduler decided on ``result``."""

    def on_tuning_end(self, tuner: Tuner) -> None:
        """After the run stopped (also after a failure), before results are written."""


class SimulatorCallback(TunerCallback):
    """Advances the simulated clock to the next event when the Tuner would wait."""

    def advance_clock(self, backend: SimulatorBackend) -> float | None:
        """Jump the backend's clock to its next result; ``None`` if no trial is running."""
        time = backend.next_event_time()
        if time is not None and time > backend.clock.now:
            backend.clock.now = time
        return time


class ProgressCallback(TunerCallback):
    """A rich progress bar over simulated time (or results, without a time budget)."""

    def __init__(self, total: float | None, unit: str = "simulated s", every: int = 1000) -> None:
        self.total = total
        self.unit = unit
        self.every = every
        self._count = 0
        self._progress = None
        self._task = None
        self._tuner: Tuner | None = None

    def on_tuning_start(self, tuner: Tuner) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._tuner = tuner
        self._progress = Progress(
            TextColumn("simulating"),
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
                self._task, completed=min(tuner.backend.clock.now, self.total or float("inf"))
            )
            self._progress.stop()
