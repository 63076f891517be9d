"""Fitting one objective's model on the training rows and exporting it to ONNX."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from blackbox_repository.surrogate_training.curve_ends import curve_ends_from_table
from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from blackbox_repository.surrogate_training.model_families import model_family
from blackbox_repository.surrogate_training.onnx_export import OnnxRegressor, model_to_onnx
from blackbox_repository.surrogate_training.seed_noise import (
    BOUND_MODES,
    SeedNoise,
    as_stored,
    seed_noise_from_table,
)
from blackbox_repository.surrogate_training.target_transforms import TargetTransform
from blackbox_repository.surrogate_training.trained_surrogate import ObjectiveModel
from blackbox_repository.surrogate_training.training_data import SurrogateTrainingData

EXPORT_FLIP_SHARE = 0.01
"""Share of the check configurations (at least one) for which a tree model's ONNX export may
answer from another leaf: ONNX compares float32 features with float32-rounded split
thresholds, so a configuration whose feature lies between a threshold and its float32 rounding
goes down the other branch at every fidelity (seen on a LightGBM refit of a cross-fit fold of
taskset-imdb-lstm128-avg-bs64: 1 of 134 configurations, 1 % of its elapsed time). More than
that is a broken conversion; nearest neighbours allow none (their ties are excluded)."""
DONOR_MATCHING = ("recorded", "predicted")
"""What a one-seed noise donor is matched by: its recorded values or its out-of-sample
predicted ones (:func:`validation_residual_noise`)."""
DEFAULT_NOISE_DONORS = "predicted"
DEFAULT_NOISE_BOUNDS = "reflect"
"""The one-seed noise model ``fit`` publishes by default: donors matched by predicted level,
answers reflected at the value bounds (candidate V3, adopted by the seventh session's
pre-registered tail criterion, docs/surrogate-training.md "Seventh session: the best end of
the answers"; surrogates published before it recorded neither and used "recorded" and
"clip")."""


@dataclass(frozen=True)
class OneSeedNoise:
    """Whether and how a table with one seed gets noise in its published surrogate
    (:func:`validation_residual_noise`).

    ``enabled``: the out-of-sample residual curves of the validation configurations as the
    table's seed noise (``False``: its answers are the trend only); ``donors``: what a donor
    is matched by (:data:`DONOR_MATCHING`); ``bounds``: how a noisy answer outside the value
    bounds is brought back (:data:`~.seed_noise.BOUND_MODES`). Tables with several seeds are
    not affected. The default record is the noise model of surrogates published before the
    seventh session (off, recorded donors, clip); :data:`FIT_ONE_SEED_NOISE` is ``fit``'s.
    """

    enabled: bool = False
    donors: str = "recorded"
    bounds: str = "clip"

    def __post_init__(self) -> None:
        if self.donors not in DONOR_MATCHING:
            raise ValueError(f"noise donors must be one of {DONOR_MATCHING}, got {self.donors!r}")
        if self.bounds not in BOUND_MODES:
            raise ValueError(f"noise bounds must be one of {BOUND_MODES}, got {self.bounds!r}")

    @classmethod
    def recorded_in(cls, source: Mapping[str, Any]) -> OneSeedNoise:
        """The choice a published surrogate's ``source`` metadata records (keys of
        :meth:`as_source`; absent keys: the record's defaults)."""
        return cls(
            enabled=bool(source.get("single_seed_noise", False)),
            donors=str(source.get("single_seed_noise_donors", "recorded")),
            bounds=str(source.get("single_seed_noise_bounds", "clip")),
        )

    def as_source(self) -> dict[str, Any]:
        """The choice as a surrogate's ``source`` metadata records it."""
        return {
            "single_seed_noise": self.enabled,
            "single_seed_noise_donors": self.donors,
            "single_seed_noise_bounds": self.bounds,
        }

    def overridden(
        self, enabled: bool | None = None, donors: str | None = None, bounds: str | None = None
    ) -> OneSeedNoise:
        """This choice with the settings that are not ``None`` replaced."""
        changes = {"enabled": enabled, "donors": donors, "bounds": bounds}
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


FIT_ONE_SEED_NOISE = OneSeedNoise(True, DEFAULT_NOISE_DONORS, DEFAULT_NOISE_BOUNDS)
"""The one-seed noise ``simtune surrogate fit`` publishes by default."""
REFIT_SPLITS = ("train", "validation")
"""The configurations a chosen model is refitted on before it is published."""
CALIBRATION_CONFIGURATIONS = 2048
"""Random configurations of the search space whose model outputs calibrate a published
quantile model (:meth:`TargetTransform.with_calibration`)."""


