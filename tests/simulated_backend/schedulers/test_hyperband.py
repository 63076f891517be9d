"""Synchronous successive halving and Hyperband: stages wait, the best are resumed, and free
workers meanwhile run the next bracket."""

from __future__ import annotations

import json

import pytest

from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import Hyperband, SearchSpace, SuccessiveHalving, Trial
from tests.simulated_backend.schedulers.scheduler_drivers import (
    RoundRobinDriver,
    grid_blackbox,
    mixed_configuration_space,
    result,
)

GRID = list(range(1, 10))  # eta = 3: s_max = 2; brackets (9@1, 3@3, 1@9), (5@3, 1@9), (3@9)


def make(scheduler_class, **kwargs):
    arguments = dict(
        search_space=SearchSpace(mixed_configuration_space()),
        metric="loss",
        mode="min",
        fidelity_values=GRID,
    )
    arguments.update(kwargs)
    return scheduler_class(**arguments)


def start(scheduler, trials: list[Trial], n: int) -> list[Trial]:
    """Start ``n`` new trials (each suggestion must be a start)."""
    started = []
    for _ in range(n):
        suggestion = scheduler.suggest()
        assert suggestion.spawn_new_trial
        trial = Trial(len(trials), suggestion.config, 0.0)
        trials.append(trial)
        scheduler.on_trial_add(trial)
        started.append(trial)
    return started


def run_to(scheduler, trial: Trial, start: int, level: int, value: float) -> str:
    for fidelity in range(start, level):
        assert scheduler.on_trial_result(trial, result(fidelity, value)) == "CONTINUE"
    return scheduler.on_trial_result(trial, result(level, value))


def test_a_waiting_stage_lets_free_workers_start_the_next_bracket():
    sh = make(SuccessiveHalving)
    trials: list[Trial] = []
    stage0 = start(sh, trials, 9)
    assert sh.n_brackets_started == 1
    values = [0.9, 0.5, 0.7, 0.1, 0.8, 0.3, 0.6, 0.2, 0.4]
    for trial, value in zip(stage0[:8], values[:8]):
        assert sh.on_trial_result(trial, result(1, value)) == "PAUSE"
    # the stage waits for its 9th trial: a free worker starts bracket 2 instead of idling
    (other,) = start(sh, trials, 1)
    assert sh.n_brackets_started == 2 and len(sh.running_brackets) == 2
    assert sh.on_trial_result(stage0[8], result(1, values[8])) == "PAUSE"
    resumed = [sh.suggest().resume_trial_id for _ in range(3)]
    assert resumed == [3, 7, 5]  # the 3 best of stage 0, best first: the oldest bracket first
    for trial_id, value in zip(resumed, [0.3, 0.05, 0.2]):
        assert run_to(sh, trials[trial_id], 2, 3, value) == "PAUSE"
    assert sh.suggest().resume_trial_id == 7
    assert run_to(sh, trials[7], 4, 9, 0.01) == "STOP"  # the last stage ends at max fidelity
    assert sh.finished_brackets == [(2, (9, 3, 1))]
    assert sh.running_brackets[0].number == 1
    assert len(start(sh, trials, 8)) == 8 and sh.n_brackets_started == 2  # bracket 2 fills up
    assert other.trial_id == 9


def test_hyperband_starts_its_brackets_in_order_and_cycles():
    hb = make(Hyperband)
    assert [(b.s, b.n_initial) for b in hb.brackets] == [(2, 9), (1, 5), (0, 3)]
    trials: list[Trial] = []
    start(hb, trials, 9 + 5 + 3 + 1)  # no results yet: every bracket starts, then s = 2 again
    assert [run.bracket.s for run in hb.running_brackets] == [2, 1, 0, 2]
    bracket0 = trials[14:17]  # bracket s = 0: 3 trials straight to epoch 9
    for trial in bracket0:
        assert run_to(hb, trial, 1, 9, 0.3) == "STOP"
    assert hb.finished_brackets == [(0, (3,))]
    bracket1 = trials[9:14]  # bracket s = 1: 5 trials to epoch 3, the best one to 9
    for trial, value in zip(bracket1, [0.5, 0.4, 0.3, 0.6, 0.7]):
        assert run_to(hb, trial, 1, 3, value) == "PAUSE"
    promoted = hb.suggest().resume_trial_id
    assert promoted == bracket1[2].trial_id
    assert run_to(hb, trials[promoted], 4, 9, 0.2) == "STOP"
    assert hb.finished_brackets[-1] == (1, (5, 1))


