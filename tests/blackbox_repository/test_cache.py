"""The cache under concurrency and crashes, with real processes: concurrent loads, a
conversion killed half-way, a write killed half-way; and the cache's folder mechanics."""

from __future__ import annotations

import hashlib
import signal
import time

import pytest

from blackbox_repository import load_blackbox
from blackbox_repository.cache import BlackboxCache, check_entry_name, default_cache_root
from blackbox_repository.file_format import METADATA_FILE, OBJECTIVES_FILE
from tests.blackbox_repository.conftest import (
    LCDB_NAME,
    make_lcdb_recipe,
    python_subprocess,
    wait_for_file,
)

LOAD = """
import hashlib, sys
from blackbox_repository import load_blackbox
from tests.blackbox_repository.conftest import LCDB_NAME, make_lcdb_recipe

blackbox = load_blackbox(LCDB_NAME, cache_dir=sys.argv[1], recipe=make_lcdb_recipe(gate=sys.argv[2]))
print(hashlib.sha256(blackbox.values.tobytes()).hexdigest())
"""

# Converts normally, but the tabular writer stops after writing the data files (before
# metadata.json), says so, and waits to be killed.
LOAD_WITH_WRITE_HELD = """
import sys, time
from pathlib import Path
from blackbox_repository import file_format, load_blackbox
from tests.blackbox_repository.conftest import LCDB_NAME, make_lcdb_recipe

def held_writer(blackbox, directory):
    extra = file_format.write_tabular_data(blackbox, directory)
    (Path(sys.argv[2]) / "written").write_text(str(directory))
    time.sleep(120)
    return extra

file_format.KIND_WRITERS["tabular"] = "__main__:held_writer"
load_blackbox(LCDB_NAME, cache_dir=sys.argv[1], recipe=make_lcdb_recipe(gate=sys.argv[2]))
"""


@pytest.fixture
def gate(tmp_path):
    path = tmp_path / "gate"
    path.mkdir()
    return path


def _conversions(gate) -> int:
    log = gate / "conversions"
    return len(log.read_text().split()) if log.exists() else 0


def _open(gate) -> None:
    (gate / "go").touch()


def _digest(blackbox) -> str:
    return hashlib.sha256(blackbox.values.tobytes()).hexdigest()


def _folders(cache_dir) -> list[str]:
    blackboxes = cache_dir / "blackboxes"
    return sorted(p.name for p in blackboxes.iterdir()) if blackboxes.exists() else []


@pytest.mark.timeout(120)
def test_two_processes_loading_at_once_both_get_the_complete_entry(
    fresh_cache_dir, gate, lcdb_blackbox
):
    first = python_subprocess(LOAD, str(fresh_cache_dir), str(gate))
    second = python_subprocess(LOAD, str(fresh_cache_dir), str(gate))
    deadline = time.monotonic() + 60
    while not list(gate.glob("started-*")):
        assert time.monotonic() < deadline, "no conversion started"
        assert first.poll() is None and second.poll() is None, "a loader exited early"
        time.sleep(0.02)
    time.sleep(0.5)  # let the other process reach the lock
    # While one process converts, nothing is visible to the other as an entry.
    assert BlackboxCache(fresh_cache_dir).names() == []
    _open(gate)

    outputs = [process.communicate(timeout=60) for process in (first, second)]

    for process, (stdout, stderr) in zip((first, second), outputs):
        assert process.returncode == 0, stderr
        assert stdout.strip() == _digest(lcdb_blackbox)
    assert _conversions(gate) == 1  # the second waited for the lock, then read the entry
    assert _folders(fresh_cache_dir) == [LCDB_NAME]