def target_transform_for(
    data: SurrogateTrainingData, objective: str, splits: Sequence[str] = ("train",)
) -> TargetTransform:
    """The space ``objective``'s model learns in (``log1p`` for the elapsed time, empirical
    quantile otherwise; fitted on the rows of ``splits``)."""
    return data.target_transform(objective, splits=splits)


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
    transform = target_transform_for(data, objective, splits)
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
    *,
    splits: Sequence[str] = ("train",),
    calibrate: bool = False,
    seed_noise: bool = False,
    curve_ends: bool = False,
    one_seed_noise: OneSeedNoise = OneSeedNoise(),
    seed: int = 0,
    calibration_sample: tuple[np.ndarray, np.ndarray] | None = None,
) -> ObjectiveModel:
    """The fitted ``model`` as an :class:`ObjectiveModel` holding its ONNX bytes.

    The ONNX model is checked against the fitted model on the validation rows (float32
    rounding only), so a conversion that changes predictions never gets published. For
    nearest neighbours, rows whose k-th and (k+1)-th neighbours are equally far are left
    out of the check: scikit-learn and onnxruntime break such ties differently.

    ``splits``: the rows the model was fitted on; its target transform and bounds come from
    them. ``calibrate``: calibrate a quantile model on :data:`CALIBRATION_CONFIGURATIONS`
    random configurations (drawn with ``seed``). ``seed_noise``: attach the recorded seed
    residuals of ``splits`` (objectives other than the elapsed time, tables with several
    seeds); the bounds are then those of single seeds. ``curve_ends``: attach where the
    recorded curves of ``splits`` end, when some end before the top fidelity.
    ``one_seed_noise``: with ``seed_noise``, whether and how a table with one seed gets the
    out-of-sample residuals of its validation configurations (:class:`OneSeedNoise`; ``fit``
    publishes :data:`FIT_ONE_SEED_NOISE`, see docs/surrogate-training.md "One-seed noise as
    the default?" and "Seventh session").
    ``calibration_sample``: :func:`sample_features` of ``data`` with
    :data:`CALIBRATION_CONFIGURATIONS` and ``seed``, when the caller has it already (the
    cross-fit reuses one sample for every fold).
    """
    onnx_bytes = model_to_onnx(model, data.n_features)
    features, _, check_configs, _ = data.rows(objective, "validation")
    features = features.astype(np.float32)
    expected = predict_rows(model, features)
    actual = OnnxRegressor(onnx_bytes).predict(features)
    checked = _rows_without_neighbour_ties(model, features)
    expected, actual = expected[checked], actual[checked]
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-12)
    differing = ~np.isclose(actual, expected, rtol=1e-3, atol=1e-4 * scale)
    flipped = len(np.unique(check_configs[checked][differing]))
    n_configs = len(np.unique(check_configs))
    allowed = 0 if hasattr(model, "kneighbors") else max(1, int(EXPORT_FLIP_SHARE * n_configs))
    if flipped > allowed:
        worst = float(np.max(np.abs(actual - expected)))
        raise SurrogateTrainingError(
            f"the ONNX export of the {family_name} model of {objective!r} predicts differently "
            f"from the fitted model for {flipped} of {n_configs} configurations (largest "
            f"difference {worst:.3g}); not published"
        )
    transform = target_transform_for(data, objective, splits)
    if calibrate and transform.name == "quantile":
        features, positions = calibration_sample or sample_features(
            data, CALIBRATION_CONFIGURATIONS, seed
        )
        transform = transform.with_calibration(
            OnnxRegressor(onnx_bytes).predict(features), positions
        )
    noise = ends = None
    if objective != data.blackbox.elapsed_time_objective:
        if seed_noise:
            noise = recorded_seed_noise(data, objective, transform, splits)
            if noise is None and one_seed_noise.enabled and len(data.blackbox.seeds) == 1:
                noise = validation_residual_noise(
                    data,
                    objective,
                    transform,
                    family_name,
                    hyperparameters,
                    fidelity,
                    seed,
                    donors=one_seed_noise.donors,
                    bounds=one_seed_noise.bounds,
                )
        if curve_ends:
            configs = np.concatenate([data.split.indices(split) for split in splits])
            ends = curve_ends_from_table(
                data.recorded_values(objective, splits), data.config_features[configs]
            )
    return ObjectiveModel(
        objective=objective,
        family=family_name,
        hyperparameters=dict(hyperparameters),
        fidelity=fidelity,
        target_transform=transform.name,
        model=onnx_bytes,
        transform_parameters=transform.parameters(),
        value_bounds=data.value_bounds(objective, splits, per_seed=noise is not None),
        seed_noise=noise,
        curve_ends=ends,
    )


def refit_for_publication(
    data: SurrogateTrainingData,
    objective: str,
    family_name: str,
    hyperparameters: Mapping[str, Any],
    fidelity: float,
    *,
    seed: int,
    seed_noise: bool,
    one_seed_noise: OneSeedNoise,
    calibration_sample: tuple[np.ndarray, np.ndarray] | None = None,
) -> ObjectiveModel:
    """A chosen model refitted on :data:`REFIT_SPLITS` and exported as a published
    surrogate holds it: calibrated, with its seed noise and curve ends (what ``simtune
    surrogate fit`` publishes, and what each fold of the cross-fit publishes in turn).
    The options are :func:`export_model`'s."""
    model = fit_model(
        data, objective, family_name, hyperparameters, fidelity, splits=REFIT_SPLITS, seed=seed
    )
    return export_model(
        model,
        data,
        objective,
        family_name,
        hyperparameters,
        fidelity,
        splits=REFIT_SPLITS,
        calibrate=True,
        seed_noise=seed_noise,
        curve_ends=True,
        one_seed_noise=one_seed_noise,
        seed=seed,
        calibration_sample=calibration_sample,
    )


