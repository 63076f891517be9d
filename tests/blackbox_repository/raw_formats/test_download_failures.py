"""The real HTTP download path when things go wrong: every failure is a clear error and
leaves the cache consistent (no blackbox entry, no file that looks complete).

The recipe is LCBench's with a small ``data_2k_lw.zip`` in its published format.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress

from blackbox_repository import ChecksumMismatchError, ConversionError, DownloadError, load_blackbox
from blackbox_repository.file_format import sha256_file
from blackbox_repository.raw_files import UNPACKED_MARKER, fetch_raw_files
from blackbox_repository.recipes import RawFile
from blackbox_repository.recipes.lcbench import RAW_FILE, make_recipe

NAME = "lcbench-adult"
CONFIG = {"batch_size": 32, "learning_rate": 0.01, "momentum": 0.5, "weight_decay": 0.001,
          "num_layers": 2, "max_units": 128, "max_dropout": 0.2}  # fmt: skip


def lcbench_zip(val_accuracy: float = 80.0) -> bytes:
    run = {
        "config": {**CONFIG, "optimizer": "sgd"},
        "log": {"time": [1.0, 2.0], "Train/val_accuracy": [70.0, val_accuracy]},
        "results": {},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as packed:
        packed.writestr("data_2k_lw.json", json.dumps({"adult": {"0": run}}))
    return buffer.getvalue()


@pytest.fixture
def archive(tmp_path) -> Path:
    path = tmp_path / "data_2k_lw.zip"
    path.write_bytes(lcbench_zip())
    return path


def raw_dir(cache: Path) -> Path:
    return cache / "raw" / "lcbench"


def assert_no_trace(cache: Path) -> None:
    """No entry, no staging folder, and nothing in the raw folder but (hidden) lock files."""
    blackboxes = cache / "blackboxes"
    assert not blackboxes.exists() or list(blackboxes.iterdir()) == []
    leftovers = [p.name for p in raw_dir(cache).iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def load(recipe, cache: Path, offline: Path):
    return load_blackbox(NAME, recipe=recipe, cache_dir=cache, raw_data_dir=offline)


def test_a_cut_download_is_an_error_and_leaves_no_file(
    raw_file_server, archive, fresh_cache_dir, offline_raw_data
):
    raw_file = raw_file_server.serve_file(
        RAW_FILE.path, archive, cut_at=archive.stat().st_size // 2
    )
    with pytest.raises(DownloadError, match=r"was cut: received \d+ of \d+ bytes"):
        load(make_recipe([raw_file]), fresh_cache_dir, offline_raw_data)
    assert_no_trace(fresh_cache_dir)


def test_a_served_file_with_the_wrong_checksum_is_removed(
    raw_file_server, archive, fresh_cache_dir, offline_raw_data
):
    url = raw_file_server.serve(RAW_FILE.path, archive.read_bytes())
    raw_file = RawFile(path=RAW_FILE.path, url=url, sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError, match=url) as error:
        load(make_recipe([raw_file]), fresh_cache_dir, offline_raw_data)
    assert error.value.actual == sha256_file(archive)
    assert_no_trace(fresh_cache_dir)


@pytest.mark.parametrize("status", [404, 500])
def test_http_errors_name_the_url_and_status(
    raw_file_server, archive, fresh_cache_dir, offline_raw_data, status
):
    raw_file = raw_file_server.serve_file(RAW_FILE.path, archive, status=status)
    if status == 404:
        raw_file_server.routes.clear()
    with pytest.raises(DownloadError, match=f"HTTP {status}") as error:
        load(make_recipe([raw_file]), fresh_cache_dir, offline_raw_data)
    assert raw_file.url in str(error.value)
    assert_no_trace(fresh_cache_dir)


def test_an_unreachable_host_says_how_to_work_offline(
    unreachable_url, fresh_cache_dir, offline_raw_data
):
    raw_file = RawFile(path=RAW_FILE.path, url=unreachable_url, sha256=None)
    with pytest.raises(DownloadError) as error:
        load(make_recipe([raw_file]), fresh_cache_dir, offline_raw_data)
    message = str(error.value)
    assert (
        unreachable_url in message
        and "SIMTUNE_RAW_DATA_DIR" in message
        and "SIMTUNE_RAW_MIRROR_URL" in message
    )
    assert_no_trace(fresh_cache_dir)


def test_an_html_page_instead_of_the_file_is_refused(
    raw_file_server, archive, fresh_cache_dir, offline_raw_data
):
    raw_file = raw_file_server.serve_file(
        RAW_FILE.path, archive, content_type="text/html; charset=utf-8"
    )
    with pytest.raises(DownloadError, match="HTML page"):
        load(make_recipe([raw_file]), fresh_cache_dir, offline_raw_data)
    assert_no_trace(fresh_cache_dir)


def test_the_part_file_of_a_killed_download_is_removed(
    raw_file_server, archive, fresh_cache_dir, offline_raw_data
):
    raw_dir(fresh_cache_dir).mkdir(parents=True)
    killed = raw_dir(fresh_cache_dir) / ".data_2k_lw.zip.part-deadbeef"
    killed.write_bytes(archive.read_bytes()[:100])
    bb = load(
        make_recipe([raw_file_server.serve_file(RAW_FILE.path, archive)]),
        fresh_cache_dir,
        offline_raw_data,
    )
    assert bb.lookup(CONFIG, fidelity=2)["val_accuracy"] == 80.0
    assert not killed.exists()


def test_a_killed_unpack_is_redone_without_downloading_again(
    raw_file_server, archive, fresh_cache_dir, offline_raw_data
):
    raw_file = raw_file_server.serve_file(RAW_FILE.path, archive)
    raw_dir(fresh_cache_dir).mkdir(parents=True)
    (raw_dir(fresh_cache_dir) / "data_2k_lw.zip").write_bytes(
        archive.read_bytes()
    )  # downloaded before the kill
    killed = raw_dir(fresh_cache_dir) / ".data_2k_lw.unpacking-deadbeef"
    killed.mkdir()
    (killed / "data_2k_lw.json").write_text('{"adult": {"0": {"conf')  # half-written member
    bb = load(make_recipe([raw_file]), fresh_cache_dir, offline_raw_data)
    assert bb.lookup(CONFIG, fidelity=2)["val_accuracy"] == 80.0
    assert raw_file_server.requests == []
    assert not killed.exists()
    assert (raw_dir(fresh_cache_dir) / "data_2k_lw" / UNPACKED_MARKER).exists()


def test_an_unpacked_folder_without_marker_is_not_trusted(
    raw_file_server, archive, fresh_cache_dir, offline_raw_data
):
    folder = raw_dir(fresh_cache_dir) / "data_2k_lw"
    folder.mkdir(parents=True)
    (folder / "data_2k_lw.json").write_text(
        json.dumps({"adult": {}})
    )  # looks complete, is not ours
    bb = load(
        make_recipe([raw_file_server.serve_file(RAW_FILE.path, archive)]),
        fresh_cache_dir,
        offline_raw_data,
    )
    assert bb.n_configurations == 1


def test_a_corrupt_cached_raw_file_is_downloaded_again(
    raw_file_server, archive, fresh_cache_dir, offline_raw_data
):
    recipe = make_recipe([raw_file_server.serve_file(RAW_FILE.path, archive)])
    load(recipe, fresh_cache_dir, offline_raw_data)
    (raw_dir(fresh_cache_dir) / "data_2k_lw.zip").write_bytes(b"bit rot")
    (fresh_cache_dir / "blackboxes" / NAME / "metadata.json").unlink()
    assert (
        load(recipe, fresh_cache_dir, offline_raw_data).lookup(CONFIG, fidelity=2)["val_accuracy"]
        == 80.0
    )
    assert len(raw_file_server.requests) == 2


def test_the_mirror_url_replaces_the_original_url(
    raw_file_server, archive, unreachable_url, fresh_cache_dir, offline_raw_data, monkeypatch
):
    monkeypatch.setenv("SIMTUNE_RAW_MIRROR_URL", raw_file_server.url("institute/simtune-raw/"))
    raw_file_server.serve(f"institute/simtune-raw/{RAW_FILE.path}", archive.read_bytes())
    raw_file = RawFile(path=RAW_FILE.path, url=unreachable_url, sha256=sha256_file(archive))
    bb = load(make_recipe([raw_file]), fresh_cache_dir, offline_raw_data)
    assert bb.lookup(CONFIG, fidelity=2)["val_accuracy"] == 80.0
    assert raw_file_server.requests == [f"/institute/simtune-raw/{RAW_FILE.path}"]


def test_a_file_missing_on_the_mirror_names_the_mirror_url(
    raw_file_server, unreachable_url, fresh_cache_dir, offline_raw_data, monkeypatch
):
    monkeypatch.setenv("SIMTUNE_RAW_MIRROR_URL", raw_file_server.url("mirror"))
    raw_file = RawFile(path=RAW_FILE.path, url=unreachable_url, sha256=None)
    with pytest.raises(
        DownloadError, match=f"{raw_file_server.url('mirror')}/{RAW_FILE.path}: .*HTTP 404"
    ):
        load(make_recipe([raw_file]), fresh_cache_dir, offline_raw_data)
    assert_no_trace(fresh_cache_dir)


def test_trust_on_first_download_then_a_changed_upstream_file_is_refused(
    raw_file_server, archive, fresh_cache_dir, offline_raw_data, caplog
):
    url = raw_file_server.serve(RAW_FILE.path, archive.read_bytes())
    recipe = make_recipe([RawFile(path=RAW_FILE.path, url=url, sha256=None)])
    with caplog.at_level(logging.WARNING, logger="blackbox_repository.raw_files"):
        load(recipe, fresh_cache_dir, offline_raw_data)
    record = raw_dir(fresh_cache_dir) / "data_2k_lw.zip.sha256"
    assert record.read_text() == f"{sha256_file(archive)}  data_2k_lw.zip\n"
    assert str(record) in caplog.text

    raw_file_server.serve(
        RAW_FILE.path, lcbench_zip(val_accuracy=99.0)
    )  # upstream replaced the file
    (raw_dir(fresh_cache_dir) / "data_2k_lw.zip").unlink()
    (fresh_cache_dir / "blackboxes" / NAME / "metadata.json").unlink()
    with pytest.raises(ChecksumMismatchError, match="recorded at its first download"):
        load(recipe, fresh_cache_dir, offline_raw_data)
    assert not (raw_dir(fresh_cache_dir) / "data_2k_lw.zip").exists()


def test_an_untrusted_download_that_is_no_archive_is_not_kept(
    raw_file_server, fresh_cache_dir, offline_raw_data
):
    url = raw_file_server.serve(RAW_FILE.path, b"<this is not a zip file>")
    recipe = make_recipe([RawFile(path=RAW_FILE.path, url=url, sha256=None)])
    with pytest.raises(ConversionError, match="not a readable archive"):
        load(recipe, fresh_cache_dir, offline_raw_data)
    assert_no_trace(fresh_cache_dir)


def test_downloads_and_unpacking_report_progress(
    raw_file_server, archive, fresh_cache_dir, offline_raw_data
):
    raw_file = raw_file_server.serve_file(RAW_FILE.path, archive)
    progress = Progress(console=Console(file=io.StringIO()))
    with progress:
        fetch_raw_files(
            [raw_file], fresh_cache_dir / "raw", raw_data_dir=offline_raw_data, progress=progress
        )
    tasks = {task.description: task for task in progress.tasks}
    assert tasks["download data_2k_lw.zip"].completed == archive.stat().st_size
    assert tasks["unpack data_2k_lw.zip"].finished
