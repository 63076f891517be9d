"""Studies and collation against what an unlucky or hostile user does: a paper folder given
as --dataset-dir, kill -9 of a run on a process pool, workers that outlive their run,
garbage JSON among the study's files, fractional seeds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from benchmarking.cli import main
from benchmarking.collation import (
    DatasetFolderError,
    IncompatibleResultsError,
    collect_results,
    read_collation_summary,
)
from benchmarking.study import Study, StudyLayout, execute_study, execute_task, task_state
from benchmarking.study_layout import StudyFileError
from benchmarking.study_spec import StudyError
from tests.benchmarking.study_helpers import completed_task_folders, short_benchmarks
from tests.conftest import REPO_ROOT


def one_task_study() -> Study:
    return Study.from_names(["RS"], short_benchmarks()[:1], [0])


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory, session_cache_dir, shared_data_dir) -> Path:
    out = tmp_path_factory.mktemp("finished") / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIMTUNE_CACHE_DIR", str(session_cache_dir))
        patch.setenv("SIMTUNE_RAW_DATA_DIR", str(shared_data_dir))
        assert execute_study(one_task_study(), out, executor="inprocess").n_completed == 1
    return out


@pytest.fixture
def study_copy(finished_study, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(finished_study, out)
    return out


def test_collect_replaces_only_its_own_dataset_or_an_empty_folder(study_copy, tmp_path, capsys):
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "draft.tex").write_text("\\section{Results}")
    assert main(["collect", str(study_copy), "--dataset-dir", str(paper)]) == 2
    error = capsys.readouterr().err
    assert (
        error.startswith("simtune: error:")
        and "not a dataset written by `simtune collect`" in error
    )
    assert "'draft.tex'" in error
    assert (paper / "draft.tex").read_text() == "\\section{Results}"  # nothing deleted
    for inside_or_equal in (study_copy, study_copy.parent):
        with pytest.raises(DatasetFolderError, match="would delete the study"):
            collect_results(study_copy, inside_or_equal)
    assert task_state(one_task_study().tasks()[0], StudyLayout(study_copy)) == "completed"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert collect_results(study_copy, empty).n_runs == 1
    assert collect_results(study_copy, empty).n_runs == 1  # an earlier dataset is replaced
    (empty / "notes.txt").write_text("mine")
    with pytest.raises(DatasetFolderError, match=r"also holds 'notes.txt'"):
        collect_results(study_copy, empty)
    assert (empty / "notes.txt").read_text() == "mine"


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def run_command(out: Path, executor: str) -> list[str]:
    return [
        sys.executable, "-m", "benchmarking.cli", "run", "--methods", "RS",
        "--benchmarks", "xgboost-mnist", "--seeds", "0-3", "--max-wallclock-time", "100000",
        "--executor", executor, "--n-jobs", "2", "--out", str(out), "--no-progress",
    ]  # fmt: skip


def start_run_and_wait_for_a_task(out: Path, executor: str, log: Path) -> subprocess.Popen:
    """``simtune run`` on ``executor`` in a child process, once its workers write tasks."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with open(log, "w") as stream:  # a file, not a pipe: surviving workers would hold a pipe
        process = subprocess.Popen(
            run_command(out, executor), env=environment, stdout=stream, stderr=stream
        )
    deadline = time.monotonic() + 200
    while not (out / ".staging").is_dir() or not any(
        p.suffix == ".lock" for p in (out / ".staging").iterdir()
    ):  # workers are writing tasks
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "no task started in 200 s"
        time.sleep(0.05)
    return process


@pytest.mark.timeout(300)
@pytest.mark.usefixtures("shared_data_dir")
def test_kill_9_of_a_dask_run_takes_its_local_cluster_down(tmp_path):
    first = start_run_and_wait_for_a_task(tmp_path / "out", "dask", tmp_path / "run.log")
    children = descendants(first.pid)  # the forkserver, the Dask workers, resource tracker
    assert len(children) >= 3
    first.send_signal(signal.SIGKILL)  # the main process only, as `kill -9 PID` does
    first.wait()
    gone, alive = psutil.wait_procs(children, timeout=30)
    survivors = [process.pid for process in alive]
    for process in alive:  # clean up what the test started before failing
        process.kill()
    assert survivors == [], f"processes {survivors} outlived the killed run"


