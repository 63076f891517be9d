"""Memory-mapped values of tabular entries (issue 15): exact, checked, crash-safe.

The values are derived from the Parquet files into ``values.npy`` (and the configuration
index into its own ``.npy`` files) the first time an entry is read; every later read maps
them. These tests use real files and real processes.
"""

from __future__ import annotations

import errno
import logging
import mmap
import os
import signal
import subprocess

import numpy as np
import pytest

from blackbox_repository import mapped_arrays, read_blackbox, write_blackbox
from blackbox_repository.entry_metadata import read_metadata
from blackbox_repository.file_format import common_arguments
from blackbox_repository.tabular_entry import (
    DERIVED_RECORD,
    VALUES_FILE,
    derived_file_names,
    read_parquet_data,
)
from tests.blackbox_repository.conftest import (
    make_conditional_blackbox,
    mounted_tmpfs,
    python_subprocess,
    wait_for_file,
)

MMAP_TYPE = mmap.mmap  # kept: one test replaces mmap.mmap


def _is_memory_mapped(array: np.ndarray) -> bool:
    base = array
    while base is not None and not isinstance(base, MMAP_TYPE):
        base = (
            getattr(base, "base", None)
            if isinstance(base, np.ndarray)
            else getattr(base, "obj", None)
        )
    return isinstance(base, MMAP_TYPE)


@pytest.fixture
def entry(tmp_path):
    blackbox = make_conditional_blackbox(np.float32)
    return blackbox, write_blackbox(blackbox, tmp_path / "entry")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mapped_values_equal_the_parquet_values_bit_for_bit(tmp_path, dtype):
    blackbox = make_conditional_blackbox(dtype)  # NaN, -0.0, inf and a subnormal included
    entry = write_blackbox(blackbox, tmp_path / "entry")
    metadata = read_metadata(entry)
    from_parquet = read_parquet_data(entry, metadata, common_arguments(metadata))

    first, second = read_blackbox(entry), read_blackbox(entry)  # derives, then maps

    for read in (first, second):
        assert _is_memory_mapped(read.values) and not read.values.flags.writeable
        assert read.values.dtype == dtype
        assert read.values.tobytes() == from_parquet.values.tobytes() == blackbox.values.tobytes()
        for row in range(blackbox.n_configurations):
            config = blackbox.configuration(row)
            assert read.configuration(row) == config
            assert read.config_index(config) == row
    assert second.configurations.equals(blackbox.configurations)


def test_a_flipped_byte_in_the_mapped_file_is_detected_and_the_values_derived_again(entry, caplog):
    blackbox, folder = entry
    read_blackbox(folder)
    values_file = folder / VALUES_FILE
    with open(values_file, "r+b") as stream:  # one bit of one value, header untouched
        stream.seek(values_file.stat().st_size - 5)
        byte = stream.read(1)
        stream.seek(-1, os.SEEK_CUR)
        stream.write(bytes([byte[0] ^ 0x01]))

    with caplog.at_level(logging.WARNING):
        read = read_blackbox(folder)

    assert "was modified" in caplog.text and "deriving the values" in caplog.text
    assert read.values.tobytes() == blackbox.values.tobytes()
    assert _is_memory_mapped(read.values)


CHILD_KILLED_WHILE_DERIVING = """
import sys, time
from pathlib import Path
import numpy as np
import blackbox_repository.mapped_arrays as mapped_arrays
from blackbox_repository import read_blackbox

real_write_array = np.lib.format.write_array

def half_then_hang(stream, array, **options):
    stream.write(b"\\x93NUMPY" + b"\\0" * 4096)  # a partial file, then the process is killed
    stream.flush()
    Path(sys.argv[2]).touch()
    time.sleep(60)

mapped_arrays.np.lib.format.write_array = half_then_hang
read_blackbox(Path(sys.argv[1]))
"""


