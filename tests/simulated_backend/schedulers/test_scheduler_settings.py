"""Settings records, the one metric/mode check, and grid rows passed with suggestions."""

from __future__ import annotations

import dataclasses

import pytest

from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import (
    ASHA,
    BOHB,
    FidelitySettings,
    Hyperband,
    MetricModeError,
    RandomSearch,
    SchedulerSettings,
    SearchSpace,
    TrialSuggestion,
    check_metric_and_mode,
)
from tests.simulated_backend.schedulers.scheduler_drivers import (
    RoundRobinDriver,
    grid_blackbox,
    mixed_configuration_space,
)

GRID = list(range(1, 28))


def test_from_settings_gives_the_same_scheduler_as_the_keyword_arguments():
    space = SearchSpace(mixed_configuration_space())
    settings = SchedulerSettings(space, "loss", "min", seed=4)
    fidelity = FidelitySettings(GRID, min_fidelity=3, reduction_factor=3)
    for scheduler_class, kwargs in ((ASHA, {"type": "promotion"}), (Hyperband, {})):
        built = scheduler_class.from_settings(settings, fidelity, **kwargs)
        direct = scheduler_class(space, "loss", "min", GRID, min_fidelity=3, seed=4, **kwargs)
        assert RoundRobinDriver(built, GRID).run(300) == RoundRobinDriver(direct, GRID).run(300)
        assert built.metadata() == direct.metadata()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 5


def test_metric_and_mode_are_checked_in_one_place_with_clear_messages():
    blackbox = grid_blackbox()
    with pytest.raises(MetricModeError, match="mode must be 'min' or 'max', got 'minimize'"):
        SchedulerSettings(SearchSpace.from_blackbox(blackbox), "loss", "minimize")
    with pytest.raises(ValueError, match=r"'los' is not an objective.*Did you mean 'loss'"):
        check_metric_and_mode("los", "min", blackbox)
    with pytest.raises(KeyError, match="to be minimized; use mode='min'"):
        check_metric_and_mode("loss", "max", blackbox)
    scheduler = RandomSearch(SearchSpace.from_blackbox(blackbox), "loss", "max")
    with pytest.raises(MetricModeError, match="use mode='min'"):
        Tuner(scheduler, SimulatorBackend(blackbox), StopCriterion(max_num_results=5))


def test_suggestions_carry_the_grid_row_and_a_wrong_row_is_caught():
    blackbox = grid_blackbox(n_configs=12)
    space = SearchSpace.from_blackbox(blackbox)
    for scheduler in (
        RandomSearch(space, "loss", "min", seed=1),
        ASHA(space, "loss", "min", list(range(1, 10)), seed=1),
        BOHB(space, "loss", "min", list(range(1, 10)), seed=1),
    ):
        suggestion = scheduler.suggest()
        assert suggestion.config_index == blackbox.config_index(suggestion.config)
    # a row that is not the config's (a search space of another grid): the first start of
    # a run is checked
    suggestion = TrialSuggestion.start(blackbox.configuration(0), config_index=1)
    backend = SimulatorBackend(blackbox)
    with pytest.raises(ValueError, match="search space was built from another blackbox"):
        backend.start_trial(0, suggestion.config, suggestion.config_index)
