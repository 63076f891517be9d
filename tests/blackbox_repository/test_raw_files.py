"""raw_files without the network: local originals, checksums, trust on first use, mirrors,
and safe, atomic unpacking of archives. (Downloads over HTTP: tests/.../raw_formats/.)"""

from __future__ import annotations

import io
import logging
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from blackbox_repository import ChecksumMismatchError, ConversionError
from blackbox_repository.file_format import sha256_file
from blackbox_repository.raw_files import (
    UNPACKED_MARKER,
    archive_suffix,
    fetch_raw_files,
    raw_mirror_url,
    source_url,
    unpack_archive,
    unpacked_dir,
)
from blackbox_repository.recipes import RawFile


def write_tar(
    path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None
) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as packed:
        for name, body in members.items():
            packed.writestr(name, body)
    return path


def local_raw_file(folder: Path, path: str, body: bytes, *, pinned: bool = True) -> RawFile:
    (folder / path).parent.mkdir(parents=True, exist_ok=True)
    (folder / path).write_bytes(body)
    sha256 = sha256_file(folder / path) if pinned else None
    return RawFile(path=path, url="http://127.0.0.1:9/never-used", sha256=sha256)


def test_archives_are_recognised_by_suffix_and_unpacked_next_to_themselves(tmp_path):
    assert [archive_suffix(p) for p in ("a.tar.gz", "a.TGZ", "a.tar", "a.zip", "a.pbz2")] == [
        ".tar.gz", ".tgz", ".tar", ".zip", None,
    ]  # fmt: skip
    raw_file = RawFile(path="pd1/pd1.tar.gz", url="", sha256=None)
    assert unpacked_dir(tmp_path, raw_file) == tmp_path / "pd1" / "pd1"
    with pytest.raises(ValueError, match="not an archive"):
        unpacked_dir(tmp_path, RawFile(path="nb/file.pbz2", url="", sha256=None))


def test_mirror_url_replaces_the_original_one(monkeypatch):
    raw_file = RawFile(path="lcbench/data 2k.zip", url="https://figshare.com/x", sha256=None)
    assert source_url(raw_file) == "https://figshare.com/x"
    monkeypatch.setenv("SIMTUNE_RAW_MIRROR_URL", "https://mirror.example.org/raw/")
    assert raw_mirror_url() == "https://mirror.example.org/raw"
    assert (
        source_url(raw_file, raw_mirror_url())
        == "https://mirror.example.org/raw/lcbench/data%202k.zip"
    )
    monkeypatch.setenv("SIMTUNE_RAW_MIRROR_URL", "  ")
    assert raw_mirror_url() is None


@pytest.mark.parametrize("writer, name", [(write_tar, "a.tar.gz"), (write_zip, "a.zip")])
def test_unpacking_writes_members_and_a_marker_atomically(tmp_path, writer, name):
    archive = writer(tmp_path / name, {"top/data.json": b"{}", "top/sub/x.txt": b"x"})
    destination = tmp_path / "raw" / "a"
    assert unpack_archive(archive, destination, archive_sha256="s1") == destination
    assert (destination / "top" / "data.json").read_bytes() == b"{}"
    assert (destination / "top" / "sub" / "x.txt").read_bytes() == b"x"
    assert (destination / UNPACKED_MARKER).exists()
    assert sorted(p.name for p in destination.parent.iterdir()) == ["a"]


def test_unpacking_again_only_when_the_archive_changed(tmp_path):
    destination = tmp_path / "raw" / "a"
    unpack_archive(
        write_tar(tmp_path / "a.tar.gz", {"v.txt": b"1"}), destination, archive_sha256="s1"
    )
    archive = write_tar(tmp_path / "a.tar.gz", {"v.txt": b"2"})
    unpack_archive(archive, destination, archive_sha256="s1")  # same archive: kept as is
    assert (destination / "v.txt").read_bytes() == b"1"
    unpack_archive(archive, destination, archive_sha256="s2")
    assert (destination / "v.txt").read_bytes() == b"2"
    assert sorted(p.name for p in destination.parent.iterdir()) == ["a"]


def test_leftovers_of_a_killed_unpack_are_removed(tmp_path):
    destination = tmp_path / "raw" / "a"
    killed = tmp_path / "raw" / ".a.unpacking-0123abcd"
    killed.mkdir(parents=True)
    (killed / "half.txt").write_bytes(b"ha")
    unpack_archive(
        write_tar(tmp_path / "a.tar.gz", {"v.txt": b"1"}), destination, archive_sha256="s1"
    )
    assert not killed.exists() and (destination / "v.txt").exists()


