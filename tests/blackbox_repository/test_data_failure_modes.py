"""Issue 8's data-layer failures, each reproduced on real files, processes and servers.

Every test fails on the code before the fix (an edit went unnoticed, a wrong entry was
served, garbage came back, a download hung, ...) and shows the clear error or the right
behaviour now, with nothing lost. docs/failure-modes.md lists them.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import pickle
import shutil
import struct
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ConfigSpace import ConfigurationSpace

from blackbox_repository import (
    ConversionError,
    CorruptBlackboxError,
    DownloadError,
    Objective,
    TabularBlackbox,
    convert_blackbox,
    load_blackbox,
    read_blackbox,
    write_blackbox,
)
from blackbox_repository.cache import BlackboxCache
from blackbox_repository.entry_metadata import (
    METADATA_CHECKSUM_FIELD,
    METADATA_FILE,
    metadata_checksum,
)
from blackbox_repository.file_format import OBJECTIVES_FILE, sha256_file
from blackbox_repository.raw_files import download
from blackbox_repository.recipes import RawFile, Recipe
from blackbox_repository.recipes._raw_parsing import load_numpy_pickle, read_csv
from blackbox_repository.s3_mirror import S3Mirror
from blackbox_repository.waiting_lock import hold_lock
from tests.blackbox_repository.conftest import (
    LCDB_FILE,
    LCDB_NAME,
    MOTO_BUCKET,
    REPO_ROOT,
    build_lcdb_blackbox,
    make_conditional_blackbox,
    make_lcdb_recipe,
    mounted_tmpfs,
    python_subprocess,
    wait_for_file,
)

MIRROR_URL = f"s3://{MOTO_BUCKET}/failure-modes"

# these tests read real benchmark files (they skip on a bare clone, fail if data is there)
pytestmark = pytest.mark.usefixtures("shared_data_dir")


def _rewrite_metadata(entry: Path, change, *, sign: bool) -> dict:
    """Edit an entry's metadata; ``sign`` re-computes its checksum as a buggy writer would."""
    path = entry / METADATA_FILE
    metadata = json.loads(path.read_text())
    change(metadata)
    if sign:
        metadata[METADATA_CHECKSUM_FIELD] = metadata_checksum(metadata)
    path.write_text(json.dumps(metadata, indent=1))
    return metadata


@pytest.fixture
def lcdb_entry(fresh_cache_dir) -> Path:
    return convert_blackbox(LCDB_NAME, cache_dir=fresh_cache_dir, recipe=make_lcdb_recipe())


# ----------------------------------------------------------------- item 3
def test_a_one_byte_metadata_edit_is_detected_and_convert_replaces_the_entry(
    lcdb_entry, fresh_cache_dir
):
    original = (lcdb_entry / METADATA_FILE).read_text()
    edited = original.replace('"mode": "min"', '"mode": "max"', 1)  # still valid JSON
    assert edited != original
    (lcdb_entry / METADATA_FILE).write_text(edited)

    with pytest.raises(CorruptBlackboxError, match="was modified after it was written"):
        read_blackbox(lcdb_entry)
    convert_blackbox(LCDB_NAME, cache_dir=fresh_cache_dir, recipe=make_lcdb_recipe())

    assert (lcdb_entry / METADATA_FILE).read_text() == original
    assert read_blackbox(lcdb_entry).objectives[0].mode == "min"


# ----------------------------------------------------------------- item 4
def test_a_cache_entry_of_another_name_is_never_served(fresh_cache_dir, caplog):
    other = make_conditional_blackbox()
    write_blackbox(other, BlackboxCache(fresh_cache_dir).entry_path(LCDB_NAME))

    with pytest.raises(CorruptBlackboxError, match=f"holds the blackbox {other.name!r}, not"):
        read_blackbox(BlackboxCache(fresh_cache_dir).entry_path(LCDB_NAME), expected_name=LCDB_NAME)
    loaded = load_blackbox(LCDB_NAME, cache_dir=fresh_cache_dir, recipe=make_lcdb_recipe())

    assert loaded.name == LCDB_NAME
    assert "fetched again" in caplog.text
    assert read_blackbox(BlackboxCache(fresh_cache_dir).entry_path(LCDB_NAME)).name == LCDB_NAME


