"""How a study's results reach the disk: one flush of the file system per batch of tasks
(no fsync per file), and what a power cut can leave behind is detected and run again."""

from __future__ import annotations

import os

import pytest

import benchmarking.study
from benchmarking.study import (
    Study,
    StudyLayout,
    batches,
    execute_study,
    execute_task,
    execute_tasks,
    task_state,
)
from simulated_backend import read_run
from tests.benchmarking.study_helpers import short_benchmarks


class CallCounter:
    """Calls ``function`` and counts the calls (the real call happens)."""

    def __init__(self, function):
        self.function, self.calls = function, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)


@pytest.mark.usefixtures("shared_data_dir")
def test_a_batch_is_flushed_once_and_a_lone_task_fsyncs_its_files(tmp_path, monkeypatch):
    study = Study.from_names(["RS", "ASHA"], short_benchmarks()[:1], [0, 1])
    layout = StudyLayout(tmp_path / "out")
    layout.root.mkdir()
    token = layout.begin_run()
    fsync = CallCounter(os.fsync)
    flush = CallCounter(benchmarking.study.flush_file_system)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(benchmarking.study, "flush_file_system", flush)

    tasks = study.tasks()
    outcomes = execute_tasks(tasks[:3], str(layout.root), token)
    assert [o.status for o in outcomes] == ["completed"] * 3
    assert (fsync.calls, flush.calls) == (0, 1)  # one flush for the batch, no fsync
    for task in tasks[:3]:  # complete and verified (sha256) without any fsync
        assert read_run(layout.task_dir(task.key)).metadata["status"] == "completed"

    # a task run on its own makes its files and folders durable itself
    assert execute_task(tasks[3], str(layout.root), token).status == "completed"
    assert fsync.calls == 4 and flush.calls == 1  # results, metadata, their folder, runs/


@pytest.mark.usefixtures("shared_data_dir")
def test_files_a_power_cut_emptied_are_detected_and_their_tasks_run_again(tmp_path):
    study = Study.from_names(["RS"], short_benchmarks()[:1], [0, 1, 2])
    out = tmp_path / "out"
    assert execute_study(study, out, executor="inprocess").n_completed == 3
    layout = StudyLayout(out)
    emptied_results, emptied_metadata, intact = study.tasks()
    # what a power cut can leave of files renamed into place before their data was flushed
    (layout.task_dir(emptied_results.key) / "results.parquet").write_bytes(b"")
    (layout.task_dir(emptied_metadata.key) / "metadata.json").write_bytes(b"")
    assert task_state(emptied_results, layout) == "missing"  # sha256 does not match
    assert task_state(emptied_metadata, layout) == "missing"  # not JSON
    report = execute_study(study, out, executor="inprocess")
    assert (report.n_skipped, report.n_completed) == (1, 2)
    assert all(task_state(task, layout) == "completed" for task in study.tasks())
    assert read_run(layout.task_dir(intact.key)).metadata["seed"] == 2


def test_batches_cover_the_study_in_order_and_shrink_to_single_tasks():
    tasks = list(range(1000))
    for n_workers in (1, 2, 8):
        sizes = [len(batch) for batch in batches(tasks, n_workers)]
        assert [t for batch in batches(tasks, n_workers) for t in batch] == tasks
        assert max(sizes) == 16 and sizes[-1] == 1
        assert sizes == sorted(sizes, reverse=True)  # never a long batch at the end
    assert [len(batch) for batch in batches(tasks[:5], 2)] == [2, 1, 1, 1]
