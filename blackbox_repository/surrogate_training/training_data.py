"""Rows to train surrogate models on, and the split of configurations into train,
validation and test sets.

Every (configuration, fidelity) pair of a tabular blackbox is one row: the features are the
configuration encoded by :class:`~blackbox_repository.config_checks.ConfigEncoder` plus the
fidelity (log-scaled to [0, 1] when every fidelity is positive, linearly otherwise); the
target of an objective is its recorded value. **Recorded seeds are treated as noise**: the
target is the mean over the recorded seeds (ignoring missing ones), so a model learns the
expected value and the published surrogate has one seed. One row per (configuration,
fidelity) also means no two rows share their features, which keeps nearest-neighbour
models exact under ONNX. Rows whose target is missing for every seed are left out of that
objective's rows only.

The split is by configuration, never by row: every row of a configuration (all fidelities,
all seeds) lands in the same set, so the test set holds configurations no model has seen.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from blackbox_repository.config_checks import ConfigEncoder
from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from blackbox_repository.surrogate_training.target_transforms import (
    TargetTransform,
    choose_transform,
    fidelity_bounds,
)
from blackbox_repository.tabular import TabularBlackbox

MIN_CONFIGURATIONS = 10  # fewer cannot fill three sets with at least one config each, sensibly
SPLIT_NAMES = ("train", "validation", "test")
DEFAULT_SPLIT_FRACTIONS = (0.7, 0.15, 0.15)


@dataclass(frozen=True)
class ConfigurationSplit:
    """Configuration indices of each set, drawn with ``seed``; sorted within each set.
    ``fractions``: the (train, validation, test) fractions the sets were cut by."""

    seed: int
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    fractions: tuple[float, float, float] = DEFAULT_SPLIT_FRACTIONS

    def indices(self, split: str) -> np.ndarray:
        if split not in SPLIT_NAMES:
            raise SurrogateTrainingError(f"unknown split {split!r}; use one of {SPLIT_NAMES}")
        return getattr(self, split)

    def to_dict(self) -> dict:
        return {
            "seed": self.seed,
            "fractions": list(self.fractions),
            **{name: self.indices(name).tolist() for name in SPLIT_NAMES},
        }


def split_configurations(
    n_configurations: int, seed: int = 0, fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS
) -> ConfigurationSplit:
    """Shuffle ``range(n_configurations)`` with ``seed`` and cut it by ``fractions``.

    Raises :class:`SurrogateTrainingError` when a set would be empty or too few
    configurations are recorded.
    """
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or not math.isclose(sum(fractions), 1):
        raise SurrogateTrainingError(
            f"split fractions must be three positive numbers summing to 1 (train, validation, "
            f"test), got {tuple(fractions)}"
        )
    if n_configurations < MIN_CONFIGURATIONS:
        raise SurrogateTrainingError(
            f"the blackbox records {n_configurations} configurations; a surrogate needs at least "
            f"{MIN_CONFIGURATIONS} to split into train, validation and test sets by configuration"
        )
    order = np.random.default_rng(seed).permutation(n_configurations)
    n_test = int(round(fractions[2] * n_configurations))
    n_validation = int(round(fractions[1] * n_configurations))
    n_train = n_configurations - n_test - n_validation
    if min(n_train, n_validation, n_test) < 1:
        raise SurrogateTrainingError(
            f"splitting {n_configurations} configurations by {tuple(fractions)} leaves an empty "
            f"set (train {n_train}, validation {n_validation}, test {n_test}); use larger fractions"
        )
    return ConfigurationSplit(
        seed=seed,
        train=np.sort(order[:n_train]),
        validation=np.sort(order[n_train : n_train + n_validation]),
        test=np.sort(order[n_train + n_validation :]),
        fractions=tuple(float(f) for f in fractions),
    )


def fidelity_feature(fidelity_values: np.ndarray, fidelities: np.ndarray) -> np.ndarray:
    """The fidelity as a feature in [0, 1] over the blackbox's grid (log scale if all > 0)."""
    grid = np.asarray(fidelity_values, dtype=float)
    values = np.asarray(fidelities, dtype=float)
    low, high = grid[0], grid[-1]
    if high == low:
        return np.zeros_like(values)
    if low > 0:
        return (np.log(values) - math.log(low)) / (math.log(high) - math.log(low))
    return (values - low) / (high - low)


