"""``metadata.json`` of a blackbox entry: written with its own checksum, checked on every read.

The metadata says everything a reader trusts about an entry: its name, search space,
fidelities, seeds, objectives, and the sha256 of each data file. So it carries a checksum
of its own (``metadata_sha256``: the sha256 of its other fields as canonical JSON), and
every read checks that checksum, that the entry holds the blackbox that was asked for,
and that every file it names is a plain file name inside the entry folder (no ``../``,
no absolute path, no symbolic link), before any file is opened.

The same checks run on metadata downloaded from an S3 mirror, so a mirror entry is
judged exactly like a local one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from blackbox_repository.atomic_files import write_json_atomically
from blackbox_repository.errors import CorruptBlackboxError

# Version 2 added ``metadata_sha256``; version 1 entries are re-fetched or re-converted.
FORMAT_VERSION = 2
METADATA_FILE = "metadata.json"
METADATA_CHECKSUM_FIELD = "metadata_sha256"
REQUIRED_METADATA_FIELDS = (
    "format_version",
    "kind",
    "name",
    "configuration_space",
    "fidelity",
    "seeds",
    "objectives",
    "elapsed_time_objective",
    "files",
)
# kind -> data files an entry of that kind cannot be read without
KIND_REQUIRED_FILES: dict[str, tuple[str, ...]] = {
    "tabular": ("configurations.parquet", "objectives.parquet"),
    "yahpo-onnx": ("model.onnx", "encoding.json"),
}
_SHA256_HEX_DIGITS = frozenset("0123456789abcdef")


def metadata_checksum(metadata: dict[str, Any]) -> str:
    """sha256 of every field but the checksum itself, as canonical JSON (sorted keys)."""
    body = {key: value for key, value in metadata.items() if key != METADATA_CHECKSUM_FIELD}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def write_metadata(directory: Path, metadata: dict[str, Any]) -> None:
    """Write ``metadata.json`` atomically, with its checksum as the last field."""
    body = {key: value for key, value in metadata.items() if key != METADATA_CHECKSUM_FIELD}
    body["format_version"] = FORMAT_VERSION
    body[METADATA_CHECKSUM_FIELD] = metadata_checksum(body)
    write_json_atomically(Path(directory) / METADATA_FILE, body, indent=1)


def check_file_name(file_name: Any, where: str) -> str:
    """``file_name`` if it is a plain file name (it cannot leave the folder it is joined to)."""
    if (
        not isinstance(file_name, str)
        or not file_name
        or file_name in (".", "..")
        or file_name.startswith(".")
        or any(separator in file_name for separator in ("/", "\\", "\0"))
        or file_name == METADATA_FILE
    ):
        raise CorruptBlackboxError(
            f"{where} names the file {file_name!r}, which is not a plain file name inside the "
            "entry folder (no '/', '\\', '..', absolute paths or hidden names); the entry is "
            "corrupt or hostile: delete it and fetch it again"
        )
    return file_name


def entry_file(directory: Path | str, file_name: str) -> Path:
    """The path of the data file ``file_name`` of an entry, refusing anything outside it.

    Symbolic links are refused too: simtune never writes one, and one could point anywhere.
    """
    directory = Path(directory)
    path = directory / check_file_name(file_name, str(directory / METADATA_FILE))
    if path.is_symlink() or not path.resolve().is_relative_to(directory.resolve()):
        raise CorruptBlackboxError(
            f"{path} is a symbolic link or lies outside its entry folder {directory}; "
            "simtune never writes such files: delete the entry and fetch it again"
        )
    return path


def _check_files_table(files: Any, where: str) -> None:
    if not isinstance(files, dict):
        raise CorruptBlackboxError(f"{where}: 'files' must map file names to their sha256 and size")
    for file_name, recorded in files.items():
        check_file_name(file_name, where)
        sha256 = recorded.get("sha256") if isinstance(recorded, dict) else None
        if (
            not isinstance(sha256, str)
            or len(sha256) != 64
            or not set(sha256) <= _SHA256_HEX_DIGITS
            or not isinstance(recorded.get("bytes"), int)
            or recorded["bytes"] < 0
        ):
            raise CorruptBlackboxError(
                f"{where} records {file_name!r} without a valid sha256 and byte count; "
                "the entry is corrupt"
            )


def check_metadata(
    metadata: Any, where: str, *, expected_name: str | None = None
) -> dict[str, Any]:
    """Validate parsed metadata (from a file or a mirror object called ``where``).

    Checks, in order: a JSON object of this format version, the checksum over its own
    fields, the required fields, the name (if ``expected_name`` is given), and the files
    table (plain file names with sha256 and size, including every file the kind needs).
    """
    if not isinstance(metadata, dict):
        raise CorruptBlackboxError(f"{where} is not a JSON object; the entry is corrupt")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise CorruptBlackboxError(
            f"{where} has format version {version!r}; this simtune reads version "
            f"{FORMAT_VERSION}. Re-convert the blackbox (simtune blackbox convert NAME --force), "
            "re-upload it to its mirror, or upgrade simtune"
        )
    recorded = metadata.get(METADATA_CHECKSUM_FIELD)
    actual = metadata_checksum(metadata)
    if recorded != actual:
        raise CorruptBlackboxError(
            f"{where} was modified after it was written: its checksum {METADATA_CHECKSUM_FIELD} "
            f"is {recorded!r} but its content hashes to {actual!r}; the entry is corrupt: delete "
            "it or let load_blackbox fetch it again (edit benchmarks by converting them anew)"
        )
    missing = [field for field in REQUIRED_METADATA_FIELDS if field not in metadata]
    if missing:
        raise CorruptBlackboxError(
            f"{where} lacks the fields {missing}; the entry is corrupt: delete it or let "
            "load_blackbox fetch it again"
        )
    if expected_name is not None and metadata["name"] != expected_name:
        raise CorruptBlackboxError(
            f"{where} holds the blackbox {metadata['name']!r}, not {expected_name!r} as its "
            "location says; the entry was moved or copied to the wrong place: delete it and "
            "fetch it again"
        )
    _check_files_table(metadata["files"], where)
    absent = [
        f for f in KIND_REQUIRED_FILES.get(metadata["kind"], ()) if f not in metadata["files"]
    ]
    if absent:
        raise CorruptBlackboxError(
            f"{where} lists no {absent} although a {metadata['kind']!r} blackbox needs "
            "them; the entry is incomplete: delete it (or re-upload it) and fetch it again"
        )
    return metadata


def parse_metadata(content: bytes | str, where: str, *, expected_name: str | None = None):
    """Parse and validate the bytes of a ``metadata.json`` (see :func:`check_metadata`)."""
    try:
        metadata = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptBlackboxError(
            f"{where} is not valid JSON ({error}); the entry is corrupt"
        ) from None
    return check_metadata(metadata, where, expected_name=expected_name)


def read_metadata(directory: Path | str, *, expected_name: str | None = None) -> dict[str, Any]:
    """The checked ``metadata.json`` of an entry; a missing or bad one is CorruptBlackboxError."""
    path = Path(directory) / METADATA_FILE
    try:
        content = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise CorruptBlackboxError(
            f"{path} is missing: {directory} is not a complete blackbox entry"
        ) from None
    return parse_metadata(content, str(path), expected_name=expected_name)
