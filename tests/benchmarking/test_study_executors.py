"""Executors by name or instance: a user-defined executor from Python, the CLI, a YAML
study file and an entry point; unknown names; nothing started for a finished study."""

from __future__ import annotations

import pytest

from benchmarking.cli import main
from benchmarking.executors import UnknownExecutorError, make_executor, resolve_executor
from benchmarking.study import Study, execute_study
from tests.benchmarking.study_helpers import completed_task_folders, short_benchmarks
from tests.benchmarking.user_executor import ThreadPoolTaskExecutor

USER_FACTORY = "tests.benchmarking.user_executor:make_thread_executor"

# these tests read real benchmark files (they skip on a bare clone, fail if data is there)
pytestmark = pytest.mark.usefixtures("shared_data_dir")


def small_study() -> Study:
    return Study.from_names(["RS", "ASHA"], short_benchmarks()[:1], [0, 1])


def test_an_executor_instance_runs_the_study_and_stays_open(tmp_path):
    executor = ThreadPoolTaskExecutor(2)
    report = execute_study(small_study(), tmp_path / "out", executor=executor)
    assert (report.n_completed, report.executor) == (4, "a user thread pool of 2 threads")
    assert executor.threads_used and all(
        t.startswith("user-executor") for t in executor.threads_used
    )
    assert not executor.closed  # its owner closes it
    executor.close()


def test_a_module_factory_reference_from_the_cli_and_a_study_file(tmp_path, capsys):
    out = tmp_path / "out"
    arguments = ["run", "--methods", "RS", "--benchmarks", "xgboost-mnist", "--seeds", "0-1"]
    arguments += ["--max-wallclock-time", "300", "--out", str(out), "--no-progress"]
    assert main([*arguments, "--executor", USER_FACTORY]) == 0
    assert "2 completed, 0 failed" in capsys.readouterr().out
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        "methods: [RS]\nbenchmarks: [{name: xgboost-mnist, max_wallclock_time: 300}]\n"
        f"seeds: 0-2\nexecutor: {USER_FACTORY}\nn_jobs: 3\nout: {out}\n"
    )
    assert main(["run", "--study", str(study_file), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "3 tasks: 2 already done, 1 completed" in printed
    assert "(a user thread pool of 3 threads)" in printed
    assert len(completed_task_folders(out)) == 3
    # finished: the executor is not even started (the factory would fail the run)
    refusing = "tests.benchmarking.user_executor:refuse_to_start"
    assert main(["run", "--study", str(study_file), "--executor", refusing, "--no-progress"]) == 0
    assert "nothing started: every task was done" in capsys.readouterr().out


def test_an_entry_point_executor_and_unknown_names(tmp_path, monkeypatch, capsys):
    dist_info = tmp_path / "simtune_user_executors-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: simtune-user-executors\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(f"[simtune.executors]\nthreads = {USER_FACTORY}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with resolve_executor("threads", n_jobs=3) as executor:
        assert executor.description == "a user thread pool of 3 threads"
        assert sorted(r for _, r, _ in executor.map_unordered(abs, [-2, -1])) == [1, 2]
    with pytest.raises(
        UnknownExecutorError,
        match=r"unknown executor 'ray'; choose one of inprocess, processes, dask, threads",
    ):
        make_executor("ray")
    with pytest.raises(UnknownExecutorError, match="cannot import module 'no_such_module'"):
        make_executor("no_such_module:make")
    out = tmp_path / "out"
    code = main(["run", "--methods", "RS", "--benchmarks", "xgboost-mnist", "--seeds", "0",
                 "--out", str(out), "--executor", "tests.benchmarking.user_executor:nothing"])  # fmt: skip
    assert code == 2
    assert "has no attribute 'nothing'" in capsys.readouterr().err
    assert not out.exists()