class SurrogateTrainingData:
    """Features and targets of a tabular blackbox, by objective and split.

    Args:
        blackbox: the table to learn.
        split: which configurations belong to which set (:func:`split_configurations`).
    """

    def __init__(self, blackbox: TabularBlackbox, split: ConfigurationSplit) -> None:
        if not isinstance(blackbox, TabularBlackbox):
            raise SurrogateTrainingError(
                f"blackbox {blackbox.name!r} is of kind {blackbox.kind!r}; surrogates are trained "
                "on tabular blackboxes only"
            )
        self.blackbox = blackbox
        self.split = split
        self.encoder = ConfigEncoder(blackbox.configuration_space)
        configurations = blackbox.configurations
        self.config_features = self.encoder.encode(
            {name: configurations[name].to_numpy() for name in configurations.columns},
            len(configurations),
        )
        self.fidelity_features = fidelity_feature(
            blackbox.fidelity_values, blackbox.fidelity_values
        )

    @property
    def n_features(self) -> int:
        return self.config_features.shape[1] + 1

    def rows(
        self, objective: str, split: str, *, fraction: float = 1.0, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(features, targets, config_indices, fidelity_positions)`` of one objective.

        ``fraction`` < 1 keeps a random subset of the split's configurations (drawn with
        ``seed``), the training-set-size fidelity of model tuning.
        """
        blackbox = self.blackbox
        objective_index = blackbox.objective_index(objective)
        configs = self.split.indices(split)
        if fraction < 1.0:
            keep = max(1, int(round(fraction * len(configs))))
            configs = np.sort(np.random.default_rng(seed).choice(configs, keep, replace=False))
        if len(configs) == 0:
            raise SurrogateTrainingError(f"the {split} set of {blackbox.name!r} is empty")
        n_fidelities = len(blackbox.fidelity_values)
        # values[config, fidelity, seed] for this objective; the mean over seeds, per row
        recorded = np.asarray(blackbox.values[configs, :, :, objective_index], dtype=float)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all seeds missing: NaN, dropped
            targets = np.nanmean(recorded, axis=2).reshape(-1)
        config_of_row = np.repeat(configs, n_fidelities)
        fidelity_of_row = np.tile(np.arange(n_fidelities), len(configs))
        observed = ~np.isnan(targets)
        config_of_row, fidelity_of_row = config_of_row[observed], fidelity_of_row[observed]
        features = np.column_stack(
            [self.config_features[config_of_row], self.fidelity_features[fidelity_of_row]]
        )
        return features, targets[observed], config_of_row, fidelity_of_row

    def rows_of_splits(
        self, objective: str, splits: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`rows` of several splits, concatenated in the order given."""
        parts = [self.rows(objective, split) for split in splits]
        return tuple(np.concatenate([part[k] for part in parts]) for k in range(4))  # type: ignore[return-value]

    def target_transform(
        self, objective: str, name: str | None = None, splits: Sequence[str] = ("train",)
    ) -> TargetTransform:
        """The space ``objective``'s model learns in, fitted on the rows of ``splits`` (the
        training rows while tuning; train + validation for the published refit)
        (:func:`~blackbox_repository.surrogate_training.target_transforms.choose_transform`)."""
        _, targets, _, positions = self.rows_of_splits(objective, splits)
        return choose_transform(
            targets,
            positions,
            len(self.blackbox.fidelity_values),
            elapsed_time=objective == self.blackbox.elapsed_time_objective,
            name=name,
        )

    def value_bounds(
        self, objective: str, splits: Sequence[str] = ("train",), *, per_seed: bool = False
    ) -> tuple[tuple[float, float], ...]:
        """Per fidelity, the (smallest, largest) target of ``objective`` on ``splits``: of
        the seed means, or of the single recorded seeds with ``per_seed``."""
        if not per_seed:
            _, targets, _, positions = self.rows_of_splits(objective, splits)
            return fidelity_bounds(targets, positions, len(self.blackbox.fidelity_values))
        values = self.recorded_values(objective, splits)
        n_fidelities = values.shape[1]
        positions = np.broadcast_to(np.arange(n_fidelities)[None, :, None], values.shape)
        return fidelity_bounds(values.reshape(-1), positions.reshape(-1), n_fidelities)

    def recorded_values(self, objective: str, splits: Sequence[str]) -> np.ndarray:
        """Every recorded value (configurations of ``splits``, fidelities, seeds) of
        ``objective``."""
        configs = np.concatenate([self.split.indices(split) for split in splits])
        objective_index = self.blackbox.objective_index(objective)
        return np.asarray(self.blackbox.values[configs, :, :, objective_index], dtype=float)

    def check_objective(self, objective: str) -> None:
        """Refuse an objective that has no finite value or is constant on the training set."""
        _, targets, _, _ = self.rows(objective, "train")
        if len(targets) == 0:
            raise SurrogateTrainingError(
                f"objective {objective!r} of {self.blackbox.name!r} has no recorded value in the "
                "training set; leave it out with --objectives"
            )
        if np.ptp(targets) == 0:
            raise SurrogateTrainingError(
                f"objective {objective!r} of {self.blackbox.name!r} is constant "
                f"({targets[0]!r}) on the training set: there is nothing to learn or to score; "
                "leave it out with --objectives"
            )
        for split in ("validation", "test"):
            _, targets, _, _ = self.rows(objective, split)
            if len(targets) == 0:
                raise SurrogateTrainingError(
                    f"objective {objective!r} of {self.blackbox.name!r} has no recorded value in "
                    f"the {split} set; use another split seed or larger fractions"
                )

    def n_missing(self, objective: str) -> int:
        """(configuration, fidelity) rows of ``objective`` with no finite value at any seed."""
        values = np.asarray(
            self.blackbox.values[:, :, :, self.blackbox.objective_index(objective)], dtype=float
        )
        return int(np.sum(np.all(~np.isfinite(values), axis=2)))

    def check_no_missing(self, objective: str) -> None:
        """Refuse an objective with missing (NaN) values unless the caller allows them."""
        missing = self.n_missing(objective)
        if missing:
            total = len(self.blackbox.configurations) * len(self.blackbox.fidelity_values)
            raise SurrogateTrainingError(
                f"objective {objective!r} of {self.blackbox.name!r} has no value at "
                f"{missing} of {total} (configuration, fidelity) rows (NaN at every seed); "
                "pass --allow-missing (allow_missing=True) to train on the recorded rows only, "
                "or leave the objective out with --objectives"
            )
