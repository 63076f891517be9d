"""Curve ends: where recorded curves stop early (diverged runs), the published surrogate's
curves stop too. Real embedded breast-cancer MLP benchmark cut to 60 configurations x 6
epochs, whose curves are cut after epoch 2 for every configuration with a large initial
learning rate (as diverged TaskSet runs end)."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox_repository.file_format import read_blackbox
from blackbox_repository.surrogate_training import SurrogateTrainingData, split_configurations
from blackbox_repository.surrogate_training.curve_ends import CurveEnds, curve_ends_from_table
from blackbox_repository.surrogate_training.publish import install_surrogate
from tests.blackbox_repository.conftest import small_breast_cancer_table, small_hgb_surrogate

N_CONFIGS, N_FIDELITIES, LAST_POSITION = 60, 6, 1
LARGE_RATE = 0.01


def cut_large_rates(values: np.ndarray, full) -> None:
    """Every objective but the elapsed time ends after epoch 2 for large learning rates."""
    rates = full.configurations["learning_rate_init"].to_numpy()[: len(values)]
    keep = [k for k in range(values.shape[-1]) if k != full.elapsed_time_index]
    ended = np.flatnonzero(rates > LARGE_RATE)
    for k in keep:
        values[ended[:, None], LAST_POSITION + 1 :, :, k] = np.nan


@pytest.fixture(scope="module")
def ending():
    table = small_breast_cancer_table("test-mlp-ends", N_CONFIGS, N_FIDELITIES, cut_large_rates)
    data = SurrogateTrainingData(table, split_configurations(N_CONFIGS, seed=1))
    return data, small_hgb_surrogate(data, "test-mlp-ends-surrogate", curve_ends=True)


def test_published_curves_end_where_similar_recorded_curves_end(ending, fresh_cache_dir):
    data, surrogate = ending
    assert surrogate.models[0].curve_ends is not None  # some curves end early
    assert surrogate.models[1].curve_ends is None  # the elapsed time never ends
    loaded = read_blackbox(install_surrogate(surrogate, fresh_cache_dir))
    metric, elapsed = loaded.objective_index("valid_error"), loaded.elapsed_time_index
    table, matches = data.blackbox, []
    for index in data.split.test:  # configurations no model has seen
        config = table.configuration(int(index))
        curve = loaded.curve(config)
        np.testing.assert_array_equal(curve, surrogate.curve(config))  # bit for bit
        assert np.all(np.isfinite(curve[:, elapsed]))  # a trial keeps running, as on the table
        ended = np.isnan(curve[:, metric])
        assert np.all(np.isfinite(curve[: LAST_POSITION + 1, metric]))
        assert not ended.any() or np.all(ended[LAST_POSITION + 1 :])  # NaN from one point on
        recorded_end = np.isnan(table.values[index, -1, 0, metric])
        matches.append(bool(ended[-1]) == recorded_end)
    assert np.mean(matches) >= 0.75  # the learning rate decides, the neighbours know it


def test_complete_curves_get_no_end_model_and_ends_round_trip():
    complete = np.ones((4, 3, 2))
    assert curve_ends_from_table(complete, np.zeros((4, 2))) is None
    values = complete.copy()
    values[2:, 1:, :] = np.nan  # configurations 2, 3 end after position 0
    values[3, :, 0] = np.nan  # one seed missing entirely does not end a curve
    values[1, 2, 0] = np.nan
    encoded = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 1.0], [0.9, 1.0]])
    ends = curve_ends_from_table(values, encoded, neighbours=1)
    assert ends.last_positions.tolist() == [2, 2, 0, 0]
    assert ends.last_position(np.array([0.95, 0.95])) == 0
    assert ends.last_position(np.array([0.05, 0.0])) == 2
    again = CurveEnds.from_dict(ends.to_dict())
    np.testing.assert_array_equal(again.last_positions, ends.last_positions)
    np.testing.assert_array_equal(again.encoded_configurations, ends.encoded_configurations)
    with pytest.raises(ValueError, match="one last position per configuration"):
        CurveEnds(encoded, np.array([0, 1]))
