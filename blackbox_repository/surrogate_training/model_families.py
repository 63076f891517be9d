"""Model families a surrogate objective can be learned with, each with its search space
and its fidelity for tuning.

| family | model | tuning fidelity |
|---|---|---|
| ``lightgbm`` | LightGBM's ``LGBMRegressor`` (CPU wheel) | boosting rounds |
| ``hist_gradient_boosting`` | scikit-learn's ``HistGradientBoostingRegressor`` | boosting rounds |
| ``random_forest`` | scikit-learn's ``RandomForestRegressor`` | training-set fraction |
| ``extra_trees`` | scikit-learn's ``ExtraTreesRegressor`` | training-set fraction |
| ``knn`` | scikit-learn's ``KNeighborsRegressor`` | training-set fraction |

Every model runs on one thread (the tuner runs models in parallel on its workers) and is
seeded, so a fit is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ConfigSpace import (
    ConfigurationSpace,
    Float,
    Integer,
)

from blackbox_repository.surrogate_training.errors import SurrogateTrainingError

ROUNDS = (16, 32, 64, 128, 256, 512)
FRACTIONS = (0.125, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class ModelFamily:
    """A model family: how to build a model from hyperparameters and a fidelity value.

    ``fidelity_kind`` is ``"rounds"`` (the fidelity is the model's number of boosting
    rounds) or ``"fraction"`` (the fidelity is the fraction of training configurations).
    """

    name: str
    fidelity_kind: str
    fidelity_values: tuple
    make_space: Callable[[int], ConfigurationSpace]
    build: Callable[[Mapping[str, Any], float, int], Any]
    default: Mapping[str, Any]

    def space(self, seed: int = 0) -> ConfigurationSpace:
        return self.make_space(seed)

    def model(self, hyperparameters: Mapping[str, Any], fidelity: float, seed: int) -> Any:
        """An unfitted model; ``fidelity`` is rounds or ignored (fraction families)."""
        return self.build(dict(hyperparameters), fidelity, seed)


def _lightgbm_space(seed: int) -> ConfigurationSpace:
    return ConfigurationSpace(
        seed=seed,
        space={
            "learning_rate": Float("learning_rate", (0.01, 0.3), log=True),
            "num_leaves": Integer("num_leaves", (8, 128), log=True),
            "min_child_samples": Integer("min_child_samples", (2, 64), log=True),
            "subsample": Float("subsample", (0.5, 1.0)),
            "colsample_bytree": Float("colsample_bytree", (0.5, 1.0)),
            "reg_lambda": Float("reg_lambda", (1e-4, 10.0), log=True),
        },
    )


def _lightgbm(hp: dict[str, Any], rounds: float, seed: int) -> Any:
    try:
        from lightgbm import LGBMRegressor
    except ImportError as error:
        raise SurrogateTrainingError(
            "model family 'lightgbm' needs LightGBM: pip install 'simtune[surrogate-training]'"
        ) from error
    return LGBMRegressor(
        n_estimators=int(rounds),
        subsample_freq=1,
        n_jobs=1,
        random_state=seed,
        verbose=-1,
        deterministic=True,
        force_row_wise=True,
        **hp,
    )


def _hgb_space(seed: int) -> ConfigurationSpace:
    return ConfigurationSpace(
        seed=seed,
        space={
            "learning_rate": Float("learning_rate", (0.01, 0.3), log=True),
            "max_leaf_nodes": Integer("max_leaf_nodes", (8, 128), log=True),
            "min_samples_leaf": Integer("min_samples_leaf", (2, 64), log=True),
            "l2_regularization": Float("l2_regularization", (1e-4, 10.0), log=True),
        },
    )


def _hgb(hp: dict[str, Any], rounds: float, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        max_iter=int(rounds), early_stopping=False, random_state=seed, **hp
    )


def _forest_space(seed: int) -> ConfigurationSpace:
    return ConfigurationSpace(
        seed=seed,
        space={
            "n_estimators": Integer("n_estimators", (8, 64), log=True),
            "max_features": Float("max_features", (0.2, 1.0)),
            "max_leaf_nodes": Integer("max_leaf_nodes", (32, 1024), log=True),
        },
    )


def _forest(hp: dict[str, Any], fraction: float, seed: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_jobs=1, random_state=seed, **hp)


def _extra_trees_space(seed: int) -> ConfigurationSpace:
    return ConfigurationSpace(
        seed=seed,
        space={
            "n_estimators": Integer("n_estimators", (8, 64), log=True),
            "max_features": Float("max_features", (0.5, 1.0)),
            "min_samples_leaf": Integer("min_samples_leaf", (1, 16), log=True),
            "max_leaf_nodes": Integer("max_leaf_nodes", (256, 4096), log=True),
        },
    )


def _extra_trees(hp: dict[str, Any], fraction: float, seed: int) -> Any:
    from sklearn.ensemble import ExtraTreesRegressor

    # randomized split points average into a smoother function of the configuration than a
    # forest's best splits: on one-seed TaskSet tables it ranks held-out configurations better
    return ExtraTreesRegressor(n_jobs=1, random_state=seed, **hp)


def _knn_space(seed: int) -> ConfigurationSpace:
    return ConfigurationSpace(
        seed=seed,
        space={
            "n_neighbors": Integer("n_neighbors", (1, 32), log=True),
        },
    )


def _knn(hp: dict[str, Any], fraction: float, seed: int) -> Any:
    from sklearn.neighbors import KNeighborsRegressor

    # uniform weights only: skl2onnx 1.20's distance-weighted regressor predicts differently
    # from scikit-learn's (measured: 228 of 1350 validation rows of sklearn-mlp-digits off)
    return KNeighborsRegressor(weights="uniform", **hp)


FAMILIES: dict[str, ModelFamily] = {
    family.name: family
    for family in (
        ModelFamily(
            "lightgbm",
            "rounds",
            ROUNDS,
            _lightgbm_space,
            _lightgbm,
            {
                "learning_rate": 0.05,
                "num_leaves": 31,
                "min_child_samples": 8,
                "subsample": 0.9,
                "colsample_bytree": 0.9,
                "reg_lambda": 0.01,
            },
        ),
        ModelFamily(
            "hist_gradient_boosting",
            "rounds",
            ROUNDS,
            _hgb_space,
            _hgb,
            {
                "learning_rate": 0.05,
                "max_leaf_nodes": 31,
                "min_samples_leaf": 8,
                "l2_regularization": 0.01,
            },
        ),
        ModelFamily(
            "random_forest",
            "fraction",
            FRACTIONS,
            _forest_space,
            _forest,
            {"n_estimators": 32, "max_features": 0.6, "max_leaf_nodes": 512},
        ),
        ModelFamily(
            "extra_trees",
            "fraction",
            FRACTIONS,
            _extra_trees_space,
            _extra_trees,
            {
                "n_estimators": 32,
                "max_features": 1.0,
                "min_samples_leaf": 4,
                "max_leaf_nodes": 2048,
            },
        ),
        ModelFamily("knn", "fraction", FRACTIONS, _knn_space, _knn, {"n_neighbors": 5}),
    )
}


def model_family(name: str) -> ModelFamily:
    """The family called ``name``; a clear error lists the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise SurrogateTrainingError(
            f"unknown model family {name!r}; known families: {sorted(FAMILIES)}"
        ) from None
