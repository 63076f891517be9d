"""OptunaScheduler: an Optuna study on simtune, deterministic for a seed, with pruning."""

from __future__ import annotations

import sys

import numpy as np
import optuna
import pandas as pd
import pytest

from blackbox_repository import TabularBlackbox, load_blackbox
from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers.ask_tell_adapter import OptunaScheduler
from tests.simulated_backend.adapters.adapter_fixtures import random_grid_blackbox
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox

TASKSET = "taskset-imdb-gru128-bs128"


@pytest.fixture(scope="module")
def taskset(shared_data_dir, session_cache_dir):
    """A real TaskSet blackbox: 1,000 random Adam configs x 51 steps (not a product grid)."""
    return load_blackbox(TASKSET, raw_data_dir=shared_data_dir, cache_dir=session_cache_dir)


def run_optuna(blackbox, seed, n_workers=4, pruner=None, max_started=24, metric="valid_loss"):
    scheduler = OptunaScheduler(None, blackbox, metric, "min", pruner=pruner, seed=seed)
    run = Tuner(
        scheduler,
        SimulatorBackend(blackbox, n_workers=n_workers, seed=seed),
        StopCriterion(max_num_trials_started=max_started),
    ).run()
    return scheduler, run


def test_same_seed_gives_the_same_run_and_another_seed_another(taskset):
    _, first = run_optuna(taskset, seed=3)
    _, again = run_optuna(taskset, seed=3)
    _, other = run_optuna(taskset, seed=4)
    pd.testing.assert_frame_equal(first.results, again.results)
    assert not first.results[["config_learning_rate"]].equals(
        other.results[["config_learning_rate"]]
    )


def test_the_study_learns_every_trial_with_pruned_trials_stopped(taskset):
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=3, reduction_factor=3)
    scheduler, run = run_optuna(taskset, seed=0, pruner=pruner, max_started=40)
    results = run.results
    last = results.groupby("trial_id").tail(1).set_index("trial_id")
    study_trials = {t.number: t for t in scheduler.study.trials}
    assert len(study_trials) == 40  # one Optuna trial per simtune trial, numbered alike
    decisions = last.decision.astype(str)
    stopped = last[decisions == "STOP"]
    assert len(stopped) > 0
    for trial_id, row in stopped.iterrows():
        study_trial = study_trials[trial_id]
        assert study_trial.state == optuna.trial.TrialState.PRUNED
        assert study_trial.last_step == row.fidelity
    completed = last[decisions == "COMPLETED"]
    assert len(completed) > 0
    for trial_id, row in completed.iterrows():
        study_trial = study_trials[trial_id]
        if np.isnan(row.valid_loss):  # Optuna marks a NaN value as a failed trial
            assert study_trial.state == optuna.trial.TrialState.FAIL
        else:
            assert study_trial.state == optuna.trial.TrialState.COMPLETE
            assert study_trial.value == row.valid_loss
        # every result was reported as an intermediate value at its step
        reported = results[results.trial_id == trial_id]
        assert sorted(study_trial.intermediate_values) == reported.fidelity.tolist()
    # Optuna proposes continuous values; the run replays the nearest recorded configuration
    for trial_id, row in last.iterrows():
        ran = {name: row[f"config_{name}"] for name in taskset.hyperparameter_names}
        assert taskset.config_index(ran) >= 0
        assert set(study_trials[trial_id].params) == set(taskset.hyperparameter_names)


def test_a_product_grid_is_searched_with_categorical_distributions_on_the_grid():
    blackbox = random_tabular_blackbox(4, n_configs=25)
    scheduler, run = run_optuna(blackbox, seed=1, metric="loss", max_started=10)
    distribution = scheduler.distributions["x"]
    assert isinstance(distribution, optuna.distributions.CategoricalDistribution)
    assert list(distribution.choices) == list(range(25))
    last = run.results.groupby("trial_id").tail(1)
    proposed = [scheduler.study.trials[t].params["x"] for t in last.trial_id]
    assert proposed == last.config_x.tolist()  # no snapping needed on a product grid


def test_non_integer_fidelities_become_grid_positions_as_steps():
    grid = random_tabular_blackbox(5, n_configs=10, n_fidelities=4)
    blackbox = TabularBlackbox(
        name="fractional-epochs",
        configuration_space=grid.configuration_space,
        configurations=grid.configurations,
        fidelity_name="epoch",
        fidelity_values=[0.25, 0.5, 0.75, 1.0],
        seeds=grid.seeds,
        objectives=grid.objectives,
        elapsed_time_objective="time",
        values=grid.values,
    )
    pruner = optuna.pruners.MedianPruner(n_startup_trials=100)  # reports, never prunes
    scheduler, run = run_optuna(blackbox, seed=0, pruner=pruner, metric="loss", max_started=3)
    completed = [t for t in scheduler.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert completed and all(sorted(t.intermediate_values) == [1, 2, 3, 4] for t in completed)


def test_random_grid_proposals_are_snapped_and_the_study_keeps_its_own_params():
    blackbox = random_grid_blackbox(1)
    scheduler, run = run_optuna(blackbox, seed=2, metric="loss", max_started=8)
    assert isinstance(scheduler.distributions["lr"], optuna.distributions.FloatDistribution)
    assert scheduler.distributions["lr"].log
    last = run.results.groupby("trial_id").tail(1)
    for _, row in last.iterrows():
        ran = {"lr": row.config_lr, "units": row.config_units, "act": row.config_act}
        assert blackbox.config_index(ran) >= 0
        assert scheduler.study.trials[row.trial_id].params != ran  # continuous proposal kept


def test_a_study_with_the_wrong_direction_or_extra_pruner_is_refused():
    blackbox = random_tabular_blackbox(0, n_configs=5)
    study = optuna.create_study(direction="maximize")
    with pytest.raises(ValueError, match="direction is 'maximize' but mode is 'min'"):
        OptunaScheduler(study, blackbox, "loss", "min")
    with pytest.raises(ValueError, match="pass the pruner when creating the study"):
        OptunaScheduler(study, blackbox, "loss", "max", pruner=optuna.pruners.MedianPruner())
    with pytest.raises(TypeError, match="study_or_sampler must be"):
        OptunaScheduler("tpe", blackbox, "loss", "min")


def test_missing_optuna_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # makes `import optuna` fail
    with pytest.raises(ImportError, match=r"pip install 'simtune\[optuna\]'"):
        OptunaScheduler(None, random_tabular_blackbox(0, n_configs=5), "loss", "min")
