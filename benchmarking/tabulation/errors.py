"""Errors of the tabulation pipeline; each message names the bad value and what to do."""

from __future__ import annotations

from blackbox_repository.errors import SimtuneError


class TabulationError(SimtuneError, ValueError):
    """Base class of every error raised by :mod:`benchmarking.tabulation`."""


class ObjectiveContractError(TabulationError):
    """An objective whose output breaks the contract (a missing key, a wrong curve length).

    This is a bug in the objective, not a property of one configuration, so collection
    stops instead of recording a failure for every combination.
    """


class StudySpecMismatchError(TabulationError):
    """A dump folder that was written for a different study (space, fidelities, objective)."""


class MissingEvaluationsError(TabulationError):
    """A task whose dumps do not cover every (configuration, fidelity, seed) combination."""

    def __init__(self, message: str, missing: tuple) -> None:
        super().__init__(message)
        self.missing = missing


class CorruptDumpFileError(TabulationError):
    """A file of a dump folder that is not the JSON object simtune wrote there."""
