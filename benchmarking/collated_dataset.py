"""A collated dataset on disk: its files, how it is recognised, and how it is read.

``simtune collect`` (:mod:`benchmarking.collation`) writes it; the readers here give it
back as tables for analysis and plots. See :mod:`benchmarking.collation` for the layout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from benchmarking.analysis import BenchmarkSummary
from benchmarking.study_layout import StudyFileError, read_json_file
from blackbox_repository.errors import SimtuneError

COLLATED_FORMAT_VERSION = 1
PARTITION_FILE = "results.parquet"
RUNS_FILE = "_runs.parquet"
SUMMARY_FILE = "_summary.json"
WRITER_MARK = "simtune collect"
"""The ``written_by`` field of ``_summary.json``: how a dataset folder is recognised."""


class IncompatibleResultsError(SimtuneError, ValueError):
    """Results written by a simtune version whose format this one does not read."""


class DatasetFolderError(SimtuneError, ValueError):
    """A ``dataset_dir`` that collation must not write into (it would delete what it holds)."""


def check_dataset_folder(dataset_dir: Path, study_root: Path) -> None:
    """Refuse a ``dataset_dir`` whose replacement would delete what simtune did not write.

    Allowed: a folder that does not exist yet, an empty folder, or an earlier collated
    dataset (a ``_summary.json`` written by ``simtune collect`` and nothing but dataset
    files). Refused: the study folder itself or any folder containing it, a file, and any
    other folder.
    """
    target, study = dataset_dir.resolve(), study_root.resolve()
    if target == study or target in study.parents:
        raise DatasetFolderError(
            f"--dataset-dir {dataset_dir} is {'the study folder' if target == study else 'a folder containing the study folder'} "
            f"{study_root}; replacing it would delete the study. Give a new folder, e.g. "
            f"{study_root / 'collated'}"
        )
    if not dataset_dir.exists() and not dataset_dir.is_symlink():
        return
    if not dataset_dir.is_dir():
        raise DatasetFolderError(
            f"--dataset-dir {dataset_dir} is a file, not a folder; give a new or empty folder"
        )
    entries = sorted(p.name for p in dataset_dir.iterdir())
    if not entries:
        return
    if not _written_by_collation(dataset_dir):
        raise DatasetFolderError(
            f"{dataset_dir} is not empty and is not a dataset written by `simtune collect` (no "
            f"{SUMMARY_FILE} of ours; it holds {_listing(entries)}); simtune replaces only its "
            "own datasets: give a new or empty folder"
        )
    foreign = [
        name
        for name in entries
        if name not in (SUMMARY_FILE, RUNS_FILE) and not name.startswith("benchmark=")
    ]
    if foreign:
        raise DatasetFolderError(
            f"the collated dataset {dataset_dir} also holds {_listing(foreign)}, which "
            "`simtune collect` did not write; move them away (replacing the dataset would delete "
            "them) or give another folder"
        )


def _written_by_collation(folder: Path) -> bool:
    try:
        summary = json.loads((folder / SUMMARY_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(summary, dict):
        return False
    if summary.get("written_by") == WRITER_MARK:
        return True
    # datasets of simtune before the mark: the summary's own fields identify them
    return {"format_version", "results_format_version", "n_runs", "benchmarks"} <= set(summary)


def _listing(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(repr(n) for n in names[:shown]) + more


# --------------------------------------------------------------------- reading the dataset
def read_collation_summary(dataset_dir: Path | str) -> dict[str, Any]:
    """The ``_summary.json`` of a collated dataset, after checking its format version."""
    path = Path(dataset_dir) / SUMMARY_FILE
    try:
        summary = read_json_file(path, "dataset summary")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} does not exist: run `simtune collect` on the study folder first"
        ) from None
    except StudyFileError as error:
        raise IncompatibleResultsError(f"{error}; run `simtune collect` again") from None
    if summary.get("format_version") != COLLATED_FORMAT_VERSION:
        raise IncompatibleResultsError(
            f"{dataset_dir} is a collated dataset of format version {summary.get('format_version')!r}; "
            f"this simtune reads version {COLLATED_FORMAT_VERSION}: run `simtune collect` again"
        )
    return summary


def read_benchmark_summaries(dataset_dir: Path | str) -> dict[str, BenchmarkSummary]:
    """Metric, mode, budget, best and worst value of each benchmark of a collated dataset."""
    described = read_collation_summary(dataset_dir)["benchmarks"]
    return {name: BenchmarkSummary(**fields) for name, fields in described.items()}


def read_runs(dataset_dir: Path | str) -> pd.DataFrame:
    """One row per collated run: settings, counts and status."""
    read_collation_summary(dataset_dir)
    return pq.read_table(Path(dataset_dir) / RUNS_FILE).to_pandas()


def _partitions(dataset_dir: Path) -> list[tuple[str, str, Path]]:
    found = []
    for path in sorted(dataset_dir.glob(f"benchmark=*/method=*/{PARTITION_FILE}")):
        benchmark = path.parent.parent.name.split("=", 1)[1]
        method = path.parent.name.split("=", 1)[1]
        found.append((benchmark, method, path))
    return found


def read_collated(
    dataset_dir: Path | str,
    benchmarks: list[str] | None = None,
    methods: list[str] | None = None,
) -> pd.DataFrame:
    """Every result of the selected partitions, with ``benchmark`` and ``method`` columns.

    Benchmarks have different objective and configuration columns; the frame has the union
    (NaN where a benchmark lacks a column).
    """
    read_collation_summary(dataset_dir)
    frames = []
    for benchmark, method, path in _partitions(Path(dataset_dir)):
        if (benchmarks is None or benchmark in benchmarks) and (
            methods is None or method in methods
        ):
            frame = pq.read_table(path).to_pandas()
            frame.insert(0, "method", method)
            frame.insert(0, "benchmark", benchmark)
            frames.append(frame)
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["benchmark", "method"])
    )


def read_traces(dataset_dir: Path | str) -> pd.DataFrame:
    """``method, benchmark, seed, simulated_time, value`` (the benchmark's metric) of every
    result: the input of :mod:`benchmarking.analysis`."""
    summaries = read_collation_summary(dataset_dir)["benchmarks"]
    frames = []
    for benchmark, method, path in _partitions(Path(dataset_dir)):
        metric = summaries[benchmark]["metric"]
        table = pq.read_table(path, columns=["seed", "simulated_time", metric])
        frame = table.rename_columns(["seed", "simulated_time", "value"]).to_pandas()
        frame.insert(0, "benchmark", benchmark)
        frame.insert(0, "method", method)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=t)
                for c, t in (
                    ("method", object),
                    ("benchmark", object),
                    ("seed", "int64"),
                    ("simulated_time", float),
                    ("value", float),
                )
            }
        )
    return pd.concat(frames, ignore_index=True)
