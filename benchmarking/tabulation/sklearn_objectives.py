"""Real objectives to tabulate: scikit-learn MLPs on datasets that ship with scikit-learn.

``mlp_learning_curve`` trains an ``MLPClassifier`` one epoch at a time (``partial_fit``) and
records, after each requested epoch, the validation error and log-loss, the training and
test error, and the cumulative training seconds: ``time.perf_counter`` around
``partial_fit`` only, so evaluating the metrics is not charged as training time.

Data: a stratified train/validation/test split (60/20/20, split seed fixed) of
``load_digits`` or ``load_breast_cancer``, standardized with statistics of the training
part. The objective's ``seed`` sets the network's initialization and shuffling only, so
seeds measure training noise on one split.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    Integer,
)

from blackbox_repository.blackbox import Objective

DATASETS = ("digits", "breast_cancer")
SPLIT_SEED = 0
VALID_FRACTION = 0.2
TEST_FRACTION = 0.2

MLP_METRICS = (
    Objective("valid_error", "min"),
    Objective("valid_logloss", "min"),
    Objective("train_error", "min"),
    Objective("test_error", "min"),
    Objective("elapsed_time", "min", "s"),
)


@dataclass(frozen=True)
class DataSplit:
    """Standardized features and labels of the train, validation and test parts."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: np.ndarray

    @property
    def parts(self) -> dict[str, slice]:
        """Rows of each part in ``X_all``."""
        n_train, n_valid = len(self.y_train), len(self.y_valid)
        return {
            "train": slice(0, n_train),
            "valid": slice(n_train, n_train + n_valid),
            "test": slice(n_train + n_valid, n_train + n_valid + len(self.y_test)),
        }

    @functools.cached_property
    def X_all(self) -> np.ndarray:
        """Train, validation and test rows stacked, to evaluate all three in one call."""
        return np.vstack([self.X_train, self.X_valid, self.X_test])

    @functools.cached_property
    def y_all_index(self) -> np.ndarray:
        """Position in ``classes`` of each label of ``X_all``."""
        return np.searchsorted(
            self.classes, np.concatenate([self.y_train, self.y_valid, self.y_test])
        )


def load_split(dataset: str = "digits", n_samples: int | None = None) -> DataSplit:
    """The fixed stratified 60/20/20 split of a scikit-learn dataset (no download).

    ``n_samples`` first keeps a stratified subset of that many samples (for small tests).
    """
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    loaders = {"digits": load_digits, "breast_cancer": load_breast_cancer}
    if dataset not in loaders:
        raise ValueError(f"dataset={dataset!r}; choose one of {list(loaders)}")
    X, y = loaders[dataset](return_X_y=True)
    if n_samples is not None:
        if not 10 * len(np.unique(y)) <= n_samples <= len(y):
            raise ValueError(
                f"n_samples={n_samples}: choose between {10 * len(np.unique(y))} and {len(y)} "
                f"for {dataset!r}"
            )
        if n_samples < len(y):
            X, _, y, _ = train_test_split(
                X, y, train_size=n_samples, stratify=y, random_state=SPLIT_SEED
            )
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, test_size=VALID_FRACTION + TEST_FRACTION, stratify=y, random_state=SPLIT_SEED
    )
    X_valid, X_test, y_valid, y_test = train_test_split(
        X_rest,
        y_rest,
        test_size=TEST_FRACTION / (VALID_FRACTION + TEST_FRACTION),
        stratify=y_rest,
        random_state=SPLIT_SEED,
    )
    scaler = StandardScaler().fit(X_train)
    return DataSplit(
        X_train=scaler.transform(X_train),
        y_train=y_train,
        X_valid=scaler.transform(X_valid),
        y_valid=y_valid,
        X_test=scaler.transform(X_test),
        y_test=y_test,
        classes=np.unique(y),
    )