@pytest.mark.timeout(300)
@pytest.mark.usefixtures("shared_data_dir")
def test_kill_9_of_a_process_pool_run_takes_its_workers_down(tmp_path):
    out = tmp_path / "out"
    first = start_run_and_wait_for_a_task(out, "processes", tmp_path / "first-run.log")
    children = descendants(first.pid)
    assert len(children) >= 2
    first.send_signal(signal.SIGKILL)  # the main process only, as `kill -9 PID` does
    first.wait()
    gone, alive = psutil.wait_procs(children, timeout=15)
    for process in alive:  # clean up what the test started before failing
        process.kill()
    assert alive == [], f"{len(alive)} worker processes outlived the killed run"
    # a new run finishes the study; collation finds every run
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    second = subprocess.run(
        run_command(out, "processes"), env=environment, capture_output=True, text=True, timeout=240
    )
    assert second.returncode == 0, second.stderr
    assert "4 tasks:" in second.stdout and "0 failed" in second.stdout
    assert "collated 4 runs" in second.stdout and "0 missing" in second.stdout
    assert len(completed_task_folders(out)) == 4
    assert not any((out / ".staging").iterdir())


def test_a_run_that_lost_the_folder_cannot_install_and_live_staging_is_kept(
    finished_study, tmp_path
):
    out = tmp_path / "out"
    layout = StudyLayout(out)
    layout.root.mkdir()
    task = one_task_study().tasks()[0]
    killed_run, current_run = layout.begin_run(), layout.begin_run()
    outcome = execute_task(task, str(out), killed_run)
    assert outcome.status == "discarded" and not layout.task_dir(task.key).exists()
    assert execute_task(task, str(out), current_run).status == "completed"
    before = (layout.task_dir(task.key) / "metadata.json").read_bytes()
    assert execute_task(task, str(out), killed_run).status == "discarded"
    assert (layout.task_dir(task.key) / "metadata.json").read_bytes() == before
    # a staging folder whose writer lives is kept; once its writer is killed it is removed
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from benchmarking.study_layout import StudyLayout\n"
            f"with StudyLayout(Path({str(out)!r})).staging_folder('b/m/seed-0') as folder:\n"
            "    folder.mkdir(); (folder / 'results.parquet').write_bytes(b'PAR1')\n"
            "    print(folder, flush=True); time.sleep(600)\n",
        ],  # fmt: skip
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        live = Path(holder.stdout.readline().strip())
        assert live.is_dir()
        assert layout.clear_staging() == [] and (live / "results.parquet").exists()
    finally:
        holder.kill()
        holder.wait()
    assert layout.clear_staging() == [live] and not live.exists()


def test_garbage_json_in_study_files_is_named_and_never_counts_as_done(
    study_copy, capsys, tmp_path
):
    layout = StudyLayout(study_copy)
    task = one_task_study().tasks()[0]
    metadata = layout.task_dir(task.key) / "metadata.json"
    metadata.write_text("[]")
    assert task_state(task, layout) == "missing"
    summary = collect_results(study_copy, best_values=False)
    assert summary.n_runs == 0
    assert [p.reason for p in summary.missing] == [
        f"run metadata {metadata} holds a JSON list, not an object; run the study again to redo the task"
    ]
    failed_record = layout.task_dir(task.key) / "failed.json"
    failed_record.write_text('{"error": ')
    assert str(failed_record) in collect_results(study_copy, best_values=False).failed[0].reason
    report = execute_study(one_task_study(), study_copy, executor="inprocess", check=False)
    assert report.n_completed == 1 and task_state(task, layout) == "completed"
    layout.manifest_path.write_text('["not", "a", "manifest"]')
    with pytest.raises(StudyFileError, match=r"study manifest .*study\.json holds a JSON list"):
        execute_study(one_task_study(), study_copy, executor="inprocess", check=False)
    assert main(["collect", str(study_copy)]) == 2
    assert "study.json holds a JSON list" in capsys.readouterr().err
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "_summary.json").write_text("{")
    with pytest.raises(IncompatibleResultsError, match=r"_summary\.json is not valid JSON"):
        read_collation_summary(dataset)
    assert json.loads(layout.run_token_path.read_text())["run_token"]


def test_fractional_seeds_in_a_study_file_are_refused(tmp_path):
    study_file = tmp_path / "study.yaml"
    for seeds in ("[0, 1.7]", "1.7", "[-1]", "[true]"):
        study_file.write_text(f"methods: [RS]\nbenchmarks: [xgboost-mnist]\nseeds: {seeds}\n")
        with pytest.raises(StudyError, match="seed"):
            Study.from_yaml(study_file)
    study_file.write_text("methods: [RS]\nbenchmarks: [xgboost-mnist]\nseeds: [0, 2.0]\n")
    assert Study.from_yaml(study_file).seeds == (0, 2)
