"""Trained surrogate blackboxes (kind ``"trained-onnx"``): one ONNX model per objective.

Each objective's model maps (encoded configuration, fidelity feature) to the objective in
its target space (``target_transform``, see
:mod:`~blackbox_repository.surrogate_training.target_transforms`: ``log1p`` for the
elapsed time, empirical quantile for the other objectives, or identity); predictions are
mapped back and clipped, per fidelity, to the training range (``value_bounds``). A curve is
predicted for the whole fidelity grid at once; the elapsed time is then made positive and
non-decreasing along the grid (running maximum, floor at :data:`MIN_ELAPSED_TIME`).
Recorded seeds were treated as noise in training, so the surrogate has one seed, ``0``.

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
from blackbox_repository.errors import CorruptBlackboxError
from blackbox_repository.surrogate_training.onnx_export import OnnxRegressor
from blackbox_repository.surrogate_training.target_transforms import TargetTransform
from blackbox_repository.surrogate_training.training_data import fidelity_feature

KIND = "trained-onnx"
MIN_ELAPSED_TIME = 1e-6


@dataclass(frozen=True)
class ObjectiveModel:
    """The model of one objective and how it was made.

    ``transform_parameters`` holds the knots of a ``quantile`` target transform;
    ``value_bounds`` the (smallest, largest) training value per fidelity of the grid
    (empty: no clipping, as in entries written before clipping existed).
    """

    objective: str
    family: str
    hyperparameters: Mapping[str, Any]
    fidelity: float
    target_transform: str
    model: bytes
    transform_parameters: Mapping[str, Any] = field(default_factory=dict)
    value_bounds: tuple[tuple[float, float], ...] = ()

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

    # ---------------------------------------------------------------- predictions
    def predict_rows(self, features: np.ndarray, fidelity_positions: np.ndarray) -> np.ndarray:
        """Predictions (rows, objectives) for feature rows (configuration + fidelity feature of
        the grid position in ``fidelity_positions``), mapped back from each model's target
        space and clipped to its training range at that fidelity."""
        predictions = np.empty((len(features), len(self.models)))
        for k, (model, transform, regressor) in enumerate(
            zip(self.models, self._transforms, self._regressors)
        ):
            values = transform.inverse(regressor.predict(features), fidelity_positions)
            if model.value_bounds:
                bounds = np.asarray(model.value_bounds, dtype=float)[fidelity_positions]
                values = np.clip(values, bounds[:, 0], bounds[:, 1])
            predictions[:, k] = values
        return predictions

    def predict_curves(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Curves (configs, fidelities, objectives) of checked configurations."""
        n_fidelities = len(self.fidelity_values)
        encoded = self._encoder.encode_configs(configs)
        features = np.column_stack(
            [
                np.repeat(encoded, n_fidelities, axis=0),
                np.tile(self._fidelity_features, len(configs)),
            ]
        )
        positions = np.tile(np.arange(n_fidelities), len(configs))
        curves = self.predict_rows(features, positions).reshape(len(configs), n_fidelities, -1)
        elapsed = curves[:, :, self.elapsed_time_index]
        elapsed = np.maximum.accumulate(np.maximum(elapsed, MIN_ELAPSED_TIME), axis=1)
        curves[:, :, self.elapsed_time_index] = elapsed
        return curves

    def curve(self, config: Mapping[str, Any], seed_index: int = 0) -> np.ndarray:
        """Every objective at every fidelity of the grid: shape (fidelities, objectives)."""
        if seed_index != 0:
            self.seed_index(self.seeds[seed_index] if seed_index < len(self.seeds) else -1)
        checked = self._checker.check(config)
        key = self._checker.key(checked)
        curve = self._curves.get(key)
        if curve is None:
            curve = self.predict_curves([checked])[0]
            self._curves[key] = curve
            if len(self._curves) > self._cache_size:
                self._curves.popitem(last=False)
        else:
            self._curves.move_to_end(key)
        return curve

    def lookup(
        self, config: Mapping[str, Any], fidelity: float, seed: int | None = None
    ) -> dict[str, float]:
        self.seed_index(seed)
        row = self.curve(config)[self.fidelity_index(fidelity)]
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
                )
            )
    except (KeyError, TypeError) as error:
        raise CorruptBlackboxError(
            f"{directory}/metadata.json: the trained_surrogate field is incomplete ({error!r}); "
            "fit or fetch the surrogate again"
        ) from error
    return TrainedSurrogateBlackbox(models=models, source=described.get("source"), **arguments)