def test_no_worker_idles_while_a_bracket_has_work_and_brackets_keep_their_sizes():
    blackbox = grid_blackbox(n_configs=3000, n_fidelities=9)

    class Watched(Hyperband):
        idle_suggestions = 0

        def suggest(self):
            suggestion = super().suggest()
            if suggestion is None and not self.exhausted:
                Watched.idle_suggestions += 1
            return suggestion

    hb = Watched(SearchSpace.from_blackbox(blackbox), "loss", "min", GRID, seed=3)
    backend = SimulatorBackend(blackbox, n_workers=16, seed=0)
    run = Tuner(hb, backend, StopCriterion(max_num_results=3000)).run()
    assert len(run.results) == 3000
    assert Watched.idle_suggestions == 0  # every free worker got a job at once
    assert len(hb.finished_brackets) >= 20
    sizes = {b.s: tuple(stage.n_trials for stage in b.stages) for b in hb.brackets}
    assert all(stages == sizes[s] for s, stages in hb.finished_brackets)


def test_trials_not_promoted_are_never_resumed_and_unknown_to_results():
    sh = make(SuccessiveHalving)
    trials: list[Trial] = []
    for trial in start(sh, trials, 9):
        sh.on_trial_result(trial, result(1, trial.trial_id))
    resumed = {sh.suggest().resume_trial_id for _ in range(3)}
    assert resumed == {0, 1, 2}
    with pytest.raises(ValueError, match="does not track"):
        sh.on_trial_result(trials[8], result(2, 0.0))


def test_failed_trials_complete_the_stage_and_are_never_promoted():
    sh = make(SuccessiveHalving)
    trials: list[Trial] = []
    stage0 = start(sh, trials, 9)
    for trial in stage0[:7]:
        sh.on_trial_result(trial, result(1, 1.0 - trial.trial_id / 10))
    sh.on_trial_error(stage0[7])
    sh.on_trial_error(stage0[8])
    resumed = [sh.suggest().resume_trial_id for _ in range(3)]
    assert resumed == [6, 5, 4]
    sh.on_trial_error(trials[6])  # fails after its resume
    for trial_id in resumed[1:]:
        run_to(sh, trials[trial_id], 2, 3, trial_id / 10)
    assert sh.suggest().resume_trial_id == 4


def test_resume_from_scratch_repeats_are_continued():
    sh = make(SuccessiveHalving)
    trials: list[Trial] = []
    for trial in start(sh, trials, 9):
        sh.on_trial_result(trial, result(1, trial.trial_id))
    trial = trials[sh.suggest().resume_trial_id]
    assert sh.on_trial_result(trial, result(1, 0.0)) == "CONTINUE"  # re-reported epoch 1
    assert run_to(sh, trial, 2, 3, 0.0) == "PAUSE"


def test_finite_space_shrinks_stage_zero_and_then_finishes():
    blackbox = grid_blackbox(n_configs=4, n_fidelities=9)
    sh = SuccessiveHalving(SearchSpace.from_blackbox(blackbox), "loss", "min", GRID)
    trials: list[Trial] = []
    stage0 = start(sh, trials, 4)
    assert sh.exhausted and sh.suggest() is None
    for trial, value in zip(stage0, [0.4, 0.1, 0.3, 0.2]):
        sh.on_trial_result(trial, result(1, value))
    assert [sh.suggest().resume_trial_id for _ in range(3)] == [1, 3, 2]
    for trial_id in (1, 3, 2):
        run_to(sh, trials[trial_id], 2, 3, trial_id)
    final = sh.suggest().resume_trial_id
    assert final == 1
    assert run_to(sh, trials[final], 4, 9, 0.0) == "STOP"
    assert sh.suggest() is None and sh.finished
    assert sh.finished_brackets == [(2, (4, 3, 1))]


def test_same_seed_same_trajectory_and_mode_max():
    logs = [RoundRobinDriver(make(Hyperband, seed=s), GRID).run(400) for s in (2, 2, 3)]
    assert logs[0] == logs[1] and logs[0] != logs[2]
    flipped = RoundRobinDriver(make(Hyperband, seed=2, mode="max"), GRID, sign=-1.0).run(400)
    assert flipped == logs[0]


def test_trial_not_suggested_by_the_scheduler_is_rejected_and_metadata_is_json():
    hb = make(Hyperband, reduction_factor=2)
    with pytest.raises(ValueError, match="did not suggest trial 0"):
        hb.on_trial_add(Trial(0, {"x": 0.1}, 0.0))
    metadata = json.loads(json.dumps(hb.metadata()))
    assert metadata["scheduler_name"] == "Hyperband" and metadata["reduction_factor"] == 2
    assert metadata["brackets"][0] == {"s": 3, "n_trials": [8, 4, 2, 1], "levels": [2, 3, 5, 9]}
    with pytest.raises(ValueError, match="num_brackets must be an integer from 1 to 4"):
        make(Hyperband, reduction_factor=2, num_brackets=5)
