"""Surrogate blackboxes: a scikit-learn model fitted on a tabular blackbox answers for any
configuration of its search space.

The model maps a configuration to its whole recorded tensor (every fidelity of the grid x
every seed x every objective): fidelities stay on the table's grid, seeds are the table's
seeds, and one prediction gives a trial's full curve. Models:

* ``"knn"`` (default): the mean of the ``n_neighbors`` nearest recorded configurations
  (NaN-aware; ``n_neighbors=1`` returns the recorded values of a configuration on the grid
  exactly, NaN included);
* ``"random_forest"``: a multi-output ``RandomForestRegressor`` on standardised targets;
* any scikit-learn regressor instance (multi-output ``fit``/``predict``).

Configurations are encoded as numbers: a numeric hyperparameter on its scale (log where it
is log-scaled) normalised to [0, 1], an ordinal by its position in [0, 1], a categorical
one-hot with entries 1/sqrt(2) (so changing the category weighs as much as crossing a
numeric range), a constant not at all; an inactive hyperparameter is -1 (numeric) or all
zeros (one-hot). Elapsed time is kept non-negative and non-decreasing along the fidelity
grid: every prediction goes through :func:`enforce_elapsed_time` (clip at 0, running max).

Example:
    >>> surrogate = make_surrogate(load_blackbox("lcdb-openml3"), "knn", n_neighbors=3)  # doctest: +SKIP
    >>> surrogate.lookup({"learner": "SVC_rbf"}, fidelity=128)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from blackbox_repository.blackbox import Blackbox
from blackbox_repository.config_checks import (
    ConfigEncoder,
    SearchSpaceChecker,
    enforce_elapsed_time,
)
from blackbox_repository.errors import SeedNotFoundError
from blackbox_repository.tabular import TabularBlackbox

MODELS = ("knn", "random_forest")
KNN_WEIGHTS = ("uniform", "distance")

__all__ = ["SurrogateBlackbox", "make_surrogate", "enforce_elapsed_time", "MODELS"]


class NearestNeighbourCurves:
    """k nearest recorded configurations; their tensors are averaged, ignoring NaN entries.

    The table is referenced, not copied: only the neighbour index is built.
    """

    def __init__(self, n_neighbors: int = 1, weights: str = "uniform") -> None:
        if (
            isinstance(n_neighbors, bool)
            or not isinstance(n_neighbors, (int, np.integer))
            or n_neighbors < 1
        ):
            raise ValueError(f"n_neighbors must be an integer >= 1, got {n_neighbors!r}")
        if weights not in KNN_WEIGHTS:
            raise ValueError(f"weights must be one of {KNN_WEIGHTS}, got {weights!r}")
        self.n_neighbors = int(n_neighbors)
        self.weights = weights

    def __repr__(self) -> str:
        return f"knn(n_neighbors={self.n_neighbors}, weights={self.weights!r})"

    def fit(self, features: np.ndarray, values: np.ndarray) -> None:
        from sklearn.neighbors import KDTree

        if self.n_neighbors > len(features):
            raise ValueError(
                f"n_neighbors={self.n_neighbors} exceeds the {len(features)} recorded configurations"
            )
        # a KD-tree computes each query's distances on its own: answers do not depend on
        # batching, and querying it directly avoids ~2 ms of estimator checks per call
        self.tree = KDTree(features)
        self.values = values

    def predict(self, features: np.ndarray) -> np.ndarray:
        distances, neighbours = self.tree.query(features, k=self.n_neighbors)
        if self.n_neighbors == 1:
            return self.values[neighbours[:, 0]].astype(np.float64)
        # (n, k, fidelities, seeds, objectives)
        recorded = self.values[neighbours].astype(np.float64)
        if self.weights == "uniform":
            weights = np.ones_like(distances)
        else:
            exact = distances == 0.0
            with np.errstate(divide="ignore"):
                weights = np.where(exact.any(axis=1, keepdims=True), exact * 1.0, 1.0 / distances)
        weights = weights.reshape(weights.shape + (1,) * (recorded.ndim - 2))
        known = ~np.isnan(recorded)
        total = np.sum(np.where(known, recorded * weights, 0.0), axis=1)
        weight = np.sum(np.where(known, weights, 0.0), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(weight > 0, total / weight, math.nan)


class RegressorCurves:
    """A scikit-learn regressor fitted on the flattened tensors, one standardised output each.

    Outputs never observed stay NaN; missing entries of the others are imputed by their mean
    over configurations before fitting (a regressor cannot fit NaN targets).
    """

    def __init__(self, estimator: Any) -> None:
        if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
            raise TypeError(
                f"model must be 'knn', 'random_forest' or a regressor with fit/predict, got {estimator!r}"
            )
        self.estimator = estimator

    def __repr__(self) -> str:
        return repr(self.estimator)

    def fit(self, features: np.ndarray, values: np.ndarray) -> None:
        flat = values.reshape(len(values), -1).astype(np.float64)
        self.output_shape = values.shape[1:]
        self.observed = ~np.all(np.isnan(flat), axis=0)
        if not self.observed.any():
            raise ValueError("every recorded value is NaN: there is nothing to fit")
        targets = flat[:, self.observed]
        self.mean = np.nanmean(targets, axis=0)
        scale = np.nanstd(targets, axis=0)
        self.scale = np.where(scale > 0, scale, 1.0)
        standardised = np.nan_to_num((targets - self.mean) / self.scale, nan=0.0)
        self.estimator.fit(
            features, standardised if standardised.shape[1] > 1 else standardised[:, 0]
        )

    def _predict_standardised(self, features: np.ndarray) -> np.ndarray:
        trees = getattr(self.estimator, "estimators_", None)
        if not _is_tree_ensemble(self.estimator) or trees is None:
            return np.asarray(self.estimator.predict(features), dtype=np.float64)
        # a forest's own predict spends ~0.2 ms per tree on checks and joblib; the mean of
        # its trees' predictions, summed in tree order, is the same model without that cost
        inputs = np.ascontiguousarray(features, dtype=np.float32)
        total = np.zeros((len(features), self.estimator.n_outputs_))
        for tree in trees:
            total += tree.predict(inputs, check_input=False).reshape(len(features), -1)
        return total / len(trees)

    def predict(self, features: np.ndarray) -> np.ndarray:
        predicted = self._predict_standardised(features).reshape(len(features), -1)
        flat = np.full((len(features), self.observed.size), math.nan)
        flat[:, self.observed] = predicted * self.scale + self.mean
        return flat.reshape((len(features), *self.output_shape))


def _is_tree_ensemble(estimator: Any) -> bool:
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    return isinstance(estimator, (RandomForestRegressor, ExtraTreesRegressor))


def build_model(
    model: Any, random_state: int = 0, **kwargs: Any
) -> NearestNeighbourCurves | RegressorCurves:
    """The curve model named ``model`` (``"knn"``, ``"random_forest"``) or wrapping a regressor."""
    if isinstance(model, str):
        if model == "knn":
            unknown = sorted(set(kwargs) - {"n_neighbors", "weights"})
            if unknown:
                raise ValueError(f"model 'knn' takes n_neighbors and weights, not {unknown}")
            return NearestNeighbourCurves(**kwargs)
        if model == "random_forest":
            from sklearn.ensemble import RandomForestRegressor

            settings = {"n_estimators": 32, "n_jobs": 1, **kwargs, "random_state": random_state}
            try:
                return RegressorCurves(RandomForestRegressor(**settings))
            except TypeError as error:
                raise ValueError(f"model 'random_forest': {error}") from None
        raise ValueError(
            f"unknown surrogate model {model!r}; use one of {MODELS} or a scikit-learn regressor"
        )
    if kwargs:
        raise ValueError(
            f"keyword arguments {sorted(kwargs)} apply to named models only; set them on the "
            "regressor before passing it"
        )
    if hasattr(model, "get_params"):
        from sklearn.base import clone

        model = clone(model)
        if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
            model.set_params(random_state=random_state)
    return RegressorCurves(model)


# --------------------------------------------------------------------- the blackbox
class SurrogateCurve:
    """One (configuration, seed) curve; the model is evaluated when a row is first read."""

    __slots__ = ("_compute", "_seed_index", "_rows")

    def __init__(self, compute: Callable[[], np.ndarray], seed_index: int) -> None:
        self._compute = compute
        self._seed_index = seed_index
        self._rows: np.ndarray | None = None

    def __getitem__(self, fidelity_index: int) -> np.ndarray:
        if self._rows is None:
            self._rows = self._compute()[:, self._seed_index]
        return self._rows[fidelity_index]

    def __len__(self) -> int:
        if self._rows is None:
            self._rows = self._compute()[:, self._seed_index]
        return len(self._rows)


class SurrogateBlackbox(Blackbox):
    """A tabular blackbox's metadata answered by a model for any configuration of its space.

    Args:
        blackbox: the tabular blackbox to fit on (kept as ``.tabular``; its table is not copied
            by the kNN model).
        model: ``"knn"``, ``"random_forest"`` or a scikit-learn regressor instance.
        random_state: seed of a random model (the fit is deterministic for a given value).
        cache_size: predicted curves kept for repeated ``lookup`` calls.
        name: defaults to the tabular blackbox's name.
        **model_kwargs: ``n_neighbors``, ``weights`` (knn) or RandomForestRegressor arguments.
    """

    kind = "surrogate"

    def __init__(
        self,
        blackbox: TabularBlackbox,
        model: Any = "knn",
        *,
        random_state: int = 0,
        cache_size: int = 1024,
        name: str | None = None,
        **model_kwargs: Any,
    ) -> None:
        if not isinstance(blackbox, TabularBlackbox):
            raise TypeError(
                f"a surrogate is fitted on a TabularBlackbox, got {type(blackbox).__name__} "
                f"{getattr(blackbox, 'name', '')!r}"
            )
        super().__init__(
            name=name or blackbox.name,
            configuration_space=blackbox.configuration_space,
            fidelity_name=blackbox.fidelity_name,
            fidelity_values=blackbox.fidelity_values,
            seeds=blackbox.seeds,
            objectives=blackbox.objectives,
            elapsed_time_objective=blackbox.elapsed_time_objective,
            description=blackbox.description,
        )
        self.tabular = blackbox
        self.model = build_model(model, random_state=random_state, **model_kwargs)
        self.checker = SearchSpaceChecker(
            self.configuration_space,
            self.name,
            {self.fidelity_name: "it is the fidelity: pass it as lookup(config, fidelity=...)"},
        )
        self.encoder = ConfigEncoder(self.configuration_space)
        configurations = blackbox.configurations
        features = self.encoder.encode(
            {name: configurations[name].to_numpy() for name in configurations.columns},
            len(configurations),
        )
        self.model.fit(features, blackbox.values)
        self.cache_size = cache_size
        self._predicted: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def _predict(self, checked_configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Tensors (configs, fidelities, seeds, objectives) with the elapsed time enforced."""
        predicted = self.model.predict(self.encoder.encode_configs(checked_configs))
        e = self.elapsed_time_index
        predicted[..., e] = enforce_elapsed_time(predicted[..., e], axis=1)
        return predicted

    def _tensor(self, checked: Mapping[str, Any]) -> np.ndarray:
        key = self.checker.key(checked)
        tensor = self._predicted.get(key)
        if tensor is None:
            tensor = self._predict([checked])[0]
            self._predicted[key] = tensor
            if len(self._predicted) > self.cache_size:
                self._predicted.popitem(last=False)
        else:
            self._predicted.move_to_end(key)
        return tensor

    def _check_seed_index(self, seed_index: int) -> int:
        if (
            isinstance(seed_index, bool)
            or not isinstance(seed_index, (int, np.integer))
            or not (0 <= seed_index < len(self.seeds))
        ):
            raise SeedNotFoundError(
                f"seed_index {seed_index!r} is out of range for blackbox {self.name!r}, which has "
                f"{len(self.seeds)} seeds {self.seeds.tolist()}"
            )
        return int(seed_index)

    def lookup(
        self, config: Mapping[str, Any], fidelity: float, seed: int | None = None
    ) -> dict[str, float]:
        position, seed_position = self.fidelity_index(fidelity), self.seed_index(seed)
        row = self._tensor(self.checker.check(config))[position, seed_position]
        return dict(zip(self.objective_names, row.tolist()))

    def curve(self, config: Mapping[str, Any], seed_index: int = 0) -> SurrogateCurve:
        """The curve of ``config`` (checked now, predicted when its first row is read)."""
        checked = self.checker.check(config)
        return SurrogateCurve(lambda: self._tensor(checked), self._check_seed_index(seed_index))

    def lookup_batch(
        self,
        configs: Sequence[Mapping[str, Any]],
        fidelities: float | Sequence[float] | np.ndarray,
        seeds: int | None | Sequence[int | None] | np.ndarray = None,
    ) -> np.ndarray:
        """Objectives of many (config, fidelity, seed) triples: an (n, n_objectives) array.

        ``fidelities`` and ``seeds`` are one value for all or one per config. The distinct
        configurations are predicted in one model call.
        """
        n = len(configs)
        fidelity_positions = [self.fidelity_index(f) for f in _per_row(fidelities, n, "fidelities")]
        seed_positions = [self.seed_index(s) for s in _per_row(seeds, n, "seeds")]
        distinct, config_rows = self.checker.check_distinct(configs)
        if n == 0:
            return np.empty((0, len(self.objectives)))
        tensors = self._predict(distinct)
        return tensors[config_rows, np.asarray(fidelity_positions), np.asarray(seed_positions)]

    def _describe_extra(self) -> list[str]:
        return [
            f"  surrogate model: {self.model!r}, fitted on {self.tabular.n_configurations} "
            f"recorded configurations of {self.tabular.name!r}"
        ]


def _per_row(values: Any, n: int, what: str) -> list[Any]:
    if values is None or np.ndim(values) == 0:
        return [values] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(f"{what} must be one value or one per config ({n}), got {len(values)}")
    return values


def make_surrogate(
    blackbox: TabularBlackbox, model: Any = "knn", **kwargs: Any
) -> SurrogateBlackbox:
    """A :class:`SurrogateBlackbox` fitted on ``blackbox``.

    Args:
        blackbox: a tabular blackbox.
        model: ``"knn"`` (``n_neighbors=1``, ``weights="uniform"`` or ``"distance"``),
            ``"random_forest"`` (RandomForestRegressor arguments; ``n_estimators=32``,
            ``n_jobs=1`` by default) or a scikit-learn regressor instance.
        **kwargs: model arguments, plus ``random_state``, ``cache_size`` and ``name``.

    Example:
        >>> surrogate = make_surrogate(tabular, "random_forest", n_estimators=16)  # doctest: +SKIP
    """
    return SurrogateBlackbox(blackbox, model, **kwargs)