def mlp_search_space() -> ConfigurationSpace:
    """The MLP search space: depth, width, step size, L2, batch size, activation, solver.

    ``momentum`` is active only for ``solver="sgd"`` (Nesterov momentum); Adam uses its
    defaults. Learning rate, L2 penalty, width and batch size are log-uniform.
    """
    space = ConfigurationSpace(name="sklearn-mlp")
    space.add(
        [
            Integer("n_layers", (1, 2)),
            Integer("n_units", (16, 128), log=True),
            Float("learning_rate_init", (1e-4, 1e-1), log=True),
            Float("alpha", (1e-6, 1e-1), log=True),
            Integer("batch_size", (32, 256), log=True),
            Categorical("activation", ["relu", "tanh"]),
            Categorical("solver", ["adam", "sgd"]),
            Float("momentum", (0.0, 0.95)),
        ]
    )
    space.add(EqualsCondition(space["momentum"], space["solver"], "sgd"))
    return space


def build_mlp(config: Mapping[str, Any], seed: int, n_train: int):
    """An untrained ``MLPClassifier`` for ``config`` (batch size capped at the training size)."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(int(config["n_units"]),) * int(config["n_layers"]),
        activation=config["activation"],
        solver=config["solver"],
        alpha=float(config["alpha"]),
        batch_size=min(int(config["batch_size"]), n_train),
        learning_rate_init=float(config["learning_rate_init"]),
        momentum=float(config.get("momentum", 0.9)),
        nesterovs_momentum=True,
        shuffle=True,
        random_state=int(seed),
    )


def epoch_metrics(model, split: DataSplit) -> dict[str, float]:
    """Errors on the three parts and validation log-loss, from one ``predict_proba`` call.

    The log-loss is the mean negative log-probability of the true class, probabilities
    clipped below at float64 epsilon. A diverged network gives NaN (a failed evaluation).
    """
    probabilities = model.predict_proba(split.X_all)
    predicted = probabilities.argmax(axis=1)  # the class MLPClassifier.predict returns
    metrics = {}
    for part, rows in split.parts.items():
        metrics[f"{part}_error"] = float(np.mean(predicted[rows] != split.y_all_index[rows]))
    valid = split.parts["valid"]
    true_probabilities = probabilities[valid][
        np.arange(valid.stop - valid.start), split.y_all_index[valid]
    ]
    metrics["valid_logloss"] = float(
        -np.mean(np.log(np.maximum(true_probabilities, np.finfo(np.float64).eps)))
    )
    return metrics


def mlp_learning_curve(
    config: Mapping[str, Any],
    epochs: Sequence[int],
    seed: int,
    *,
    dataset: str = "digits",
    n_samples: int | None = None,
) -> list[dict[str, float]]:
    """Train one MLP epoch by epoch and return its metrics after each epoch in ``epochs``.

    A ``learning_curve`` objective: one call records the whole curve.

    Example:
        >>> curve = mlp_learning_curve(config, epochs=[1, 2, 3], seed=0)  # doctest: +SKIP
        >>> curve[-1]["valid_error"], curve[-1]["elapsed_time"]  # doctest: +SKIP
    """
    if len(epochs) == 0 or min(int(e) for e in epochs) < 1:
        raise ValueError(f"epochs={list(epochs)}: give at least one epoch, each >= 1")
    split = load_split(dataset, n_samples)
    model = build_mlp(config, seed, len(split.y_train))
    wanted = {int(e) for e in epochs}
    curve = []
    training_seconds = 0.0
    for epoch in range(1, max(wanted) + 1):
        start = time.perf_counter()
        model.partial_fit(split.X_train, split.y_train, classes=split.classes)
        training_seconds += time.perf_counter() - start
        if epoch not in wanted:
            continue
        curve.append({**epoch_metrics(model, split), "elapsed_time": training_seconds})
    return curve


def mlp_at_epoch(
    config: Mapping[str, Any],
    epoch: int,
    seed: int,
    *,
    dataset: str = "digits",
    n_samples: int | None = None,
) -> dict[str, float]:
    """Train one MLP from scratch for ``epoch`` epochs: the ``per_fidelity`` form of the same objective."""
    return mlp_learning_curve(config, [epoch], seed, dataset=dataset, n_samples=n_samples)[-1]
