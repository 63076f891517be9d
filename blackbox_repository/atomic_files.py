"""Writing files so that a reader sees either nothing or the whole file, even after a kill."""

from __future__ import annotations

import ctypes
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any


def fsync_directory(directory: Path) -> None:
    """Flush a folder's entries to disk so that a rename inside it survives a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def flush_file_system(path: Path) -> None:
    """Flush everything written to the file system that holds ``path`` (file data and
    entries, e.g. the renames that installed many files) to disk, in one call.

    One ``syncfs`` (Linux) makes a batch of files durable for about the cost of one
    ``fsync``, where an ``fsync`` per file and folder would cost a journal commit each.
    Elsewhere it falls back to ``os.sync()`` (every file system; nothing on Windows,
    which has neither).
    """
    if sys.platform.startswith("linux"):
        fd = os.open(path, os.O_RDONLY)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.syncfs(fd) == 0:
                return
        except (OSError, AttributeError):  # no syncfs in this libc: sync everything
            pass
        finally:
            os.close(fd)
    if hasattr(os, "sync"):
        os.sync()


def write_json_atomically(path: Path, content: Any, **json_options: Any) -> None:
    """Write ``content`` as JSON to a temporary file next to ``path``, fsync it, rename it.

    ``json_options`` go to :func:`json.dump` (e.g. ``indent``, ``allow_nan``). The parent
    folder is created; the temporary file is removed if anything fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "w") as stream:
            json.dump(content, stream, **json_options)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
