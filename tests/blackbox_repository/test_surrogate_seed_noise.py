"""What makes a published surrogate behave like its table in a study, on the real embedded
breast-cancer MLP benchmark cut to 60 configurations x 6 epochs:

* calibration: the answers over random configurations follow the table's distribution
  of seed means (the best recorded level is reached) while every ranking at a fidelity
  stays the one of the model;
* seed noise: the surrogate has the table's seeds, each answers the mean plus a recorded
  residual curve, bit for bit again after a reload, within the per-seed training range;
* knots and bounds from train + validation (the rows of the published refit).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

from blackbox_repository.file_format import read_blackbox
from blackbox_repository.surrogate_training import SurrogateTrainingData
from blackbox_repository.surrogate_training.fitting import (
    OneSeedNoise,
    sample_features,
)
from blackbox_repository.surrogate_training.onnx_export import OnnxRegressor
from blackbox_repository.surrogate_training.publish import install_surrogate
from blackbox_repository.surrogate_training.seed_noise import SeedNoise
from blackbox_repository.surrogate_training.target_transforms import quantile_transform
from tests.blackbox_repository.conftest import (
    small_breast_cancer_training_data,
    small_hgb_surrogate,
)

N_CONFIGS, N_FIDELITIES = 60, 6


@pytest.fixture(scope="module")
def data() -> SurrogateTrainingData:
    return small_breast_cancer_training_data("test-mlp-noise", N_CONFIGS, N_FIDELITIES)


@pytest.fixture(scope="module")
def published(data):
    return small_hgb_surrogate(data, "test-mlp-noise-surrogate", calibrate=True, seed_noise=True)


def test_calibration_is_monotone_and_restores_the_tables_distribution(data, published):
    model = published.models[0]
    transform = model.transform
    assert transform.calibration_outputs and len(transform.calibration_outputs) == N_FIDELITIES
    # the same model without calibration answers a narrower band (regression to the middle)
    features, positions = sample_features(data, 500, seed=5)
    raw = OnnxRegressor(model.model).predict(features)
    calibrated = transform.calibrated(raw, positions)
    uncalibrated_values = transform._per_fidelity(raw, positions, inverse=True)
    values = transform.inverse(raw, positions)
    top = positions == N_FIDELITIES - 1
    best_seed_mean = min(transform.values[-1])
    assert values[top].min() == pytest.approx(best_seed_mean, abs=2e-3)
    assert values[top].min() <= uncalibrated_values[top].min()
    for position in range(N_FIDELITIES):  # one monotone map per fidelity: same ranking
        here = positions == position
        order = np.argsort(raw[here], kind="stable")
        assert np.all(np.diff(calibrated[here][order]) >= 0)
        assert kendalltau(raw[here], values[here]).statistic > 0.99


def test_knots_and_bounds_come_from_the_rows_of_the_refit(data, published):
    model = published.models[0]
    seen = np.concatenate([data.split.train, data.split.validation])
    recorded = np.asarray(data.blackbox.values[seen, :, :, 0], dtype=float)
    means = np.nanmean(recorded, axis=2)
    assert model.transform.values[-1][0] == pytest.approx(means[:, -1].min())
    assert model.transform.values[-1][-1] == pytest.approx(means[:, -1].max())
    # with seed noise the clip is the per-seed range, wider than the range of seed means
    low, high = model.value_bounds[-1]
    assert low == pytest.approx(np.nanmin(recorded[:, -1])) and low <= means[:, -1].min()
    assert high == pytest.approx(np.nanmax(recorded[:, -1]))
    assert any(b[0] < m for b, m in zip(model.value_bounds, means.min(axis=0)))


def test_surrogate_has_the_tables_seeds_and_answers_reproducibly(data, published, fresh_cache_dir):
    assert list(published.seeds) == list(data.blackbox.seeds)
    assert published.models[0].seed_noise is not None  # the metric is noisy
    assert published.models[1].seed_noise is None  # the elapsed time is not
    entry = install_surrogate(published, fresh_cache_dir)
    loaded = read_blackbox(entry)
    configs = [dict(c) for c in loaded.configuration_space.sample_configuration(40)]
    metric, elapsed = loaded.objective_index("valid_error"), loaded.elapsed_time_index
    bounds = np.asarray(published.models[0].value_bounds)
    spreads = []
    for config in configs:
        mean = published.predict_curves([config])[0]
        curves = np.array([published.curve(config, s) for s in range(len(published.seeds))])
        again = np.array([loaded.curve(config, s) for s in range(len(loaded.seeds))])
        np.testing.assert_array_equal(curves, again)  # a reload answers bit for bit
        np.testing.assert_array_equal(
            curves[:, :, elapsed], np.broadcast_to(mean[:, elapsed], (3, N_FIDELITIES))
        )
        assert np.all(curves[:, :, metric] >= bounds[:, 0]) and np.all(
            curves[:, :, metric] <= bounds[:, 1]
        )
        spreads.append(np.ptp(curves[:, -1, metric]))
        lookup = loaded.lookup(config, loaded.fidelity_values[-1], seed=int(loaded.seeds[2]))
        assert lookup["valid_error"] == curves[2, -1, metric]
    assert np.mean(np.array(spreads) > 0) > 0.5  # the seeds differ, as on the table


def test_seed_noise_picks_a_donor_among_the_nearest_by_the_configurations_values():
    curves = np.array([[0.0, 0.0], [0.1, 0.1], [0.9, 0.9], [1.0, 1.0]])
    residuals = np.arange(4 * 2 * 2, dtype=float).reshape(4, 2, 2)
    noise = SeedNoise(curves, residuals, neighbours=2)
    picked = {int(noise.residual_curves(np.array([0.05, 0.0]), ("a", k))[0, 0]) for k in range(40)}
    assert picked == {0, 4}  # donors 0 and 1 only, both used
    assert np.array_equal(
        noise.residual_curves(np.array([0.95, 1.0]), ("b", 1)),
        noise.residual_curves(np.array([0.95, 1.0]), ("b", 1)),
    )
    again = SeedNoise.from_dict(noise.to_dict())
    np.testing.assert_array_equal(again.residuals, residuals)
    with pytest.raises(ValueError, match="same donors"):
        SeedNoise(curves, residuals[:3])


def test_a_calibration_needs_a_quantile_transform_with_matching_knots():
    transform = quantile_transform(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 0, 1, 1]), 2)
    calibrated = transform.with_calibration(np.array([0.4, 0.5, 0.6, 0.2]), np.array([0, 0, 1, 1]))
    assert calibrated.calibration_outputs == ((0.4, 0.5), (0.2, 0.6))
    with pytest.raises(ValueError, match="calibration"):
        type(transform)("quantile", transform.values, transform.quantiles, ((0.1,),), ((0.5,),))


def test_a_single_seed_table_gets_out_of_sample_residuals_of_its_validation_configs(
    fresh_cache_dir,
):
    from tests.blackbox_repository.conftest import small_embedded_table

    table = small_embedded_table(  # one recorded run per configuration, as on TaskSet
        "sklearn-mlp-breast-cancer", "test-mlp-one-seed", N_CONFIGS, N_FIDELITIES, n_seeds=1
    )
    one_seed = SurrogateTrainingData(table, data_split(N_CONFIGS))
    surrogate = small_hgb_surrogate(
        one_seed,
        "test-mlp-one-seed-surrogate",
        calibrate=True,
        seed_noise=True,
        one_seed_noise=OneSeedNoise(enabled=True),
    )
    noise = surrogate.models[0].seed_noise
    assert noise is not None and noise.n_seeds == 1 and surrogate.models[1].seed_noise is None
    assert noise.residuals.shape == (len(one_seed.split.validation), 1, N_FIDELITIES)
    assert np.mean(np.abs(noise.residuals) > 0) > 0.5  # out of sample: the model misses
    loaded = read_blackbox(install_surrogate(surrogate, fresh_cache_dir))
    configs = [dict(c) for c in loaded.configuration_space.sample_configuration(20)]
    moved = 0
    for config in configs:
        noisy = loaded.curve(config)
        np.testing.assert_array_equal(noisy, surrogate.curve(config))  # bit for bit
        moved += not np.array_equal(noisy[:, 0], loaded.predict_curves([config])[0][:, 0])
    assert moved > 10  # answers are trend + a recorded out-of-sample residual curve


def data_split(n_configs: int):
    from blackbox_repository.surrogate_training import split_configurations

    return split_configurations(n_configs, seed=1)


def test_one_seed_noise_record_round_trips_through_the_metadata_and_names_bad_settings():
    chosen = OneSeedNoise(enabled=True, donors="predicted", bounds="reflect")
    assert OneSeedNoise.recorded_in(chosen.as_source()) == chosen
    assert OneSeedNoise.recorded_in({}) == OneSeedNoise()  # published before the record
    assert OneSeedNoise.recorded_in({"single_seed_noise": True}) == OneSeedNoise(True)
    assert chosen.overridden(None, None, "clip") == OneSeedNoise(True, "predicted", "clip")
    assert chosen.overridden(enabled=False).donors == "predicted"
    with pytest.raises(ValueError, match="noise donors must be one of"):
        OneSeedNoise(donors="own")
    with pytest.raises(ValueError, match="noise bounds must be one of"):
        chosen.overridden(bounds="wrap")