@pytest.mark.timeout(120)
def test_conversion_killed_half_way_leaves_no_entry_and_the_next_load_starts_clean(
    fresh_cache_dir, gate, lcdb_blackbox
):
    process = python_subprocess(LOAD, str(fresh_cache_dir), str(gate))
    wait_for_file(gate / f"started-{process.pid}", process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    cache = BlackboxCache(fresh_cache_dir)
    assert not cache.has_entry(LCDB_NAME)
    assert _folders(fresh_cache_dir) == []
    _open(gate)  # the lock died with the process: the next load must not wait for it
    blackbox = load_blackbox(
        LCDB_NAME, cache_dir=fresh_cache_dir, recipe=make_lcdb_recipe(gate=gate)
    )

    assert _digest(blackbox) == _digest(lcdb_blackbox)
    assert _conversions(gate) == 2
    assert _folders(fresh_cache_dir) == [LCDB_NAME]


@pytest.mark.timeout(120)
def test_write_killed_half_way_leaves_stale_staging_that_the_next_load_removes(
    fresh_cache_dir, gate, lcdb_blackbox
):
    _open(gate)
    process = python_subprocess(LOAD_WITH_WRITE_HELD, str(fresh_cache_dir), str(gate))
    wait_for_file(gate / "written", process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    staging = [name for name in _folders(fresh_cache_dir) if name.startswith(".staging-")]
    assert len(staging) == 1  # the killed write's leftovers: data files, no metadata.json
    staged = fresh_cache_dir / "blackboxes" / staging[0]
    assert (staged / OBJECTIVES_FILE).exists() and not (staged / METADATA_FILE).exists()
    assert not BlackboxCache(fresh_cache_dir).has_entry(LCDB_NAME)

    blackbox = load_blackbox(
        LCDB_NAME, cache_dir=fresh_cache_dir, recipe=make_lcdb_recipe(gate=gate)
    )

    assert _digest(blackbox) == _digest(lcdb_blackbox)
    assert _folders(fresh_cache_dir) == [LCDB_NAME]  # stale staging removed


# ------------------------------------------------------------------ folder mechanics
def _staged_entry(cache: BlackboxCache, name: str, content: str):
    """A staging folder holding a fake complete entry (metadata.json is all install checks)."""
    cache.blackboxes_dir.mkdir(parents=True, exist_ok=True)
    staged = cache.blackboxes_dir / f".staging-{name}-1-0123abcd"
    staged.mkdir()
    (staged / METADATA_FILE).write_text(content)
    return staged


def test_install_replaces_an_entry_by_rename_and_leaves_no_trash(fresh_cache_dir):
    cache = BlackboxCache(fresh_cache_dir)
    cache.install("bb", _staged_entry(cache, "bb", "first"))
    cache.install("bb", _staged_entry(cache, "bb", "second"))

    assert (cache.entry_path("bb") / METADATA_FILE).read_text() == "second"
    assert _folders(fresh_cache_dir) == ["bb"]


def test_install_refuses_a_staging_folder_without_metadata(fresh_cache_dir):
    cache = BlackboxCache(fresh_cache_dir)
    staged = _staged_entry(cache, "bb", "x")
    (staged / METADATA_FILE).unlink()
    with pytest.raises(ValueError, match="refusing to install an incomplete entry"):
        cache.install("bb", staged)
    assert not cache.has_entry("bb")


def test_staging_folder_is_removed_unless_installed(fresh_cache_dir):
    cache = BlackboxCache(fresh_cache_dir)
    with cache.staging("bb") as staged:
        (staged / "part").write_text("x")
    assert not staged.exists()
    with pytest.raises(RuntimeError), cache.staging("bb") as staged:
        raise RuntimeError("conversion failed")
    assert not staged.exists()
    with cache.staging("bb") as staged:
        (staged / METADATA_FILE).write_text("{}")
        cache.install("bb", staged)
    assert cache.has_entry("bb") and _folders(fresh_cache_dir) == ["bb"]


def test_stale_cleanup_spares_the_staging_of_other_names(fresh_cache_dir):
    cache = BlackboxCache(fresh_cache_dir)
    cache.blackboxes_dir.mkdir(parents=True)
    for folder in (
        ".staging-lcdb-123-0123abcd",
        ".trash-lcdb-0123abcd",
        ".staging-lcdb-extra-123-0123abcd",  # entry "lcdb-extra", written under another lock
        ".trash-lcdb-extra-0123abcd",
        "lcdb",
    ):
        (cache.blackboxes_dir / folder).mkdir()

    cache.remove_stale_staging("lcdb")

    assert _folders(fresh_cache_dir) == [
        ".staging-lcdb-extra-123-0123abcd",
        ".trash-lcdb-extra-0123abcd",
        "lcdb",
    ]


def test_names_lists_complete_entries_only(fresh_cache_dir):
    cache = BlackboxCache(fresh_cache_dir)
    cache.install("complete", _staged_entry(cache, "complete", "{}"))
    (cache.blackboxes_dir / "no-metadata").mkdir()
    _staged_entry(cache, "staged", "{}")
    assert cache.names() == ["complete"]


def test_remove_deletes_an_entry(fresh_cache_dir):
    cache = BlackboxCache(fresh_cache_dir)
    cache.install("bb", _staged_entry(cache, "bb", "{}"))
    cache.remove("bb")
    assert not cache.has_entry("bb") and _folders(fresh_cache_dir) == []


@pytest.mark.parametrize("name", ["", "../escape", ".hidden", "a/b", "with space"])
def test_unsafe_entry_names_are_refused(name):
    with pytest.raises(ValueError, match="is not allowed"):
        check_entry_name(name)


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SIMTUNE_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_root() == tmp_path / "elsewhere"
    assert BlackboxCache().blackboxes_dir == tmp_path / "elsewhere" / "blackboxes"
