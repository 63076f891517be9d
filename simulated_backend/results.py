"""Columnar recording of every result of a run, and its Parquet + metadata files.

The hot loop appends plain Python values to a few lists; objective values of tabular
blackboxes are not even copied per result but gathered in one vectorized lookup when the
run ends. A results folder holds ``results.parquet`` and ``metadata.json``; both are
written to temporary files and renamed, metadata last, and the metadata records the
sha256 of the results file, so a folder is either complete and verifiable or ignored.
"""

from __future__ import annotations

import functools
import json
import os
import platform
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from blackbox_repository import Blackbox, TabularBlackbox
from blackbox_repository.atomic_files import fsync_directory
from blackbox_repository.blackbox import native_config
from blackbox_repository.file_format import sha256_file

RESULTS_FORMAT_VERSION = 1
RESULTS_FILE = "results.parquet"
RUN_METADATA_FILE = "metadata.json"
DECISIONS = ("CONTINUE", "PAUSE", "STOP", "COMPLETED")
CONFIG_PREFIX = "config_"


class IncompleteRunError(RuntimeError):
    """A results folder that is missing files, truncated, or of another format version."""


@dataclass(frozen=True)
class RunResults:
    """What a run produced: one row per result, the run's metadata, and where it is stored."""

    results: pd.DataFrame
    metadata: dict[str, Any]
    path: Path | None = None

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


class ResultRecorder:
    """Appends results in columns; ``to_table`` builds the Arrow table at the end."""

    def __init__(self, blackbox: Blackbox) -> None:
        self.blackbox = blackbox
        self.gather_from_table = isinstance(blackbox, TabularBlackbox)
        # typed arrays: 8 bytes a value instead of a Python object, read by numpy without a copy
        self.trial_ids = array("q")
        self.workers = array("q")
        self.positions = array("q")
        self.times = array("d")
        self.decisions = array("b")
        self.rows: list[list[float]] = []  # only for blackboxes that are not tabular

    def __len__(self) -> int:
        return len(self.trial_ids)

    def to_table(
        self,
        configs: list[dict[str, Any]],
        config_indices: list[int],
        seed_indices: list[int],
    ) -> pa.Table:
        blackbox = self.blackbox
        trial_ids = np.frombuffer(self.trial_ids, dtype=np.int64)
        positions = np.frombuffer(self.positions, dtype=np.int64)
        columns: dict[str, Any] = {
            "trial_id": trial_ids,
            "worker": np.frombuffer(self.workers, dtype=np.int64),
            "fidelity": np.asarray(blackbox.fidelity_values)[positions],
            "simulated_time": np.frombuffer(self.times, dtype=np.float64),
            "decision": pa.DictionaryArray.from_arrays(
                pa.array(np.frombuffer(self.decisions, dtype=np.int8)), pa.array(DECISIONS)
            ),
        }
        n_objectives = len(blackbox.objective_names)
        if len(trial_ids) == 0:
            values = np.empty((0, n_objectives))
        elif self.gather_from_table:
            values = blackbox.lookup_batch(
                np.asarray(config_indices, dtype=np.int64)[trial_ids],
                positions,
                np.asarray(seed_indices, dtype=np.int64)[trial_ids],
            )
        else:
            values = np.asarray(self.rows, dtype=np.float64)
        for k, name in enumerate(blackbox.objective_names):
            columns[name] = np.ascontiguousarray(values[:, k], dtype=np.float64)
        hp_names = list(blackbox.hyperparameter_names)
        trial_configs = (
            pd.DataFrame.from_records(configs, columns=hp_names)
            if configs
            else pd.DataFrame(columns=hp_names)
        )
        for name in hp_names:
            column = trial_configs[name].to_numpy()[trial_ids] if len(trial_ids) else np.array([])
            columns[CONFIG_PREFIX + name] = pa.array(
                list(column) if column.dtype == object else column, from_pandas=True
            )
        return pa.table(columns)


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


def write_run(folder: Path | str, table: pa.Table, metadata: dict[str, Any]) -> Path:
    """Write ``results.parquet`` then ``metadata.json`` (with the results' sha256) atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp_results = folder / f".{RESULTS_FILE}.tmp-{os.getpid()}"
    tmp_metadata = folder / f".{RUN_METADATA_FILE}.tmp-{os.getpid()}"
    try:
        with open(tmp_results, "wb") as stream:
            pq.write_table(table, stream, compression="zstd")
            stream.flush()
            os.fsync(stream.fileno())
        metadata = {
            **metadata,
            "results_file": {
                "name": RESULTS_FILE,
                "sha256": sha256_file(tmp_results),
                "rows": table.num_rows,
            },
        }
        with open(tmp_metadata, "w") as stream:
            json.dump(metadata, stream, indent=1, default=_json_default)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp_results, folder / RESULTS_FILE)
        os.replace(tmp_metadata, folder / RUN_METADATA_FILE)
        fsync_directory(folder)
    finally:
        for tmp in (tmp_results, tmp_metadata):
            if tmp.exists():
                tmp.unlink()
    return folder


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
