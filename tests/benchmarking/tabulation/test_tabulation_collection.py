"""Collection on a real Dask cluster, resumption after a kill, failures, and collation."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from tabulation_test_cluster import local_cluster
from tabulation_test_objectives import (
    NON_FINITE_X,
    RAISING_X,
    quadratic_curve_without_elapsed_time,
    quadratic_task,
    tiny_mlp_task,
)

from benchmarking.tabulation import (
    PER_FIDELITY,
    CollectionSummary,
    DumpFolder,
    MissingEvaluationsError,
    ObjectiveContractError,
    StudySpecMismatchError,
    collate,
    collate_task,
    collect,
    read_manifest,
)
from benchmarking.tabulation.dump_files import read_json
from blackbox_repository import read_blackbox, write_blackbox
from tests.conftest import REPO_ROOT

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def dask_address():
    """One real two-worker cluster for the module, used through its address."""
    with local_cluster(2) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def mlp_dumps(tmp_path_factory, dask_address) -> Path:
    """A dump folder holding the real MLP learning curves of the tiny task."""
    dump_dir = tmp_path_factory.mktemp("mlp-dumps")
    summary = collect(tiny_mlp_task(), dump_dir, scheduler_address=dask_address)
    assert (summary.n_evaluated, summary.n_failed, summary.n_fidelity_results) == (12, 0, 60)
    return dump_dir


def done_dumps(dump_dir: Path, task_name: str) -> list[Path]:
    return sorted(
        p
        for p in DumpFolder(dump_dir).task_dir(task_name).glob("*.json")
        if not p.name.endswith(".failed.json")
    )


def test_learning_curve_collection_collates_to_exactly_the_dumped_values(mlp_dumps, tmp_path):
    dumps = done_dumps(mlp_dumps, "tiny-mlp")
    assert len(dumps) == 12  # 6 configurations x 2 seeds, one evaluation per whole curve
    blackbox = collate_task(mlp_dumps, "tiny-mlp")
    assert blackbox.values.shape == (6, 5, 2, 5)
    assert not np.isnan(blackbox.values).any()
    reread = read_blackbox(write_blackbox(blackbox, tmp_path / "entry"))
    for path in dumps:
        dump = read_json(path)
        for epoch, metrics in zip(dump["fidelities"], dump["metrics"]):
            assert blackbox.lookup(dump["config"], epoch, dump["seed"]) == metrics
            assert reread.lookup(dump["config"], epoch, dump["seed"]) == metrics
    elapsed = blackbox.values[..., blackbox.elapsed_time_index]
    assert (np.diff(elapsed, axis=1) > 0).all()  # cumulative training time grows every epoch


@dataclass(frozen=True)
class ResumedCollection:
    """A per-epoch collection killed with some dumps written, then run again."""

    dump_dir: Path
    finished_at_kill: dict[Path, tuple[int, int]]
    resumed: CollectionSummary


@pytest.fixture(scope="module")
def resumed_per_epoch_dumps(tmp_path_factory, dask_address) -> ResumedCollection:
    """Run the per-epoch tiny task in a subprocess, SIGKILL it mid-way, and collect again."""
    tmp_path = tmp_path_factory.mktemp("resumed")
    dump_dir = tmp_path / "dumps"
    script = tmp_path / "collect_script.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "from tabulation_test_objectives import tiny_mlp_task\n"
        "from benchmarking.tabulation import PER_FIDELITY, collect\n"
        "if __name__ == '__main__':\n"
        f"    collect(tiny_mlp_task(PER_FIDELITY, name='resumable'), {str(dump_dir)!r}, n_workers=2)\n"
    )
    log_path = tmp_path / "collect_script.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},  # this clone's code, not an install
            start_new_session=True,
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 120
            while len(done_dumps(dump_dir, "resumable")) < 3:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the collection wrote no dumps in 120 s"
                time.sleep(0.01)
        finally:
            os.killpg(process.pid, signal.SIGKILL)  # the driver, its nannies and workers
            process.wait()
    time.sleep(0.2)
    finished = {
        p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in done_dumps(dump_dir, "resumable")
    }
    task = tiny_mlp_task(PER_FIDELITY, name="resumable")
    return ResumedCollection(
        dump_dir, finished, collect(task, dump_dir, scheduler_address=dask_address)
    )


def test_killed_collection_resumes_without_re_evaluating_finished_dumps(resumed_per_epoch_dumps):
    finished = resumed_per_epoch_dumps.finished_at_kill
    summary = resumed_per_epoch_dumps.resumed
    assert 3 <= len(finished) < 60, f"{len(finished)} of 60 dumps at the kill: nothing to resume"
    assert summary.n_already_done == len(finished)
    assert summary.n_evaluated == 60 - len(finished)
    for path, identity in finished.items():
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == identity, (
            f"{path.name} was rewritten"
        )
    assert len(done_dumps(resumed_per_epoch_dumps.dump_dir, "resumable")) == 60


def test_per_fidelity_objective_retrains_and_matches_the_learning_curve(
    resumed_per_epoch_dumps, mlp_dumps
):
    per_epoch = collate_task(resumed_per_epoch_dumps.dump_dir, "resumable").values
    curve = collate_task(mlp_dumps, "tiny-mlp").values
    assert not np.isnan(per_epoch).any()
    # partial_fit is deterministic given the seed: retraining reproduces every metric but time
    np.testing.assert_array_equal(per_epoch[..., :4], curve[..., :4])


def test_failing_and_non_finite_evaluations_are_recorded_and_the_rest_continues(
    tmp_path, dask_address
):
    summary = collect(quadratic_task(), tmp_path, scheduler_address=dask_address)
    assert (summary.n_evaluated, summary.n_failed) == (4, 4)
    folder = DumpFolder(tmp_path)
    failures = [read_json(p) for p in sorted(folder.task_dir("quadratic").glob("*.failed.json"))]
    assert sorted(f["config"]["x"] for f in failures) == [
        RAISING_X,
        RAISING_X,
        NON_FINITE_X,
        NON_FINITE_X,
    ]
    errors = {f["config"]["x"]: f["error"] for f in failures}
    assert errors[RAISING_X] == f"RuntimeError: training diverged at x={RAISING_X}"
    assert "non-finite loss=nan" in errors[NON_FINITE_X]
    assert all("Traceback" in f["traceback"] for f in failures)
    logs = "".join(p.read_text() for p in folder.logs_dir.glob("*.log"))
    assert logs.count("FAILED") == 4 and "training diverged" in logs

    with pytest.raises(
        MissingEvaluationsError, match="4 of 8 evaluations have no result"
    ) as refused:
        collate_task(tmp_path, "quadratic")
    assert "0 not run, 4 failed" in str(refused.value)
    assert sorted({m.config_index for m in refused.value.missing}) == [2, 3]

    blackbox = collate_task(tmp_path, "quadratic", allow_missing=True)
    loss = blackbox.values[..., blackbox.objective_index("loss")]
    assert np.isnan(loss[2:]).all() and not np.isnan(loss[:2]).any()
    assert blackbox.lookup({"x": 0.25}, 2, seed=1)["loss"] == (0.25 - 0.3) ** 2 + 1 / 2 + 1
    assert "Missing values (NaN)" in blackbox.description
    assert "config 2 fidelity 1..3 seed 0 (failed: RuntimeError" in blackbox.description

    again = collect(quadratic_task(), tmp_path, scheduler_address=dask_address)
    assert (again.n_already_done, again.n_previously_failed, again.n_evaluated) == (4, 4, 0)


def test_objective_without_elapsed_time_is_a_clear_error(tmp_path, dask_address):
    task = quadratic_task(objective=quadratic_curve_without_elapsed_time, name="no-time")
    with pytest.raises(ObjectiveContractError, match="returned no 'elapsed_time'") as error:
        collect(task, tmp_path, scheduler_address=dask_address)
    assert "it returned ['loss']" in str(error.value)
    assert done_dumps(tmp_path, "no-time") == []


def test_dump_folder_of_another_study_spec_is_refused(tmp_path, dask_address):
    collect(quadratic_task(), tmp_path, scheduler_address=dask_address)
    with pytest.raises(
        StudySpecMismatchError,
        match=r"fidelity_values differs: stored \[1,2,3\], requested \[1,2,3,4\]",
    ):
        collect(quadratic_task(fidelity_values=(1, 2, 3, 4)), tmp_path)
    with pytest.raises(StudySpecMismatchError, match="objective differs"):
        collect(quadratic_task(objective=quadratic_curve_without_elapsed_time), tmp_path)
    with pytest.raises(
        StudySpecMismatchError, match="configurations differ: 4 stored, 3 requested"
    ):
        task = quadratic_task()
        collect(quadratic_task(configurations=task.configurations[:3]), tmp_path)
    not_a_dump_folder = tmp_path / "elsewhere"
    not_a_dump_folder.mkdir()
    (not_a_dump_folder / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a tabulation dump folder"):
        collect(quadratic_task(), not_a_dump_folder)

    # other seeds of the same study may join the folder
    summary = collect(quadratic_task(seeds=(2,)), tmp_path, scheduler_address=dask_address)
    assert (summary.n_evaluated, summary.n_failed) == (2, 2)
    assert read_manifest(DumpFolder(tmp_path), "quadratic").seeds == (0, 1, 2)
    assert collate(tmp_path, allow_missing=True)["quadratic"].seeds.tolist() == [0, 1, 2]


def test_holes_are_refused_unless_allowed(mlp_dumps, tmp_path):
    dump_dir = tmp_path / "dumps"
    shutil.copytree(mlp_dumps, dump_dir)
    complete = collate_task(dump_dir, "tiny-mlp")
    hole = done_dumps(dump_dir, "tiny-mlp")[0]
    dump = read_json(hole)
    hole.unlink()
    config_index = complete.config_index(dump["config"])

    with pytest.raises(MissingEvaluationsError) as refused:
        collate_task(dump_dir, "tiny-mlp")
    message = str(refused.value)
    assert "1 of 12 evaluations have no result (1 not run, 0 failed)" in message
    assert f"configurations (index): [{config_index}]" in message
    assert f"seeds: [{dump['seed']}]" in message

    holed = collate_task(dump_dir, "tiny-mlp", allow_missing=True)
    seed_index = holed.seed_index(dump["seed"])
    assert np.isnan(holed.values[config_index, :, seed_index]).all()
    mask = np.ones(holed.values.shape, dtype=bool)
    mask[config_index, :, seed_index] = False
    np.testing.assert_array_equal(holed.values[mask], complete.values[mask])
    assert f"config {config_index} fidelity 1..5 seed {dump['seed']} (not run)" in holed.description
