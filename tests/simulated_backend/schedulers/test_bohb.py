"""BOHB: kernel densities, when the model is used, its random fraction, and that it helps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import BOHB, KernelDensitySearcher, SearchSpace, Trial
from simulated_backend.schedulers.kernel_density import fit_kernel_density
from tests.simulated_backend.schedulers.scheduler_drivers import (
    RoundRobinDriver,
    grid_blackbox,
    mixed_configuration_space,
    quadratic_loss,
)

GRID = list(range(1, 28))


def make_searcher(space=None, **kwargs) -> KernelDensitySearcher:
    space = space or SearchSpace(mixed_configuration_space())
    return KernelDensitySearcher(
        space, "min", np.random.default_rng(kwargs.pop("seed", 0)), **kwargs
    )


def observe(searcher, configs, level, first_trial_id=0):
    for offset, config in enumerate(configs):
        trial = Trial(first_trial_id + offset, config, 0.0)
        searcher.on_observation(trial, level, quadratic_loss(config, level))


def test_numeric_kernel_density_integrates_to_one():
    density = fit_kernel_density(np.array([[0.2], [0.25], [0.7]]), np.array([0]))
    xs = np.linspace(-3, 4, 20001)[:, None]
    integral = np.exp(density.log_pdf(xs)).sum() * (xs[1, 0] - xs[0, 0])
    assert integral == pytest.approx(1.0, abs=1e-3)


def test_inactive_entries_are_uninformative():
    data = np.array([[0.2, np.nan, 1.0], [0.8, 0.1, np.nan], [0.5, 0.6, 0.0]])
    density = fit_kernel_density(data, np.array([0, 0, 3]))
    # a query inactive in the categorical dimension: the mean over its categories
    by_category = [density.log_pdf(np.array([[0.5, 0.6, c]]))[0] for c in (0.0, 1.0, 2.0)]
    inactive = density.log_pdf(np.array([[0.5, 0.6, np.nan]]))[0]
    assert np.exp(inactive) == pytest.approx(np.mean(np.exp(by_category)))
    # a query inactive in a numeric dimension: the integral over that dimension
    data[0, 1] = 0.3
    density = fit_kernel_density(data, np.array([0, 0, 3]))
    ys = np.linspace(-4, 5, 40001)
    grid = np.column_stack([np.full(len(ys), 0.5), ys, np.full(len(ys), 0.0)])
    integral = np.exp(density.log_pdf(grid)).sum() * (ys[1] - ys[0])
    inactive = density.log_pdf(np.array([[0.5, np.nan, 0.0]]))[0]
    assert np.exp(inactive) == pytest.approx(integral, rel=1e-3)


def test_categorical_kernel_is_a_distribution_over_categories():
    data = np.array([[0.0], [0.0], [2.0], [1.0], [0.0]])
    density = fit_kernel_density(data, np.array([3]))
    probabilities = np.exp(density.log_pdf(np.array([[0.0], [1.0], [2.0]])))
    assert probabilities.sum() == pytest.approx(1.0)
    assert probabilities[0] > probabilities[1]
    assert 0 < density.bandwidths[0] <= 2 / 3


def test_samples_stay_in_the_unit_box_and_categories_are_integers():
    data = np.array([[0.0, 2.0], [1.0, 0.0], [0.5, np.nan]])
    density = fit_kernel_density(data, np.array([0, 3]))
    samples = density.sample(np.random.default_rng(0), 500, bandwidth_factor=3)
    assert samples[:, 0].min() >= 0 and samples[:, 0].max() <= 1
    assert set(np.unique(samples[:, 1])) <= {0.0, 1.0, 2.0}


def test_model_is_used_once_a_level_has_min_points_plus_two_and_the_highest_wins():
    searcher = make_searcher(random_fraction=0.0)
    n_min = searcher.min_points_in_model
    assert n_min == 5  # d + 1 with four hyperparameters
    configs = searcher.search_space.sample(np.random.default_rng(1), 40)
    observe(searcher, configs[: n_min + 1], level=1)
    assert searcher.model_level() is None
    searcher.next_config()
    assert searcher.n_model_based == 0 and searcher.n_random == 1
    observe(searcher, configs[n_min + 1 : n_min + 2], level=1, first_trial_id=n_min + 1)
    assert searcher.model_level() == 1
    observe(searcher, configs[10 : 10 + n_min + 2], level=3, first_trial_id=10)
    observe(searcher, configs[20 : 20 + n_min + 1], level=9, first_trial_id=20)  # one short
    searcher.next_config()
    assert searcher.n_model_based == 1 and searcher.last_model_level == 3


def test_random_fraction_of_suggestions_is_random():
    searcher = make_searcher(seed=4)
    configs = searcher.search_space.sample(np.random.default_rng(2), 30)
    observe(searcher, configs, level=1)
    for _ in range(600):
        searcher.next_config()
    share = searcher.n_random / (searcher.n_random + searcher.n_model_based)
    assert 0.28 < share < 0.39


def test_model_based_suggestions_concentrate_near_the_optimum():
    searcher = make_searcher(random_fraction=0.0, seed=1)
    configs = searcher.search_space.sample(np.random.default_rng(3), 60)
    observe(searcher, configs, level=9)
    suggested = [searcher.next_config() for _ in range(60)]
    assert searcher.n_model_based == 60
    random_distance = np.mean([abs(c["x"] - 0.3) for c in configs])
    model_distance = np.mean([abs(c["x"] - 0.3) for c in suggested])
    assert model_distance < 0.6 * random_distance
    assert np.mean([c["act"] == "tanh" for c in suggested]) > 0.6


def test_finite_space_model_picks_candidates_without_replacement():
    blackbox = grid_blackbox(n_configs=40)
    searcher = make_searcher(
        SearchSpace.from_blackbox(blackbox), random_fraction=0.0, num_samples=8
    )
    observed = [blackbox.configuration(i) for i in range(10)]
    observe(searcher, observed, level=1)
    suggested = [searcher.next_config() for _ in range(40)]
    valid = [c for c in suggested if c is not None]
    assert len(valid) == 40 and suggested.count(None) == 0
    assert len({blackbox.config_index(c) for c in valid}) == 40  # each candidate once
    assert searcher.next_config() is None and searcher.exhausted
    first_half = np.mean([abs(c["x"] - 0.3) for c in valid[:10]])
    assert first_half < np.mean([abs(c["x"] - 0.3) for c in valid[30:]])


@pytest.mark.parametrize("asynchronous", [False, True])
def test_bohb_runs_deterministically_and_uses_its_model(asynchronous):
    def run(seed):
        space = SearchSpace(mixed_configuration_space())
        bohb = BOHB(space, "loss", "min", GRID, asynchronous=asynchronous, seed=seed)
        return bohb, RoundRobinDriver(bohb, GRID).run(1500)

    (bohb, log), (_, again), (_, other) = run(0), run(0), run(1)
    assert log == again and log != other
    assert bohb.searcher.n_model_based > 0 and bohb.searcher.n_random > 0


def test_bad_arguments_raise_clear_errors_and_metadata_is_json():
    space = SearchSpace(mixed_configuration_space())
    with pytest.raises(
        ValueError, match="async_type='stopping' only applies with asynchronous=True"
    ):
        BOHB(space, "loss", "min", GRID, async_type="stopping")
    with pytest.raises(ValueError, match=r"top_n_percent must be a number in \(0, 100\), got 100"):
        BOHB(space, "loss", "min", GRID, top_n_percent=100)
    with pytest.raises(ValueError, match="random_fraction must be a number in \\[0, 1\\]"):
        BOHB(space, "loss", "min", GRID, random_fraction=1.5)
    with pytest.raises(ValueError, match="num_samples must be an integer >= 1, got 0"):
        BOHB(space, "loss", "min", GRID, num_samples=0)
    metadata = json.loads(
        json.dumps(BOHB(space, "loss", "min", GRID, asynchronous=True).metadata())
    )
    assert metadata["scheduler_name"] == "BOHB" and metadata["asynchronous"] is True
    assert metadata["async_type"] == "promotion"
    assert metadata["searcher"]["top_n_percent"] == 15 and metadata["searcher"]["num_samples"] == 64


def test_models_are_refitted_only_after_ten_percent_more_observations_and_stay_bounded():
    searcher = make_searcher(random_fraction=0.0, max_points_in_density=16)
    configs = searcher.search_space.sample(np.random.default_rng(5), 400)
    observe(searcher, configs[:200], level=1)
    searcher.next_config()
    fit = searcher.last_fit(1)
    assert len(fit.good.data) == 16 and len(fit.bad.data) == 16  # 30 good, 170 bad: by rank
    observe(searcher, configs[200:219], level=1, first_trial_id=200)  # 9.5% more
    searcher.next_config()
    assert searcher.last_fit(1) is fit  # the same fit
    observe(searcher, configs[219:220], level=1, first_trial_id=219)  # now 10% more
    searcher.next_config()
    assert searcher.last_fit(1).n_observations == 220 and searcher.last_fit(1) is not fit
    with pytest.raises(
        ValueError,
        match=r"max_points_in_density must be an integer >= 2 \* min_points_in_model = 10",
    ):
        make_searcher(max_points_in_density=8)


def test_bohb_on_a_grid_is_deterministic_bit_for_bit_through_the_engine():
    blackbox = grid_blackbox(n_configs=120, n_fidelities=9)

    def run(seed):
        bohb = BOHB(SearchSpace.from_blackbox(blackbox), "loss", "min", GRID[:9], seed=seed)
        backend = SimulatorBackend(blackbox, n_workers=4, seed=0)
        return bohb, Tuner(bohb, backend, StopCriterion(max_num_results=500)).run().results

    (bohb, first), (_, again), (_, other) = run(0), run(0), run(1)
    pd.testing.assert_frame_equal(first, again)
    assert not first["trial_id"].equals(other["trial_id"]) or not first["loss"].equals(
        other["loss"]
    )
    searcher = bohb.searcher
    assert searcher.n_model_based > 10 and searcher.n_fits > 1
    # the grid's candidates were scored by table lookups (one group: 120 x values, 2 acts)
    assert searcher.last_fit(searcher.last_model_level).scorer is not None


def test_each_grid_suggestion_is_its_groups_best_not_yet_drawn_candidate():
    # the batch's argmax choice equals walking a stable descending sort of each group,
    # also when the best was suggested meanwhile or a score is NaN
    searcher = make_searcher(SearchSpace.from_blackbox(grid_blackbox(n_configs=120)))
    space = searcher.search_space
    scores = np.array([[0.5, 2.0, 2.0, -1.0], [np.nan, 1.0, 3.0, 3.0], [1.0, 4.0, 0.0, 4.0]])
    indices = np.array([[10, 11, 12, 13], [20, 21, 22, 23], [30, 31, 32, 33]])
    searcher._fill_batch(scores, indices)
    space.take(31)  # group 2's best, suggested before its turn
    chosen = [searcher._best_in_group(group) for group in range(3)]
    assert chosen == [11, 22, 33]
