"""The held-out, grid-matched faithfulness study: the table restricted to the surrogate's
test configurations against a table of the surrogate's answers for exactly those
configurations (real embedded breast-cancer MLP benchmark cut to 40 configurations x 6
epochs, a small published surrogate with seed noise, short studies)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarking.surrogates.faithfulness import StudySettings
from benchmarking.surrogates.held_out import (
    held_out_faithfulness,
    restricted_table,
    surrogate_answer_table,
)
from blackbox_repository.surrogate_training import SurrogateTrainingData, split_configurations
from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from tests.blackbox_repository.conftest import small_breast_cancer_table, small_hgb_surrogate

N_CONFIGS, N_FIDELITIES = 40, 6


@pytest.fixture(scope="module")
def fitted():
    table = small_breast_cancer_table("test-mlp-held-out", N_CONFIGS, N_FIDELITIES)
    split = split_configurations(N_CONFIGS, seed=2, fractions=(0.5, 0.15, 0.35))
    data = SurrogateTrainingData(table, split)
    surrogate = small_hgb_surrogate(data, "test-mlp-held-out-surrogate", seed_noise=True)
    return table, split, surrogate


def test_both_sides_hold_the_same_held_out_configurations(fitted):
    table, split, surrogate = fitted
    assert split.fractions == (0.5, 0.15, 0.35) and len(split.test) == 14
    assert split.to_dict()["fractions"] == [0.5, 0.15, 0.35]
    restricted = restricted_table(table, split.test)
    answers = surrogate_answer_table(surrogate, table, split.test)
    for side in (restricted, answers):
        assert side.configurations.equals(
            table.configurations.iloc[split.test].reset_index(drop=True)
        )
    np.testing.assert_array_equal(restricted.values, table.values[split.test])
    assert answers.values.shape == (14, N_FIDELITIES, 3, 2)  # the table's 3 seeds, noise on
    config = table.configuration(int(split.test[5]))
    for seed_index in range(3):
        np.testing.assert_array_equal(
            answers.values[5, :, seed_index], surrogate.curve(config, seed_index)
        )
    assert np.ptp(answers.values[:, -1, :, 0], axis=1).max() > 0  # the seeds differ
    with pytest.raises(SurrogateTrainingError, match="at least 2"):
        restricted_table(table, split.test[:1])
    with pytest.raises(SurrogateTrainingError, match="out of range"):
        restricted_table(table, [0, N_CONFIGS])


def test_held_out_study_compares_like_with_like_and_caches_both_sides(fitted, tmp_path):
    table, split, surrogate = fitted
    settings = StudySettings(
        metric="valid_error", mode="min", max_wallclock_time=0.5, n_workers=2, seeds=3,
        methods=("RS", "ASHA"), fractions=(0.5, 1.0), bootstrap_samples=20,
    )  # fmt: skip
    report = held_out_faithfulness(table, surrogate, split.test, settings, study_cache=tmp_path)
    cached = sorted(path.name for path in tmp_path.glob("study-*.npy"))
    assert len(cached) == 3  # restricted table, its replica, the surrogate's answers
    assert sum("surrogate-held-out-answers" in name for name in cached) == 1
    held_out_best = min(np.nanmin(table.values[split.test, :, :, 0]), 1.0)
    for means in report.mean_best_table.values():  # only held-out configurations were run
        assert all(value >= held_out_best - 1e-12 for value in means if value == value)
    answers_best = np.nanmin(surrogate_answer_table(surrogate, table, split.test).values[..., 0])
    for means in report.mean_best_surrogate.values():
        assert all(value >= answers_best - 1e-12 for value in means if value == value)
    assert len(report.kendall_tau) == 2 and len(report.noise_floor) == 2
    again = held_out_faithfulness(table, surrogate, split.test, settings, study_cache=tmp_path)
    assert again.mean_best_surrogate == report.mean_best_surrogate  # read from the cache