@pytest.mark.parametrize(
    "writer, members, symlinks",
    [
        (write_tar, {"../evil.txt": b"x"}, None),
        (write_tar, {"/tmp/evil.txt": b"x"}, None),
        (write_tar, {"ok.txt": b"x"}, {"link": "../../outside"}),
        (write_zip, {"../evil.txt": b"x"}, None),
        (write_zip, {"a/../../evil.txt": b"x"}, None),
    ],
)
def test_members_escaping_the_folder_are_refused(tmp_path, writer, members, symlinks):
    extra = {"symlinks": symlinks} if symlinks else {}
    archive = writer(
        tmp_path / ("bad.tar.gz" if writer is write_tar else "bad.zip"), members, **extra
    )
    destination = tmp_path / "deep" / "raw" / "bad"
    with pytest.raises(ConversionError, match="refusing to unpack"):
        unpack_archive(archive, destination, archive_sha256="s")
    assert list(destination.parent.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "deep" / "evil.txt").exists()


def test_a_truncated_archive_is_a_clear_error(tmp_path):
    archive = write_tar(tmp_path / "a.tar.gz", {"v.txt": b"1" * 10_000})
    archive.write_bytes(archive.read_bytes()[:40])
    with pytest.raises(ConversionError, match="truncated or corrupt"):
        unpack_archive(archive, tmp_path / "raw" / "a", archive_sha256="s")
    assert list((tmp_path / "raw").iterdir()) == []


def test_a_local_archive_is_unpacked_into_the_cache_and_the_local_folder_is_untouched(tmp_path):
    local, cache = tmp_path / "originals", tmp_path / "cache-raw"
    body = (write_zip(tmp_path / "x.zip", {"data.json": b"[1]"})).read_bytes()
    raw_file = local_raw_file(local, "fam/x.zip", body)
    before = sorted(str(p.relative_to(local)) for p in local.rglob("*"))
    assert fetch_raw_files([raw_file], cache, raw_data_dir=local) == cache
    assert (unpacked_dir(cache, raw_file) / "data.json").read_bytes() == b"[1]"
    assert sorted(str(p.relative_to(local)) for p in local.rglob("*")) == before


def test_local_files_without_published_checksum_are_trusted_once_then_verified(tmp_path, caplog):
    local, cache = tmp_path / "originals", tmp_path / "cache-raw"
    raw_file = local_raw_file(local, "fam/table.pbz2", b"original", pinned=False)
    with caplog.at_level(logging.WARNING, logger="blackbox_repository.raw_files"):
        assert fetch_raw_files([raw_file], cache, raw_data_dir=local) == local
    record = cache / "fam" / "table.pbz2.sha256"
    assert record.read_text().split()[0] == sha256_file(local / "fam" / "table.pbz2")
    assert "no published sha256" in caplog.text
    assert (
        fetch_raw_files([raw_file], cache, raw_data_dir=local) == local
    )  # verified against the record
    (local / "fam" / "table.pbz2").write_bytes(b"modified")
    with pytest.raises(ChecksumMismatchError, match="recorded at its first download"):
        fetch_raw_files([raw_file], cache, raw_data_dir=local)


def test_a_local_file_with_the_wrong_published_checksum_is_refused(tmp_path):
    local = tmp_path / "originals"
    raw_file = local_raw_file(local, "fam/table.csv", b"a,b")
    (local / "fam" / "table.csv").write_bytes(b"a,c")
    with pytest.raises(ChecksumMismatchError, match="table.csv"):
        fetch_raw_files([raw_file], tmp_path / "cache-raw", raw_data_dir=local)


def test_concurrent_fetches_of_one_archive_unpack_it_once(tmp_path):
    local, cache = tmp_path / "originals", tmp_path / "cache-raw"
    raw_file = local_raw_file(
        local, "fam/x.tar.gz", write_tar(tmp_path / "x.tar.gz", {"v.txt": b"1"}).read_bytes()
    )
    errors = []

    def fetch() -> None:
        try:
            fetch_raw_files([raw_file], cache, raw_data_dir=local)
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (unpacked_dir(cache, raw_file) / "v.txt").read_bytes() == b"1"
    assert sorted(p.name for p in (cache / "fam").iterdir() if not p.name.endswith(".lock")) == [
        "x"
    ]


def test_with_an_archive_among_local_files_every_file_is_found_below_the_cache(tmp_path):
    local, cache = tmp_path / "originals", tmp_path / "cache-raw"
    table = local_raw_file(local, "fam/table.csv", b"a,b\n1,2\n")
    archive = local_raw_file(
        local, "fam/x.zip", write_zip(tmp_path / "x.zip", {"m.txt": b"m"}).read_bytes()
    )
    for _ in range(2):  # the second fetch finds everything in place
        assert fetch_raw_files([table, archive], cache, raw_data_dir=local) == cache
    assert (cache / "fam" / "table.csv").read_bytes() == b"a,b\n1,2\n"
    assert (unpacked_dir(cache, archive) / "m.txt").read_bytes() == b"m"
    assert not (cache / "fam" / "x.zip").exists()  # a local archive is unpacked, not copied
