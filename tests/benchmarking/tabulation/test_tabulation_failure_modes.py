"""Tabulation against hostile objectives and garbage files: an objective that ends its
process, one that never returns, and dumps or manifests that are not JSON."""

from __future__ import annotations

import pytest
from tabulation_test_cluster import local_cluster
from tabulation_test_objectives import (
    EXIT_CODE,
    EXITING_X,
    HANGING_X,
    quadratic_curve_that_exits_or_hangs,
    quadratic_task,
)

from benchmarking.tabulation import CorruptDumpFileError, DumpFolder, collate_task, collect
from benchmarking.tabulation.dump_files import read_json

TIME_LIMIT = 3.0


@pytest.fixture(scope="module")
def one_worker_cluster():
    with local_cluster(1) as cluster:
        yield cluster


@pytest.mark.timeout(240)
def test_objectives_that_end_their_process_or_hang_are_recorded_and_collection_ends(
    tmp_path, one_worker_cluster
):
    task = quadratic_task(quadratic_curve_that_exits_or_hangs, name="hostile", seeds=(0,))
    worker_before = set(one_worker_cluster.scheduler_info["workers"])
    summary = collect(
        task,
        tmp_path,
        scheduler_address=one_worker_cluster.scheduler_address,
        time_limit=TIME_LIMIT,
    )
    # 4 values of x: one exits, one hangs, two finish; each counted exactly once
    assert (summary.n_evaluated, summary.n_failed, summary.n_fidelity_results) == (2, 2, 6)
    folder = DumpFolder(tmp_path)
    failures = {
        (dump["config"]["x"], dump["seed"]): dump["error"]
        for dump in map(read_json, folder.task_dir("hostile").glob("*.failed.json"))
    }
    assert sorted(failures) == [(EXITING_X, 0), (HANGING_X, 0)]
    assert f"exit code {EXIT_CODE}" in failures[(EXITING_X, 0)]
    assert f"time limit of {TIME_LIMIT:g} s" in failures[(HANGING_X, 0)]
    # the Dask worker itself never died: no restart, no rescheduled evaluation
    assert set(one_worker_cluster.scheduler_info["workers"]) == worker_before
    blackbox = collate_task(tmp_path, "hostile", allow_missing=True)
    assert blackbox.lookup({"x": 0.25}, 3, seed=0)["loss"] == (0.25 - 0.3) ** 2 + 1 / 3


def test_garbage_dumps_and_manifests_are_named_and_a_garbage_done_dump_is_redone(
    tmp_path, one_worker_cluster
):
    address = one_worker_cluster.scheduler_address
    task = quadratic_task(name="garbled", configurations=[{"x": 0.0}, {"x": 0.25}])
    assert collect(task, tmp_path, scheduler_address=address).n_evaluated == 4
    folder = DumpFolder(tmp_path)
    done = sorted(p for p in folder.task_dir("garbled").glob("*.json"))
    done[0].write_bytes(b'{"status": "done", "metr')  # a torn or hand-edited file
    with pytest.raises(CorruptDumpFileError, match=rf"{done[0].name} is not valid JSON"):
        collate_task(tmp_path, "garbled")
    again = collect(task, tmp_path, scheduler_address=address)
    # the garbage "done" dump did not count as done: moved aside and evaluated again
    assert (again.n_already_done, again.n_corrupt, again.n_evaluated) == (3, 1, 1)
    assert read_json(done[0])["status"] == "done"
    assert [p.read_bytes() for p in done[0].parent.glob(f"{done[0].name}.corrupt-*")] == [
        b'{"status": "done", "metr'
    ]
    assert collate_task(tmp_path, "garbled").lookup({"x": 0.0}, 1, seed=0)["loss"] == 0.09 + 1
    folder.manifest_path("garbled").write_text("[1, 2]")
    with pytest.raises(CorruptDumpFileError, match=r"manifest of task 'garbled'.*JSON list"):
        collate_task(tmp_path, "garbled")
