"""Tuner and SimulatorBackend behaviour: pause/resume, stop criteria, failures, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulated_backend import (
    SchedulerFailure,
    SimulatorBackend,
    StopCriterion,
    Tuner,
    TunerCallback,
    read_run,
)
from simulated_backend.results import IncompleteRunError
from simulated_backend.schedulers import TrialScheduler, TrialSuggestion
from tests.simulated_backend.engine_fixtures import (
    FormulaBlackbox,
    ScriptedScheduler,
    random_tabular_blackbox,
)


class PauseOnceScheduler(TrialScheduler):
    """One trial: paused at epoch 3, resumed after a second trial ran to completion."""

    def __init__(self) -> None:
        super().__init__("loss", "min")
        self.started = 0
        self.paused = None

    def suggest(self):
        if self.paused is not None and self.started == 2:
            trial_id, self.paused = self.paused, None
            return TrialSuggestion.resume(trial_id)
        if self.started < 2:
            self.started += 1
            return TrialSuggestion.start({"x": self.started - 1})
        return None

    def on_trial_result(self, trial, result):
        if trial.trial_id == 0 and result["epoch"] == 3 and self.started == 1:
            self.paused = 0
            return "PAUSE"
        return "CONTINUE"


@pytest.mark.parametrize("resume_from", ["checkpoint", "scratch"])
def test_resume_charges_only_remaining_time_or_everything_from_scratch(resume_from):
    blackbox = random_tabular_blackbox(3, n_seeds=1)
    elapsed = blackbox.values[:, :, 0, 1]
    run = Tuner(
        PauseOnceScheduler(),
        SimulatorBackend(blackbox, n_workers=1, resume_from=resume_from),
        StopCriterion(max_num_trials_finished=2),
    ).run()
    results = run.results
    trial0 = results[results.trial_id == 0]
    trial1 = results[results.trial_id == 1]
    pause_time = trial0.simulated_time.iloc[2]
    assert trial0.decision.astype(str).iloc[2] == "PAUSE"
    assert pause_time == elapsed[0, 2]
    # trial 1 starts on the freed worker at the pause time and runs to its end
    assert trial1.simulated_time.iloc[-1] == pytest.approx(pause_time + elapsed[1, -1])
    resume_time = trial1.simulated_time.iloc[-1]
    after = trial0.iloc[3:]
    if resume_from == "checkpoint":
        assert list(after.fidelity) == list(range(4, 9))
        expected = resume_time + elapsed[0, 3:] - elapsed[0, 2]
    else:
        assert list(after.fidelity) == list(range(1, 9))
        expected = resume_time + elapsed[0, :]
    np.testing.assert_allclose(after.simulated_time, expected)
    assert after.decision.astype(str).iloc[-1] == "COMPLETED"


def run_scripted(**stop):
    blackbox = random_tabular_blackbox(1)
    return Tuner(
        ScriptedScheduler(40, pause=False),
        SimulatorBackend(blackbox, n_workers=4, seed=0),
        StopCriterion(**stop),
    ).run()


def test_stop_after_max_num_results():
    run = run_scripted(max_num_results=37)
    assert len(run.results) == 37
    assert run.metadata["stop_reason"] == "max_num_results"


def test_stop_after_max_num_trials_finished():
    run = run_scripted(max_num_trials_finished=5)
    finished = run.results.decision.astype(str).isin(["STOP", "COMPLETED"]).sum()
    assert finished == 5
    assert run.metadata["stop_reason"] == "max_num_trials_finished"


def test_max_num_trials_started_lets_running_trials_end():
    run = run_scripted(max_num_trials_started=6)
    assert run.results.trial_id.nunique() == 6
    last = run.results.groupby("trial_id").decision.last().astype(str)
    assert set(last) <= {"STOP", "COMPLETED"}


def test_stop_at_target_metric_value():
    run = run_scripted(target_metric_value=0.05)
    assert run.results.loss.iloc[-1] <= 0.05
    assert (run.results.loss.iloc[:-1] > 0.05).all()
    assert run.metadata["stop_reason"] == "target_metric_value"


def test_stop_on_user_predicate():
    seen = []

    def predicate(status):
        seen.append(status)
        return status.num_trials_started >= 9 and status.simulated_time > 5

    run = run_scripted(predicate=predicate)
    assert run.metadata["stop_reason"] == "predicate"
    assert len(seen) == len(run.results)
    assert seen[-1].num_trials_started >= 9 and seen[-1].simulated_time > 5
    assert not any(s.num_trials_started >= 9 and s.simulated_time > 5 for s in seen[:-1])
    assert seen[-1].num_results == len(run.results)


def test_run_ends_when_scheduler_has_nothing_more():
    run = run_scripted(max_wallclock_time=1e9)
    assert run.metadata["stop_reason"] == "the scheduler has nothing more to run"
    assert run.results.trial_id.nunique() == 40


def test_same_seed_gives_bit_identical_files(tmp_path):
    blackbox = random_tabular_blackbox(5, integer_times=False)
    for name in ("a", "b"):
        Tuner(
            ScriptedScheduler(40),
            SimulatorBackend(blackbox, n_workers=3, seed=11),
            StopCriterion(max_wallclock_time=50.0),
            results_dir=tmp_path / name,
        ).run()
    for file_name in ("results.parquet", "metadata.json"):
        assert (tmp_path / "a" / file_name).read_bytes() == (
            tmp_path / "b" / file_name
        ).read_bytes()
    Tuner(
        ScriptedScheduler(40),
        SimulatorBackend(blackbox, n_workers=3, seed=12),
        StopCriterion(max_wallclock_time=50.0),
        results_dir=tmp_path / "c",
    ).run()
    assert (tmp_path / "c" / "results.parquet").read_bytes() != (
        tmp_path / "a" / "results.parquet"
    ).read_bytes()


def test_results_folder_round_trip_and_columns(tmp_path):
    blackbox = random_tabular_blackbox(2)
    run = Tuner(
        ScriptedScheduler(40),
        SimulatorBackend(blackbox, n_workers=2),
        StopCriterion(max_wallclock_time=30.0),
        results_dir=tmp_path,
        metadata={"method": "scripted"},
    ).run()
    again = read_run(tmp_path)
    assert again.results.equals(run.results)
    assert list(run.results.columns) == [
        "trial_id",
        "worker",
        "fidelity",
        "simulated_time",
        "decision",
        "loss",
        "time",
        "config_x",
    ]
    assert again.metadata["method"] == "scripted"
    assert again.metadata["status"] == "completed"
    # objective values are the blackbox's, looked up independently
    row = run.results.iloc[5]
    values = blackbox.values[int(row.config_x), int(row.fidelity) - 1, :, 0]
    assert row.loss in values


def test_truncated_results_file_is_detected(tmp_path):
    blackbox = random_tabular_blackbox(2)
    Tuner(
        ScriptedScheduler(40),
        SimulatorBackend(blackbox, n_workers=2),
        StopCriterion(max_wallclock_time=30.0),
        results_dir=tmp_path,
    ).run()
    data = (tmp_path / "results.parquet").read_bytes()
    (tmp_path / "results.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(IncompleteRunError, match="sha256"):
        read_run(tmp_path)


class ExplodingScheduler(ScriptedScheduler):
    def on_trial_result(self, trial, result):
        if trial.trial_id == 4 and result["epoch"] == 2:
            raise RuntimeError("model fit diverged")
        return super().on_trial_result(trial, result)


def test_scheduler_error_names_trial_and_keeps_results_on_disk(tmp_path):
    blackbox = random_tabular_blackbox(4)
    with pytest.raises(SchedulerFailure, match="model fit diverged.*trial 4") as info:
        Tuner(
            ExplodingScheduler(40),
            SimulatorBackend(blackbox, n_workers=3),
            StopCriterion(max_wallclock_time=1e6),
            results_dir=tmp_path,
        ).run()
    assert info.value.trial_id == 4
    saved = read_run(tmp_path)
    assert saved.metadata["status"] == "failed"
    assert saved.metadata["error"]["trial_id"] == 4
    assert "model fit diverged" in saved.metadata["error"]["traceback"]
    assert len(saved.results) > 0


def test_surrogate_results_are_produced_lazily():
    blackbox = FormulaBlackbox(n_fidelities=50)

    class StopAtTwo(TrialScheduler):
        def __init__(self):
            super().__init__("loss", "min")
            self.n = 0

        def suggest(self):
            self.n += 1
            return TrialSuggestion.start({"lr": 0.01 * self.n}) if self.n <= 10 else None

        def on_trial_result(self, trial, result):
            return "STOP" if result["epoch"] == 2 else "CONTINUE"

    run = Tuner(
        StopAtTwo(), SimulatorBackend(blackbox, n_workers=2), StopCriterion(max_wallclock_time=1e6)
    ).run()
    assert len(run.results) == 20
    # per trial: 2 rows reported + 1 looked ahead (to know whether the curve goes on);
    # nothing of the remaining 47 epochs is computed
    assert blackbox.rows_computed == 30
    np.testing.assert_allclose(run.results.loss.iloc[:2].to_numpy(), [0.01, 0.02])


class RecordingCallback(TunerCallback):
    def __init__(self):
        self.events = []

    def on_tuning_start(self, tuner):
        self.events.append("start")

    def on_trial_result(self, trial, result, decision):
        self.events.append(decision)

    def on_tuning_end(self, tuner):
        self.events.append("end")


def test_callbacks_see_every_result():
    callback = RecordingCallback()
    run = Tuner(
        ScriptedScheduler(40),
        SimulatorBackend(random_tabular_blackbox(1), n_workers=2),
        StopCriterion(max_num_results=25),
        callbacks=[callback],
    ).run()
    assert callback.events[0] == "start" and callback.events[-1] == "end"
    assert len(callback.events) == 2 + len(run.results)


def test_curve_ending_early_completes_the_trial_at_its_last_recorded_fidelity():
    blackbox = random_tabular_blackbox(6, n_seeds=1)
    blackbox.values[2, 4:, 0, 1] = np.nan  # the recorded run of config 2 ended after epoch 4
    run = Tuner(
        ScriptedScheduler(10, stop_above=2.0, pause=False),
        SimulatorBackend(blackbox, n_workers=2),
        StopCriterion(max_wallclock_time=1e6),
    ).run()
    trial2 = run.results[run.results.trial_id == 2]
    assert list(trial2.fidelity) == [1, 2, 3, 4]
    assert trial2.decision.astype(str).iloc[-1] == "COMPLETED"
    assert run.metadata["failed_trials"] == []


def test_trial_without_any_recorded_time_fails_and_the_run_goes_on():
    blackbox = random_tabular_blackbox(6, n_seeds=1)
    blackbox.values[3, :, 0, 1] = np.nan
    run = Tuner(
        ScriptedScheduler(10, stop_above=2.0, pause=False),
        SimulatorBackend(blackbox, n_workers=2),
        StopCriterion(max_wallclock_time=1e6),
    ).run()
    assert run.metadata["failed_trials"] == [3]
    assert 3 not in set(run.results.trial_id)
    assert run.results.trial_id.nunique() == 9


@pytest.mark.parametrize("n_workers", [0, -1, 1.5, True])
def test_bad_worker_count(n_workers):
    with pytest.raises(ValueError, match="n_workers"):
        SimulatorBackend(random_tabular_blackbox(0), n_workers=n_workers)


def test_metric_not_in_blackbox_lists_objectives():
    class WrongMetric(ScriptedScheduler):
        def __init__(self):
            super().__init__(5)
            self.metric = "accuracy"

    with pytest.raises(KeyError, match="no objective 'accuracy'.*'loss', 'time'"):
        Tuner(
            WrongMetric(),
            SimulatorBackend(random_tabular_blackbox(0)),
            StopCriterion(max_num_results=3),
        )


def test_mode_disagreeing_with_objective():
    scheduler = ScriptedScheduler(5)
    scheduler.mode = "max"
    with pytest.raises(ValueError, match="mode='min'"):
        Tuner(
            scheduler,
            SimulatorBackend(random_tabular_blackbox(0)),
            StopCriterion(max_num_results=3),
        )


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({}, "at least one budget"),
        ({"max_wallclock_time": 0}, "positive"),
        ({"max_wallclock_time": float("inf")}, "positive"),
        ({"max_num_results": 0}, "positive integer"),
        ({"max_num_trials_finished": 2.5}, "positive integer"),
    ],
)
def test_budgets_that_cannot_be_reached(arguments, message):
    with pytest.raises(ValueError, match=message):
        StopCriterion(**arguments)


def test_protocol_violations_are_named():
    class ResumesUnknown(ScriptedScheduler):
        def suggest(self):
            return TrialSuggestion.resume(99)

    with pytest.raises(SchedulerFailure, match="resume trial 99, which is unknown"):
        Tuner(
            ResumesUnknown(5),
            SimulatorBackend(random_tabular_blackbox(0)),
            StopCriterion(max_num_results=3),
        ).run()

    class BadDecision(ScriptedScheduler):
        def on_trial_result(self, trial, result):
            return "MAYBE"

    with pytest.raises(SchedulerFailure, match="'MAYBE'"):
        Tuner(
            BadDecision(5),
            SimulatorBackend(random_tabular_blackbox(0)),
            StopCriterion(max_num_results=3),
        ).run()


def test_off_grid_config_from_scheduler_is_a_clear_failure():
    class OffGrid(ScriptedScheduler):
        def suggest(self):
            return TrialSuggestion.start({"x": 1000})

    with pytest.raises(SchedulerFailure, match="not on the grid"):
        Tuner(
            OffGrid(5),
            SimulatorBackend(random_tabular_blackbox(0)),
            StopCriterion(max_num_results=3),
        ).run()


def test_metadata_has_no_real_time_and_names_the_run(tmp_path):
    Tuner(
        ScriptedScheduler(5),
        SimulatorBackend(random_tabular_blackbox(0), n_workers=2, seed=3),
        StopCriterion(max_num_results=10),
        results_dir=tmp_path,
    ).run()
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["benchmark"] == "random-0"
    assert metadata["seed"] == 3 and metadata["n_workers"] == 2
    assert metadata["stop_criterion"]["max_num_results"] == 10
    assert "tie_breaking" in metadata
