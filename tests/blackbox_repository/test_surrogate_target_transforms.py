"""Target spaces of surrogate models (quantile, log1p) and per-fidelity clipping, on the
real embedded breast-cancer MLP benchmark cut to 60 configurations x 6 epochs: the
published surrogate answers within the training range at every fidelity, keeps its
transform through the file format, and entries written before these fields still load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blackbox_repository.entry_metadata import write_metadata
from blackbox_repository.file_format import read_blackbox
from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from blackbox_repository.surrogate_training.fitting import export_model, fit_model
from blackbox_repository.surrogate_training.model_families import FAMILIES
from blackbox_repository.surrogate_training.publish import assemble_surrogate, install_surrogate
from blackbox_repository.surrogate_training.target_transforms import (
    TargetTransform,
    choose_transform,
    fidelity_bounds,
    quantile_transform,
)
from tests.blackbox_repository.conftest import small_breast_cancer_training_data

N_CONFIGS, N_FIDELITIES = 60, 6


def test_quantile_transform_is_per_fidelity_monotone_round_trips_and_stays_in_range():
    targets = np.array([0.9, 0.05, 0.02, 0.05, 0.3, 0.9, 0.9, 0.11, 0.5, 0.7])
    positions = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    transform = quantile_transform(targets, positions, 3)
    assert transform.values[0] == (0.02, 0.05, 0.11, 0.3, 0.9)
    # ties share their mid-rank: 0.9 holds ranks 5, 6, 7 of 0..7
    np.testing.assert_allclose(transform.quantiles[0], [0, 1.5 / 7, 3 / 7, 4 / 7, 6 / 7])
    assert transform.values[1] == (0.5, 0.7) and transform.quantiles[1] == (0.0, 1.0)
    assert len(transform.values[2]) == 7  # no value at position 2: knots of all rows
    np.testing.assert_allclose(
        transform.inverse(transform.forward(targets, positions), positions), targets
    )
    grid = np.linspace(-0.5, 1.5, 101)
    for position, (low, high) in enumerate([(0.02, 0.9), (0.5, 0.7)]):
        back = transform.inverse(grid, np.full(101, position))
        assert np.all(np.diff(back) >= 0) and back.min() == low and back.max() == high
    assert np.all(np.diff(transform.forward(np.linspace(0, 1, 101), np.zeros(101, int))) >= 0)
    again = TargetTransform.from_parameters(
        "quantile", json.loads(json.dumps(transform.parameters()))
    )
    assert again == transform


def test_transform_choice_and_bad_transforms():
    times, positions = np.array([0.1, 2.0, 30.0]), np.array([0, 1, 2])
    assert choose_transform(times, positions, 3, elapsed_time=True).name == "log1p"
    assert choose_transform(times, positions, 3, elapsed_time=False).name == "quantile"
    assert (
        choose_transform(np.array([0.5, 0.5]), positions[:2], 3, elapsed_time=False).name
        == "identity"
    )
    with pytest.raises(SurrogateTrainingError, match="non-negative"):
        choose_transform(np.array([-1.0, 2.0]), positions[:2], 3, elapsed_time=False, name="log1p")
    with pytest.raises(ValueError, match="unknown target transform 'cube'"):
        TargetTransform("cube")
    with pytest.raises(ValueError, match="knots"):
        TargetTransform("quantile", ((0.1,),), ())


def test_fidelity_bounds_per_position_with_a_fallback_for_empty_positions():
    bounds = fidelity_bounds(np.array([3.0, 1.0, 5.0, np.nan]), np.array([0, 0, 1, 2]), 3)
    assert bounds == ((1.0, 3.0), (5.0, 5.0), (1.0, 5.0))


@pytest.fixture(scope="module")
def surrogate():
    data = small_breast_cancer_training_data("test-mlp-transforms", N_CONFIGS, N_FIDELITIES)
    models = []
    for objective, family in (("valid_error", "knn"), ("elapsed_time", "hist_gradient_boosting")):
        fidelity = 16 if FAMILIES[family].fidelity_kind == "rounds" else 1.0
        default = FAMILIES[family].default
        model = fit_model(data, objective, family, default, fidelity)
        models.append(export_model(model, data, objective, family, default, fidelity))
    return data, assemble_surrogate(data, models, name="test-mlp-transforms-surrogate")


def test_published_surrogate_answers_within_the_training_range_per_fidelity(
    surrogate, fresh_cache_dir
):
    data, published = surrogate
    assert [m.target_transform for m in published.models] == ["quantile", "log1p"]
    entry = install_surrogate(published, fresh_cache_dir)
    loaded = read_blackbox(entry)
    configs = [dict(c) for c in loaded.configuration_space.sample_configuration(200)]
    curves = loaded.predict_curves(configs)
    np.testing.assert_allclose(curves, published.predict_curves(configs))
    bounds = np.asarray(data.value_bounds("valid_error"))
    errors = curves[:, :, loaded.objective_index("valid_error")]
    assert np.all(errors >= bounds[:, 0]) and np.all(errors <= bounds[:, 1])
    # the best training value at the top fidelity is reachable, nothing better is
    assert errors[:, -1].min() >= bounds[-1, 0]


def test_entry_written_before_transform_fields_still_loads_unclipped(surrogate, fresh_cache_dir):
    _, published = surrogate
    entry = install_surrogate(published, fresh_cache_dir)
    metadata_file = entry / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    for model in metadata["trained_surrogate"]["models"]:
        if model["target_transform"] == "log1p":
            del model["transform_parameters"], model["value_bounds"]
    write_metadata(entry, metadata)  # as an older simtune wrote it, checksum and all
    loaded = read_blackbox(entry)
    assert loaded.models[1].value_bounds == () and loaded.models[0].value_bounds
