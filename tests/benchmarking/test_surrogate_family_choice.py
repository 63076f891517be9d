"""Families compete at the fidelity they are published with (real embedded breast-cancer
MLP benchmark cut to 60 configurations x 6 epochs): a fraction family's tuning result at a
fraction of the training configurations is scored again on all of them; a boosting family
keeps its own result."""

from __future__ import annotations

import json

import pytest

from benchmarking.surrogates.tuning import TunedModel, at_published_fidelity, tune_family
from blackbox_repository.surrogate_training import SurrogateTrainingData, split_configurations
from blackbox_repository.surrogate_training.fitting import fit_model, predict_split
from blackbox_repository.surrogate_training.model_families import FAMILIES
from blackbox_repository.surrogate_training.scores import mean_tau_per_fidelity
from tests.blackbox_repository.conftest import small_breast_cancer_table

N_CONFIGS, N_FIDELITIES = 60, 6


@pytest.fixture(scope="module")
def data() -> SurrogateTrainingData:
    table = small_breast_cancer_table("test-mlp-family-choice", N_CONFIGS, N_FIDELITIES)
    return SurrogateTrainingData(table, split_configurations(N_CONFIGS, seed=4))


def test_fraction_family_is_scored_again_on_every_training_configuration(data, tmp_path):
    hyperparameters = dict(FAMILIES["extra_trees"].default)
    tuned = TunedModel("valid_error", "extra_trees", hyperparameters, 0.125, 0.9, 4)
    scored = at_published_fidelity(data, tuned, out=tmp_path)
    model = fit_model(data, "valid_error", "extra_trees", hyperparameters, 1.0)
    true, predicted = predict_split(model, data, "valid_error", "validation")
    _, _, _, positions = data.rows("valid_error", "validation")
    expected = 1.0 - mean_tau_per_fidelity(true, predicted, positions)
    assert scored.fidelity == 1.0
    assert scored.validation_loss == pytest.approx(expected)
    assert scored.validation_loss != tuned.validation_loss
    (journal,) = (tmp_path / "valid_error" / "extra_trees" / "journal").iterdir()
    assert json.loads(journal.read_text())["level"] == len(FAMILIES["extra_trees"].fidelity_values)
    assert at_published_fidelity(data, tuned, out=tmp_path) == scored  # read from the journal


def test_boosting_family_and_full_fraction_keep_their_tuning_result(data, tmp_path):
    boosted = TunedModel("valid_error", "lightgbm", dict(FAMILIES["lightgbm"].default), 16, 0.3, 4)
    full = TunedModel("valid_error", "random_forest", {}, 1.0, 0.4, 4)
    assert at_published_fidelity(data, boosted, out=tmp_path) is boosted
    assert at_published_fidelity(data, full, out=tmp_path) is full
    assert not any(tmp_path.iterdir())


def test_tuning_tries_the_family_default_first(data, tmp_path):
    tuned = at_published_fidelity(
        data,
        tune_family(
            data, "valid_error", "extra_trees", out=tmp_path, budget=1, runner="serial", n_workers=1
        ),
        out=tmp_path,
    )
    assert tuned.hyperparameters == dict(FAMILIES["extra_trees"].default)
    journal = sorted((tmp_path / "valid_error" / "extra_trees" / "journal").iterdir())
    configs = [json.loads(path.read_text())["config"] for path in journal]
    assert configs == [dict(FAMILIES["extra_trees"].default)] * 2  # tuned, then at all rows
