"""Recorded learning curves that end before the max fidelity (NMT, LCDB): the engine
completes such a trial, and no scheduler may ever resume it or wait for it."""

from __future__ import annotations

import numpy as np
import pytest

from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import (
    ASHA,
    BOHB,
    Hyperband,
    SearchSpace,
    SuccessiveHalving,
    Trial,
)
from tests.simulated_backend.schedulers.scheduler_drivers import (
    grid_blackbox,
    mixed_configuration_space,
    result,
)

GRID = list(range(1, 10))  # eta = 3: SH's bracket is 9@1, 3@3, 1@9


def early_ending_blackbox(n_configs: int = 3000):
    """Every third configuration's recorded run ends after epoch 1, 3 or 5."""
    blackbox = grid_blackbox(n_configs=n_configs, n_fidelities=9, seed=1)
    values = np.array(blackbox.values, dtype=float)
    for row in range(0, n_configs, 3):
        last_epoch = (1, 3, 5)[(row // 3) % 3]
        values[row, last_epoch:, :, :] = np.nan  # no time, no value: the run ended
    blackbox.values = values
    return blackbox


def successive_halving_with_stage_zero_started() -> tuple[SuccessiveHalving, list[Trial]]:
    """SH on ``GRID`` with the 9 trials of its first stage started."""
    sh = SuccessiveHalving(
        search_space=SearchSpace(mixed_configuration_space()),
        metric="loss",
        mode="min",
        fidelity_values=GRID,
    )
    trials = []
    for trial_id in range(9):
        assert sh.suggest().spawn_new_trial
        trials.append(Trial(trial_id, {}, 0.0))
        sh.on_trial_add(trials[-1])
    return sh, trials


def test_a_trial_that_ended_at_its_stage_level_gives_its_promotion_to_the_next_best():
    sh, trials = successive_halving_with_stage_zero_started()
    for trial in trials:
        assert sh.on_trial_result(trial, result(1, trial.trial_id / 10)) == "PAUSE"
    sh.on_trial_complete(trials[0], result(1, 0.0))  # the best one's curve ended at epoch 1
    resumed = [sh.suggest().resume_trial_id for _ in range(3)]
    assert resumed == [1, 2, 3]
    # trial 2 ends below the next level (epoch 2 of 3): the stage counts it as done
    assert sh.on_trial_result(trials[2], result(2, 0.15)) == "CONTINUE"
    sh.on_trial_complete(trials[2], result(2, 0.15))
    for trial_id in (1, 3):
        assert sh.on_trial_result(trials[trial_id], result(2, 0.1)) == "CONTINUE"
        assert sh.on_trial_result(trials[trial_id], result(3, trial_id / 100)) == "PAUSE"
    assert sh.suggest().resume_trial_id == 1
    assert sh.running_brackets[0].stage_sizes == [9, 3, 1]


def test_a_stage_shrinks_when_too_few_of_its_trials_can_continue():
    sh, trials = successive_halving_with_stage_zero_started()
    for trial in trials:
        sh.on_trial_result(trial, result(1, trial.trial_id / 10))
        if trial.trial_id != 4:  # every curve but one ends at epoch 1
            sh.on_trial_complete(trial, result(1, trial.trial_id / 10))
    assert sh.suggest().resume_trial_id == 4
    assert sh.suggest().spawn_new_trial  # no other trial can continue: the next bracket
    assert [run.stage_sizes for run in sh.running_brackets] == [[9, 1], [9]]


@pytest.mark.parametrize(
    "make_scheduler",
    [
        lambda space: SuccessiveHalving(space, "loss", "min", GRID, seed=2),
        lambda space: Hyperband(space, "loss", "min", GRID, seed=2),
        lambda space: BOHB(space, "loss", "min", GRID, seed=2),
        lambda space: ASHA(space, "loss", "min", GRID, type="promotion", seed=2),
    ],
    ids=["SH", "Hyperband", "BOHB", "ASHA-promotion"],
)
def test_no_scheduler_resumes_a_trial_whose_curve_ended(make_scheduler):
    blackbox = early_ending_blackbox()
    scheduler = make_scheduler(SearchSpace.from_blackbox(blackbox))
    backend = SimulatorBackend(blackbox, n_workers=8, seed=0)
    run = Tuner(scheduler, backend, StopCriterion(max_num_results=1500)).run()
    results = run.results
    assert run.metadata["stop_reason"] == "max_num_results"  # no protocol error, no stuck run
    completed = results[results["decision"] == "COMPLETED"]
    ended = set(completed.loc[completed["fidelity"] < 9, "trial_id"])
    assert ended  # the blackbox made some curves end early
    last_report = results.groupby("trial_id")["fidelity"].max()
    for trial_id in ended:  # nothing reported after the curve's end: never resumed
        assert last_report[trial_id] == completed.set_index("trial_id").loc[trial_id, "fidelity"]
