"""Reading a tabular entry: memory-mapped values derived from its Parquet files.

Parquet stays the exchange and mirror format. Beside it, the cache entry keeps the dense
values and the configuration index as uncompressed ``.npy`` files, derived from the Parquet
files the first time the entry is read (at install, in its staging folder) and recorded in
``dense-values.json``::

    values.npy            float array (configurations, fidelities, seeds, objectives)
    config-codes.npy      int32 (configurations, hyperparameters), see config_index.py
    config-keys.npy       uint64 sorted hashes of the code rows
    config-rows.npy       int32 row of each hash
    config-levels.npy     float64 distinct values of the numeric hyperparameters
    dense-values.json     what was derived from which Parquet files, with hashes

Integrity on every load, in well under a millisecond whatever the size (hashing 112 MB
with xxh3 took 17-45 ms on the 2-core machine, most of a 50 ms load budget, and grows
with the table):

* ``metadata.json`` is checked against its own checksum (entry_metadata.py);
* ``dense-values.json`` has its own sha256 and names the sha256 of the Parquet files it was
  derived from, which must be the ones ``metadata.json`` records;
* every file, derived or Parquet, must have the (inode, size, mtime_ns, ctime_ns) stamp
  recorded when it was hashed: any write changes the ctime (which no user call can set
  back) and a copy changes the inode. A file whose stamp differs is hashed in full before
  anything is used: xxh3-128 for a derived file, sha256 for a Parquet file.

A derived file that does not match is derived again from the (verified) Parquet files,
with a warning; derived files are written to temporary files and renamed, record last,
so a process killed while deriving leaves no half-written file (and its temporary files
are removed by the next derivation). Where the entry cannot be written (a read-only cache)
the values are read from Parquet into memory as before, with a warning.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from blackbox_repository.atomic_files import write_json_atomically
from blackbox_repository.config_index import IndexColumn, StoredConfigIndex, build_index_arrays
from blackbox_repository.entry_metadata import entry_file
from blackbox_repository.errors import CorruptBlackboxError
from blackbox_repository.mapped_arrays import (
    HASH_NAME,
    hash_file,
    npy_layout,
    open_npy,
    remove_dead_writers_files,
    write_npy_atomically,
)
from blackbox_repository.tabular import TabularBlackbox

logger = logging.getLogger(__name__)

CONFIGURATIONS_FILE = "configurations.parquet"
OBJECTIVES_FILE = "objectives.parquet"
INDEX_COLUMNS = ("config_index", "fidelity", "seed")
DERIVED_RECORD = "dense-values.json"
DERIVED_FORMAT = 2
VALUES_FILE = "values.npy"
INDEX_FILES = {
    "codes": "config-codes.npy",
    "keys": "config-keys.npy",
    "rows": "config-rows.npy",
    "levels": "config-levels.npy",
}
DERIVED_FILES = (VALUES_FILE, *INDEX_FILES.values())
SOURCE_FILES = (CONFIGURATIONS_FILE, OBJECTIVES_FILE)
STAMP_SETTLE_SECONDS = 0.05


class _DerivedFilesUnusable(Exception):
    """The derived files are missing, stale or damaged: derive them again."""


# --------------------------------------------------------------------- reading
def read_tabular_data(
    directory: Path, metadata: dict[str, Any], arguments: dict[str, Any], *, verify: bool = True
) -> TabularBlackbox:
    """The tabular blackbox of an entry, values memory-mapped (see the module docstring)."""
    try:
        record = _checked_record(directory, metadata, verify=verify)
    except _DerivedFilesUnusable as problem:
        if (directory / DERIVED_RECORD).exists():
            logger.warning("deriving the values of %s again: %s", directory, problem)
        try:
            record = derive_dense_files(directory, metadata, arguments)
        except OSError as error:
            logger.warning(
                "cannot write the memory-mappable values of %s (%s): reading the Parquet files "
                "into this process's memory instead (slower to open, one copy per process)",
                directory,
                error.strerror or error,
            )
            return read_parquet_data(directory, metadata, arguments, verify=verify)
    return _open_derived(directory, arguments, record)


def _record_checksum(record: dict[str, Any]) -> str:
    body = {key: value for key, value in record.items() if key != "record_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _stat_stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _checked_record(directory: Path, metadata: dict[str, Any], *, verify: bool) -> dict[str, Any]:
    path = directory / DERIVED_RECORD
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise _DerivedFilesUnusable(f"{path} does not exist yet") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _DerivedFilesUnusable(f"{path} is not valid JSON ({error})") from None
    if not isinstance(record, dict) or record.get("record_sha256") != _record_checksum(record):
        raise _DerivedFilesUnusable(f"{path} was modified (its checksum does not match)")
    if record.get("format") != DERIVED_FORMAT:
        raise _DerivedFilesUnusable(f"{path} has format {record.get('format')!r}")
    for name in SOURCE_FILES:
        source = record["sources"][name]
        recorded = metadata["files"][name]
        if source["sha256"] != recorded["sha256"]:
            raise _DerivedFilesUnusable(f"{path} was derived from another {name}")
        parquet = entry_file(directory, name)
        if not parquet.exists():
            raise CorruptBlackboxError(f"{parquet} is missing from blackbox entry {directory}")
        if _stat_stamp(parquet) != source["stat"]:
            # changed (or copied) since derivation: a full check decides which
            _verify_sha256(parquet, recorded)
            raise _DerivedFilesUnusable(f"{parquet} was copied or touched since derivation")
    for name, expected in record["files"].items():
        derived = directory / name
        if not derived.exists() or derived.stat().st_size != expected["bytes"]:
            raise _DerivedFilesUnusable(f"{derived} is missing or has the wrong size")
        if verify and _stat_stamp(derived) != expected["stat"]:
            # written to (or copied) since it was hashed: hash it in full before use
            if hash_file(derived) != expected[HASH_NAME]:
                raise _DerivedFilesUnusable(
                    f"{derived} was modified (its {HASH_NAME} does not match)"
                )
            raise _DerivedFilesUnusable(f"{derived} was copied or touched since derivation")
    return record


def _verify_sha256(path: Path, recorded: dict[str, Any]) -> None:
    from blackbox_repository.file_format import verify_file  # file_format imports this module

    verify_file(path, recorded)


def _open_derived(
    directory: Path, arguments: dict[str, Any], record: dict[str, Any]
) -> TabularBlackbox:
    layouts = record["files"]
    values, _ = open_npy(directory / VALUES_FILE, layouts[VALUES_FILE]["layout"])
    arrays = {
        role: open_npy(directory / name, layouts[name]["layout"])[0]
        for role, name in INDEX_FILES.items()
    }
    columns = []
    for column in record["columns"]:
        if column["kind"] == "text":
            levels = tuple(column["levels"])
        else:
            levels = arrays["levels"][column["offset"] : column["offset"] + column["count"]]
        columns.append(IndexColumn(column["name"], column["kind"], levels))
    index = StoredConfigIndex(columns, arrays["codes"], arrays["keys"], arrays["rows"])
    names = [column.name for column in columns]
    return TabularBlackbox(
        configurations=functools.partial(_read_configuration_columns, directory, names),
        values=values,
        stored_index=index,
        hyperparameter_names=names,
        **arguments,
    )


# --------------------------------------------------------------------- deriving
def derive_dense_files(
    directory: Path, metadata: dict[str, Any], arguments: dict[str, Any]
) -> dict[str, Any]:
    """Verify the Parquet files, derive the ``.npy`` files and the record; returns the record."""
    remove_dead_writers_files(directory, (*DERIVED_FILES, DERIVED_RECORD))
    for name in SOURCE_FILES:
        _verify_sha256(entry_file(directory, name), metadata["files"][name])
    space = arguments["configuration_space"]
    names = list((space if hasattr(space, "keys") else space()).keys())
    configurations = _read_configurations(directory)
    if sorted(configurations.columns) != sorted(names):
        raise CorruptBlackboxError(
            f"{directory / CONFIGURATIONS_FILE} has columns {list(configurations.columns)}, "
            f"expected the hyperparameters {names}"
        )
    values = _read_objectives(directory, metadata, arguments)
    columns, arrays = build_index_arrays(configurations[names])
    numeric = [c.levels for c in columns if c.kind != "text"]
    arrays["levels"] = np.concatenate(numeric) if numeric else np.empty(0, np.float64)
    described, offset = [], 0
    for column in columns:
        if column.kind == "text":
            described.append({"name": column.name, "kind": "text", "levels": list(column.levels)})
        else:
            count = len(column.levels)
            described.append(
                {"name": column.name, "kind": column.kind, "offset": offset, "count": count}
            )
            offset += count
    write_npy_atomically(directory / VALUES_FILE, values)
    for role, name in INDEX_FILES.items():
        write_npy_atomically(directory / name, arrays[role])
    # File times have a coarse tick (a few ms): wait one, so that any later write gives a
    # file a time other than the one stamped below.
    time.sleep(STAMP_SETTLE_SECONDS)
    record = {
        "format": DERIVED_FORMAT,
        "sources": {
            name: {
                "sha256": metadata["files"][name]["sha256"],
                "stat": _stat_stamp(directory / name),
            }
            for name in SOURCE_FILES
        },
        "files": {
            name: {
                "bytes": (directory / name).stat().st_size,
                "stat": _stat_stamp(directory / name),
                HASH_NAME: hash_file(directory / name),
                "layout": npy_layout(directory / name),
            }
            for name in DERIVED_FILES
        },
        "columns": described,
    }
    record["record_sha256"] = _record_checksum(record)
    write_json_atomically(directory / DERIVED_RECORD, record, indent=1)
    return record


def _read_configuration_columns(directory: Path, names: list[str]):
    return _read_configurations(directory)[names]


def _read_configurations(directory: Path):
    import pyarrow.parquet as pq

    # ParquetFile, not read_table: read_table imports pyarrow.dataset (~0.1 s per process)
    return pq.ParquetFile(directory / CONFIGURATIONS_FILE).read().to_pandas()


def _read_objectives(
    directory: Path, metadata: dict[str, Any], arguments: dict[str, Any]
) -> np.ndarray:
    """The objectives as a dense array, every row group checked against the declared grid.

    Rows are read one row group at a time straight into the array, so the peak memory is
    the array plus one row group. Row counts (declared and actual) and the index columns
    must match the grid (config, fidelity, seed) order, or nothing is returned.
    """
    import pyarrow.parquet as pq

    path = directory / OBJECTIVES_FILE
    objective_names = [o.name for o in arguments["objectives"]]
    objectives = pq.ParquetFile(path, pre_buffer=False)
    n_configs = metadata["n_configurations"]
    fidelities = np.asarray(arguments["fidelity_values"])
    seeds = np.asarray(arguments["seeds"], dtype=np.int64)
    n_fidelities, n_seeds = len(fidelities), len(seeds)
    n_rows = objectives.metadata.num_rows
    if n_rows != n_configs * n_fidelities * n_seeds:
        raise CorruptBlackboxError(
            f"{path} has {n_rows} rows, expected {n_configs} x {n_fidelities} x {n_seeds}"
        )
    values = np.empty((n_rows, len(objective_names)), dtype=np.dtype(metadata["values_dtype"]))
    start = 0
    for group in range(objectives.num_row_groups):
        table = objectives.read_row_group(group, columns=[*INDEX_COLUMNS, *objective_names])
        declared = objectives.metadata.row_group(group).num_rows
        stop = start + table.num_rows
        if table.num_rows != declared or stop > n_rows:
            raise CorruptBlackboxError(
                f"{path}: row group {group} holds {table.num_rows} rows where {declared} are "
                f"declared (rows {start}.. of {n_rows}); the file is corrupt"
            )
        rows = np.arange(start, stop)
        expected = {
            "config_index": rows // (n_fidelities * n_seeds),
            "fidelity": fidelities[(rows // n_seeds) % n_fidelities],
            "seed": seeds[rows % n_seeds],
        }
        for column, wanted in expected.items():
            if not np.array_equal(table.column(column).to_numpy(), wanted):
                raise CorruptBlackboxError(
                    f"{path}: column {column!r} of rows {start}..{stop} is not in the grid's "
                    "(configuration, fidelity, seed) order; the file is corrupt"
                )
        for k, name in enumerate(objective_names):
            values[start:stop, k] = table.column(name).to_numpy()
        start = stop
    if start != n_rows:  # the rest of ``values`` would be uninitialized memory
        raise CorruptBlackboxError(
            f"{path} declares {n_rows} rows but its row groups hold {start}; the file is "
            "corrupt: delete the entry and fetch it again"
        )
    return values.reshape(n_configs, n_fidelities, n_seeds, len(objective_names))


def read_parquet_data(
    directory: Path, metadata: dict[str, Any], arguments: dict[str, Any], *, verify: bool = True
) -> TabularBlackbox:
    """The entry read from Parquet into private memory (where nothing can be derived)."""
    if verify:
        for name in metadata["files"]:
            _verify_sha256(entry_file(directory, name), metadata["files"][name])
    configurations = _read_configurations(directory)
    values = _read_objectives(directory, metadata, arguments)
    return TabularBlackbox(configurations=configurations, values=values, **arguments)


def derived_file_names() -> tuple[str, ...]:
    """Names of the files derived beside the Parquet files (never uploaded to a mirror)."""
    return (*DERIVED_FILES, DERIVED_RECORD)
