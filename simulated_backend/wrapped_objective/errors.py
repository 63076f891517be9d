"""Errors of wrapped-objective runs; each says what happened and what was kept."""

from __future__ import annotations

from blackbox_repository.errors import SimtuneError


class WrappedObjectiveError(SimtuneError, RuntimeError):
    """Base class of the errors a wrapped objective raises in the optimizer's code."""


class SimulationFinished(WrappedObjectiveError):
    """The run has ended (evaluation or simulated-time budget spent, or closed by its host).

    Raised by a call that arrives after the end, and by calls that were still waiting for
    their turn when the run ended; optimizers treat it like any failing objective.
    """


class WorkerLost(WrappedObjectiveError):
    """A worker disconnected (its process died) while one of its calls was pending."""


class CoordinatorUnavailable(WrappedObjectiveError, ConnectionError):
    """The coordinator cannot be reached (never started, closed, or its process died)."""


class WorkerSlotsFull(WrappedObjectiveError):
    """More callers than ``n_workers`` are connected at once."""
