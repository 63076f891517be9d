"""A run's results folder: ``results.parquet`` and ``metadata.json``, and reading it back.

Both files are written to temporary files and renamed, metadata last, and the metadata
records the sha256 of the results file, so a folder is either complete and verifiable or
ignored. The results file is written one chunk at a time from the
:class:`~simulated_backend.result_recorder.ResultRecorder`, so writing a long run needs
no more memory than one chunk.
"""

from __future__ import annotations

import functools
import json
import os
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from blackbox_repository.atomic_files import fsync_directory
from blackbox_repository.blackbox import native_config
from blackbox_repository.errors import SimtuneError
from blackbox_repository.file_format import sha256_file
from simulated_backend.result_recorder import CONFIG_PREFIX, DECISIONS

RESULTS_FORMAT_VERSION = 1
RESULTS_FILE = "results.parquet"
RUN_METADATA_FILE = "metadata.json"
__all__ = [
    "CONFIG_PREFIX",
    "DECISIONS",
    "IncompleteRunError",
    "RunResults",
    "read_run",
    "write_run",
]


class IncompleteRunError(SimtuneError, RuntimeError):
    """A results folder that is missing files, truncated, or of another format version."""


class RunResults:
    """What a run produced: one row per result, the run's metadata, and where it is stored.

    ``results`` is read from ``path`` on first access when the run was too long to be
    kept in memory (``results=None``).
    """

    __slots__ = ("_results", "metadata", "path")

    def __init__(
        self, results: pd.DataFrame | None, metadata: dict[str, Any], path: Path | None = None
    ) -> None:
        if results is None and path is None:
            raise ValueError("RunResults needs the results or the folder they are stored in")
        self._results = results
        self.metadata = metadata
        self.path = path

    @property
    def results(self) -> pd.DataFrame:
        """One row per result (loaded from the results file on first access if needed)."""
        if self._results is None:
            self._results = pq.read_table(self.path / RESULTS_FILE).to_pandas()
        return self._results

    def best(self, metric: str | None = None, mode: str | None = None) -> pd.Series:
        """The row with the best value of ``metric`` (default: the run's metric and mode)."""
        metric = metric or self.metadata["metric"]
        mode = mode or self.metadata["mode"]
        values = self.results[metric]
        if values.notna().sum() == 0:
            raise ValueError(f"no result of this run has a value for {metric!r}")
        return self.results.loc[values.idxmin() if mode == "min" else values.idxmax()]

    def best_config(self, metric: str | None = None, mode: str | None = None) -> dict[str, Any]:
        row = self.best(metric, mode)
        # plain Python values (32, not np.int64(32)): they print, compare and dump as JSON
        return native_config(
            {k[len(CONFIG_PREFIX) :]: v for k, v in row.items() if k.startswith(CONFIG_PREFIX)}
        )


@functools.cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for package in ("simtune", "numpy", "pandas", "pyarrow", "ConfigSpace"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "unknown"
    return tuple(versions.items())


def software_versions() -> dict[str, str]:
    """Python and package versions recorded with every run (looked up once per process)."""
    return dict(_installed_versions())


def write_run(
    folder: Path | str,
    table: pa.Table | Iterable[pa.Table],
    metadata: dict[str, Any],
    schema: pa.Schema | None = None,
    *,
    durable: bool = True,
) -> Path:
    """Write ``results.parquet`` then ``metadata.json`` (with the results' sha256) atomically.

    ``table`` is one table or an iterable of tables (chunks of one run, written one at a
    time, each cast to ``schema``; without ``schema`` the chunks are all read first to
    unify their schemas, e.g. a column that is all null in one chunk).

    Each file is written to a temporary name and renamed, so a reader never sees a half
    written file, whatever happens to the writing process. ``durable=True`` also flushes
    both files to disk before their rename and the folder after it (three ``fsync``), so
    the run survives an OS crash or power loss once this returns. ``durable=False`` leaves
    that to the caller, who flushes many runs at once (the study runner flushes a batch
    of tasks with one ``syncfs``: see docs/failure-modes.md); until then, a power loss can
    leave the files empty or truncated, which :func:`read_run` detects (metadata that is
    not JSON, or a sha256 mismatch).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp_results = folder / f".{RESULTS_FILE}.tmp-{os.getpid()}"
    tmp_metadata = folder / f".{RUN_METADATA_FILE}.tmp-{os.getpid()}"
    try:
        with open(tmp_results, "wb") as stream:
            if isinstance(table, pa.Table):
                pq.write_table(table, stream, compression="zstd")
                n_rows = table.num_rows
            else:
                n_rows = _write_chunks(stream, table, schema)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        metadata = {
            **metadata,
            "results_file": {
                "name": RESULTS_FILE,
                "sha256": sha256_file(tmp_results),
                "rows": n_rows,
            },
        }
        with open(tmp_metadata, "w") as stream:
            json.dump(metadata, stream, indent=1, default=_json_default)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        os.replace(tmp_results, folder / RESULTS_FILE)
        os.replace(tmp_metadata, folder / RUN_METADATA_FILE)
        if durable:
            fsync_directory(folder)
    finally:
        for tmp in (tmp_results, tmp_metadata):
            if tmp.exists():
                tmp.unlink()
    return folder


def _write_chunks(stream: Any, tables: Iterable[pa.Table], schema: pa.Schema | None) -> int:
    if schema is None:
        tables = list(tables)
        schema = pa.unify_schemas([t.schema for t in tables], promote_options="permissive")
    n_rows = 0
    with pq.ParquetWriter(stream, schema, compression="zstd") as writer:
        for chunk in tables:
            writer.write_table(chunk.select(schema.names).cast(schema))
            n_rows += chunk.num_rows
    return n_rows


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(
        f"metadata value {value!r} of type {type(value).__name__} is not JSON-serializable"
    )


def read_run(folder: Path | str) -> RunResults:
    """Read a results folder back, verifying that it is complete and of a known version."""
    folder = Path(folder)
    metadata_path = folder / RUN_METADATA_FILE
    try:
        metadata = json.loads(metadata_path.read_text())
    except FileNotFoundError:
        raise IncompleteRunError(
            f"{folder} has no {RUN_METADATA_FILE}: the run did not finish writing"
        ) from None
    except json.JSONDecodeError as error:
        raise IncompleteRunError(f"{metadata_path} is not valid JSON: {error}") from None
    version = metadata.get("format_version")
    if version != RESULTS_FORMAT_VERSION:
        raise IncompleteRunError(
            f"{folder} holds results format version {version!r}; this simtune reads version "
            f"{RESULTS_FORMAT_VERSION}. Re-run the task or use the simtune version that wrote it"
        )
    results_path = folder / RESULTS_FILE
    recorded = metadata.get("results_file", {})
    if not results_path.exists() or sha256_file(results_path) != recorded.get("sha256"):
        raise IncompleteRunError(f"{results_path} is missing or does not match its recorded sha256")
    return RunResults(pq.read_table(results_path).to_pandas(), metadata, folder)