def sample_features(
    data: SurrogateTrainingData, n_configurations: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (float32) of ``n_configurations`` configurations drawn from the search
    space with ``seed`` (a copy of the space is seeded), at every fidelity of the grid; and
    the fidelity position of each row."""
    space = data.blackbox.configuration_space
    sampler = type(space).from_serialized_dict(space.to_serialized_dict())
    sampler.seed(seed)
    configs = [dict(config) for config in sampler.sample_configuration(n_configurations)]
    encoded = data.encoder.encode_configs(configs)
    n_fidelities = len(data.fidelity_features)
    features = np.column_stack(
        [np.repeat(encoded, n_fidelities, axis=0), np.tile(data.fidelity_features, len(configs))]
    )
    return features.astype(np.float32), np.tile(np.arange(n_fidelities), len(configs))


def recorded_seed_noise(
    data: SurrogateTrainingData,
    objective: str,
    transform: TargetTransform,
    splits: Sequence[str],
) -> SeedNoise | None:
    """The recorded seed residuals of ``objective`` on ``splits`` with the quantile curves
    of their seed means (``None`` for a table with one seed or a non-quantile target)."""
    if transform.name != "quantile":
        return None
    values = data.recorded_values(objective, splits)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every seed missing: NaN
        means = np.nanmean(values, axis=2)
    positions = np.broadcast_to(np.arange(means.shape[1])[None, :], means.shape)
    quantile_curves = np.where(
        np.isfinite(means), transform.forward(np.nan_to_num(means), positions), np.nan
    )
    return seed_noise_from_table(values, quantile_curves)


def validation_residual_noise(
    data: SurrogateTrainingData,
    objective: str,
    transform: TargetTransform,
    family_name: str,
    hyperparameters: Mapping[str, Any],
    fidelity: float,
    seed: int,
    *,
    donors: str = "recorded",
    bounds: str = "clip",
) -> SeedNoise | None:
    """Observation noise of a table with one seed, as the seed noise of its surrogate.

    A single recorded run per configuration is one noisy draw around the configuration's
    trend, and a model learns the trend only: on TaskSet the surrogate's epoch-1 answers
    predicted the final loss far better than the table's epoch-1 values do, so methods
    promoting from early rungs (ASHA) did better on the surrogate than on the table. The
    residual curves here are **out of sample**: a model of the same family and
    hyperparameters fitted on the training configurations only (calibrated the same way)
    predicts the validation configurations, and each residual curve is recorded value minus
    that prediction (missing values count as 0). Donors are the validation configurations,
    matched by their recorded quantile curves as for seed noise (``None`` for a
    non-quantile target).

    ``donors="predicted"`` matches the donors by the quantile curves of their out-of-sample
    *predicted* values instead: matched by recorded values (trend + own residual), the
    donors of a configuration predicted near the best end are mostly lucky ones, and the
    answers overshoot the table's best end. ``bounds``: how the surrogate brings a noisy
    answer back inside the value bounds (:data:`~.seed_noise.BOUND_MODES`)."""
    if donors not in DONOR_MATCHING:
        raise ValueError(f"noise donors must be one of {DONOR_MATCHING}, got {donors!r}")
    if bounds not in BOUND_MODES:
        raise ValueError(f"noise bounds must be one of {BOUND_MODES}, got {bounds!r}")
    if transform.name != "quantile":
        return None
    model = fit_model(data, objective, family_name, hyperparameters, fidelity, seed=seed)
    train_transform = target_transform_for(data, objective)
    sample, sample_positions = sample_features(data, CALIBRATION_CONFIGURATIONS, seed)
    train_transform = train_transform.with_calibration(
        predict_rows(model, sample), sample_positions
    )
    features, targets, config_of_row, positions = data.rows(objective, "validation")
    predicted = train_transform.inverse(predict_rows(model, features), positions)
    configs = data.split.validation
    donor_of_row = np.searchsorted(configs, config_of_row)
    n_fidelities = len(data.fidelity_features)
    residuals = np.zeros((len(configs), 1, n_fidelities))
    level = np.full((len(configs), n_fidelities), np.nan)  # what donors are matched by
    residuals[donor_of_row, 0, positions] = targets - predicted
    level[donor_of_row, positions] = targets if donors == "recorded" else predicted
    grid = np.broadcast_to(np.arange(n_fidelities)[None, :], level.shape)
    quantile_curves = np.where(
        np.isfinite(level), transform.forward(np.nan_to_num(level), grid), np.nan
    )
    return SeedNoise(
        quantile_curves=as_stored(quantile_curves), residuals=as_stored(residuals), bounds=bounds
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
