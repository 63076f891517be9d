"""The study runner on real benchmarks: tasks, resume, failures, executors, bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarking.benchmark_definitions import UnknownBenchmarkError
from benchmarking.study import (
    FAILED_FILE,
    Study,
    StudyError,
    StudyLayout,
    execute_study,
    parse_seeds,
    run_study,
    task_state,
)
from simulated_backend import read_run
from tests.benchmarking.study_helpers import SHORT_SETTINGS, folder_fingerprint, short_benchmarks


def small_study(methods=("ASHA", "RS"), seeds=(0, 1)) -> Study:
    return Study.from_names(list(methods), short_benchmarks(), list(seeds))


@pytest.mark.usefixtures("shared_data_dir")
def test_study_runs_every_task_into_its_own_folder_with_its_spec(tmp_path):
    study = small_study()
    report = execute_study(study, tmp_path / "out")
    assert (report.n_tasks, report.n_completed, report.n_failed, report.n_skipped) == (8, 8, 0, 0)
    layout = StudyLayout(tmp_path / "out")
    for task in study.tasks():
        run = read_run(layout.task_dir(task.key))  # verifies the sha256 of results.parquet
        assert run.metadata["status"] == "completed"
        assert run.metadata["task"] == task.spec()
        assert run.metadata["method"] == task.method.label
        assert run.metadata["seed"] == task.seed
        assert (
            run.metadata["stop_criterion"]["max_wallclock_time"]
            == SHORT_SETTINGS[task.benchmark.name]["max_wallclock_time"]
        )
        assert len(run.results) > 0
        assert task_state(task, layout) == "completed"
    manifest = json.loads(layout.manifest_path.read_text())
    assert sorted(manifest["tasks"]) == sorted(t.key for t in study.tasks())
    assert not layout.staging_dir.exists() or not any(layout.staging_dir.iterdir())


@pytest.mark.usefixtures("shared_data_dir")
def test_rerun_skips_finished_tasks_and_redoes_partial_and_changed_ones(tmp_path):
    out = tmp_path / "out"
    study = small_study(methods=("RS",))
    execute_study(study, out)
    layout = StudyLayout(out)
    tasks = study.tasks()
    untouched = {t.key: folder_fingerprint(layout.task_dir(t.key)) for t in tasks[1:]}
    # a task killed half-way: only a temporary results file, no metadata.json
    partial = layout.task_dir(tasks[0].key)
    shutil.rmtree(partial)
    partial.mkdir()
    (partial / ".results.parquet.tmp-4242").write_bytes(b"PAR1 half written")
    assert task_state(tasks[0], layout) == "missing"
    report = execute_study(study, out)
    assert (report.n_skipped, report.n_completed) == (len(tasks) - 1, 1)
    assert {t.key: folder_fingerprint(layout.task_dir(t.key)) for t in tasks[1:]} == untouched
    assert sorted(p.name for p in partial.iterdir()) == ["metadata.json", "results.parquet"]
    # a longer budget is another task spec: every task runs again
    longer = Study.from_names(["RS"], short_benchmarks(), [0, 1], max_wallclock_time=1000.0)
    assert all(task_state(t, layout) == "outdated" for t in longer.tasks())
    report = execute_study(longer, out)
    assert report.n_completed == len(tasks)
    assert (
        read_run(layout.task_dir(tasks[1].key)).metadata["stop_criterion"]["max_wallclock_time"]
        == 1000.0
    )


@pytest.mark.usefixtures("shared_data_dir")
def test_a_failing_task_is_recorded_with_its_traceback_and_the_others_finish(tmp_path):
    out = tmp_path / "out"
    study = Study.from_names(
        ["ASHA", "RS"],
        short_benchmarks()[:1],
        [0],
        method_kwargs={"asha": {"reduction_factor": 1}},  # eta < 2 does not apply
    )
    report = execute_study(study, out)
    assert report.n_completed == 1 and report.n_failed == 1
    failed = report.failed[0]
    assert failed.key == "xgboost-mnist/ASHA/seed-0"
    assert "reduction_factor" in failed.error
    record = json.loads((out / "runs" / failed.key / FAILED_FILE).read_text())
    assert record["task"]["method_kwargs"] == {"reduction_factor": 1}
    assert "Traceback" in record["traceback"] and "reduction_factor" in record["traceback"]
    layout = StudyLayout(out)
    assert [task_state(t, layout) for t in study.tasks()] == ["failed", "completed"]
    assert execute_study(study, out).n_failed == 1  # a re-run tries the failed task again


def test_unknown_names_list_the_known_ones_and_suggest_close_names(tmp_path):
    with pytest.raises(
        StudyError, match=r"unknown method 'ASHAA'\. Did you mean 'ASHA'.*Known methods:"
    ):
        run_study(["ASHAA"], ["xgboost-mnist"], "0", tmp_path / "out")
    with pytest.raises(UnknownBenchmarkError, match="Did you mean: xgboost-mnist"):
        run_study(["RS"], ["xgboost-mnis"], "0", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing was started


def test_seeds_and_study_files(tmp_path):
    assert parse_seeds("0-3,7,9-10") == (0, 1, 2, 3, 7, 9, 10)
    for bad in ("3-1", "a", "1,,2", "-1"):
        with pytest.raises(StudyError, match="cannot read seeds"):
            parse_seeds(bad)
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        "methods: [rs, {label: ASHA-eta2, method: asha, kwargs: {reduction_factor: 2}}]\n"
        "benchmarks:\n"
        "  - xgboost-mnist\n"
        "  - {name: taskset-imdb-gru128-bs128, n_workers: 2, max_wallclock_time: 500}\n"
        "seeds: 0-2\n"
        "max_wallclock_time: 300\n"
    )
    study = Study.from_yaml(study_file)
    assert [m.label for m in study.methods] == ["RS", "ASHA-eta2"]
    assert study.methods[1].kwargs == (("reduction_factor", 2),)
    xgboost, taskset = study.benchmarks
    assert (xgboost.max_wallclock_time, xgboost.n_workers) == (300.0, 4)
    # a benchmark entry's own settings win over the file's study-wide ones
    assert (taskset.max_wallclock_time, taskset.n_workers) == (500.0, 2)
    assert study.seeds == (0, 1, 2)
    overridden = Study.from_yaml(study_file, max_wallclock_time=50.0, seeds="4")
    # the command line wins over everything in the file
    assert [b.max_wallclock_time for b in overridden.benchmarks] == [50.0, 50.0]
    assert overridden.seeds == (4,)
    study_file.write_text("methods: [RS]\nbenchmark: [xgboost-mnist]\nseeds: 0\n")
    with pytest.raises(StudyError, match=r"unknown keys \['benchmark'\]"):
        Study.from_yaml(study_file)


def test_two_runs_into_one_folder_is_an_error(tmp_path):
    layout = StudyLayout(tmp_path / "out")
    with layout.exclusive(), pytest.raises(StudyError, match="another `simtune run` is writing"):
        execute_study(small_study(methods=("RS",), seeds=(0,)), tmp_path / "out", check=False)


@pytest.mark.usefixtures("shared_data_dir")
def test_local_process_pool_runs_the_study_and_workers_keep_their_blackboxes(tmp_path):
    study = small_study(methods=("RS", "ASHA"), seeds=(0, 1))
    report = execute_study(study, tmp_path / "out", executor="processes", n_jobs=2)
    assert report.n_completed == 8 and "local pool of 2 processes" in report.executor
    assert 1 <= len(report.blackbox_loads) <= 2
    # each worker process read each benchmark from disk at most once for its 4 or so tasks
    assert all(loads <= len(SHORT_SETTINGS) for loads in report.blackbox_loads.values())