def test_a_process_killed_while_deriving_leaves_no_half_written_file(entry, tmp_path):
    blackbox, folder = entry
    writing = tmp_path / "writing"
    child = python_subprocess(CHILD_KILLED_WHILE_DERIVING, str(folder), str(writing))
    wait_for_file(writing, child)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    names = sorted(p.name for p in folder.iterdir())
    assert VALUES_FILE not in names and DERIVED_RECORD not in names
    assert any(name.startswith(f".{VALUES_FILE}.tmp-") for name in names)  # the killed write

    read = read_blackbox(folder)

    assert read.values.tobytes() == blackbox.values.tobytes()
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]  # leftovers removed
    assert set(derived_file_names()) <= {p.name for p in folder.iterdir()}


def test_a_file_system_that_cannot_map_falls_back_to_memory_with_a_message(
    entry, monkeypatch, caplog
):
    """mmap(2) answers ENODEV on file systems that cannot map files (FUSE with direct_io, some
    network file systems). This machine has no FUSE server to mount one (no libfuse or
    fusermount, and none is a test dependency), so the test raises that same error from mmap."""
    blackbox, folder = entry
    read_blackbox(folder)  # derived while mapping works

    def no_mapping(*args, **kwargs):
        raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))

    monkeypatch.setattr(mapped_arrays.mmap, "mmap", no_mapping)
    with caplog.at_level(logging.WARNING):
        read = read_blackbox(folder)

    assert f"cannot memory-map {folder / VALUES_FILE} (No such device)" in caplog.text
    assert not _is_memory_mapped(read.values)
    assert read.values.tobytes() == blackbox.values.tobytes()
    assert read.config_index(blackbox.configuration(3)) == 3


@pytest.fixture
def read_only_entry(tmp_path):
    """An entry (not derived yet) on a real tmpfs remounted read-only; skipped if not allowed."""
    with mounted_tmpfs(tmp_path / "mounted", "size=8m") as mount_point:
        blackbox = make_conditional_blackbox(np.float64)
        folder = write_blackbox(blackbox, mount_point / "entry")
        subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)
        yield blackbox, folder


def test_an_entry_that_cannot_be_written_is_read_from_parquet_with_a_message(
    read_only_entry, caplog
):
    blackbox, folder = read_only_entry
    with caplog.at_level(logging.WARNING):
        read = read_blackbox(folder)
    assert "cannot write the memory-mappable values" in caplog.text
    assert read.values.tobytes() == blackbox.values.tobytes()
    assert not (folder / VALUES_FILE).exists()


def test_a_mapped_blackbox_pickles_for_worker_processes(entry):
    import pickle

    blackbox, folder = entry
    read = read_blackbox(folder)
    read.config_index(blackbox.configuration(1))  # fills the memo before pickling
    copy = pickle.loads(pickle.dumps(read))
    for row in range(blackbox.n_configurations):
        assert copy.config_index(blackbox.configuration(row)) == row
    assert copy.values.tobytes() == blackbox.values.tobytes()
    assert copy.configurations.equals(blackbox.configurations)


def test_the_stored_index_finds_numpy_and_nan_spellings_and_refuses_configs_off_the_grid(entry):
    from blackbox_repository import ConfigNotFoundError

    blackbox, folder = entry
    read = read_blackbox(folder)
    spelled = {"layers": np.int64(3), "optimizer": "adam", "beta1": np.float64(0.9)}
    assert read.config_index(spelled) == 2
    assert read.config_index({**spelled, "momentum": float("nan")}) == 2  # inactive as NaN
    for off_grid in (
        {"layers": 3, "optimizer": "rmsprop", "beta1": 0.9},  # unknown category
        {"layers": 3, "optimizer": "adam", "beta1": 0.91},  # numeric value not recorded
        {"layers": 3, "optimizer": "adam"},  # an active hyperparameter left out
        {"layers": [3], "optimizer": "adam", "beta1": 0.9},  # unhashable
    ):
        with pytest.raises(ConfigNotFoundError):
            read.config_index(off_grid)
