"""The scheduler protocol, in the style of Syne Tune's ``TrialScheduler``.

The tuner calls ``suggest()`` whenever a worker is free; it answers "start a new trial
with this config", "resume paused trial k", or ``None`` (nothing for now). Every result a
trial reports goes to ``on_trial_result``, which answers ``CONTINUE``, ``PAUSE`` or ``STOP``.
The metric name and mode are explicit constructor arguments of every scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODES = ("min", "max")


class SchedulerDecision:
    """What ``on_trial_result`` returns (plain strings, the same as Syne Tune's)."""

    CONTINUE = "CONTINUE"
    PAUSE = "PAUSE"
    STOP = "STOP"


@dataclass(frozen=True, slots=True)
class TrialSuggestion:
    """Start a new trial with ``config``, or resume ``resume_trial_id`` (optionally with a new config)."""

    config: dict[str, Any] | None = None
    resume_trial_id: int | None = None

    @property
    def spawn_new_trial(self) -> bool:
        return self.resume_trial_id is None

    @classmethod
    def start(cls, config: dict[str, Any]) -> TrialSuggestion:
        return cls(config=config)

    @classmethod
    def resume(cls, trial_id: int, config: dict[str, Any] | None = None) -> TrialSuggestion:
        return cls(config=config, resume_trial_id=trial_id)


@dataclass(slots=True, eq=False)
class Trial:
    """A trial as schedulers see it. ``creation_time`` is simulated seconds since the start."""

    trial_id: int
    config: dict[str, Any]
    creation_time: float


def check_metric_and_mode(metric: str, mode: str) -> None:
    """Validate the explicit metric name and mode every scheduler takes."""
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"metric must be a non-empty string naming an objective, got {metric!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")


class TrialScheduler:
    """Base class with no-op callbacks; subclasses implement at least ``suggest``.

    Args:
        metric: name of the result key to optimize.
        mode: ``"min"`` or ``"max"``.
    """

    def __init__(self, metric: str, mode: str = "min") -> None:
        check_metric_and_mode(metric, mode)
        self.metric = metric
        self.mode = mode

    def suggest(self) -> TrialSuggestion | None:
        """The next trial to run on a free worker, or ``None`` if there is none for now."""
        raise NotImplementedError(f"{type(self).__name__} must implement suggest()")

    def on_trial_add(self, trial: Trial) -> None:
        """Called once when a new trial is created from a suggestion."""

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        """Called for every reported result; returns a :class:`SchedulerDecision` value."""
        return SchedulerDecision.CONTINUE

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """Called when a trial reached its maximum fidelity (after its last ``on_trial_result``)."""

    def on_trial_error(self, trial: Trial) -> None:
        """Called when a trial failed."""

    def on_trial_remove(self, trial: Trial) -> None:
        """Called when a trial is stopped or paused by a decision of the scheduler itself."""

    def metadata(self) -> dict[str, Any]:
        """JSON-able description (name and arguments) recorded with the results."""
        return {"scheduler_name": type(self).__name__, "metric": self.metric, "mode": self.mode}
