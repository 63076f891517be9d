"""Collation of a study: the dataset, failed and missing tasks, refused versions, full disks."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow.dataset as ds
import pytest

import benchmarking.collation as collation
from benchmarking.collation import (
    IncompatibleResultsError,
    collect_results,
    read_collated,
    read_runs,
    read_traces,
)
from benchmarking.study import Study, StudyLayout, execute_study, task_state
from tests.benchmarking.study_helpers import short_benchmarks

TINY_FILESYSTEM_BYTES = 256 * 1024


def finished_study(out: Path) -> Study:
    study = Study.from_names(
        ["RS", "ASHA"], short_benchmarks(), [0, 1], method_kwargs={"ASHA": {"reduction_factor": 1}}
    )
    execute_study(study, out)  # every ASHA task fails: reduction_factor=1 does not apply
    return study


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory, session_cache_dir, shared_data_dir) -> Path:
    out = tmp_path_factory.mktemp("collation") / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIMTUNE_CACHE_DIR", str(session_cache_dir))
        patch.setenv("SIMTUNE_RAW_DATA_DIR", str(shared_data_dir))
        finished_study(out)
    return out


def copy_of(study_folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(study_folder, out)
    return out


def test_collation_gathers_completed_runs_and_lists_failed_and_missing_tasks(
    study_folder, tmp_path
):
    out = copy_of(study_folder, tmp_path)
    # one task killed half-way, one never run
    partial = out / "runs" / "xgboost-mnist" / "RS" / "seed-1"
    shutil.rmtree(partial)
    partial.mkdir()
    (partial / ".results.parquet.tmp-77").write_bytes(b"PAR1")
    shutil.rmtree(out / "runs" / "taskset-imdb-gru128-bs128" / "RS" / "seed-0")

    summary = collect_results(out)
    assert summary.n_runs == 2
    assert sorted(p.key for p in summary.failed) == sorted(
        f"{b.name}/ASHA/seed-{s}" for b in short_benchmarks() for s in (0, 1)
    )
    assert all("reduction_factor" in p.reason for p in summary.failed)
    missing = {p.key: p.reason for p in summary.missing}
    assert missing == {
        "xgboost-mnist/RS/seed-1": "incomplete folder (the task was interrupted); run the study again",
        "taskset-imdb-gru128-bs128/RS/seed-0": "not run yet",
    }
    assert "4 failed, 2 missing" in summary.describe()

    dataset = out / "collated"
    runs = read_runs(dataset)
    assert sorted(runs["task_key"]) == [
        "taskset-imdb-gru128-bs128/RS/seed-1",
        "xgboost-mnist/RS/seed-0",
    ]
    results = read_collated(dataset)
    assert sorted(results.groupby(["benchmark", "method", "seed"]).size().index) == [
        ("taskset-imdb-gru128-bs128", "RS", 1),
        ("xgboost-mnist", "RS", 0),
    ]
    assert results["fidelity"].dtype == "float64"
    assert len(results) == runs["n_results"].sum() == summary.n_results
    assert len(read_traces(dataset)) == len(results)
    hive = ds.dataset(dataset, partitioning="hive").to_table(
        columns=["benchmark", "method", "seed"]
    )
    assert hive.num_rows == len(results)  # also a plain hive-partitioned Parquet dataset
    on_disk = json.loads((dataset / "_summary.json").read_text())
    assert (
        on_disk["benchmarks"]["xgboost-mnist"]["best_value"]
        <= results.loc[results["benchmark"] == "xgboost-mnist", "test_error"].min()
    )


def test_results_of_another_format_version_are_refused(study_folder, tmp_path):
    out = copy_of(study_folder, tmp_path)
    metadata_path = out / "runs" / "xgboost-mnist" / "RS" / "seed-0" / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["format_version"] = 99
    metadata_path.write_text(json.dumps(metadata))
    with pytest.raises(
        IncompatibleResultsError,
        match=r"seed-0 holds results of format version 99.*reads version 1",
    ):
        collect_results(out)
    assert not (out / "collated").exists()


def test_a_full_disk_while_collating_leaves_the_previous_dataset_untouched(
    study_folder, tmp_path, monkeypatch
):
    out = copy_of(study_folder, tmp_path)
    collect_results(out)
    before = sorted(p.relative_to(out).as_posix() for p in (out / "collated").rglob("*"))
    written = []
    write_parquet = collation._write_parquet

    def disk_full_on_second_file(table, path):
        if written:
            with open(path, "wb") as stream:
                stream.write(b"PAR1" + b"\0" * 100)  # half a file, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written.append(path)
        write_parquet(table, path)

    monkeypatch.setattr(collation, "_write_parquet", disk_full_on_second_file)
    with pytest.raises(OSError, match="No space left on device"):
        collect_results(out, best_values=False)
    assert sorted(p.relative_to(out).as_posix() for p in (out / "collated").rglob("*")) == before
    assert [p.name for p in out.iterdir() if p.name.startswith(".collated")] == []


@pytest.fixture
def tiny_filesystem(tmp_path) -> Path:
    """A real 256 KiB tmpfs (needs root), filled up to the last few KiB."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TINY_FILESYSTEM_BYTES}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the injected ENOSPC test covers it"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def fill(folder: Path, leave_free: int) -> None:
    stats = os.statvfs(folder)
    with open(folder / "filler", "wb") as stream:
        stream.write(b"\0" * (stats.f_bavail * stats.f_frsize - leave_free))


def no_half_written_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if ".tmp" in p.name or p.name.startswith(".staging-")]


def test_a_full_disk_leaves_no_corrupt_results_or_dataset(study_folder, tiny_filesystem):
    fill(tiny_filesystem, leave_free=16 * 1024)  # room for the study's manifest, not for results
    out = tiny_filesystem / "out"
    study = Study.from_names(["RS"], short_benchmarks()[:1], [0])
    report = execute_study(study, out)
    assert report.n_failed == 1 and "No space left on device" in report.failed[0].error
    task = study.tasks()[0]
    assert task_state(task, StudyLayout(out)) in ("failed", "missing")
    assert not (out / "runs" / task.key / "results.parquet").exists()
    assert no_half_written_files(out) == []
    assert json.loads((out / "study.json").read_text())["tasks"].keys() == {task.key}

    with pytest.raises(OSError, match="No space left on device"):
        collect_results(study_folder, tiny_filesystem / "collated", best_values=False)
    assert sorted(p.name for p in tiny_filesystem.iterdir()) == ["filler", "out"]
