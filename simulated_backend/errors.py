"""Errors raised by the simulation engine."""

from __future__ import annotations

from blackbox_repository.errors import SimtuneError


class SchedulerFailure(SimtuneError, RuntimeError):
    """The scheduler raised during a run; what was recorded so far is on disk."""

    def __init__(self, message: str, trial_id: int | None) -> None:
        super().__init__(message)
        self.trial_id = trial_id


class SchedulerProtocolError(SimtuneError, RuntimeError):
    """The scheduler answered something the protocol does not allow."""
