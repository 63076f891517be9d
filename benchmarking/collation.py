"""Collation: every finished task of a study gathered into one Parquet dataset.

``collect_results(out_dir)`` reads each task folder of a study (see
:mod:`benchmarking.study`) and writes ``out_dir/collated/``::

    benchmark=<name>/method=<label>/results.parquet   every result of every seed of the pair:
                                                       the run's columns plus ``seed``
    _runs.parquet                                     one row per run (settings, counts, status)
    _summary.json                                     format version, per-benchmark metric, mode,
                                                       budget, best and worst value; failed and
                                                       missing tasks

The dataset is written into a temporary folder next to it and renamed into place, so a
crash or a full disk leaves the previous dataset (or none), never a half-written one.
Only a folder simtune wrote is replaced: an earlier dataset (its ``_summary.json`` says
so and it holds nothing else) or an empty folder. Any other folder, and a dataset folder
that is or contains the study itself, is refused with :class:`DatasetFolderError`.
Files starting with ``_`` are skipped by ``pyarrow.dataset`` discovery, so the folder also
reads as a hive-partitioned dataset.

A task folder written by another results format version is refused with a clear message.
Reading a dataset back is :mod:`benchmarking.collated_dataset`'s job (its readers are
re-exported here).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarking.collated_dataset import (  # re-exported: the readers' historic home
    COLLATED_FORMAT_VERSION,
    PARTITION_FILE,
    RUNS_FILE,
    SUMMARY_FILE,
    WRITER_MARK,
    DatasetFolderError,
    IncompatibleResultsError,
    check_dataset_folder,
    read_benchmark_summaries,
    read_collated,
    read_collation_summary,
    read_runs,
    read_traces,
)
from benchmarking.study import FAILED_FILE, SEED_PREFIX, StudyLayout
from benchmarking.study_layout import StudyFileError, read_json_file, spec_digest
from blackbox_repository.atomic_files import fsync_directory
from blackbox_repository.file_format import sha256_file
from simulated_backend.results import RESULTS_FILE, RESULTS_FORMAT_VERSION, RUN_METADATA_FILE


@dataclass(frozen=True)
class TaskProblem:
    """A task that is not part of the collated dataset, and why."""

    key: str
    reason: str


@dataclass(frozen=True)
class CollationSummary:
    """What :func:`collect_results` wrote and what it could not include."""

    dataset_dir: Path
    n_runs: int
    n_results: int
    failed: tuple[TaskProblem, ...]
    missing: tuple[TaskProblem, ...]

    def describe(self) -> str:
        lines = [
            f"collated {self.n_runs} runs ({self.n_results} results) into {self.dataset_dir}; "
            f"{len(self.failed)} failed, {len(self.missing)} missing"
        ]
        for title, problems in (("failed", self.failed), ("missing", self.missing)):
            for problem in problems[:20]:
                lines.append(f"  {title}: {problem.key}: {problem.reason.splitlines()[0][:200]}")
            if len(problems) > 20:
                lines.append(
                    f"  ... and {len(problems) - 20} more {title} tasks (see {SUMMARY_FILE})"
                )
        return "\n".join(lines)


# --------------------------------------------------------------------- reading task folders
def _read_task_metadata(folder: Path) -> dict[str, Any] | None:
    """The run's metadata; ``None`` if absent or unreadable (a partial write never leaves
    a valid one: the task counts as missing and is redone by the next run)."""
    try:
        metadata = read_json_file(folder / RUN_METADATA_FILE, "run metadata")
    except (FileNotFoundError, StudyFileError):
        return None
    version = metadata.get("format_version")
    if version != RESULTS_FORMAT_VERSION:
        raise IncompatibleResultsError(
            f"{folder} holds results of format version {version!r}, but this simtune reads "
            f"version {RESULTS_FORMAT_VERSION}. Re-run the study with this simtune (`simtune run` "
            "redoes such tasks) or collect it with the simtune version that wrote it"
        )
    return metadata


def _unreadable_metadata(folder: Path) -> str | None:
    """Why ``metadata.json`` of a task folder cannot be read, if it exists but is garbage."""
    try:
        read_json_file(folder / RUN_METADATA_FILE, "run metadata")
    except FileNotFoundError:
        return None
    except StudyFileError as error:
        return f"{error}; run the study again to redo the task"
    return None


def _failure_reason(folder: Path, metadata: dict[str, Any] | None) -> str | None:
    try:
        record = read_json_file(folder / FAILED_FILE, "failure record")
    except FileNotFoundError:
        record = None
    except StudyFileError as error:
        return str(error)
    if record is not None:
        return str(record.get("error") or f"failed (no error recorded in {folder / FAILED_FILE})")
    if metadata is not None and metadata.get("status") != "completed":
        error = metadata.get("error") or {}
        message = error.get("message") if isinstance(error, dict) else str(error)
        return message or f"run status {metadata.get('status')!r}"
    return None


def _task_folders(layout: StudyLayout) -> dict[str, Path]:
    folders = {}
    if layout.runs_dir.is_dir():
        for folder in sorted(layout.runs_dir.glob(f"*/*/{SEED_PREFIX}*")):
            if folder.is_dir():
                folders[folder.relative_to(layout.runs_dir).as_posix()] = folder
    return folders


def _results_intact(folder: Path, metadata: dict[str, Any]) -> bool:
    results = folder / RESULTS_FILE
    recorded = (metadata.get("results_file") or {}).get("sha256")
    return results.exists() and sha256_file(results) == recorded


def _scan(
    layout: StudyLayout,
) -> tuple[dict[str, dict[str, Any]], list[TaskProblem], list[TaskProblem]]:
    """Completed runs (key -> metadata), failed and missing tasks of a study folder."""
    manifest = layout.read_manifest()
    completed: dict[str, dict[str, Any]] = {}
    failed: list[TaskProblem] = []
    missing: list[TaskProblem] = []
    folders = _task_folders(layout)
    for key, folder in folders.items():
        metadata = _read_task_metadata(folder)
        reason = _failure_reason(folder, metadata)
        expected = manifest.get(key)
        if (
            metadata is not None
            and expected is not None
            and spec_digest(metadata.get("task")) != expected
        ):
            missing.append(
                TaskProblem(
                    key,
                    "its results were made with other settings than the study's; run the study again",
                )
            )
        elif reason is not None:
            failed.append(TaskProblem(key, reason))
        elif metadata is None:
            missing.append(
                TaskProblem(
                    key,
                    _unreadable_metadata(folder)
                    or "incomplete folder (the task was interrupted); run the study again",
                )
            )
        elif not _results_intact(folder, metadata):
            missing.append(
                TaskProblem(
                    key,
                    f"{RESULTS_FILE} is missing or does not match its sha256; run the study again",
                )
            )
        else:
            completed[key] = metadata
    for key in sorted(set(manifest) - set(folders)):
        missing.append(TaskProblem(key, "not run yet"))
    return completed, failed, missing


# --------------------------------------------------------------------- writing the dataset
def _run_table(folder: Path, metadata: dict[str, Any]) -> pa.Table:
    table = pq.read_table(folder / RESULTS_FILE)
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if name == "fidelity":
            column = column.cast(pa.float64())
        elif pa.types.is_dictionary(column.type):
            column = column.cast(pa.string())
        columns[name] = column
    seed = np.full(table.num_rows, int(metadata["seed"]), dtype=np.int64)
    return pa.table({"seed": seed, **columns})


RUN_RECORD_COLUMNS = (
    "task_key", "benchmark", "method", "method_name", "seed", "blackbox", "metric", "mode",
    "n_workers", "max_wallclock_time", "max_num_results", "n_results", "n_trials", "end_time",
    "stop_reason", "status",
)  # fmt: skip
"""Columns of ``_runs.parquet``."""


def _run_record(key: str, metadata: dict[str, Any]) -> dict[str, Any]:
    stop = metadata.get("stop_criterion") or {}
    return {
        "task_key": key,
        "benchmark": metadata["benchmark"],
        "method": metadata["method"],
        "method_name": metadata.get("method_name", metadata["method"]),
        "seed": int(metadata["seed"]),
        "blackbox": metadata.get("blackbox", metadata["benchmark"]),
        "metric": metadata["metric"],
        "mode": metadata["mode"],
        "n_workers": int(metadata["n_workers"]),
        "max_wallclock_time": stop.get("max_wallclock_time"),
        "max_num_results": stop.get("max_num_results"),
        "n_results": int(metadata["n_results"]),
        "n_trials": int(metadata["n_trials"]),
        "end_time": float(metadata["end_time"]),
        "stop_reason": metadata.get("stop_reason", ""),
        "status": metadata["status"],
    }


def _checked_run_record(layout: StudyLayout, key: str, metadata: dict[str, Any]) -> dict[str, Any]:
    try:
        return _run_record(key, metadata)
    except (KeyError, TypeError, ValueError) as error:
        raise StudyFileError(
            f"run metadata {layout.task_dir(key) / RUN_METADATA_FILE} lacks or garbles a field "
            f"({type(error).__name__}: {error}); delete the task folder and run the study again"
        ) from None


def _benchmark_summaries(
    runs: pd.DataFrame, completed: dict[str, dict[str, Any]], best_values: bool
) -> dict[str, dict[str, Any]]:
    summaries = {}
    for benchmark, rows in runs.groupby("benchmark"):
        pairs = rows[["metric", "mode"]].drop_duplicates()
        if len(pairs) > 1:
            raise IncompatibleResultsError(
                f"runs of benchmark {benchmark!r} optimize different metrics or modes "
                f"{pairs.to_dict('records')}: they cannot be compared; give them different benchmark names"
            )
        budgets = rows["max_wallclock_time"].dropna()
        budget = float(budgets.max()) if len(budgets) else float(rows["end_time"].max())
        summary = {"metric": rows["metric"].iloc[0], "mode": rows["mode"].iloc[0], "budget": budget}
        summary["best_value"], summary["worst_value"] = (
            _metric_range(completed[rows["task_key"].iloc[0]], summary["metric"])
            if best_values
            else (None, None)
        )
        summaries[str(benchmark)] = summary
    return summaries


def _metric_range(metadata: dict[str, Any], metric: str) -> tuple[float | None, float | None]:
    """Best and worst value of ``metric`` over the whole table of a tabular benchmark
    (every configuration, fidelity up to the max resource, and seed); unknown for others."""
    from benchmarking.benchmark_definitions import BenchmarkDefinition
    from benchmarking.simulation import prepared_blackbox
    from blackbox_repository import TabularBlackbox

    described = metadata.get("benchmark_definition")
    if described is None or described.get("surrogate") is not None:
        return None, None  # a surrogate's optimum is unknown: no regret
    blackbox = prepared_blackbox(BenchmarkDefinition.from_dict(described))
    if not isinstance(blackbox, TabularBlackbox):
        return None, None
    values = blackbox.values[..., blackbox.objective_index(metric)]
    if not np.isfinite(values).any():
        return None, None
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    return (low, high) if metadata["mode"] == "min" else (high, low)


def collect_results(
    out_dir: Path | str, dataset_dir: Path | str | None = None, *, best_values: bool = True
) -> CollationSummary:
    """Gather every completed task of the study in ``out_dir`` into one Parquet dataset.

    Args:
        out_dir: the study's output folder (``simtune run --out``).
        dataset_dir: where to write the dataset; default ``out_dir/collated``. It is
            replaced as a whole, atomically.
        best_values: look up each tabular benchmark's best and worst metric value (for
            normalized regret); loads each benchmark once.

    Returns a :class:`CollationSummary` listing failed and missing tasks.

    Example:
        >>> print(collect_results("results/").describe())  # doctest: +SKIP
    """
    layout = StudyLayout(Path(out_dir))
    if not layout.runs_dir.is_dir() and not layout.manifest_path.exists():
        raise FileNotFoundError(
            f"{layout.root} holds no study results (no runs/ folder); run `simtune run --out {layout.root}` first"
        )
    dataset_dir = Path(dataset_dir) if dataset_dir is not None else layout.collated_dir
    check_dataset_folder(dataset_dir, layout.root)
    completed, failed, missing = _scan(layout)
    records = [
        _checked_run_record(layout, key, metadata) for key, metadata in sorted(completed.items())
    ]
    runs = pd.DataFrame.from_records(records, columns=list(RUN_RECORD_COLUMNS))
    summary_content = {
        "written_by": WRITER_MARK,
        "format_version": COLLATED_FORMAT_VERSION,
        "results_format_version": RESULTS_FORMAT_VERSION,
        "n_runs": len(records),
        "benchmarks": _benchmark_summaries(runs, completed, best_values),
        "failed": [{"key": p.key, "reason": p.reason} for p in failed],
        "missing": [{"key": p.key, "reason": p.reason} for p in missing],
    }
    partitions: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key, metadata in sorted(completed.items()):
        partitions[(metadata["benchmark"], metadata["method"])].append(key)
    dataset_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = dataset_dir.with_name(f".{dataset_dir.name}.tmp-{uuid.uuid4().hex[:12]}")
    n_results = 0
    try:
        staging.mkdir()
        for (benchmark, method), keys in sorted(partitions.items()):
            table = pa.concat_tables(
                [_run_table(layout.task_dir(k), completed[k]) for k in keys],
                promote_options="permissive",
            )
            n_results += table.num_rows
            folder = staging / f"benchmark={benchmark}" / f"method={method}"
            folder.mkdir(parents=True)
            _write_parquet(table, folder / PARTITION_FILE)
        _write_parquet(pa.Table.from_pandas(runs, preserve_index=False), staging / RUNS_FILE)
        summary_content["n_results"] = n_results
        _write_text(staging / SUMMARY_FILE, json.dumps(summary_content, indent=1))
        _replace_folder(staging, dataset_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return CollationSummary(dataset_dir, len(records), n_results, tuple(failed), tuple(missing))


def _write_parquet(table: pa.Table, path: Path) -> None:
    with open(path, "wb") as stream:
        pq.write_table(table, stream, compression="zstd")
        stream.flush()
        os.fsync(stream.fileno())


def _write_text(path: Path, text: str) -> None:
    with open(path, "w") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())


def _replace_folder(staging: Path, final: Path) -> None:
    trash = None
    if final.exists():
        trash = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:12]}")
        os.rename(final, trash)
    os.rename(staging, final)
    fsync_directory(final.parent)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


__all__ = [
    "COLLATED_FORMAT_VERSION",
    "PARTITION_FILE",
    "RUNS_FILE",
    "SUMMARY_FILE",
    "WRITER_MARK",
    "CollationSummary",
    "DatasetFolderError",
    "IncompatibleResultsError",
    "TaskProblem",
    "check_dataset_folder",
    "collect_results",
    "read_benchmark_summaries",
    "read_collated",
    "read_collation_summary",
    "read_runs",
    "read_traces",
]