# ----------------------------------------------------------------- item 5
def _declare_more_rows(parquet: Path, n_rows: int, n_declared: int) -> None:
    """Patch the file-level row count in the Parquet footer (Thrift compact: field 3, i64)."""
    content = bytearray(parquet.read_bytes())
    footer_length = struct.unpack("<I", content[-8:-4])[0]
    footer_start = len(content) - 8 - footer_length

    def varint(value: int) -> bytes:
        zigzag, out = value << 1, b""
        while zigzag >= 0x80:
            out, zigzag = out + bytes([zigzag & 0x7F | 0x80]), zigzag >> 7
        return out + bytes([zigzag])

    old, new = b"\x16" + varint(n_rows), b"\x16" + varint(n_declared)
    assert len(old) == len(new)
    position = content.index(old, footer_start)
    content[position : position + len(old)] = new
    parquet.write_bytes(bytes(content))


def _grid_blackbox(n_configs: int) -> TabularBlackbox:
    """``n_configs`` learning rates x 5 epochs x 2 seeds x 2 objectives of random values."""
    values = np.random.default_rng(0).random((n_configs, 5, 2, 2))
    values[..., 1] = np.cumsum(values[..., 1], axis=1)
    return TabularBlackbox(
        name="grid",
        configuration_space=ConfigurationSpace({"lr": (0.0, 1.0)}),
        configurations=pd.DataFrame({"lr": np.linspace(0.0, 1.0, n_configs)}),
        fidelity_name="epoch",
        fidelity_values=[1, 2, 3, 4, 5],
        seeds=[0, 1],
        objectives=[Objective("loss", "min"), Objective("elapsed_time", "min")],
        elapsed_time_objective="elapsed_time",
        values=values[:n_configs],
    )


def test_parquet_row_groups_with_fewer_rows_than_declared_are_refused(tmp_path):
    import pyarrow.parquet as pq

    entry = write_blackbox(_grid_blackbox(10), tmp_path / "entry")  # 100 rows
    short = write_blackbox(_grid_blackbox(9), tmp_path / "short")  # 90 rows
    parquet = entry / OBJECTIVES_FILE
    shutil.copyfile(short / OBJECTIVES_FILE, parquet)
    _declare_more_rows(parquet, 90, 100)  # the footer now agrees with the metadata
    assert pq.ParquetFile(parquet).metadata.num_rows == 100

    def record_the_new_file(metadata):  # a producer whose checksums agree with it
        metadata["files"][OBJECTIVES_FILE] = {
            "sha256": sha256_file(parquet),
            "bytes": parquet.stat().st_size,
        }

    _rewrite_metadata(entry, record_the_new_file, sign=True)
    with pytest.raises(CorruptBlackboxError, match="declares 100 rows but its row groups hold 90"):
        read_blackbox(entry)


