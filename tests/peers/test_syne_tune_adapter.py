"""SyneTuneScheduler: Syne Tune schedulers run unchanged on simtune's Tuner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulated_backend import SchedulerFailure, SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers.syne_tune_adapter import (
    SIMULATED_EPOCH,
    SyneTuneScheduler,
    syne_tune_config_space,
)
from tests.simulated_backend.adapters.adapter_fixtures import random_grid_blackbox
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox

pytestmark = pytest.mark.syne_tune


def scripted_syne_tune_scheduler(n_configs: int):
    """A real Syne Tune TrialScheduler that pauses trial 0 at epoch 2 and resumes it later."""
    from syne_tune.optimizer.scheduler import TrialScheduler, TrialSuggestion

    class PauseAndResume(TrialScheduler):
        def __init__(self) -> None:
            super().__init__(random_seed=0)
            self.next_x = 0
            self.paused: list[int] = []
            self.calls: list[tuple] = []

        def suggest(self):
            if self.paused and self.next_x >= 3:
                return TrialSuggestion.resume_suggestion(self.paused.pop())
            if self.next_x >= n_configs:
                return None
            self.next_x += 1
            return TrialSuggestion.start_suggestion({"x": self.next_x - 1})

        def on_trial_add(self, trial):
            self.calls.append(("add", trial.trial_id, trial.creation_time))

        def on_trial_result(self, trial, result):
            self.calls.append(("result", trial.trial_id, dict(result)))
            if (
                trial.trial_id == 0
                and result["epoch"] == 2
                and not any(c[0] == "remove" for c in self.calls)
            ):
                self.paused.append(0)
                return "PAUSE"
            return "CONTINUE"

        def on_trial_remove(self, trial):
            self.calls.append(("remove", trial.trial_id))

        def on_trial_complete(self, trial, result):
            self.calls.append(("complete", trial.trial_id))

        def metric_names(self):
            return ["loss"]

        def metric_mode(self):
            return "min"

    return PauseAndResume()


def test_trials_results_pause_and_resume_are_translated_as_syne_tune_expects():
    blackbox = random_tabular_blackbox(6, n_configs=5, n_seeds=1)
    scheduler = scripted_syne_tune_scheduler(5)
    run = Tuner(
        SyneTuneScheduler(scheduler, search_space=blackbox),
        SimulatorBackend(blackbox, n_workers=2),
        StopCriterion(max_num_trials_finished=5),
    ).run()
    results = run.results
    adds = [c for c in scheduler.calls if c[0] == "add"]
    first_result_times = results.groupby("trial_id").simulated_time.first()
    elapsed = blackbox.values[:, 0, 0, 1]
    for _, trial_id, creation_time in adds:  # creation time is simulated, as a datetime
        start = first_result_times[trial_id] - elapsed[trial_id]
        assert (creation_time - SIMULATED_EPOCH).total_seconds() == pytest.approx(start, abs=1e-6)
    st_results = [c[2] for c in scheduler.calls if c[0] == "result"]
    assert [r["st_tuner_time"] for r in st_results] == results.simulated_time.tolist()
    assert all(r["st_tuner_time"] == r["simulated_time"] for r in st_results)
    # trial 0 paused at epoch 2 (removed, as Syne Tune's Tuner does), resumed from its checkpoint
    assert scheduler.calls.count(("remove", 0)) == 1
    trial0 = [c[2] for c in scheduler.calls if c[0] == "result" and c[1] == 0]
    assert [r["epoch"] for r in trial0] == list(range(1, 9))
    # worker time counts from the resume: the first result after it took one epoch's time
    assert trial0[2]["st_worker_time"] == pytest.approx(elapsed_step(blackbox, 0, 2))
    assert trial0[1]["st_worker_time"] == pytest.approx(blackbox.values[0, 1, 0, 1])
    assert sorted(c[1] for c in scheduler.calls if c[0] == "complete") == [0, 1, 2, 3, 4]


def elapsed_step(blackbox, config_index, position):
    times = blackbox.values[config_index, :, 0, 1]
    return times[position] - times[position - 1]


def test_a_trial_stopped_at_its_last_result_is_removed_not_completed():
    from syne_tune.optimizer.baselines import ASHA

    blackbox = random_tabular_blackbox(7, n_configs=10)
    asha = ASHA(
        syne_tune_config_space(blackbox),
        metric="loss",
        time_attr="epoch",
        max_t=8,
        do_minimize=True,
        random_seed=0,
    )
    # ASHA answers STOP at max_t; its on_trial_complete would fail on a removed trial
    run = Tuner(
        SyneTuneScheduler(asha, search_space=blackbox, seed=0),
        SimulatorBackend(blackbox, n_workers=3),
        StopCriterion(max_num_trials_started=10),
    ).run()
    decisions = run.results.decision.astype(str)
    assert (decisions == "COMPLETED").sum() >= 1
    assert asha.trial_info == {}  # every trial was removed exactly once


def test_seeded_runs_are_reproducible_and_leave_numpys_global_generator_alone():
    from syne_tune.optimizer.baselines import RandomSearch

    blackbox = random_tabular_blackbox(8, n_configs=40)
    config_space = syne_tune_config_space(blackbox)

    def run(seed):
        rs = RandomSearch(config_space, metrics=["loss"], do_minimize=True, random_seed=seed)
        return Tuner(
            SyneTuneScheduler(rs, search_space=blackbox, seed=seed),
            SimulatorBackend(blackbox, n_workers=2, seed=seed),
            StopCriterion(max_num_trials_started=12),
        ).run()

    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first, again, other = run(5), run(5), run(6)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    pd.testing.assert_frame_equal(first.results, again.results)
    assert not first.results.config_x.equals(other.results.config_x)
    # the private generator draws exactly what Syne Tune draws after np.random.seed(seed)
    np.random.seed(5)
    searcher = RandomSearch(
        config_space, metrics=["loss"], do_minimize=True, random_seed=5
    ).searcher
    expected = [searcher.suggest()["x"] for _ in range(12)]
    assert first.results.groupby("trial_id").config_x.first().tolist() == expected


def test_config_spaces_use_recorded_values_on_product_grids_and_ranges_otherwise():
    from syne_tune.config_space import Categorical, Float, Integer, OrdinalNearestNeighbor

    grid = syne_tune_config_space(random_tabular_blackbox(0, n_configs=7))
    assert isinstance(grid["x"], OrdinalNearestNeighbor)
    assert list(grid["x"].categories) == list(range(7))
    ranges = syne_tune_config_space(random_grid_blackbox(0))
    assert isinstance(ranges["lr"], Float) and (ranges["lr"].lower, ranges["lr"].upper) == (
        1e-4,
        1.0,
    )
    assert isinstance(ranges["units"], Integer) and (
        ranges["units"].lower,
        ranges["units"].upper,
    ) == (8, 256)
    assert isinstance(ranges["act"], Categorical) and list(ranges["act"].categories) == [
        "relu",
        "tanh",
    ]


def test_syne_tune_proposals_off_a_random_grid_run_the_nearest_recorded_configuration():
    from syne_tune.optimizer.baselines import RandomSearch

    blackbox = random_grid_blackbox(2)
    rs = RandomSearch(
        syne_tune_config_space(blackbox), metrics=["loss"], do_minimize=True, random_seed=0
    )
    adapter = SyneTuneScheduler(rs, search_space=blackbox, seed=0)
    run = Tuner(
        adapter, SimulatorBackend(blackbox, n_workers=2), StopCriterion(max_num_trials_started=6)
    ).run()
    for trial_id, rows in run.results.groupby("trial_id"):
        ran = {name: rows[f"config_{name}"].iloc[0] for name in ("lr", "units", "act")}
        assert blackbox.config_index(ran) >= 0
        assert adapter._trials[trial_id].config != ran  # Syne Tune keeps the config it proposed


def test_unsupported_requests_and_mismatches_give_clear_errors():
    from syne_tune.optimizer.baselines import RandomSearch
    from syne_tune.optimizer.scheduler import TrialScheduler, TrialSuggestion

    blackbox = random_tabular_blackbox(0, n_configs=5)
    config_space = syne_tune_config_space(blackbox)
    with pytest.raises(ValueError, match="metric='valid' disagrees"):
        SyneTuneScheduler(RandomSearch(config_space, metrics=["loss"]), metric="valid")
    with pytest.raises(TypeError, match="must be a Syne Tune TrialScheduler"):
        SyneTuneScheduler(object())
    maximizing = SyneTuneScheduler(RandomSearch(config_space, metrics=["loss"], do_minimize=False))
    with pytest.raises(ValueError, match="use mode='min'"):
        Tuner(maximizing, SimulatorBackend(blackbox), StopCriterion(max_num_results=3))

    class WarmStarts(TrialScheduler):  # PBT-style: a new trial from another one's checkpoint
        def suggest(self):
            return TrialSuggestion.start_suggestion({"x": 1}, checkpoint_trial_id=0)

        def metric_names(self):
            return ["loss"]

        def metric_mode(self):
            return "min"

    tuner = Tuner(
        SyneTuneScheduler(WarmStarts()),
        SimulatorBackend(blackbox),
        StopCriterion(max_num_results=3),
    )
    with pytest.raises(SchedulerFailure, match="cannot copy checkpoints between trials"):
        tuner.run()
