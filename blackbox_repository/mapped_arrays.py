"""Arrays in ``.npy`` files: written atomically, hashed fast, opened memory-mapped.

A memory-mapped array costs no copy: every process that maps the same file shares one
copy in the OS page cache, and opening it costs a fraction of a millisecond. Files are
hashed with xxh3-128 (about 5 GB/s here, 15 times faster than sha256) through a window
of 4 MB mapped at a time, so verifying a 112 MB array adds 4 MB to the peak memory, not
112 MB. Where the file system cannot map files, the array is read into private memory
instead, with a warning saying so.
"""

from __future__ import annotations

import logging
import math
import mmap
import os
import uuid
from pathlib import Path

import numpy as np
import xxhash

logger = logging.getLogger(__name__)

HASH_WINDOW = 4 << 20
HASH_NAME = "xxh3_128"


def hash_file(path: Path) -> str:
    """Hex xxh3-128 of a file, mapped one window at a time (read in chunks if it cannot be)."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        offset = 0
        while offset < size:
            length = min(HASH_WINDOW, size - offset)
            try:
                window = mmap.mmap(stream.fileno(), length, access=mmap.ACCESS_READ, offset=offset)
            except OSError:
                stream.seek(offset)
                digest.update(stream.read(length))
            else:
                with window:
                    digest.update(window)
            offset += length
    return digest.hexdigest()


def write_npy_atomically(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as ``.npy`` to a temporary file next to ``path``, fsync, rename.

    The temporary name holds the writer's pid, so leftovers of a killed writer can be told
    from a live writer's file (see :func:`remove_dead_writers_files`).
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as stream:
            np.lib.format.write_array(stream, np.ascontiguousarray(array), allow_pickle=False)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_dead_writers_files(directory: Path, names: tuple[str, ...]) -> None:
    """Remove temporary files of writes of ``names`` whose writing process is gone."""
    for name in names:
        for leftover in directory.glob(f".{name}.tmp-*"):
            pid = leftover.name[len(f".{name}.tmp-") :].split("-")[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                leftover.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def npy_layout(path: Path) -> dict:
    """Where the data of an ``.npy`` file starts, its shape and dtype (read from its header)."""
    with open(path, "rb") as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        if dtype.hasobject or fortran_order:
            raise ValueError(f"{path} holds a {dtype} array in Fortran order={fortran_order}")
        return {"offset": stream.tell(), "shape": list(shape), "dtype": dtype.str}


def open_npy(path: Path, layout: dict | None = None) -> tuple[np.ndarray, bool]:
    """The array in ``path``, read-only, and whether it is memory-mapped.

    ``layout`` (from :func:`npy_layout`, recorded when the file was written) saves parsing
    the header. A file system that cannot map files (some FUSE and network file systems
    answer ENODEV) or a process out of address space gets the array read into memory
    instead, with a warning.
    """
    layout = layout or npy_layout(path)
    dtype, shape, offset = np.dtype(layout["dtype"]), tuple(layout["shape"]), layout["offset"]
    count = math.prod(shape)
    with open(path, "rb") as stream:
        try:
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as error:
            logger.warning(
                "cannot memory-map %s (%s): reading it into this process's memory instead; "
                "each process then holds its own copy. Put the cache (SIMTUNE_CACHE_DIR) on a "
                "local file system to share one copy between processes",
                path,
                error.strerror or error,
            )
            stream.seek(offset)
            array = np.fromfile(stream, dtype=dtype, count=count)
            array.flags.writeable = False
            return array.reshape(shape), False
    array = np.frombuffer(mapped, dtype=dtype, count=count, offset=offset).reshape(shape)
    return array, True
