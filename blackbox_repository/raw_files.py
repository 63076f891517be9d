"""Fetching a recipe's raw files: from a local folder of originals, else by download.

Every raw file is checked against the sha256 its recipe records, wherever it comes from.
Downloads go to a temporary file that is renamed only once complete and verified, so a
cut download never leaves a file that looks complete.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from blackbox_repository.errors import ChecksumMismatchError, DownloadError
from blackbox_repository.file_format import sha256_file
from blackbox_repository.recipes.recipe import RawFile

RAW_DATA_ENV_VAR = "SIMTUNE_RAW_DATA_DIR"


def local_raw_data_dir(raw_data_dir: Path | str | None = None) -> Path | None:
    """The folder of original raw files given as argument or by ``$SIMTUNE_RAW_DATA_DIR``."""
    if raw_data_dir is not None:
        return Path(raw_data_dir).expanduser()
    configured = os.environ.get(RAW_DATA_ENV_VAR)
    return Path(configured).expanduser() if configured else None


def _verify(path: Path, raw_file: RawFile) -> None:
    actual = sha256_file(path)
    if actual != raw_file.sha256:
        raise ChecksumMismatchError(str(path), raw_file.sha256, actual)


def download(url: str, destination: Path, *, timeout: float = 60.0, progress=None) -> None:
    """Download ``url`` to ``destination`` through a temporary file and a rename.

    A response shorter than its Content-Length is an error (a cut download), and the
    temporary file is removed on any failure.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.part-{uuid.uuid4().hex[:8]}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            expected = response.headers.get("Content-Length")
            expected = int(expected) if expected is not None else None
            task = progress.add_task(f"download {destination.name}", total=expected) if progress else None
            received = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                received += len(chunk)
                if task is not None:
                    progress.update(task, completed=received)
            if expected is not None and received != expected:
                raise DownloadError(
                    f"download of {url} was cut: received {received} of {expected} bytes; try again"
                )
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, destination)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DownloadError(
            f"cannot download {url}: {error}. If this machine is offline, put the original "
            f"files in a folder and point ${RAW_DATA_ENV_VAR} (or raw_data_dir=) at it"
        ) from error
    finally:
        if tmp.exists():
            tmp.unlink()


def fetch_raw_files(
    raw_files: tuple[RawFile, ...],
    download_dir: Path,
    *,
    raw_data_dir: Path | str | None = None,
    progress=None,
) -> Path:
    """Make every raw file available and verified; returns the folder to convert from.

    If every file is found (and verified) below the local raw-data folder, that folder is
    returned and nothing is copied. Otherwise each missing file is downloaded below
    ``download_dir`` (a file already there is re-verified and re-downloaded if corrupt).
    """
    local = local_raw_data_dir(raw_data_dir)
    if local is not None and all((local / f.path).exists() for f in raw_files):
        for raw_file in raw_files:
            _verify(local / raw_file.path, raw_file)
        return local
    for raw_file in raw_files:
        target = download_dir / raw_file.path
        if target.exists():
            try:
                _verify(target, raw_file)
                continue
            except ChecksumMismatchError:
                target.unlink()
        if local is not None and (local / raw_file.path).exists():
            _verify(local / raw_file.path, raw_file)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local / raw_file.path, target)
            continue
        download(raw_file.url, target, progress=progress)
        try:
            _verify(target, raw_file)
        except ChecksumMismatchError:
            target.unlink()
            raise
    return download_dir
