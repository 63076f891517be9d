"""Trained surrogate blackboxes (kind ``"trained-onnx"``): one ONNX model per objective.

Each objective's model maps (encoded configuration, fidelity feature) to the objective in
its target space (``target_transform``, see
:mod:`~blackbox_repository.surrogate_training.target_transforms`: ``log1p`` for the
elapsed time, empirical quantile for the other objectives, or identity); predictions are
mapped back and clipped, per fidelity, to the training range (``value_bounds``). A curve is
predicted for the whole fidelity grid at once; the elapsed time is then made positive and
non-decreasing along the grid (running maximum, floor at :data:`MIN_ELAPSED_TIME`).
Recorded seeds were treated as noise in training: the models predict seed means. A model
with a ``seed_noise`` (:mod:`~blackbox_repository.surrogate_training.seed_noise`) gives the
surrogate the table's seeds back: seed ``s`` answers the mean plus the recorded residual
curve of seed ``s`` of a similar configuration, clipped to the per-seed training range.
Without one the surrogate has one seed, ``0``. A model with ``curve_ends``
(:mod:`~blackbox_repository.surrogate_training.curve_ends`) answers NaN beyond the fidelity
where the recorded curves of similar configurations end (diverged TaskSet runs).

On disk: ``model-<k>.onnx`` for the k-th objective plus ``metadata.json`` whose
``trained_surrogate`` field names each model file, its family, hyperparameters and target
transform; every file's sha256 is in ``files``, as for every kind. No pickle anywhere.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from blackbox_repository.blackbox import Blackbox
from blackbox_repository.config_checks import ConfigEncoder, SearchSpaceChecker
from blackbox_repository.errors import CorruptBlackboxError, SeedNotFoundError
from blackbox_repository.surrogate_training.curve_ends import CurveEnds
from blackbox_repository.surrogate_training.onnx_export import OnnxRegressor
from blackbox_repository.surrogate_training.seed_noise import SeedNoise
from blackbox_repository.surrogate_training.target_transforms import TargetTransform
from blackbox_repository.surrogate_training.training_data import fidelity_feature

KIND = "trained-onnx"
MIN_ELAPSED_TIME = 1e-6


@dataclass(frozen=True)
class ObjectiveModel:
    """The model of one objective and how it was made.

    ``transform_parameters`` holds the knots of a ``quantile`` target transform;
    ``value_bounds`` the (smallest, largest) training value per fidelity of the grid
    (empty: no clipping, as in entries written before clipping existed); ``seed_noise``
    the recorded residuals that give the surrogate seeds (``None``: seed means only);
    ``curve_ends`` where recorded curves of similar configurations end (``None``: every
    curve reaches the top fidelity).
    """

    objective: str
    family: str
    hyperparameters: Mapping[str, Any]
    fidelity: float
    target_transform: str
    model: bytes
    transform_parameters: Mapping[str, Any] = field(default_factory=dict)
    value_bounds: tuple[tuple[float, float], ...] = ()
    seed_noise: SeedNoise | None = None
    curve_ends: CurveEnds | None = None

    @property
    def transform(self) -> TargetTransform:
        return TargetTransform.from_parameters(self.target_transform, self.transform_parameters)

    def to_dict(self, file_name: str) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "family": self.family,
            "hyperparameters": dict(self.hyperparameters),
            "fidelity": self.fidelity,
            "target_transform": self.target_transform,
            "transform_parameters": dict(self.transform_parameters),
            "value_bounds": [list(pair) for pair in self.value_bounds],
            **({"seed_noise": self.seed_noise.to_dict()} if self.seed_noise else {}),
            **({"curve_ends": self.curve_ends.to_dict()} if self.curve_ends else {}),
            "file": file_name,
        }


class TrainedSurrogateBlackbox(Blackbox):
    """A surrogate answering for any configuration from one ONNX model per objective.

    Example:
        >>> surrogate = load_blackbox("sklearn-mlp-digits-surrogate")  # doctest: +SKIP
        >>> surrogate.lookup(surrogate.configuration_space.sample_configuration(), fidelity=30)  # doctest: +SKIP
    """

    kind = KIND

    def __init__(
        self,
        *,
        models: Sequence[ObjectiveModel],
        source: Mapping[str, Any] | None = None,
        seeds: Sequence[int] | np.ndarray = (0,),
        cache_size: int = 1024,
        **blackbox_arguments: Any,
    ) -> None:
        """``blackbox_arguments``: the :class:`Blackbox` constructor's (name, configuration
        space, fidelities, objectives, elapsed-time objective, description)."""
        super().__init__(seeds=seeds, **blackbox_arguments)
        by_objective = {model.objective: model for model in models}
        missing = [name for name in self.objective_names if name not in by_objective]
        if missing:
            raise ValueError(
                f"trained surrogate {self.name!r} has no model for objectives {missing}"
            )
        self.models = tuple(by_objective[name] for name in self.objective_names)
        transforms = []
        for model in self.models:
            try:
                transforms.append(model.transform)
            except ValueError as error:
                raise ValueError(f"objective {model.objective!r}: {error}") from None
            n_fidelities = len(self.fidelity_values)
            if model.value_bounds and len(model.value_bounds) != n_fidelities:
                raise ValueError(
                    f"objective {model.objective!r}: {len(model.value_bounds)} value bounds "
                    f"for {n_fidelities} fidelities"
                )
            if transforms[-1].values and len(transforms[-1].values) != n_fidelities:
                raise ValueError(
                    f"objective {model.objective!r}: quantile knots for "
                    f"{len(transforms[-1].values)} fidelities, the grid has {n_fidelities}"
                )
        self._transforms = tuple(transforms)
        self.source = dict(source or {})
        self._regressors = [OnnxRegressor(model.model) for model in self.models]
        self._checker = SearchSpaceChecker(self.configuration_space, self.name)
        self._encoder = ConfigEncoder(self.configuration_space)
        self._fidelity_features = fidelity_feature(self.fidelity_values, self.fidelity_values)
        self._cache_size = cache_size
        self._curves: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._noisy = tuple(k for k, model in enumerate(self.models) if model.seed_noise)
        self._ending = tuple(k for k, model in enumerate(self.models) if model.curve_ends)
        for k in self._noisy:
            if self.models[k].seed_noise.n_seeds != len(self.seeds):
                raise ValueError(
                    f"objective {self.models[k].objective!r}: seed noise of "
                    f"{self.models[k].seed_noise.n_seeds} seeds, the surrogate has "
                    f"{len(self.seeds)}"
                )

    # ---------------------------------------------------------------- predictions
    def predict_rows(self, features: np.ndarray, fidelity_positions: np.ndarray) -> np.ndarray:
        """Predictions (rows, objectives) for feature rows (configuration + fidelity feature of
        the grid position in ``fidelity_positions``), mapped back from each model's target
        space and clipped to its training range at that fidelity (seed means, no noise)."""
        return self._predict(features, fidelity_positions)[0]

    def _predict(
        self, features: np.ndarray, fidelity_positions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(values, quantiles): ``quantiles[:, k]`` is the calibrated quantile the k-th model
        answered (its target space; NaN for models that do not learn quantiles)."""
        predictions = np.empty((len(features), len(self.models)))
        quantiles = np.full((len(features), len(self.models)), np.nan)
        for k, (model, transform, regressor) in enumerate(
            zip(self.models, self._transforms, self._regressors)
        ):
            raw = regressor.predict(features)
            values = transform.inverse(raw, fidelity_positions)
            if transform.name == "quantile":
                quantiles[:, k] = transform.calibrated(raw, fidelity_positions)
            if model.value_bounds:
                bounds = np.asarray(model.value_bounds, dtype=float)[fidelity_positions]
                values = np.clip(values, bounds[:, 0], bounds[:, 1])
            predictions[:, k] = values
        return predictions, quantiles

    def predict_curves(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Mean curves (configs, fidelities, objectives) of checked configurations."""
        return self._predict_curves(configs)[0]

    def _predict_curves(
        self, configs: Sequence[Mapping[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray]:
        n_fidelities = len(self.fidelity_values)
        encoded = self._encoder.encode_configs(configs)
        features = np.column_stack(
            [
                np.repeat(encoded, n_fidelities, axis=0),
                np.tile(self._fidelity_features, len(configs)),
            ]
        )
        positions = np.tile(np.arange(n_fidelities), len(configs))
        values, quantiles = self._predict(features, positions)
        curves = values.reshape(len(configs), n_fidelities, -1)
        elapsed = curves[:, :, self.elapsed_time_index]
        elapsed = np.maximum.accumulate(np.maximum(elapsed, MIN_ELAPSED_TIME), axis=1)
        curves[:, :, self.elapsed_time_index] = elapsed
        return curves, quantiles.reshape(len(configs), n_fidelities, -1)

    def curve(self, config: Mapping[str, Any], seed_index: int = 0) -> np.ndarray:
        """Every objective at every fidelity of the grid for the seed at ``seed_index``:
        shape (fidelities, objectives)."""
        if not 0 <= seed_index < len(self.seeds):
            raise SeedNotFoundError(
                f"seed position {seed_index} is not recorded in blackbox {self.name!r}; "
                f"its seeds are {self.seeds.tolist()}"
            )
        checked = self._checker.check(config)
        key = self._checker.key(checked)
        cached = self._curves.get((key, seed_index))
        if cached is not None:
            self._curves.move_to_end((key, seed_index))
            return cached
        mean, quantiles = self._predict_curves([checked])
        curve = mean[0]
        if self._noisy:
            curve = curve.copy()
            for k in self._noisy:
                model = self.models[k]
                residual = model.seed_noise.residual_curves(quantiles[0, :, k], key)[seed_index]
                bounds = np.asarray(model.value_bounds, dtype=float)
                noisy = curve[:, k] + residual
                curve[:, k] = (
                    model.seed_noise.bounded(noisy, bounds[:, 0], bounds[:, 1])
                    if len(bounds)
                    else noisy
                )
        if self._ending:
            encoded = self._encoder.encode_configs([checked])[0]
            for k in self._ending:
                curve[self.models[k].curve_ends.last_position(encoded) + 1 :, k] = np.nan
        self._curves[(key, seed_index)] = curve
        if len(self._curves) > self._cache_size:
            self._curves.popitem(last=False)
        return curve

    def lookup(
        self, config: Mapping[str, Any], fidelity: float, seed: int | None = None
    ) -> dict[str, float]:
        row = self.curve(config, self.seed_index(seed))[self.fidelity_index(fidelity)]
        return {name: float(value) for name, value in zip(self.objective_names, row)}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_curves"] = OrderedDict()
        return state

    def _describe_extra(self) -> list[str]:
        lines = ["  trained surrogate (one ONNX model per objective; seeds of the table = noise):"]
        for model in self.models:
            lines.append(
                f"    {model.objective}: {model.family} {dict(model.hyperparameters)} "
                f"({model.target_transform})"
            )
        if self.source:
            lines.append(
                f"  trained on {self.source.get('blackbox')!r}, split seed "
                f"{self.source.get('split', {}).get('seed')}"
            )
        return lines


# --------------------------------------------------------------------- file format
def model_file_name(position: int) -> str:
    return f"model-{position}.onnx"


def write_trained_data(blackbox: TrainedSurrogateBlackbox, directory: Path) -> dict[str, Any]:
    """Write one ONNX file per objective; their description goes into ``metadata.json``."""
    described = []
    for position, model in enumerate(blackbox.models):
        file_name = model_file_name(position)
        with open(directory / file_name, "wb") as stream:
            stream.write(model.model)
            stream.flush()
            os.fsync(stream.fileno())
        described.append(model.to_dict(file_name))
    return {"trained_surrogate": {"models": described, "source": blackbox.source}}


def read_trained_data(
    directory: Path, metadata: dict[str, Any], arguments: dict[str, Any]
) -> TrainedSurrogateBlackbox:
    """Read a ``trained-onnx`` entry (files were verified against their sha256 already)."""
    try:
        described = metadata["trained_surrogate"]
        models = []
        for entry in described["models"]:
            file_name = entry["file"]
            if file_name != model_file_name(len(models)):
                raise CorruptBlackboxError(
                    f"{directory}: model file {file_name!r} is not the expected "
                    f"{model_file_name(len(models))!r}; the entry was edited, fetch it again"
                )
            models.append(
                ObjectiveModel(
                    objective=entry["objective"],
                    family=entry["family"],
                    hyperparameters=entry["hyperparameters"],
                    fidelity=entry["fidelity"],
                    target_transform=entry["target_transform"],
                    model=(directory / file_name).read_bytes(),
                    transform_parameters=entry.get("transform_parameters", {}),
                    value_bounds=tuple(
                        (float(low), float(high)) for low, high in entry.get("value_bounds", ())
                    ),
                    seed_noise=(
                        SeedNoise.from_dict(entry["seed_noise"])
                        if entry.get("seed_noise")
                        else None
                    ),
                    curve_ends=(
                        CurveEnds.from_dict(entry["curve_ends"])
                        if entry.get("curve_ends")
                        else None
                    ),
                )
            )
    except (KeyError, TypeError, ValueError) as error:
        raise CorruptBlackboxError(
            f"{directory}/metadata.json: the trained_surrogate field is incomplete ({error!r}); "
            "fit or fetch the surrogate again"
        ) from error
    return TrainedSurrogateBlackbox(models=models, source=described.get("source"), **arguments)
