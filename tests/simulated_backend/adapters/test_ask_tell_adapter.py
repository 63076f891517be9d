"""AskTellScheduler: one trial per ask, one tell per trial, pruning, grid snapping."""

from __future__ import annotations

import numpy as np
import pytest

from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import SearchSpace, Trial
from simulated_backend.schedulers.ask_tell_adapter import (
    AskTellScheduler,
    CandidateSnapper,
    ConfigTranslator,
    product_grid_values,
)
from tests.simulated_backend.adapters.adapter_fixtures import ListOptimizer, random_grid_blackbox
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox


def last_rows(results):
    """The last recorded result of each trial, indexed by trial id."""
    return results.groupby("trial_id").tail(1).set_index("trial_id")


def test_every_finished_trial_is_told_once_with_its_max_fidelity_value():
    blackbox = random_tabular_blackbox(1, n_configs=20)
    optimizer = ListOptimizer([{"x": x} for x in range(20)])
    scheduler = AskTellScheduler(optimizer.ask, optimizer.tell, "loss", "min")
    tuner = Tuner(
        scheduler,
        SimulatorBackend(blackbox, n_workers=3),
        StopCriterion(max_num_trials_finished=12),
    )
    run = tuner.run()
    last = last_rows(run.results)
    completed = last[last.decision.astype(str) == "COMPLETED"]
    assert len(completed) == 12
    assert optimizer.n_asked == len(tuner.trials)  # one ask per started trial
    assert optimizer.tell_count == len(optimizer.told) == 12  # running trials are never told
    for trial_id, row in completed.iterrows():
        assert row.fidelity == blackbox.max_fidelity
        assert optimizer.told[trial_id] == (row.loss, "complete")


@pytest.mark.parametrize("tell_value", ["last", "max_fidelity"])
def test_pruned_trials_are_stopped_and_told_pruned(tell_value):
    blackbox = random_tabular_blackbox(2, n_configs=30)
    optimizer = ListOptimizer([{"x": x} for x in range(30)])
    reports = []

    def report(handle, value, fidelity):
        reports.append((handle, fidelity))
        return fidelity >= 3 and value > 0.5

    scheduler = AskTellScheduler(
        optimizer.ask, optimizer.tell, "loss", "min", report=report, tell_value=tell_value
    )
    run = Tuner(
        scheduler, SimulatorBackend(blackbox, n_workers=4), StopCriterion(max_num_trials_started=30)
    ).run()
    results = run.results
    assert len(reports) == len(results)  # every result was reported
    last = last_rows(results)
    stopped = last[last.decision.astype(str) == "STOP"]
    assert len(stopped) > 0
    assert (stopped.fidelity >= 3).all() and (stopped.loss > 0.5).all()
    for trial_id, row in stopped.iterrows():
        expected_value = row.loss if tell_value == "last" else None
        assert optimizer.told[trial_id] == (expected_value, "pruned")
    # no trial went past a result the optimizer pruned
    assert not (
        (results.fidelity >= 3)
        & (results.loss > 0.5)
        & (results.decision.astype(str) == "CONTINUE")
    ).any()


def test_proposals_off_a_random_grid_run_the_nearest_recorded_configuration():
    blackbox = random_grid_blackbox(0)
    space = SearchSpace.from_blackbox(blackbox)
    rng = np.random.default_rng(5)
    proposals = [
        {
            "lr": float(np.exp(rng.uniform(np.log(1e-4), 0.0))),
            "units": int(rng.integers(8, 257)),
            "act": str(rng.choice(["relu", "tanh"])),
        }
        for _ in range(15)
    ]
    optimizer = ListOptimizer(proposals)
    scheduler = AskTellScheduler(
        optimizer.ask, optimizer.tell, "loss", "min", search_space=blackbox
    )
    run = Tuner(
        scheduler, SimulatorBackend(blackbox, n_workers=2), StopCriterion(max_num_trials_started=15)
    ).run()
    grid = blackbox.configurations
    log_lr = np.log(grid.lr.to_numpy())
    for trial_id, row in last_rows(run.results).iterrows():
        proposal = proposals[trial_id]
        # brute force: unit-scaled distance, log scale for lr, categorical mismatch counts 1
        distance = (
            ((log_lr - np.log(proposal["lr"])) / (0.0 - np.log(1e-4))) ** 2
            + ((grid.units.to_numpy() - proposal["units"]) / (256 - 8)) ** 2
            + (grid.act.to_numpy() != proposal["act"]).astype(float)
        )
        nearest = blackbox.configuration(int(np.argmin(distance)))
        ran = {"lr": row.config_lr, "units": row.config_units, "act": row.config_act}
        assert ran == nearest
    # a proposal that is a candidate maps to itself
    snapper = CandidateSnapper(space)
    assert snapper.snap(blackbox.configuration(7)) == blackbox.configuration(7)


