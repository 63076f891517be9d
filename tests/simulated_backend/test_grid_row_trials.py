"""Trials suggested by their grid row: the config dict is built only when something reads
it, and the run's results (config columns included, also in spilled chunks) are the same as
when every trial carries its config."""

from __future__ import annotations

import dataclasses

import ConfigSpace as CS
import numpy as np
import pandas as pd
import pytest

from blackbox_repository import Objective, TabularBlackbox
from simulated_backend import SchedulerFailure, SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import (
    ASHA,
    RandomSearcher,
    SearchSpace,
    TrialScheduler,
    TrialSuggestion,
)
from simulated_backend.schedulers.protocol import GridTrial
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox


class _ConfigSearcher(RandomSearcher):
    """The same draws, each trial with its config (no row path: next_candidate overridden)."""

    def next_candidate(self):
        return super().next_candidate()


def _asha(blackbox, searcher_class, seed=4):
    space = SearchSpace.from_blackbox(blackbox)
    searcher = searcher_class(space, np.random.default_rng(seed))
    return ASHA(
        space, "loss", "min", blackbox.fidelity_values, reduction_factor=3, searcher=searcher
    )


def conditional_blackbox(n_configs: int = 600, n_fidelities: int = 9) -> TabularBlackbox:
    """A grid whose hyperparameter ``b`` is inactive (NaN) unless ``a == "y"``."""
    rng = np.random.default_rng(21)
    space = CS.ConfigurationSpace(space={"a": ["x", "y"], "b": (0.0, 1.0), "c": (0, 1000)})
    space.add(CS.EqualsCondition(space["b"], space["a"], "y"))
    a = np.where(np.arange(n_configs) % 3 == 0, "x", "y")
    configurations = pd.DataFrame(
        {"a": a, "b": np.where(a == "y", rng.random(n_configs), np.nan), "c": np.arange(n_configs)}
    )
    values = np.empty((n_configs, n_fidelities, 1, 2))
    values[..., 0] = rng.random((n_configs, n_fidelities, 1))
    values[..., 1] = np.cumsum(rng.integers(1, 4, size=(n_configs, n_fidelities, 1)), axis=1)
    return TabularBlackbox(
        name="conditional",
        configuration_space=space,
        configurations=configurations,
        fidelity_name="epoch",
        fidelity_values=np.arange(1, n_fidelities + 1),
        seeds=[0],
        objectives=[Objective("loss", "min"), Objective("time", "min", "s")],
        elapsed_time_objective="time",
        values=values,
    )


@pytest.mark.parametrize("spilled", [False, True])
@pytest.mark.parametrize("grid", ["plain", "conditional"])
def test_trials_by_row_record_the_same_results_as_trials_with_configs(tmp_path, spilled, grid):
    if grid == "plain":
        blackbox = random_tabular_blackbox(11, n_configs=300, n_fidelities=9)
    else:
        blackbox = conditional_blackbox()
    runs, tuners = [], []
    for searcher_class in (RandomSearcher, _ConfigSearcher):
        scheduler = _asha(blackbox, searcher_class)
        tuner = Tuner(
            scheduler,
            SimulatorBackend(blackbox, n_workers=4, seed=2),
            StopCriterion(max_num_results=700),
            results_dir=tmp_path / searcher_class.__name__ if spilled else None,
            result_chunk_rows=97 if spilled else None,
        )
        runs.append(tuner.run())
        tuners.append(tuner)
    by_row, with_configs = runs
    assert tuners[0].scheduler.grid_configs is not None
    assert tuners[1].scheduler.grid_configs is None
    assert len(by_row.results) == 700 and by_row.results["trial_id"].nunique() > 100
    config_columns = [c for c in by_row.results.columns if c.startswith("config_")]
    assert sorted(config_columns) == (
        ["config_x"] if grid == "plain" else ["config_a", "config_b", "config_c"]
    )
    if grid == "conditional":  # inactive values are null, as with config dicts
        inactive = by_row.results["config_a"] == "x"
        assert inactive.any() and by_row.results.loc[inactive, "config_b"].isna().all()
    pd.testing.assert_frame_equal(by_row.results, with_configs.results)
    if not spilled:  # the Tuner kept the rows of trials suggested by row, not dicts
        kept = tuners[0].trial_configs
        assert all(type(entry) is int for entry in kept[1:])
        assert all(type(entry) is dict for entry in tuners[1].trial_configs)


class _ReadsSomeConfigs(ASHA):
    """ASHA that reads the config of every trial with an even id when it is added."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.read: dict[int, dict] = {}

    def on_trial_add(self, trial) -> None:
        if trial.trial_id % 2 == 0:
            self.read[trial.trial_id] = trial.config
            assert trial.config is self.read[trial.trial_id]  # built once, then kept
        super().on_trial_add(trial)


def test_a_trials_config_is_built_only_when_read():
    blackbox = random_tabular_blackbox(12, n_configs=200, n_fidelities=9)
    space = SearchSpace.from_blackbox(blackbox)
    scheduler = _ReadsSomeConfigs(space, "loss", "min", blackbox.fidelity_values, seed=3)
    built = []
    grid = scheduler.grid_configs

    def counting(row):
        built.append(row)
        return grid.config_of_row(row)

    scheduler.grid_configs = dataclasses.replace(grid, config_of_row=counting)
    tuner = Tuner(
        scheduler,
        SimulatorBackend(blackbox, n_workers=3, seed=0),
        StopCriterion(max_num_results=300),
    )
    results = tuner.run().results
    n_trials = len(tuner.trials)
    assert n_trials > 20
    # the first start of the run goes with its config (the backend checks the row once);
    # otherwise only the configs read were built, each once
    assert len(built) == len(scheduler.read) + (0 not in scheduler.read)
    assert len(scheduler.read) == (n_trials + 1) // 2
    first = results.drop_duplicates("trial_id").set_index("trial_id")["config_x"]
    for trial_id, config in scheduler.read.items():
        assert config == {"x": int(first[trial_id])} == space.candidate(config["x"])
    running = [t for t in tuner.trials if t is not None]
    assert running and all(isinstance(t, GridTrial) for t in running)
    for trial in running:  # a trial's config read late is its row's
        assert trial.config == space.candidate(trial.config_index)


class _RowWithoutGrid(TrialScheduler):
    """Names grid rows and leaves configs out, but has no grid_configs."""

    def suggest(self):
        return TrialSuggestion(None, None, 3)


def test_a_config_left_out_without_a_grid_is_an_error():
    blackbox = random_tabular_blackbox(13, n_configs=30, n_fidelities=4)
    scheduler = _RowWithoutGrid("loss", "min")
    tuner = Tuner(
        scheduler,
        SimulatorBackend(blackbox, n_workers=2, seed=0),
        StopCriterion(max_num_results=10),
    )
    with pytest.raises(SchedulerFailure, match="without a config.*grid_configs"):
        tuner.run()