# ----------------------------------------------------------------- item 7
class _DrippingHandler(http.server.BaseHTTPRequestHandler):
    """Announces 1,000 bytes and sends one every 50 ms."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def dripping_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DrippingHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/raw.csv"
    server.shutdown()
    server.server_close()


def test_a_dripping_server_hits_the_total_deadline_with_progress_shown(
    dripping_server, tmp_path, caplog
):
    destination = tmp_path / "raw" / "raw.csv"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(DownloadError, match="deadline of 1 s"):
        download(dripping_server, destination, timeout=60, deadline=1.0, progress_interval=0.2)

    assert time.monotonic() - started < 5  # the per-read timeout (60 s) never fired
    assert "still downloading" in caplog.text
    assert sorted(p.name for p in destination.parent.iterdir()) == []  # no .part left


def test_a_process_waiting_for_a_lock_says_what_it_waits_for(tmp_path, caplog):
    lock_path = tmp_path / ".raw.csv.lock"
    holder = python_subprocess(
        "import sys, time; from filelock import FileLock\n"
        "with FileLock(sys.argv[1]):\n"
        "    open(sys.argv[2], 'w').close(); time.sleep(1.0)\n",
        str(lock_path),
        str(tmp_path / "held"),
    )
    wait_for_file(tmp_path / "held", holder)
    with caplog.at_level(logging.WARNING), hold_lock(lock_path, timeout=30, what="the raw file x"):
        assert holder.wait(timeout=30) == 0  # acquired only once the other process let go
    assert "waiting for another simtune process that holds the raw file x" in caplog.text


# ----------------------------------------------------------------- item 10
@pytest.mark.parametrize("file_name", ["../outside.parquet", "/etc/hostname"])
def test_paths_escaping_the_entry_are_refused_for_reads_and_uploads(
    lcdb_entry, file_name, s3_endpoint, s3_client
):
    outside = lcdb_entry.parent / "outside.parquet"
    outside.write_bytes(b"not part of the entry")

    def name_an_outside_file(metadata):
        metadata["files"][file_name] = {"sha256": "0" * 64, "bytes": 1}

    _rewrite_metadata(lcdb_entry, name_an_outside_file, sign=True)
    with pytest.raises(CorruptBlackboxError, match="not a plain file name"):
        read_blackbox(lcdb_entry)
    with pytest.raises(CorruptBlackboxError, match="not a plain file name"):
        S3Mirror(MIRROR_URL, endpoint_url=s3_endpoint).upload(LCDB_NAME, lcdb_entry)
    assert "Contents" not in s3_client.list_objects_v2(Bucket=MOTO_BUCKET)  # nothing sent


def test_a_data_file_replaced_by_a_symlink_is_refused(lcdb_entry, tmp_path):
    elsewhere = tmp_path / "elsewhere.parquet"
    shutil.copyfile(lcdb_entry / OBJECTIVES_FILE, elsewhere)
    (lcdb_entry / OBJECTIVES_FILE).unlink()
    (lcdb_entry / OBJECTIVES_FILE).symlink_to(elsewhere)
    with pytest.raises(CorruptBlackboxError, match="symbolic link"):
        read_blackbox(lcdb_entry)


# ----------------------------------------------------------------- item 11
class _DirectObjectArray:
    def __reduce__(self):
        return (np.ndarray, ((2,), "object"))


class _HugeReconstruct:
    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        return (_reconstruct, (np.ndarray, (1 << 40,), "f8"))


class _HugeState:
    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        state = (1, (1 << 62, 4), np.dtype("f8"), False, b"")
        return (_reconstruct, (np.ndarray, (0,), b"b"), state)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (_DirectObjectArray(), r"refusing to call numpy.ndarray\(\(2,\), 'object'\)"),
        (_HugeReconstruct(), "refusing an array of shape"),
        (_HugeState(), "refusing an array of shape"),
        ({"grid": np.array([1, "a"], dtype=object)}, "refusing a numpy object dtype"),
    ],
)
def test_the_restricted_unpickler_builds_no_object_arrays_and_no_huge_ones(
    tmp_path, payload, message
):
    path = tmp_path / "crafted.p"
    path.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(ConversionError, match=message):
        load_numpy_pickle(path)


def test_the_restricted_unpickler_still_reads_real_numpy_pickles(tmp_path):
    arrays = {"a": np.arange(12.0).reshape(3, 4), "b": [np.int64(3), np.float32(0.5)]}
    path = tmp_path / "real.p"
    path.write_bytes(pickle.dumps(arrays, protocol=4))
    loaded = load_numpy_pickle(path)
    assert type(loaded["a"]) is np.ndarray and np.array_equal(loaded["a"], arrays["a"])
    assert loaded["b"] == [3, 0.5]


# ----------------------------------------------------------------- item 12
def _zip_recipe() -> Recipe:
    """The test recipe, reading the LCDB CSV from a zip archive without a published sha256."""
    raw = RawFile(path="zipped/lcdb.zip", url="https://invalid.test/lcdb.zip", sha256=None)

    def convert(name: str, raw_dir: Path):
        unpacked = raw_dir / "zipped" / "lcdb"
        read_csv(unpacked / LCDB_FILE, ["learner", "size_train", "inner_seed"])  # format check
        return build_lcdb_blackbox(name, unpacked)

    return Recipe(family="test-zipped", names=(LCDB_NAME,), raw_files=(raw,), convert=convert)


def test_a_raw_archive_is_trusted_only_after_its_conversion_succeeded(
    fresh_cache_dir, shared_data_dir, tmp_path
):
    raw_dir = tmp_path / "originals"
    (raw_dir / "zipped").mkdir(parents=True)
    archive = raw_dir / "zipped" / "lcdb.zip"
    pin = fresh_cache_dir / "raw" / "zipped" / "lcdb.zip.sha256"
    with zipfile.ZipFile(archive, "w") as packed:  # readable, but not what the recipe needs
        packed.writestr(LCDB_FILE, "openmlid,learner\n3,fake\n")
    with pytest.raises(ConversionError):
        load_blackbox(
            LCDB_NAME, cache_dir=fresh_cache_dir, raw_data_dir=raw_dir, recipe=_zip_recipe()
        )
    assert not pin.exists()

    with zipfile.ZipFile(archive, "w") as packed:  # the genuine file
        packed.write(shared_data_dir / LCDB_FILE, LCDB_FILE)
    loaded = load_blackbox(
        LCDB_NAME, cache_dir=fresh_cache_dir, raw_data_dir=raw_dir, recipe=_zip_recipe()
    )
    assert loaded.name == LCDB_NAME
    assert pin.read_text().split()[0] == sha256_file(archive)


# ----------------------------------------------------------------- item 13
def _simtune(*args: str, cache_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarking.cli", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "SIMTUNE_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_one_error_line(completed: subprocess.CompletedProcess, names: Path) -> None:
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert lines[-1].startswith("simtune: error: cannot use the blackbox cache at"), lines
    assert str(names) in lines[-1] and "Traceback" not in completed.stderr


def test_a_cache_dir_that_is_a_file_is_one_clear_error(tmp_path):
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("my notes")
    completed = _simtune("blackbox", "convert", "sklearn-mlp-digits", cache_dir=not_a_folder)
    _assert_one_error_line(completed, not_a_folder)
    assert not_a_folder.read_text() == "my notes"


@pytest.fixture
def read_only_filesystem(tmp_path):
    """A real read-only file system (tmpfs mounted ro); skipped where mounting is not allowed."""
    with mounted_tmpfs(tmp_path / "read-only-cache", "ro,size=1m") as mount_point:
        yield mount_point


def test_a_read_only_cache_is_one_clear_error(read_only_filesystem):
    completed = _simtune(
        "blackbox", "convert", "sklearn-mlp-digits", cache_dir=read_only_filesystem
    )
    _assert_one_error_line(completed, read_only_filesystem)
    assert "Read-only file system" in completed.stderr


# ----------------------------------------------------------------- item 15 and S3 sizes
@pytest.fixture
def uploaded(lcdb_entry, s3_endpoint) -> S3Mirror:
    mirror = S3Mirror(MIRROR_URL, endpoint_url=s3_endpoint)
    mirror.upload(LCDB_NAME, lcdb_entry)
    return mirror


def test_a_mirror_entry_listing_no_data_files_names_the_object_and_falls_back(
    uploaded, s3_client, tmp_path, caplog
):
    key = uploaded.metadata_key(LCDB_NAME)
    metadata = json.loads(s3_client.get_object(Bucket=MOTO_BUCKET, Key=key)["Body"].read())
    metadata["files"] = {}
    metadata[METADATA_CHECKSUM_FIELD] = metadata_checksum(metadata)
    s3_client.put_object(Bucket=MOTO_BUCKET, Key=key, Body=json.dumps(metadata).encode())

    with pytest.raises(CorruptBlackboxError) as refused:
        uploaded.download(LCDB_NAME, tmp_path / "staging")
    assert f"s3://{MOTO_BUCKET}/{key}" in str(refused.value)
    assert "staging" not in str(refused.value)

    cache_dir = tmp_path / "another-cache"
    loaded = load_blackbox(
        LCDB_NAME, cache_dir=cache_dir, s3_mirror=uploaded, recipe=make_lcdb_recipe()
    )
    assert loaded.name == LCDB_NAME  # converted from the raw files instead
    assert f"s3://{MOTO_BUCKET}/{key}" in caplog.text


def test_an_oversized_mirror_object_is_refused_before_it_is_downloaded(
    uploaded, lcdb_entry, s3_client, tmp_path
):
    recorded = json.loads((lcdb_entry / METADATA_FILE).read_text())["files"][OBJECTIVES_FILE]
    key = uploaded.data_key(LCDB_NAME, OBJECTIVES_FILE, recorded["sha256"])
    s3_client.put_object(Bucket=MOTO_BUCKET, Key=key, Body=b"\0" * (8 << 20))

    staging = tmp_path / "staging"
    with pytest.raises(CorruptBlackboxError, match=f"has {8 << 20} bytes but its metadata.json"):
        uploaded.download(LCDB_NAME, staging)
    assert not (staging / OBJECTIVES_FILE).exists()
