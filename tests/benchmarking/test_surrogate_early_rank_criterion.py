"""The pre-registered criterion for the one-seed noise default: early-to-last Kendall tau at
ASHA's rungs on the table, the cross-fitted answers (A) and the answers with single-seed noise
(N); the decision rule; the noise override of the cross-fitted answers (real embedded digits
MLP benchmark cut to one seed, 40 configurations x 6 epochs)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarking.surrogates.cross_fit import cross_fitted_answers
from benchmarking.surrogates.early_rank_criterion import (
    EarlyRankAgreement,
    early_rank_agreement,
    early_to_last_taus,
    noise_criterion,
    rung_positions,
)
from blackbox_repository.surrogate_training import SurrogateTrainingData, split_configurations
from blackbox_repository.surrogate_training.fitting import OneSeedNoise
from tests.blackbox_repository.conftest import small_embedded_table, small_hgb_surrogate

N_CONFIGS, N_FIDELITIES = 40, 6


def test_rung_positions_follow_asha_with_reduction_factor_three():
    assert rung_positions(range(1, 52)) == (0, 2, 8, 26)  # TaskSet: epochs 1, 3, 9, 27
    assert rung_positions([56, 100, 168, 300, 504, 900, 1512]) == (0, 2, 4)  # snapped up


def test_early_to_last_taus_use_seed_means_and_skip_ended_curves():
    last = np.arange(10.0)
    values = np.empty((10, 3, 2))
    values[:, 0, :] = last[::-1, None]  # reversed order at the first fidelity
    values[:, 1, 0], values[:, 1, 1] = last + 5, last - 5  # same order in the seed means
    values[:, 2, :] = last[:, None]
    assert early_to_last_taus(values, (0, 1)) == pytest.approx((-1.0, 1.0))
    values[0, 0, 1] = np.nan  # a curve that ended: left out, not counted as a value
    values[9, 1, 0] = -100.0  # would break the order if it counted
    values[9, 2, 0] = np.nan
    assert early_to_last_taus(values, (0, 1)) == pytest.approx((-1.0, 1.0))
    with pytest.raises(ValueError, match="configurations x fidelities x seeds"):
        early_to_last_taus(values[:, :, 0], (0,))


def agreement(name, table, answers, noisy):
    return EarlyRankAgreement(name, (1, 3), table, answers, noisy)


def test_adopted_only_with_smaller_mean_distance_and_a_strict_majority():
    closer = agreement("a", (0.1, 0.6), (0.6, 0.9), (0.2, 0.7))  # d(A) 0.4, d(N) 0.1
    farther = agreement("b", (0.1, 0.6), (0.2, 0.7), (0.5, 0.9))  # d(A) 0.1, d(N) 0.35
    assert closer.noisy_closer and not farther.noisy_closer
    assert closer.distance("answers") == pytest.approx(0.4)
    decided = noise_criterion([closer, closer, farther])
    assert decided.adopted and decided.noisy_closer_on == 2
    assert decided.distance_noisy < decided.distance_answers
    assert "ADOPTED" in decided.lines()[-1]
    assert not noise_criterion([closer, farther]).adopted  # 1 of 2 is no strict majority
    big_miss = agreement("c", (0.1, 0.6), (0.1, 0.6), (0.9, 1.0))  # d(A) 0, d(N) 0.6
    tipped = noise_criterion([closer, closer, big_miss])  # majority, larger mean distance
    assert tipped.noisy_closer_on == 2 and not tipped.adopted
    assert "NOT adopted" in tipped.lines()[-1]
    with pytest.raises(ValueError, match="at least one table"):
        noise_criterion([])


def test_single_seed_noise_override_of_the_cross_fitted_answers(tmp_path):
    table = small_embedded_table(
        "sklearn-mlp-digits", "test-digits-one-seed", N_CONFIGS, N_FIDELITIES, n_seeds=1
    )
    data = SurrogateTrainingData(table, split_configurations(N_CONFIGS, seed=1))
    surrogate = small_hgb_surrogate(data, "test-one-seed-surrogate", seed_noise=True)
    assert surrogate.models[0].seed_noise is None  # published without the one-seed model
    kwargs = dict(folds=2, fold_seed=3, cache_dir=tmp_path)
    recorded = cross_fitted_answers(table, surrogate, **kwargs).table
    on, off = OneSeedNoise(enabled=True), OneSeedNoise(enabled=False)
    noisy = cross_fitted_answers(table, surrogate, one_seed_noise=on, **kwargs).table
    off = cross_fitted_answers(table, surrogate, one_seed_noise=off, **kwargs).table
    assert len(list(tmp_path.glob("cross-fit-*.npy"))) == 2  # the override is in the key
    assert off.values.tobytes() == recorded.values.tobytes()
    metric = table.objective_index("valid_error")
    moved = ~np.isclose(noisy.values[..., 0], recorded.values[..., 0])
    assert moved.mean() > 0.5  # residual curves added to the trend
    elapsed = noisy.objective_index(table.elapsed_time_objective)
    np.testing.assert_array_equal(noisy.values[..., elapsed], recorded.values[..., elapsed])
    result = early_rank_agreement("digits", table, recorded, noisy, "valid_error")
    assert result.rung_fidelities == (1, 3)
    assert result.table == early_to_last_taus(table.values[..., metric], (0, 2))
    assert result.noisy_answers != result.answers


def test_fit_gives_one_seed_tables_noise_by_default_and_can_turn_it_off():
    import argparse

    from benchmarking.surrogates.cli import configure_surrogate_command

    parser = argparse.ArgumentParser()
    configure_surrogate_command(parser)
    assert parser.parse_args(["fit", "x"]).single_seed_noise is True
    assert parser.parse_args(["fit", "x", "--no-single-seed-noise"]).single_seed_noise is False
    assert parser.parse_args(["fit", "x", "--single-seed-noise"]).single_seed_noise is True
