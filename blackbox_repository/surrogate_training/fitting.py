"""Fitting one objective's model on the training rows and exporting it to ONNX."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from blackbox_repository.surrogate_training.model_families import model_family
from blackbox_repository.surrogate_training.onnx_export import OnnxRegressor, model_to_onnx
from blackbox_repository.surrogate_training.target_transforms import TargetTransform
from blackbox_repository.surrogate_training.trained_surrogate import ObjectiveModel
from blackbox_repository.surrogate_training.training_data import SurrogateTrainingData


def target_transform_for(data: SurrogateTrainingData, objective: str) -> TargetTransform:
    """The space ``objective``'s model learns in (``log1p`` for the elapsed time, empirical
    quantile otherwise; fitted on the training rows)."""
    return data.target_transform(objective)


def fit_model(
    data: SurrogateTrainingData,
    objective: str,
    family_name: str,
    hyperparameters: Mapping[str, Any],
    fidelity: float,
    *,
    splits: tuple[str, ...] = ("train",),
    seed: int = 0,
) -> Any:
    """Fit a model of ``family_name`` on the rows of ``splits`` (sklearn-style object).

    ``fidelity`` is the number of boosting rounds or the fraction of the training
    configurations used, depending on the family.
    """
    family = model_family(family_name)
    transform = target_transform_for(data, objective)
    parts = []
    for split in splits:
        fraction = float(fidelity) if family.fidelity_kind == "fraction" else 1.0
        features, targets, _, positions = data.rows(objective, split, fraction=fraction, seed=seed)
        parts.append((features, transform.forward(targets, positions)))
    features = np.concatenate([p[0] for p in parts])
    targets = np.concatenate([p[1] for p in parts])
    model = family.model(hyperparameters, fidelity, seed)
    if family.name == "knn":
        n_neighbors = min(int(hyperparameters.get("n_neighbors", 5)), len(features))
        model.set_params(n_neighbors=n_neighbors)
    with threadpool_limits(1):  # OpenMP models on a shared machine: one thread each
        model.fit(features.astype(np.float32), targets)
    return model


def predict_rows(model: Any, features: np.ndarray) -> np.ndarray:
    """Raw predictions of a fitted model on feature rows, on one thread."""
    with threadpool_limits(1):
        return np.asarray(model.predict(features.astype(np.float32)), dtype=float).reshape(-1)


def predict_split(
    model: Any, data: SurrogateTrainingData, objective: str, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """(true, predicted) values of ``objective`` on ``split`` in the objective's own units,
    predictions clipped to the training range per fidelity as the published surrogate does."""
    features, targets, _, positions = data.rows(objective, split)
    transform = target_transform_for(data, objective)
    predictions = transform.inverse(predict_rows(model, features), positions)
    bounds = np.asarray(data.value_bounds(objective), dtype=float)[positions]
    return targets, np.clip(predictions, bounds[:, 0], bounds[:, 1])


def export_model(
    model: Any,
    data: SurrogateTrainingData,
    objective: str,
    family_name: str,
    hyperparameters: Mapping[str, Any],
    fidelity: float,
) -> ObjectiveModel:
    """The fitted ``model`` as an :class:`ObjectiveModel` holding its ONNX bytes.

    The ONNX model is checked against the fitted model on the validation rows (float32
    rounding only), so a conversion that changes predictions never gets published. For
    nearest neighbours, rows whose k-th and (k+1)-th neighbours are equally far are left
    out of the check: scikit-learn and onnxruntime break such ties differently.
    """
    onnx_bytes = model_to_onnx(model, data.n_features)
    features, _, _, _ = data.rows(objective, "validation")
    features = features.astype(np.float32)
    expected = predict_rows(model, features)
    actual = OnnxRegressor(onnx_bytes).predict(features)
    checked = _rows_without_neighbour_ties(model, features)
    expected, actual = expected[checked], actual[checked]
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-12)
    if not np.allclose(actual, expected, rtol=1e-3, atol=1e-4 * scale):
        worst = float(np.max(np.abs(actual - expected)))
        raise SurrogateTrainingError(
            f"the ONNX export of the {family_name} model of {objective!r} predicts differently "
            f"from the fitted model (largest difference {worst:.3g}); not published"
        )
    transform = target_transform_for(data, objective)
    return ObjectiveModel(
        objective=objective,
        family=family_name,
        hyperparameters=dict(hyperparameters),
        fidelity=fidelity,
        target_transform=transform.name,
        model=onnx_bytes,
        transform_parameters=transform.parameters(),
        value_bounds=data.value_bounds(objective),
    )


def _rows_without_neighbour_ties(model: Any, features: np.ndarray) -> np.ndarray:
    """All rows, except (for a nearest-neighbour model) rows with a tie at the k-th place."""
    if not hasattr(model, "kneighbors"):
        return np.ones(len(features), dtype=bool)
    k = model.n_neighbors
    if k >= model.n_samples_fit_:
        return np.ones(len(features), dtype=bool)
    distances, _ = model.kneighbors(features, n_neighbors=k + 1)
    return ~np.isclose(distances[:, k - 1], distances[:, k], rtol=1e-5, atol=1e-7)
