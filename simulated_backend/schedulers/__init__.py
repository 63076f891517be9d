"""Schedulers behind one protocol (see :mod:`simulated_backend.schedulers.protocol`)."""

from simulated_backend.schedulers.protocol import (
    SchedulerDecision,
    Trial,
    TrialScheduler,
    TrialSuggestion,
)

__all__ = ["SchedulerDecision", "Trial", "TrialScheduler", "TrialSuggestion"]
