"""Errors of surrogate training: each says what was wrong and what to do."""

from __future__ import annotations

from blackbox_repository.errors import BlackboxError


class SurrogateTrainingError(BlackboxError, ValueError):
    """A blackbox, objective or split that a surrogate cannot be trained or scored on."""
