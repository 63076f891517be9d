"""Fetching a recipe's raw files: from a local folder of originals, else by download.

Every raw file is checked against a sha256 wherever it comes from: the one its recipe
records, or, for a ``RawFile`` with ``sha256=None`` (no published checksum), the one
recorded at its first use (trust on first download): the digest is written next to the
file in the cache as ``<file>.sha256`` (``sha256sum -c`` format), a warning says so, and
every later use is checked against it.

Downloads go to a ``.part`` file that is renamed only once complete, so a cut or killed
download never leaves a file that looks complete; leftovers of killed downloads are
removed by the next run. Archives (``.zip``, ``.tar``, ``.tar.gz``, ``.tgz``) are unpacked
after verification into the folder named like the archive without its suffix (see
:func:`unpacked_dir`), through a temporary folder and a rename, refusing members that
would land outside that folder.

``$SIMTUNE_RAW_MIRROR_URL`` replaces every original URL by ``<mirror>/<RawFile.path>``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from blackbox_repository.atomic_files import fsync_directory
from blackbox_repository.errors import ChecksumMismatchError, ConversionError, DownloadError
from blackbox_repository.file_format import sha256_file
from blackbox_repository.http_download import (  # noqa: F401 (re-exported)
    DEFAULT_DOWNLOAD_DEADLINE,
    DOWNLOAD_DEADLINE_ENV_VAR,
    OFFLINE_HINT,
    RAW_DATA_ENV_VAR,
    RAW_MIRROR_ENV_VAR,
    download,
    download_deadline,
)
from blackbox_repository.recipes.recipe import RawFile
from blackbox_repository.waiting_lock import hold_lock

logger = logging.getLogger(__name__)

RAW_LOCK_TIMEOUT = DEFAULT_DOWNLOAD_DEADLINE + 600.0
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
TRUSTED_SHA256_SUFFIX = ".sha256"
UNPACKED_MARKER = ".simtune-unpacked.json"
# tarfile's extraction filters and their errors exist from Python 3.10.12 / 3.11.4 on.
TAR_FILTER_ERRORS = getattr(tarfile, "FilterError", ())


# --------------------------------------------------------------------- locations
def local_raw_data_dir(raw_data_dir: Path | str | None = None) -> Path | None:
    """The folder of original raw files given as argument or by ``$SIMTUNE_RAW_DATA_DIR``."""
    if raw_data_dir is not None:
        return Path(raw_data_dir).expanduser()
    configured = os.environ.get(RAW_DATA_ENV_VAR)
    return Path(configured).expanduser() if configured else None


def raw_mirror_url() -> str | None:
    """``$SIMTUNE_RAW_MIRROR_URL`` without its trailing slash, or None if unset."""
    configured = os.environ.get(RAW_MIRROR_ENV_VAR, "").strip()
    return configured.rstrip("/") or None


def source_url(raw_file: RawFile, mirror: str | None = None) -> str:
    """Where ``raw_file`` is downloaded from: ``<mirror>/<path>`` if a mirror is set."""
    if mirror is None:
        return raw_file.url
    return f"{mirror}/{urllib.parse.quote(raw_file.path)}"


def archive_suffix(path: str) -> str | None:
    """The archive suffix of ``path`` (e.g. ``".tar.gz"``), or None if it is no archive."""
    lowered = path.lower()
    return next((s for s in ARCHIVE_SUFFIXES if lowered.endswith(s)), None)


def unpacked_dir(raw_dir: Path, raw_file: RawFile) -> Path:
    """The folder holding the unpacked contents of the archive ``raw_file``.

    It is the archive's path below ``raw_dir`` without the archive suffix, with the
    archive's members inside exactly as packed. Example: ``fcnet/fcnet.tar.gz`` whose
    members are ``fcnet/a.hdf5`` is unpacked into ``<raw_dir>/fcnet/fcnet/`` and the member
    is ``<raw_dir>/fcnet/fcnet/fcnet/a.hdf5``.
    """
    suffix = archive_suffix(raw_file.path)
    if suffix is None:
        raise ValueError(f"raw file {raw_file.path!r} is not an archive ({ARCHIVE_SUFFIXES})")
    return Path(raw_dir) / raw_file.path[: -len(suffix)]


def _trusted_sha256_record(download_dir: Path, raw_file: RawFile) -> Path:
    return download_dir / f"{raw_file.path}{TRUSTED_SHA256_SUFFIX}"


# --------------------------------------------------------------------- checksums
def _expected_sha256(raw_file: RawFile, download_dir: Path) -> str | None:
    if raw_file.sha256:
        return raw_file.sha256
    record = _trusted_sha256_record(download_dir, raw_file)
    if not record.exists():
        return None
    return record.read_text().split()[0]


def _verify(path: Path, raw_file: RawFile, download_dir: Path, *, origin: str) -> str:
    """Check ``path`` against the expected sha256 (if any is known) and return its sha256."""
    actual = sha256_file(path)
    expected = _expected_sha256(raw_file, download_dir)
    if expected is not None and actual != expected:
        where = f"{path} (from {origin})"
        if not raw_file.sha256:
            record = _trusted_sha256_record(download_dir, raw_file)
            where += (
                f"; the expected sha256 was recorded at its first download in {record}; if "
                "the publisher replaced the file on purpose, delete that record to trust the new one"
            )
        raise ChecksumMismatchError(where, expected, actual)
    return actual


@dataclass(frozen=True)
class FirstUsePin:
    """The sha256 of a raw file without a published one, to be trusted from now on.

    It is written only once the file has converted into a sound entry (see
    :class:`FetchedRawFiles`), so a file that cannot be converted is never pinned.
    """

    raw_file: RawFile
    download_dir: Path
    sha256: str
    origin: str
    downloaded: Path | None  # the file simtune downloaded, None if taken from a local folder


@dataclass(frozen=True)
class FetchedRawFiles:
    """Raw files made available for a conversion, with the first-use pins not yet written."""

    directory: Path
    pins: tuple[FirstUsePin, ...]

    def pin_trusted(self) -> None:
        """Record the sha256 of every first-use file: call after the conversion succeeded."""
        for pin in self.pins:
            _trust_on_first_use(pin.raw_file, pin.download_dir, pin.sha256, pin.origin)

    def discard_untrusted_downloads(self) -> None:
        """Delete first-use downloads (after a failed conversion) so the next run fetches anew."""
        for pin in self.pins:
            if pin.downloaded is not None:
                pin.downloaded.unlink(missing_ok=True)


def _trust_on_first_use(raw_file: RawFile, download_dir: Path, sha256: str, origin: str) -> None:
    record = _trusted_sha256_record(download_dir, raw_file)
    if not raw_file.sha256 and not record.exists():
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_name(f".{record.name}.tmp-{uuid.uuid4().hex[:8]}")
        tmp.write_text(f"{sha256}  {Path(raw_file.path).name}\n")
        os.replace(tmp, record)
        logger.warning(
            "%s has no published sha256: trusting the file from %s on first use; its sha256 %s "
            "is recorded in %s and checked on every later use",
            raw_file.path,
            origin,
            sha256,
            record,
        )


# --------------------------------------------------------------------- downloading
def _remove_partial_downloads(target: Path) -> None:
    """Remove ``.part`` files of downloads of ``target`` that were killed."""
    if target.parent.exists():
        for leftover in target.parent.glob(f".{target.name}.part-*"):
            leftover.unlink(missing_ok=True)


# --------------------------------------------------------------------- unpacking
def _check_member_name(archive: Path, name: str, destination: Path) -> None:
    member = PurePosixPath(name.replace("\\", "/"))
    inside = (destination / member).resolve()
    if (
        member.is_absolute()
        or ".." in member.parts
        or (member.parts and ":" in member.parts[0])
        or not inside.is_relative_to(destination.resolve())
    ):
        raise ConversionError(
            f"archive {archive} has a member {name!r} that would be written outside the "
            "folder it is unpacked into; refusing to unpack it (the file is not the published one)"
        )


def _extract(archive: Path, destination: Path) -> None:
    try:
        if archive_suffix(archive.name) == ".zip":
            with zipfile.ZipFile(archive) as packed:
                for info in packed.infolist():
                    _check_member_name(archive, info.filename, destination)
                packed.extractall(destination)
        else:
            with tarfile.open(archive, "r:*") as packed:
                members = packed.getmembers()
                for member in members:
                    _check_member_name(archive, member.name, destination)
                _extract_tar_members(packed, members, archive, destination)
    except TAR_FILTER_ERRORS as error:
        raise ConversionError(
            f"archive {archive} has an unsafe member: {error}; refusing to unpack it"
        ) from error
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ConversionError(
            f"{archive} is not a readable archive ({error}); it is truncated or corrupt"
        ) from error


def _extract_tar_members(
    packed: tarfile.TarFile, members, archive: Path, destination: Path
) -> None:
    if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 checks link targets and modes too
        packed.extractall(destination, members=members, filter="data")
        return
    for member in members:
        if not (member.isfile() or member.isdir()):
            raise ConversionError(
                f"archive {archive} has a member {member.name!r} that is neither a file nor a "
                "folder (a link or device); refusing to unpack it on this Python version"
            )
    packed.extractall(destination, members=members)


def _unpacked_matches(folder: Path, archive_sha256: str) -> bool:
    try:
        marker = json.loads((folder / UNPACKED_MARKER).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return False
    return marker.get("archive_sha256") == archive_sha256


def unpack_archive(archive: Path, destination: Path, *, archive_sha256: str, progress=None) -> Path:
    """Unpack ``archive`` into ``destination`` unless it already holds this archive's contents.

    Members go into a temporary sibling folder that is renamed to ``destination`` once
    complete, with a marker recording the archive's sha256; a killed unpack leaves only the
    temporary folder, which the next call removes. Members escaping the folder are refused.
    """
    if _unpacked_matches(destination, archive_sha256):
        return destination
    parent = destination.parent
    parent.mkdir(parents=True, exist_ok=True)
    for leftover in parent.glob(f".{destination.name}.unpacking-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    task = progress.add_task(f"unpack {archive.name}", total=None) if progress is not None else None
    staging = parent / f".{destination.name}.unpacking-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        _extract(archive, staging)
        marker = {"archive": archive.name, "archive_sha256": archive_sha256}
        (staging / UNPACKED_MARKER).write_text(json.dumps(marker))
        if destination.exists() or destination.is_symlink():
            stale = parent / f".{destination.name}.unpacking-stale-{uuid.uuid4().hex[:8]}"
            os.rename(destination, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.rename(staging, destination)
        fsync_directory(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if task is not None:
        progress.update(task, total=1, completed=1)
    return destination


# --------------------------------------------------------------------- one raw file
def _copy_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part-{uuid.uuid4().hex[:8]}")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _download_verified(raw_file: RawFile, target: Path, download_dir: Path, progress) -> str:
    """Download ``raw_file`` to ``target`` and verify it; a bad file is removed."""
    url = source_url(raw_file, raw_mirror_url())
    download(url, target, progress=progress)
    try:
        return _verify(target, raw_file, download_dir, origin=url)
    except ChecksumMismatchError:
        target.unlink(missing_ok=True)
        raise


def _not_in_local_folder(
    raw_file: RawFile, local: Path, local_file: Path, error: DownloadError
) -> str:
    """The message for a file missing below the local raw-data folder whose download failed:
    the path looked for, and the folder to use instead if the file is one level deeper."""
    deeper = sorted(child for child in _subfolders(local) if (child / raw_file.path).is_file())
    hint = (
        f"; it is in {deeper[0] / raw_file.path}: point ${RAW_DATA_ENV_VAR} at {deeper[0]}"
        if deeper
        else f"; put the original file there (${RAW_DATA_ENV_VAR}={local})"
    )
    return (
        f"{raw_file.path} is not in the local raw-data folder: {local_file} does not exist{hint}. "
        f"Downloading it instead failed too: {error}"
    )


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [child for child in folder.iterdir() if child.is_dir()]
    except OSError:  # the folder itself is missing or unreadable
        return []


def _fetch_one(
    raw_file: RawFile, download_dir: Path, local: Path | None, *, into_download_dir: bool, progress
) -> FirstUsePin | None:
    """Make ``raw_file`` (and, for an archive, its unpacked folder) available and verified.

    Returns the pin to write once the conversion succeeds, if the file has no known sha256.
    """
    target = download_dir / raw_file.path
    local_file = local / raw_file.path if local is not None else None
    if local_file is not None and local_file.exists():
        source, origin = local_file, str(local_file)
        sha256 = _verify(local_file, raw_file, download_dir, origin=origin)
        copied = target.exists() and sha256_file(target) == sha256
        if into_download_dir and archive_suffix(raw_file.path) is None and not copied:
            _copy_atomically(local_file, target)
    else:
        _remove_partial_downloads(target)
        source, origin = target, source_url(raw_file, raw_mirror_url())
        sha256 = None
        if target.exists():
            try:
                sha256 = _verify(
                    target, raw_file, download_dir, origin=f"an earlier download ({origin})"
                )
            except ChecksumMismatchError as error:
                logger.warning("downloading %s again: %s", raw_file.path, error)
                target.unlink()
        if sha256 is None:
            try:
                sha256 = _download_verified(raw_file, target, download_dir, progress)
            except DownloadError as error:
                if local_file is None:
                    raise
                raise DownloadError(
                    _not_in_local_folder(raw_file, local, local_file, error)
                ) from error
    if archive_suffix(raw_file.path) is not None:
        try:
            unpack_archive(
                source,
                unpacked_dir(download_dir, raw_file),
                archive_sha256=sha256,
                progress=progress,
            )
        except ConversionError:
            if source == target and _expected_sha256(raw_file, download_dir) is None:
                target.unlink(missing_ok=True)  # never trust a download that is no archive
            raise
    if raw_file.sha256 or _trusted_sha256_record(download_dir, raw_file).exists():
        return None
    return FirstUsePin(raw_file, download_dir, sha256, origin, target if source == target else None)


def fetch_raw_files(
    raw_files: Sequence[RawFile],
    download_dir: Path,
    *,
    raw_data_dir: Path | str | None = None,
    progress=None,
) -> Path:
    """Fetch like :func:`fetch_raw_files_unpinned` and pin first-use files at once.

    For callers that do not convert; conversions pin only after they succeed.
    """
    fetched = fetch_raw_files_unpinned(
        raw_files, download_dir, raw_data_dir=raw_data_dir, progress=progress
    )
    fetched.pin_trusted()
    return fetched.directory


def fetch_raw_files_unpinned(
    raw_files: Sequence[RawFile],
    download_dir: Path,
    *,
    raw_data_dir: Path | str | None = None,
    progress=None,
) -> FetchedRawFiles:
    """Make every raw file available and verified; returns the folder to convert from.

    Below the returned folder, ``RawFile.path`` is the verified file, except that an
    archive is represented by its contents in :func:`unpacked_dir` (an archive taken from
    the local folder is unpacked, not copied). If every file is found below the local raw-data
    folder and none is an archive, that folder is returned and nothing is copied.
    Otherwise files are downloaded (or copied from the local folder) below
    ``download_dir``, archives are unpacked there, and ``download_dir`` is returned.
    One file lock per raw file keeps concurrent fetches of one family consistent (a
    process that waits for another one's download says so). The sha256 of files without a
    published one are returned as pins, to be written once the conversion succeeded.
    """
    download_dir = Path(download_dir)
    local = local_raw_data_dir(raw_data_dir)
    all_local = local is not None and all((local / f.path).exists() for f in raw_files)
    into_download_dir = not all_local or any(archive_suffix(f.path) for f in raw_files)
    pins = []
    for raw_file in raw_files:
        target = download_dir / raw_file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = target.with_name(f".{target.name}.lock")
        with hold_lock(lock, timeout=RAW_LOCK_TIMEOUT, what=f"the raw file {raw_file.path}"):
            pin = _fetch_one(
                raw_file,
                download_dir,
                local,
                into_download_dir=into_download_dir,
                progress=progress,
            )
        if pin is not None:
            pins.append(pin)
    return FetchedRawFiles(download_dir if into_download_dir else local, tuple(pins))
