"""Errors raised by the blackbox repository; each message says what was wrong and what to do."""

from __future__ import annotations


class SimtuneError(Exception):
    """Base class of every error simtune raises on purpose (bad input, corrupt data, ...).

    It lives in the lowest layer so that every package can derive from it; the CLI and the
    launchers print these as one ``error:`` line and let any other exception show its
    traceback (an internal bug).
    """


class BlackboxError(SimtuneError):
    """Base class of every error raised by :mod:`blackbox_repository`."""


class UnknownBlackboxError(BlackboxError, KeyError):
    """A blackbox name that no recipe provides."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class InvalidBlackboxNameError(BlackboxError, ValueError):
    """A blackbox name that cannot name a cache entry (characters outside letters, digits, ._-)."""


class ConfigNotFoundError(BlackboxError, KeyError):
    """A configuration that is not on a tabular blackbox's grid, or outside the search space."""

    def __str__(self) -> str:
        return str(self.args[0])


class FidelityNotOnGridError(BlackboxError, ValueError):
    """A fidelity value that the blackbox did not record."""


class SeedNotFoundError(BlackboxError, ValueError):
    """A seed that the blackbox did not record."""


class CorruptBlackboxError(BlackboxError):
    """A blackbox entry on disk that cannot be read (truncated, missing file, bad metadata)."""


class ChecksumMismatchError(CorruptBlackboxError):
    """A file whose sha256 differs from the one recorded for it."""

    def __init__(self, path: str, expected: str, actual: str) -> None:
        super().__init__(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}; "
            "the file is corrupt or was modified, delete it or let the repository re-fetch it"
        )
        self.path = path
        self.expected = expected
        self.actual = actual


class DownloadError(BlackboxError):
    """A raw file or mirror object that could not be fetched."""


class S3MirrorError(BlackboxError):
    """An S3 mirror that is unreachable, misconfigured, or refuses the credentials."""


class ConversionError(BlackboxError):
    """Raw benchmark files that do not have the format a recipe expects."""


class MissingDependencyError(BlackboxError, ImportError):
    """An optional dependency (e.g. onnxruntime) that a blackbox kind needs is not installed."""


class CacheUnusableError(BlackboxError):
    """A cache folder that cannot be written (read-only, a file, no space) or stays locked."""