def test_product_grid_values_detect_cartesian_grids_only():
    grid_blackbox = random_tabular_blackbox(0, n_configs=12)
    assert product_grid_values(SearchSpace.from_blackbox(grid_blackbox)) == {"x": list(range(12))}
    assert product_grid_values(SearchSpace.from_blackbox(random_grid_blackbox(0))) is None
    assert product_grid_values(SearchSpace(grid_blackbox.configuration_space)) is None


def test_trials_that_fail_are_told_failed_without_value():
    blackbox = random_tabular_blackbox(3, n_configs=6)
    blackbox.values[2, 0, :, 1] = np.nan  # config x=2 has no elapsed time for its first step
    optimizer = ListOptimizer([{"x": x} for x in range(6)])
    scheduler = AskTellScheduler(optimizer.ask, optimizer.tell, "loss", "min")
    run = Tuner(
        scheduler, SimulatorBackend(blackbox, n_workers=2), StopCriterion(max_num_trials_started=6)
    ).run()
    assert run.metadata["failed_trials"] == [2]
    assert optimizer.told[2] == (None, "failed")
    assert sorted(
        handle for handle, (_, state) in optimizer.told.items() if state == "complete"
    ) == [0, 1, 3, 4, 5]


def test_a_suggestion_the_tuner_did_not_start_is_offered_again_without_asking():
    optimizer = ListOptimizer([{"x": 0}, {"x": 1}])
    scheduler = AskTellScheduler(optimizer.ask, optimizer.tell, "loss", "min")
    first, again = scheduler.suggest(), scheduler.suggest()
    assert first.config == again.config == {"x": 0}
    assert optimizer.n_asked == 1


def test_wrong_arguments_and_result_keys_give_clear_errors():
    optimizer = ListOptimizer([{"x": x} for x in range(4)])
    with pytest.raises(ValueError, match="tell_value must be one of"):
        AskTellScheduler(optimizer.ask, optimizer.tell, "loss", "min", tell_value="best")
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        AskTellScheduler(optimizer.ask, optimizer.tell, "loss", "minimize")
    scheduler = AskTellScheduler(optimizer.ask, optimizer.tell, "loss", "min")
    suggestion = scheduler.suggest()
    trial = Trial(0, suggestion.config, 0.0)
    scheduler.on_trial_add(trial)
    with pytest.raises(KeyError, match="reads 'fidelity' from each result"):
        scheduler.on_trial_result(trial, {"loss": 0.3, "epoch": 1})


def test_proposals_lose_unknown_keys_and_inactive_conditional_values():
    import ConfigSpace as CS

    space = CS.ConfigurationSpace(
        space={"optimizer": ["sgd", "adam"], "momentum": (0.0, 0.99), "lr": (1e-4, 1.0)}
    )
    space.add(CS.EqualsCondition(space["momentum"], space["optimizer"], "sgd"))
    translate = ConfigTranslator(SearchSpace(space))
    proposal = {"optimizer": "adam", "momentum": 0.5, "lr": 0.1, "max_epochs": 200}
    assert translate(proposal) == {"optimizer": "adam", "lr": 0.1}
    proposal["optimizer"] = "sgd"
    assert translate(proposal) == {"optimizer": "sgd", "momentum": 0.5, "lr": 0.1}


def test_a_tabular_blackbox_as_search_space_gives_the_engine_each_proposals_row():
    blackbox = random_tabular_blackbox(1, n_configs=20)
    proposals = [{"x": 7}, {"x": np.int64(3)}, {"x": 4.4, "extra": "dropped"}]
    optimizer = ListOptimizer(proposals)
    scheduler = AskTellScheduler(
        optimizer.ask, optimizer.tell, "loss", "min", search_space=blackbox
    )
    rows = []
    for trial_id in range(3):
        suggestion = scheduler.suggest()
        rows.append(suggestion.config_index)
        assert rows[-1] == blackbox.config_index(suggestion.config)
        assert all(type(v) is int for v in suggestion.config.values())  # plain values
        scheduler.on_trial_add(Trial(trial_id, dict(suggestion.config), 0.0))
    assert rows == [7, 3, 4]  # off the grid: snapped to the nearest recorded row
    result = {"loss": 0.25, "fidelity": blackbox.max_fidelity}
    scheduler.on_trial_complete(Trial(0, {"x": 7}, 0.0), result)
    scheduler.on_trial_complete(Trial(0, {"x": 7}, 0.0), result)
    assert optimizer.tell_count == 1  # told once
    assert scheduler.search_space.n_candidates == 20  # the grid, built on first need
