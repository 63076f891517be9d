"""The real backend on real workers: each runner, failures and limits, a SIGKILLed worker,
Ctrl-C, and checkpoint resume without repeated work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from simulated_backend import StopCriterion, Tuner, read_run
from simulated_backend.backend_protocol import TrialBackend
from simulated_backend.real_backend import ProcessRunner, RealBackend, StepLimits, make_runner
from simulated_backend.schedulers import TrialSuggestion
from tests.simulated_backend.engine_fixtures import ScriptedScheduler
from tests.simulated_backend.real_backend.real_objectives import (
    counting_objective,
    misbehaving_objective,
)

ROOT = Path(__file__).resolve().parents[3]


def trained_epochs(checkpoint_dir: Path, trial_id: int) -> list[int]:
    log = checkpoint_dir / f"trial-{trial_id:06d}" / "trained_epochs.log"
    return [int(line) for line in log.read_text().split()]


@pytest.mark.parametrize("kind", ["serial", "processes", "dask"])
def test_real_backend_runs_trials_and_resumes_from_checkpoints(kind, tmp_path):
    n_workers = 2 if kind == "processes" else 1  # one Dask worker: cluster start-up is slow
    runner = make_runner(kind, counting_objective, n_workers, shared={"offset": 100.0})
    backend = RealBackend(
        runner, range(1, 6), {"loss": "min"}, checkpoint_dir=tmp_path / "checkpoints"
    )
    assert isinstance(backend, TrialBackend)
    scheduler = ScriptedScheduler(6, stop_above=100.35)  # pauses trials 0 and 3 at epoch 2
    run = Tuner(
        scheduler, backend, StopCriterion(max_wallclock_time=120), results_dir=tmp_path / "run"
    ).run()
    results = run.results
    assert run.metadata["status"] == "completed"
    assert run.metadata["runner"]["runner"] == kind
    assert set(results.status) == {"success"}
    assert (results.loss > 100).all()  # the shared keyword argument reached every call
    assert results.trial_id.nunique() == 6
    np.testing.assert_allclose(results.loss, 100.0 + results.config_x / 10 + 1.0 / results.fidelity)
    assert (results.wall_time > 0).all() and results.cpu_time.notna().all()
    assert results.simulated_time.is_monotonic_increasing or kind != "serial"
    for trial_id, rows in results.groupby("trial_id"):
        fidelities = list(rows.fidelity)
        assert fidelities == list(range(1, len(fidelities) + 1))  # nothing reported twice
        # every epoch trained exactly once, also across a pause and resume
        assert trained_epochs(tmp_path / "checkpoints", trial_id) == fidelities
    paused = results[results.decision.astype(str) == "PAUSE"].trial_id.tolist()
    assert sorted(paused) == [0, 3]  # with 2 processes, either may report first
    assert results[results.trial_id == 0].fidelity.max() > 2  # resumed after the pause
    assert read_run(tmp_path / "run").results.equals(results)


def test_failed_steps_are_recorded_and_the_run_goes_on(tmp_path):
    runner = ProcessRunner(misbehaving_objective, n_workers=2)
    backend = RealBackend(
        runner,
        [1, 2, 3],
        {"loss": "min"},
        limits=StepLimits(wall_time=3.0, memory_mb=512),
        checkpoint_dir=tmp_path / "checkpoints",
    )
    failures = ["raise", "sleep", "memory", "kill", "none"]

    class Failing(ScriptedScheduler):
        def suggest(self):
            suggestion = super().suggest()
            if suggestion is None or suggestion.config is None:
                return suggestion
            x = suggestion.config["x"]
            return type(suggestion).start({"x": x, "failure": failures[x]})

    run = Tuner(
        Failing(len(failures), stop_above=10.0, pause=False),
        backend,
        StopCriterion(max_wallclock_time=120),
        wait_timeout=0.1,
    ).run()
    results = run.results
    last = results.groupby("config_failure").last()
    assert last.loc["raise", "status"] == "crashed"
    assert "ValueError: diverged at x=0" in last.loc["raise", "error"]
    assert last.loc["sleep", "status"] == "timeout"
    assert 2.5 < last.loc["sleep", "wall_time"] < 20
    assert last.loc["memory", "status"] == "memory-out"
    assert last.loc["kill", "status"] == "crashed"
    assert "killed by signal 9" in last.loc["kill", "error"]
    assert last.loc["none", "status"] == "success" and last.loc["none", "fidelity"] == 3
    assert set(results[results.status != "success"].decision.astype(str)) == {"FAILED"}
    assert sorted(run.metadata["failed_trials"]) == [0, 1, 2, 3]
    assert runner.n_replaced == 1  # the killed worker was replaced, the run went on


def test_objective_without_the_metric_is_a_crash_naming_it(tmp_path):
    backend = RealBackend(
        make_runner("serial", counting_objective), [1, 2], {"accuracy": "max", "loss": "min"}
    )

    class MaximizeAccuracy(ScriptedScheduler):
        def __init__(self):
            super().__init__(2, pause=False)
            self.metric, self.mode = "accuracy", "max"

    run = Tuner(MaximizeAccuracy(), backend, StopCriterion(max_num_results=5)).run()
    assert set(run.results.status) == {"crashed"}
    assert "without the tuned metric 'accuracy'" in run.results.error.iloc[0]


def test_metric_and_mode_are_checked_against_the_declared_objectives():
    backend = RealBackend(make_runner("serial", counting_objective), [1], {"loss": "min"})
    scheduler = ScriptedScheduler(1)
    scheduler.mode = "max"
    with pytest.raises(ValueError, match="mode='min'"):
        Tuner(scheduler, backend, StopCriterion(max_num_results=1))
    scheduler.metric = "accuracy"
    with pytest.raises(KeyError, match="no objective 'accuracy'"):
        Tuner(scheduler, backend, StopCriterion(max_num_results=1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def test_ctrl_c_stops_cleanly_with_finished_results_on_disk(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("interruptible_run.py")),
            str(tmp_path / "run"),
            str(tmp_path / "checkpoints"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    worker_pids, n_seen = [], 0
    try:
        for line in process.stdout:
            words = line.split()
            if words[0] == "workers":
                worker_pids = [int(pid) for pid in words[1:]]
            elif words[0] == "result":
                n_seen += 1
                if n_seen == 4:
                    break
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and "interrupted" in rest
    run = read_run(tmp_path / "run")
    assert run.metadata["status"] == "interrupted"
    assert len(run.results) >= n_seen
    for trial_id, rows in run.results.groupby("trial_id"):
        assert trained_epochs(tmp_path / "checkpoints", trial_id)[: len(rows)] == list(
            rows.fidelity
        )
    deadline = time.time() + 10
    while any(_alive(pid) for pid in worker_pids) and time.time() < deadline:
        time.sleep(0.1)
    assert worker_pids and not any(_alive(pid) for pid in worker_pids)


def _first_report(backend):
    """Wait like the Tuner: let a simulator's clock jump, let real workers finish."""
    for _ in range(200):
        if hasattr(backend, "advance_clock"):
            backend.advance_clock()
        reports = list(backend.next_results(0.05))
        if reports:
            return reports
    raise AssertionError("no report")


