"""File locks that tell the user when they wait for another process.

A second process that needs a file another one is writing (a download, a conversion)
would otherwise sit silent for minutes. :func:`hold_lock` tries the lock at once; if it is
held, it says who it waits for and for how long at most, then waits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from blackbox_repository.errors import CacheUnusableError

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def hold_lock(path: Path, *, timeout: float, what: str) -> Iterator[None]:
    """Hold the file lock ``path`` (created if needed) while the block runs.

    ``what`` says what the lock protects, e.g. "the cache entry xgboost-mnist". When the
    lock is busy, a warning names it before waiting; after ``timeout`` seconds of waiting a
    :class:`CacheUnusableError` says which lock to check.
    """
    lock = FileLock(str(path), timeout=timeout)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.warning(
            "waiting for another simtune process that holds %s (lock file %s); waiting up to "
            "%.0f s, or stop that process",
            what,
            path,
            timeout,
        )
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise CacheUnusableError(
                f"gave up after waiting {timeout:.0f} s for {what}: another process holds "
                f"{path}. If no simtune process is running, that process died; run again"
            ) from None
    try:
        yield
    finally:
        lock.release()
