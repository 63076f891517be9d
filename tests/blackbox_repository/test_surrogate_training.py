"""Surrogate training data layer on a real table (the embedded breast-cancer MLP benchmark,
cut to 60 configurations x 6 epochs): split by configuration, ONNX export equal to the
fitted models, the published trained-onnx entry (checksums, S3 mirror, load by name), and
bad input refused with SimtuneError-derived errors leaving nothing in the cache."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox_repository import TabularBlackbox, load_blackbox
from blackbox_repository.cache import BlackboxCache
from blackbox_repository.errors import (
    ChecksumMismatchError,
    CorruptBlackboxError,
    SimtuneError,
)
from blackbox_repository.file_format import read_blackbox
from blackbox_repository.s3_mirror import S3Mirror
from blackbox_repository.surrogate_training import (
    SurrogateTrainingData,
    SurrogateTrainingError,
    split_configurations,
)
from blackbox_repository.surrogate_training.fitting import export_model, fit_model, predict_rows
from blackbox_repository.surrogate_training.model_families import FAMILIES
from blackbox_repository.surrogate_training.onnx_export import OnnxRegressor
from blackbox_repository.surrogate_training.publish import assemble_surrogate, install_surrogate
from blackbox_repository.surrogate_training.trained_surrogate import TrainedSurrogateBlackbox
from tests.blackbox_repository.conftest import MOTO_BUCKET, small_breast_cancer_table

N_CONFIGS, N_FIDELITIES = 60, 6


def small_table(values_edit=None, n_configs: int = N_CONFIGS) -> TabularBlackbox:
    return small_breast_cancer_table("test-mlp-small", n_configs, N_FIDELITIES, values_edit)


@pytest.fixture(scope="module")
def data() -> SurrogateTrainingData:
    table = small_table()
    return SurrogateTrainingData(table, split_configurations(N_CONFIGS, seed=3))


@pytest.fixture(scope="module")
def published(data):
    models = []
    for objective, family in (
        ("valid_error", "hist_gradient_boosting"),
        ("elapsed_time", "lightgbm"),
    ):
        default = FAMILIES[family].default
        model = fit_model(data, objective, family, default, 16)
        models.append(export_model(model, data, objective, family, default, 16))
    return assemble_surrogate(data, models, name="test-mlp-small-surrogate")


def test_split_is_by_configuration_disjoint_complete_and_seeded():
    split = split_configurations(100, seed=7)
    sets = [set(split.train), set(split.validation), set(split.test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert set().union(*sets) == set(range(100))
    assert (len(split.train), len(split.validation), len(split.test)) == (70, 15, 15)
    again = split_configurations(100, seed=7)
    np.testing.assert_array_equal(split.test, again.test)
    assert not np.array_equal(split.test, split_configurations(100, seed=8).test)
    assert split.to_dict()["seed"] == 7


def test_rows_hold_every_fidelity_of_a_configuration_in_one_set(data):
    features, targets, configs, fidelities = data.rows("valid_error", "test")
    assert set(configs) == set(data.split.test)
    assert len(features) == len(data.split.test) * N_FIDELITIES
    np.testing.assert_allclose(
        targets[0], np.mean(data.blackbox.values[configs[0], fidelities[0], :, 0])
    )


@pytest.mark.parametrize("family", ["hist_gradient_boosting", "knn", "lightgbm", "extra_trees"])
def test_onnx_export_predicts_like_the_fitted_model(data, family):
    fidelity = 16 if FAMILIES[family].fidelity_kind == "rounds" else 1.0
    default = FAMILIES[family].default
    model = fit_model(data, "valid_error", family, default, fidelity)
    exported = export_model(model, data, "valid_error", family, default, fidelity)
    features, _, _, _ = data.rows("valid_error", "test")
    np.testing.assert_allclose(
        OnnxRegressor(exported.model).predict(features),
        predict_rows(model, features),
        rtol=1e-3,
        atol=1e-4,
    )
    # the same model exports to the same bytes (no random graph name): a refit that makes
    # the same model publishes the same sha256
    assert export_model(model, data, "valid_error", family, default, fidelity).model == (
        exported.model
    )


def test_published_entry_round_trips_with_positive_non_decreasing_elapsed_time(
    published, fresh_cache_dir
):
    entry = install_surrogate(published, fresh_cache_dir)
    metadata = (entry / "metadata.json").read_text()
    assert "sha256" in metadata and "model-0.onnx" in metadata and "pickle" not in metadata
    assert sorted(p.name for p in entry.iterdir()) == [
        "metadata.json",
        "model-0.onnx",
        "model-1.onnx",
    ]
    loaded = load_blackbox("test-mlp-small-surrogate", cache_dir=fresh_cache_dir)
    assert isinstance(loaded, TrainedSurrogateBlackbox)
    configs = [loaded.configuration_space.sample_configuration() for _ in range(20)]
    curves = loaded.predict_curves([dict(c) for c in configs])
    np.testing.assert_allclose(curves, published.predict_curves([dict(c) for c in configs]))
    elapsed = curves[:, :, loaded.elapsed_time_index]
    assert np.all(elapsed > 0) and np.all(np.diff(elapsed, axis=1) >= 0)


def test_a_model_file_changed_after_publishing_is_refused(published, fresh_cache_dir):
    entry = install_surrogate(published, fresh_cache_dir)
    model_file = entry / "model-1.onnx"
    content = bytearray(model_file.read_bytes())
    content[-5] ^= 0xFF
    model_file.write_bytes(bytes(content))
    with pytest.raises(ChecksumMismatchError, match="model-1.onnx") as raised:
        read_blackbox(entry)
    assert isinstance(raised.value, SimtuneError)


def test_a_corrupt_entry_nothing_can_fetch_again_is_reported_and_kept(published, fresh_cache_dir):
    entry = install_surrogate(published, fresh_cache_dir)
    model_file = entry / "model-0.onnx"
    content = bytearray(model_file.read_bytes())
    content[1000] ^= 0x01
    model_file.write_bytes(bytes(content))
    with pytest.raises(CorruptBlackboxError, match="model-0.onnx") as raised:
        load_blackbox(published.name, cache_dir=fresh_cache_dir)
    assert "No recipe or S3 mirror" in str(raised.value)
    # nothing was removed: the entry and its files are there to restore or inspect
    assert model_file.read_bytes() == bytes(content)
    assert (entry / "metadata.json").exists()


def test_surrogate_goes_through_the_s3_mirror(published, fresh_cache_dir, s3_endpoint, s3_client):
    entry = install_surrogate(published, fresh_cache_dir / "source")
    mirror = S3Mirror(f"s3://{MOTO_BUCKET}/mirror", endpoint_url=s3_endpoint)
    mirror.upload(published.name, entry)
    assert mirror.list() == [published.name]
    downloaded = load_blackbox(
        published.name, cache_dir=fresh_cache_dir / "clean", s3_mirror=mirror
    )
    assert isinstance(downloaded, TrainedSurrogateBlackbox)
    config = dict(published.configuration_space.sample_configuration())
    assert downloaded.lookup(config, fidelity=3) == published.lookup(config, fidelity=3)


def _nan_objective(values, full):
    values[::2, :, :, full.objective_index("valid_logloss")] = np.nan


def _constant_objective(values, full):
    values[:, :, :, full.objective_index("train_error")] = 0.25


@pytest.mark.parametrize(
    ("edit", "objective", "message"),
    [
        (_nan_objective, "valid_logloss", "no value at 180 of 360"),
        (_constant_objective, "train_error", "is constant"),
    ],
)
def test_bad_objectives_are_refused_with_what_to_do(edit, objective, message):
    data = SurrogateTrainingData(small_table(edit), split_configurations(N_CONFIGS, 0))
    with pytest.raises(SurrogateTrainingError, match=message) as raised:
        data.check_no_missing(objective)
        data.check_objective(objective)
    assert "--objectives" in str(raised.value)


def test_too_few_configurations_and_an_empty_test_set_are_refused():
    with pytest.raises(SurrogateTrainingError, match="at least 10"):
        split_configurations(9)
    with pytest.raises(SurrogateTrainingError, match="empty set"):
        split_configurations(12, fractions=(0.9, 0.07, 0.03))


def test_failed_install_leaves_nothing_in_the_cache(published, fresh_cache_dir):
    broken = TrainedSurrogateBlackbox(
        name="test-broken-surrogate",
        configuration_space=published.configuration_space,
        fidelity_name=published.fidelity_name,
        fidelity_values=published.fidelity_values,
        objectives=published.objectives,
        elapsed_time_objective=published.elapsed_time_objective,
        models=published.models,
        source={"blackbox": "x", "not json": object()},
    )
    with pytest.raises(TypeError):
        install_surrogate(broken, fresh_cache_dir)
    assert BlackboxCache(fresh_cache_dir).names() == []
    leftovers = [
        p.name for p in (fresh_cache_dir / "blackboxes").iterdir() if not p.name.endswith(".lock")
    ]
    assert leftovers == []


def test_tuning_metric_ranks_configurations_within_each_fidelity():
    from blackbox_repository.surrogate_training.scores import (
        mean_tau_per_fidelity,
        regression_scores,
    )

    true = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    positions = np.array([0, 0, 0, 1, 1, 1])
    # right order within each fidelity, wrong order across them
    predicted = np.array([30.0, 31.0, 32.0, 1.0, 2.0, 3.0])
    assert mean_tau_per_fidelity(true, predicted, positions) == pytest.approx(1.0)
    assert regression_scores(true, predicted)["kendall_tau"] < 0.5
    # constant predictions at a fidelity carry no ranking: tau 0 there
    flat = np.array([5.0, 5.0, 5.0, 1.0, 2.0, 3.0])
    assert mean_tau_per_fidelity(true, flat, positions) == pytest.approx(0.5)
