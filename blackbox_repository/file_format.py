"""simtune's one on-disk blackbox format: data files plus ``metadata.json``.

A blackbox entry is a folder::

    metadata.json            format version, kind, search space (ConfigSpace JSON),
                             fidelity, seeds, objectives, and sha256 + size of each file
    configurations.parquet   tabular: one row per configuration, one column per hyperparameter
    objectives.parquet       tabular: columns config_index, fidelity, seed, then one float
                             column per objective; rows in (config, fidelity, seed) order
    ...                      other kinds add their own files (e.g. an ONNX model)

``metadata.json`` is written last, so a folder without it is never a complete entry.
Every data file is checked against its recorded sha256 when it is read.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from blackbox_repository.atomic_files import fsync_directory
from blackbox_repository.blackbox import Blackbox, Objective, native
from blackbox_repository.entry_metadata import (
    FORMAT_VERSION,
    METADATA_FILE,
    entry_file,
    read_metadata,
    write_metadata,
)
from blackbox_repository.errors import ChecksumMismatchError, CorruptBlackboxError
from blackbox_repository.tabular import TabularBlackbox
from blackbox_repository.tabular_entry import (
    CONFIGURATIONS_FILE,
    INDEX_COLUMNS,
    OBJECTIVES_FILE,
    derived_file_names,
)

__all__ = [
    "FORMAT_VERSION",
    "METADATA_FILE",
    "read_blackbox",
    "read_metadata",
    "verify_files",
    "write_blackbox",
]
ROW_GROUP_SIZE = 1 << 20  # rows; reads go one row group at a time to bound memory

# kind -> "module:function" reading a blackbox of that kind from (folder, metadata, common
# keyword arguments). Resolved lazily so that optional dependencies (onnxruntime) load only
# for the kinds that need them.
KIND_READERS: dict[str, str] = {
    "tabular": "blackbox_repository.tabular_entry:read_tabular_data",
    "yahpo-onnx": "blackbox_repository.yahpo_surrogate:read_yahpo_data",
    "trained-onnx": "blackbox_repository.surrogate_training.trained_surrogate:read_trained_data",
}
# kinds whose reader takes ``verify=`` and checks the entry's integrity itself (tabular
# entries check memory-mapped derived files instead of hashing every Parquet file)
SELF_VERIFYING_KINDS = frozenset({"tabular"})
# kind -> "module:function" writing the data files of a blackbox of that kind into a folder
# and returning extra metadata fields.
KIND_WRITERS: dict[str, str] = {
    "tabular": "blackbox_repository.file_format:write_tabular_data",
    "yahpo-onnx": "blackbox_repository.yahpo_surrogate:write_yahpo_data",
    "trained-onnx": "blackbox_repository.surrogate_training.trained_surrogate:write_trained_data",
}


def sha256_file(path: Path, chunk_size: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _resolve(reference: str):
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


# --------------------------------------------------------------------- writing
def write_blackbox(blackbox: Blackbox, directory: Path | str, *, source: str = "") -> Path:
    """Write ``blackbox`` into ``directory`` (created; must not hold an entry yet).

    Data files are written and fsynced first, ``metadata.json`` (with their checksums) last.
    Callers that need the entry to appear atomically write into a temporary folder and
    rename it (see :mod:`blackbox_repository.cache`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / METADATA_FILE).exists():
        raise FileExistsError(f"{directory} already holds a blackbox entry; remove it first")
    writer = KIND_WRITERS.get(blackbox.kind)
    if writer is None:
        raise ValueError(
            f"blackboxes of kind {blackbox.kind!r} cannot be written; known kinds: {sorted(KIND_WRITERS)}"
        )
    extra = _resolve(writer)(blackbox, directory)
    files = {}
    for path in sorted(directory.iterdir()):
        if (
            path.name == METADATA_FILE
            or path.name.startswith(".")
            or path.name in derived_file_names()
        ):
            continue
        files[path.name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    metadata = {
        "kind": blackbox.kind,
        "name": blackbox.name,
        "description": blackbox.description,
        "source": source,
        "configuration_space": blackbox.configuration_space.to_serialized_dict(),
        "fidelity": {
            "name": blackbox.fidelity_name,
            "values": [native(v) for v in blackbox.fidelity_values],
        },
        "seeds": blackbox.seeds.tolist(),
        "objectives": [
            {"name": o.name, "mode": o.mode, "unit": o.unit} for o in blackbox.objectives
        ],
        "elapsed_time_objective": blackbox.elapsed_time_objective,
        **extra,
        "files": files,
    }
    write_metadata(directory, metadata)
    fsync_directory(directory)
    return directory


def write_tabular_data(blackbox: TabularBlackbox, directory: Path) -> dict[str, Any]:
    """Write the two Parquet files of a tabular blackbox."""
    clash = set(blackbox.objective_names) & set(INDEX_COLUMNS)
    if clash:
        raise ValueError(
            f"objective names {sorted(clash)} clash with the index columns {INDEX_COLUMNS}; rename them"
        )
    import pyarrow as pa

    configurations = pa.Table.from_pandas(blackbox.configurations, preserve_index=False)
    _write_parquet_durably(configurations, directory / CONFIGURATIONS_FILE)
    n_configs, n_fidelities, n_seeds, n_objectives = blackbox.values.shape
    n_rows = n_configs * n_fidelities * n_seeds
    columns = {
        "config_index": np.repeat(np.arange(n_configs, dtype=np.int32), n_fidelities * n_seeds),
        "fidelity": np.tile(np.repeat(blackbox.fidelity_values, n_seeds), n_configs),
        "seed": np.tile(blackbox.seeds, n_configs * n_fidelities),
    }
    flat = blackbox.values.reshape(n_rows, n_objectives)
    for k, name in enumerate(blackbox.objective_names):
        columns[name] = np.ascontiguousarray(flat[:, k])
    # Dictionary encoding pays for the repetitive index columns only; on float objectives
    # it rarely helps and doubles the decoding time of every load.
    _write_parquet_durably(
        pa.table(columns),
        directory / OBJECTIVES_FILE,
        compression="snappy",
        use_dictionary=list(INDEX_COLUMNS),
        row_group_size=ROW_GROUP_SIZE,
    )
    return {"n_configurations": n_configs, "values_dtype": str(blackbox.values.dtype)}


def _write_parquet_durably(table, path: Path, **options: Any) -> None:
    import pyarrow.parquet as pq

    with open(path, "wb") as stream:
        pq.write_table(table, stream, **options)
        stream.flush()
        os.fsync(stream.fileno())


# --------------------------------------------------------------------- reading
def verify_files(directory: Path | str, metadata: dict[str, Any]) -> None:
    """Check every data file of an entry against its recorded size and sha256."""
    directory = Path(directory)
    for file_name, recorded in metadata["files"].items():
        verify_file(entry_file(directory, file_name), recorded)


def verify_file(path: Path, recorded: dict[str, Any]) -> None:
    """Check one data file against its recorded ``{"bytes": ..., "sha256": ...}``."""
    if not path.exists():
        raise CorruptBlackboxError(f"{path} is missing from blackbox entry {path.parent}")
    size = path.stat().st_size
    if size != recorded["bytes"]:
        raise CorruptBlackboxError(
            f"{path} has {size} bytes, expected {recorded['bytes']} (truncated or modified)"
        )
    actual = sha256_file(path)
    if actual != recorded["sha256"]:
        raise ChecksumMismatchError(str(path), recorded["sha256"], actual)


def _configuration_space_from_dict(serialized: dict[str, Any]):
    from ConfigSpace import ConfigurationSpace

    # a copy: from_serialized_dict consumes parts of the dict it is given
    return ConfigurationSpace.from_serialized_dict(copy.deepcopy(serialized))


def _arrow_errors() -> tuple[type[Exception], ...]:
    """pyarrow's exception base, if pyarrow was imported (otherwise none can be raised)."""
    pyarrow = sys.modules.get("pyarrow")
    return (pyarrow.ArrowException,) if pyarrow is not None else ()


def common_arguments(metadata: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments shared by every blackbox kind, from its metadata."""
    return {
        "name": metadata["name"],
        # built on first use: parsing it costs ~10 ms that a lookup never needs
        "configuration_space": functools.partial(
            _configuration_space_from_dict, metadata["configuration_space"]
        ),
        "fidelity_name": metadata["fidelity"]["name"],
        "fidelity_values": np.asarray(metadata["fidelity"]["values"]),
        "seeds": metadata["seeds"],
        "objectives": [Objective(**o) for o in metadata["objectives"]],
        "elapsed_time_objective": metadata["elapsed_time_objective"],
        "description": metadata.get("description", ""),
    }


def read_blackbox(
    directory: Path | str,
    *,
    verify: bool = True,
    expected_name: str | None = None,
    mapped: bool = True,
) -> Blackbox:
    """Read the blackbox entry in ``directory``, checking every file's sha256 first.

    A tabular entry's values are memory-mapped from files derived beside its Parquet files
    (written on the first read); ``mapped=False`` reads the Parquet files into memory and
    writes nothing (for folders that are not cache entries, e.g. packaged ones).

    Raises :class:`CorruptBlackboxError` (or its subclass :class:`ChecksumMismatchError`)
    naming the bad file when the entry is incomplete, truncated or modified, or when it
    holds another blackbox than ``expected_name``. The metadata is always checked.
    """
    directory = Path(directory)
    metadata = read_metadata(directory, expected_name=expected_name)
    reader = KIND_READERS.get(metadata.get("kind"))
    if reader is None:
        raise CorruptBlackboxError(
            f"{directory / METADATA_FILE} has unknown kind {metadata.get('kind')!r}; "
            f"known kinds: {sorted(KIND_READERS)}"
        )
    try:
        if metadata["kind"] in SELF_VERIFYING_KINDS and mapped:
            arguments = common_arguments(metadata)
            return _resolve(reader)(directory, metadata, arguments, verify=verify)
        if metadata["kind"] in SELF_VERIFYING_KINDS:
            from blackbox_repository.tabular_entry import read_parquet_data

            return read_parquet_data(directory, metadata, common_arguments(metadata), verify=verify)
        if not verify:
            return _resolve(reader)(directory, metadata, common_arguments(metadata))
        # Hash the files in a second thread while the first one parses them (hashlib and
        # pyarrow both release the GIL): a verified load costs about what a plain one does.
        with ThreadPoolExecutor(max_workers=1) as pool:
            verification = pool.submit(verify_files, directory, metadata)
            try:
                blackbox = _resolve(reader)(directory, metadata, common_arguments(metadata))
            except BaseException:
                verification.result()  # a bad checksum explains a failed read best
                raise
            verification.result()
            return blackbox
    except (*_arrow_errors(), OSError, KeyError, ValueError, TypeError) as error:
        raise CorruptBlackboxError(f"cannot read blackbox entry {directory}: {error}") from error
