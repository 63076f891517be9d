"""The seventh session's tail criterion (best values over the fidelities, tail error against
the table's quantiles, the decision rule) and its candidates' noise options: donors matched by
predicted level (real embedded digits MLP benchmark cut to one seed) and reflection at the
value bounds."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarking.surrogates.tail_criterion import (
    TailAgreement,
    best_values,
    tail_agreement,
    tail_criterion,
    tail_error,
)
from blackbox_repository.surrogate_training import SurrogateTrainingData, split_configurations
from blackbox_repository.surrogate_training.fitting import (
    target_transform_for,
    validation_residual_noise,
)
from blackbox_repository.surrogate_training.seed_noise import SeedNoise, bounded_values
from tests.blackbox_repository.conftest import small_embedded_table


def test_best_values_per_configuration_run_mirrored_in_max_mode():
    values = np.array(
        [
            [[3.0, 9.0], [1.0, 8.0], [2.0, np.nan]],
            [[np.nan, 5.0], [np.nan, np.nan], [np.nan, 4.0]],
        ]
    )  # 2 configurations x 3 fidelities x 2 seeds
    assert best_values(values, "min").tolist() == [1.0, 8.0, 4.0]  # run (1, seed 0) is empty
    assert best_values(values, "max").tolist() == [-3.0, -9.0, -5.0]
    with pytest.raises(ValueError, match="configurations x fidelities x seeds"):
        best_values(values[:, :, 0], "min")
    with pytest.raises(ValueError, match="'min' or 'max'"):
        best_values(values, "lowest")


def test_tail_error_is_zero_for_the_table_and_grows_with_a_piled_up_best_end():
    table = np.arange(1000.0)
    assert tail_error(table, table) == 0.0
    piled = table.copy()
    piled[:50] = 0.0  # 50 configurations at the table's best value
    # c_T = 5/1000, 10/1000, 20/1000, 50/1000 (numpy's interpolated quantiles 4.995, 9.99, ...)
    expected = np.mean(
        [abs(np.log((c_x + 1e-3) / (c_t + 1e-3))) for c_x, c_t in [(0.05, 0.005), (0.05, 0.01),
                                                                  (0.05, 0.02), (0.05, 0.05)]]
    )  # fmt: skip
    assert tail_error(table, piled) == pytest.approx(expected)
    assert tail_error(table, table + 100.0) > 0  # nothing reaches the tail: also a miss
    with pytest.raises(ValueError, match="both sides"):
        tail_error(table, np.array([]))


def agreement(name, errors, distances):
    counts = {key: (0,) for key in ["table", *errors]}
    return TailAgreement(name, errors, distances, counts)


def test_rule_needs_smaller_mean_error_a_strict_majority_and_no_early_rank_loss():
    good = agreement("a", {"N": 1.0, "V1": 0.2, "V2": 0.5}, {"N": 0.08, "V1": 0.09, "V2": 0.08})
    worse = agreement("b", {"N": 0.3, "V1": 0.4, "V2": 0.2}, {"N": 0.08, "V1": 0.09, "V2": 0.08})
    decided = tail_criterion([good, good, worse])
    assert decided.closer_on == {"N": 0, "V1": 2, "V2": 3}
    assert decided.passing == ("V1", "V2") and decided.adopted == "V1"  # smallest d_tail
    assert "V1 ADOPTED" in decided.lines()[-1]
    assert tail_criterion([good, worse]).adopted == "V2"  # V1: 1 of 2 is no strict majority
    lost_ranks = agreement("c", {"N": 1.0, "V1": 0.1}, {"N": 0.05, "V1": 0.08})
    assert tail_criterion([lost_ranks]).adopted is None  # d 0.08 > 0.05 + 0.02
    kept_ranks = agreement("c", {"N": 1.0, "V1": 0.1}, {"N": 0.05, "V1": 0.07})
    assert tail_criterion([kept_ranks]).adopted == "V1"
    tipped = agreement("d", {"N": 0.1, "V1": 3.0}, {"N": 0.05, "V1": 0.05})
    assert tail_criterion([kept_ranks, kept_ranks, tipped]).adopted is None  # larger mean
    assert "N stays the default" in tail_criterion([tipped]).lines()[-1]
    with pytest.raises(ValueError, match="default answers"):
        tail_criterion([agreement("e", {"V1": 0.1}, {"V1": 0.1})])


def test_tail_agreement_counts_and_early_rank_distances():
    rng = np.random.default_rng(0)
    table = rng.random((200, 27, 1))
    piled = table.copy()
    piled[:40, -1, 0] = 0.0  # 40 configurations end at the best value
    result = tail_agreement("t", table, {"N": table, "V1": piled}, "min", range(1, 28))
    assert result.tail_errors["N"] == 0.0 and result.early_rank_distances["N"] == 0.0
    assert result.tail_counts["N"] == result.tail_counts["table"]
    assert result.tail_counts["V1"][0] >= 40 and result.tail_errors["V1"] > 0.5
    assert result.early_rank_distances["V1"] > 0


def test_reflect_brings_answers_back_inside_without_piling_up_on_the_bound():
    low, high = np.zeros(4), np.ones(4)
    noisy = np.array([-0.25, 0.5, 1.1, -3.0])
    assert bounded_values(noisy, low, high, "clip").tolist() == [0.0, 0.5, 1.0, 0.0]
    assert bounded_values(noisy, low, high, "reflect") == pytest.approx([0.25, 0.5, 0.9, 1.0])
    with pytest.raises(ValueError, match="bound mode"):
        bounded_values(noisy, low, high, "wrap")
    noise = SeedNoise(np.zeros((2, 4)), np.zeros((2, 1, 4)), bounds="reflect")
    assert SeedNoise.from_dict(noise.to_dict()).bounds == "reflect"
    clipped = SeedNoise(np.zeros((2, 4)), np.zeros((2, 1, 4)))
    assert "bounds" not in clipped.to_dict()  # entries published before read as "clip"
    assert SeedNoise.from_dict(clipped.to_dict()).bounds == "clip"
    with pytest.raises(ValueError, match="bounds must be one of"):
        SeedNoise(np.zeros((2, 4)), np.zeros((2, 1, 4)), bounds="wrap")


def test_donors_matched_by_predicted_level_keep_the_residuals():
    n_configs, n_fidelities = 60, 6
    table = small_embedded_table(
        "sklearn-mlp-digits", "test-digits-one-seed-tail", n_configs, n_fidelities, n_seeds=1
    )
    data = SurrogateTrainingData(table, split_configurations(n_configs, seed=1))
    transform = target_transform_for(data, "valid_error", ("train", "validation"))
    arguments = (data, "valid_error", transform, "random_forest", {"n_estimators": 10}, 1.0, 0)
    recorded = validation_residual_noise(*arguments)
    predicted = validation_residual_noise(*arguments, donors="predicted", bounds="reflect")
    np.testing.assert_array_equal(predicted.residuals, recorded.residuals)
    assert predicted.bounds == "reflect" and recorded.bounds == "clip"
    # matched by the trend (recorded - own residual), not by trend + own residual
    values = data.recorded_values("valid_error", ("validation",))[:, :, 0]
    grid = np.broadcast_to(np.arange(n_fidelities)[None, :], values.shape)
    assert recorded.quantile_curves == pytest.approx(transform.forward(values, grid), abs=1e-6)
    trend = transform.forward(values - predicted.residuals[:, 0, :], grid)
    assert predicted.quantile_curves == pytest.approx(trend, abs=1e-3)
    assert not np.allclose(predicted.quantile_curves, recorded.quantile_curves, atol=0.01)
    with pytest.raises(ValueError, match="noise donors must be one of"):
        validation_residual_noise(*arguments, donors="own")


def test_cli_options_of_the_noise_model():
    import argparse

    from benchmarking.surrogates.cli import configure_surrogate_command

    parser = argparse.ArgumentParser()
    configure_surrogate_command(parser)
    fitted = parser.parse_args(["fit", "x"])
    assert fitted.noise_donors is None and fitted.noise_bounds is None  # fit's own default
    fitted = parser.parse_args(
        [
            "fit",
            "x",
            "--single-seed-noise-donors",
            "predicted",
            "--single-seed-noise-bounds",
            "reflect",
        ]
    )
    assert (fitted.noise_donors, fitted.noise_bounds) == ("predicted", "reflect")
    faithful = parser.parse_args(
        ["faithfulness", "x", "--cross-fitted", "--answers-noise-donors", "recorded"]
    )
    assert faithful.answers_noise_donors == "recorded" and faithful.answers_noise_bounds is None
    with pytest.raises(SystemExit):
        parser.parse_args(["fit", "x", "--single-seed-noise-bounds", "wrap"])
