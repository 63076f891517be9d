"""The local blackbox cache: atomic installs under a per-name file lock.

Layout under the cache root (``SIMTUNE_CACHE_DIR`` or the user's cache dir)::

    blackboxes/<name>/            complete entries only (they appear by one rename)
    blackboxes/.staging-<name>-*  entries being written; stale ones are removed under the lock
    raw/<family>/...              downloaded raw files, verified against their sha256
    locks/<name>.lock             one file lock per blackbox name
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import platformdirs

from blackbox_repository.atomic_files import fsync_directory
from blackbox_repository.entry_metadata import METADATA_FILE
from blackbox_repository.errors import CacheUnusableError, InvalidBlackboxNameError
from blackbox_repository.waiting_lock import hold_lock

CACHE_ENV_VAR = "SIMTUNE_CACHE_DIR"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def default_cache_root() -> Path:
    """``$SIMTUNE_CACHE_DIR`` if set, else the platform's user cache dir for simtune."""
    configured = os.environ.get(CACHE_ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir("simtune"))


@contextlib.contextmanager
def cache_writes(root: Path, action: str) -> Iterator[None]:
    """Turn an OS error while writing below the cache ``root`` into one clear error.

    A read-only cache, a ``SIMTUNE_CACHE_DIR`` that names a file, or a full disk would
    otherwise surface as a raw OSError traceback from deep inside a download or install.
    """
    try:
        yield
    except OSError as error:
        raise CacheUnusableError(
            f"cannot use the blackbox cache at {root} while {action}: "
            f"{error.strerror or error} ({error.filename or root}). Point ${CACHE_ENV_VAR} "
            "(or --cache-dir / cache_dir=) at a writable folder with free space"
        ) from error


def check_entry_name(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise InvalidBlackboxNameError(
            f"blackbox name {name!r} is not allowed: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return name


class BlackboxCache:
    """One cache root. Entries are immutable once installed; replacing one is a rename."""

    def __init__(self, root: Path | str | None = None, lock_timeout: float = 3600.0) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_root()
        self.blackboxes_dir = self.root / "blackboxes"
        self.raw_dir = self.root / "raw"
        self.locks_dir = self.root / "locks"
        self.lock_timeout = lock_timeout

    def entry_path(self, name: str) -> Path:
        return self.blackboxes_dir / check_entry_name(name)

    def has_entry(self, name: str) -> bool:
        return (self.entry_path(name) / METADATA_FILE).exists()

    def names(self) -> list[str]:
        """Names of the complete entries in the cache."""
        if not self.blackboxes_dir.exists():
            return []
        return sorted(
            p.name
            for p in self.blackboxes_dir.iterdir()
            if not p.name.startswith(".") and (p / METADATA_FILE).exists()
        )

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the inter-process lock for everything that writes the entry ``name``.

        A process that has to wait for another one says so (see :func:`hold_lock`).
        """
        path = self.locks_dir / f"{check_entry_name(name)}.lock"
        with contextlib.ExitStack() as held:
            with cache_writes(self.root, f"locking {name}"):
                self.locks_dir.mkdir(parents=True, exist_ok=True)
                held.enter_context(
                    hold_lock(path, timeout=self.lock_timeout, what=f"the cache entry {name}")
                )
            yield

    def remove_stale_staging(self, name: str) -> None:
        """Remove leftovers of writes of ``name`` that were killed. Call with the lock held."""
        if not self.blackboxes_dir.exists():
            return
        # Match the exact name: a glob on ".staging-{name}-*" would also match the staging
        # folders of "{name}-other", which a process holding another lock may be writing.
        leftover = re.compile(
            rf"^\.(staging-{re.escape(check_entry_name(name))}-\d+|trash-{re.escape(name)})"
            r"-[0-9a-f]{8}$"
        )
        for path in self.blackboxes_dir.iterdir():
            if leftover.match(path.name):
                shutil.rmtree(path, ignore_errors=True)

    @contextlib.contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        """A fresh temporary folder next to the entry; removed at the end unless installed."""
        path = (
            self.blackboxes_dir
            / f".staging-{check_entry_name(name)}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        )
        with cache_writes(self.root, f"writing {name}"):
            self.blackboxes_dir.mkdir(parents=True, exist_ok=True)
            path.mkdir()
        try:
            yield path
        finally:
            # After a successful install the folder was renamed away; anything still here
            # (an error, or a block that decided not to install) is removed.
            shutil.rmtree(path, ignore_errors=True)

    def install(self, name: str, staged: Path) -> Path:
        """Make ``staged`` the entry ``name`` by renaming it; call with the lock held."""
        if not (staged / METADATA_FILE).exists():
            raise ValueError(
                f"{staged} has no {METADATA_FILE}; refusing to install an incomplete entry"
            )
        entry = self.entry_path(name)
        trash = None
        with cache_writes(self.root, f"installing {name}"):
            if entry.exists():
                trash = self.blackboxes_dir / f".trash-{name}-{uuid.uuid4().hex[:8]}"
                os.rename(entry, trash)
            os.rename(staged, entry)
            fsync_directory(self.blackboxes_dir)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        return entry

    def remove(self, name: str) -> None:
        """Delete the entry ``name`` (rename first, so no half-deleted entry is ever visible)."""
        entry = self.entry_path(name)
        if entry.exists():
            trash = self.blackboxes_dir / f".trash-{name}-{uuid.uuid4().hex[:8]}"
            os.rename(entry, trash)
            shutil.rmtree(trash, ignore_errors=True)