@pytest.mark.parametrize("kind", ["simulator", "real"])
def test_both_backends_honour_the_protocol_contract(kind, tmp_path):
    from simulated_backend import SimulatorBackend
    from simulated_backend.backend_protocol import REPORT_CONTINUES
    from tests.simulated_backend.engine_fixtures import random_tabular_blackbox

    if kind == "simulator":
        backend = SimulatorBackend(random_tabular_blackbox(0, n_seeds=1), n_workers=1)
    else:
        backend = RealBackend(
            make_runner("serial", counting_objective), range(1, 9), {"loss": "min"}
        )
    assert isinstance(backend, TrialBackend)
    description = backend.open("loss", "min")
    assert "loss" in description.objective_names and description.fidelity_name == "epoch"
    assert backend.num_free_workers == 1
    assert backend.start_trial(0, {"x": 1}) == {"x": 1}
    assert backend.num_free_workers == 0
    [(trial_id, result, final)] = _first_report(backend)
    assert (trial_id, final) == (0, REPORT_CONTINUES)
    assert result["fidelity"] == result["epoch"] == 1 and result["worker"] == 0
    assert 0 <= result["simulated_time"] <= backend.current_time()
    backend.pause_trial(0)
    assert backend.num_free_workers == 1
    assert backend.resume_trial(0) == {"x": 1}
    [(_, result, _)] = _first_report(backend)
    assert result["fidelity"] == 2  # from the checkpoint: the next fidelity
    backend.stop_trial(0)
    assert backend.num_free_workers == 1
    assert isinstance(backend.metadata()["benchmark"], str)
    backend.close()
    backend.close()  # idempotent


class SlowParityScheduler(ScriptedScheduler):
    """The scripted decisions, with the configs of one parity of ``x`` training slowly."""

    def __init__(self, slow_parity: int, sleep: float) -> None:
        super().__init__(6, stop_above=100.35)
        self.slow_parity = slow_parity
        self.sleep = sleep

    def suggest(self) -> TrialSuggestion | None:
        suggestion = super().suggest()
        if suggestion is not None and suggestion.config is not None:
            x = suggestion.config["x"]
            sleep = self.sleep if x % 2 == self.slow_parity else 0.0
            suggestion = TrialSuggestion.start({"x": x, "sleep": sleep})
        return suggestion

    def sequence(self) -> list[tuple[str, int, int | None]]:
        """What the scheduler saw and did, without the (real) times."""
        return [
            (kind, trial_id, None if detail is None else detail[0])
            for kind, trial_id, detail in self.log
        ]


def run_with_slow_parity(
    slow_parity: int, ordered: bool, folder: Path, sleep: float = 0.2, max_results: int = 100
) -> SlowParityScheduler:
    runner = ProcessRunner(counting_objective, n_workers=2, shared={"offset": 100.0})
    backend = RealBackend(runner, [1, 2, 3], {"loss": "min"}, ordered=ordered)
    scheduler = SlowParityScheduler(slow_parity, sleep)
    stop = StopCriterion(max_wallclock_time=120, max_num_results=max_results)
    try:
        run = Tuner(scheduler, backend, stop, results_dir=folder).run()
    finally:
        backend.close()
    assert run.metadata["status"] == "completed"
    assert run.results.simulated_time.is_monotonic_increasing
    return scheduler


def test_ordered_results_make_the_run_independent_of_which_worker_is_faster(tmp_path):
    # as steps finish: trial 0 trains for 3 s, so trial 1's first result comes first (the
    # run ends there and trial 0's worker is killed)
    unordered = run_with_slow_parity(
        0, ordered=False, folder=tmp_path / "unordered", sleep=3.0, max_results=1
    )
    first_results = [entry for entry in unordered.sequence() if entry[0] == "result"]
    assert first_results[0][1] == 1
    # in submission order: the same results and decisions whichever trials are slow
    slow_even = run_with_slow_parity(0, ordered=True, folder=tmp_path / "slow-even")
    slow_odd = run_with_slow_parity(1, ordered=True, folder=tmp_path / "slow-odd")
    assert slow_even.sequence() == slow_odd.sequence()
    assert [entry for entry in slow_even.sequence() if entry[0] == "result"][0][1] == 0
    assert ("resume", 0, None) in slow_even.sequence()  # pauses and resumes take part
