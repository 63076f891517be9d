"""The cross-fitted faithfulness study: the benchmark's own study, every answer out of sample.

The held-out study (:mod:`~benchmarking.surrogates.held_out`) compares table and surrogate
on the ~100-150 test configurations only, with a simulated budget made for the whole table:
methods exhaust the candidates and tie, and the ranking hinges on a handful of
configurations. That is another search problem than the benchmark a user runs.

Here the surrogate side answers for **all** configurations of the table, each one out of
sample:

1. the configurations are split into ``folds`` folds (a fixed, recorded ``fold_seed``);
2. for each fold the surrogate's recipe is refitted on the other folds: the same families,
   hyperparameters and fidelities the normal ``fit`` chose (tuned once), and the whole
   publish pipeline (quantile knots, calibration, seed noise, curve ends, value bounds)
   from that fold's training configurations only;
3. that model answers its held-out fold at every fidelity of the grid and every seed;
4. the answers of all folds form one table of the same shape as the table.

The same study (all configurations, the benchmark's own budget, workers, metric, seeds;
the replica with other seeds for the noise floor; the bootstrap interval) then runs on the
table and on that answer table (:func:`~benchmarking.surrogates.faithfulness.compare_studies`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarking.surrogates.faithfulness import (
    FaithfulnessReport,
    StudySettings,
    compare_studies,
    table_fingerprint,
)
from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from blackbox_repository.surrogate_training.fitting import (
    CALIBRATION_CONFIGURATIONS,
    OneSeedNoise,
    refit_for_publication,
    sample_features,
)
from blackbox_repository.surrogate_training.publish import assemble_surrogate
from blackbox_repository.surrogate_training.trained_surrogate import (
    ObjectiveModel,
    TrainedSurrogateBlackbox,
)
from blackbox_repository.surrogate_training.training_data import (
    ConfigurationSplit,
    SurrogateTrainingData,
)
from blackbox_repository.tabular import TabularBlackbox

CROSS_FIT_FOLDS = 5
CROSS_FIT_SEED = 0
CROSS_FIT_SEEDS = 100
"""Study seeds of the cross-fitted statistic (its studies run on whole tables)."""
CROSS_FIT_VERSION = 1
"""Bumped when the answers may change for the same inputs (keys of cached answer tables)."""
EXPORT_CHECK_SHARE = 6
"""Every 6th training configuration of a fold is its ``validation`` split: the rows the
ONNX export is checked on. The model, knots, calibration, seed noise and curve ends use
``train`` and ``validation`` together (all of the fold's training configurations)."""


@dataclass(frozen=True)
class CrossFittedAnswers:
    """The answer table (all configurations, out of sample) and the fold of each one."""

    table: TabularBlackbox
    folds: np.ndarray  # fold of each configuration of the source table
    fold_seed: int


def fold_assignment(n_configurations: int, folds: int, fold_seed: int) -> np.ndarray:
    """The fold (0 .. ``folds`` - 1) of each configuration: a permutation drawn with
    ``fold_seed`` cut into ``folds`` parts whose sizes differ by at most one."""
    if folds < 2:
        raise SurrogateTrainingError(f"cross-fitting needs at least 2 folds, got {folds}")
    if folds > n_configurations:
        raise SurrogateTrainingError(
            f"{folds} folds for {n_configurations} configurations: every fold needs at least "
            f"one configuration (use --folds {n_configurations} or fewer)"
        )
    order = np.random.default_rng(fold_seed).permutation(n_configurations)
    assignment = np.empty(n_configurations, dtype=int)
    for fold, part in enumerate(np.array_split(order, folds)):
        assignment[part] = fold
    return assignment


def fold_split(assignment: np.ndarray, fold: int, fold_seed: int) -> ConfigurationSplit:
    """The split of one fold: its configurations are ``test``; the others are ``train`` and
    ``validation`` (every :data:`EXPORT_CHECK_SHARE`-th, the ONNX export's check rows)."""
    held_out = np.flatnonzero(assignment == fold)
    training = np.flatnonzero(assignment != fold)
    if len(training) < 2:
        raise SurrogateTrainingError(
            f"fold {fold} leaves {len(training)} training configurations; use fewer folds"
        )
    check = np.zeros(len(training), dtype=bool)
    check[::EXPORT_CHECK_SHARE] = True
    return ConfigurationSplit(
        seed=fold_seed,
        train=training[~check],
        validation=training[check],
        test=held_out,
        fractions=tuple(
            float(len(s)) / len(assignment) for s in (training[~check], training[check], held_out)
        ),
    )


def fold_surrogate(
    table: TabularBlackbox,
    recipe: Sequence[ObjectiveModel],
    split: ConfigurationSplit,
    *,
    fit_seed: int,
    seed_noise: bool,
    one_seed_noise: OneSeedNoise,
    name: str,
    calibration_sample: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrainedSurrogateBlackbox:
    """The surrogate of ``recipe`` (each objective's family, hyperparameters, fidelity)
    refitted and published from the ``train`` + ``validation`` configurations of ``split``
    only, as ``simtune surrogate fit`` publishes its chosen models. ``calibration_sample``:
    the calibration configurations' features (the same for every fold: they depend on the
    search space, the grid and ``fit_seed`` only; drawn here when not given).
    ``seed_noise`` / ``one_seed_noise``: as
    :func:`~blackbox_repository.surrogate_training.fitting.export_model`'s; the refit is :func:`~blackbox_repository.surrogate_training.fitting.refit_for_publication`, as
    in ``fit``."""
    data = SurrogateTrainingData(table, split)
    exported = []
    if calibration_sample is None:
        calibration_sample = sample_features(data, CALIBRATION_CONFIGURATIONS, fit_seed)
    for chosen in recipe:
        exported.append(
            refit_for_publication(
                data,
                chosen.objective,
                chosen.family,
                chosen.hyperparameters,
                chosen.fidelity,
                seed=fit_seed,
                seed_noise=seed_noise,
                one_seed_noise=one_seed_noise,
                calibration_sample=calibration_sample,
            )
        )
    return assemble_surrogate(
        data, exported, name=name, source={"cross_fit_split": split.to_dict()}
    )


def cross_fitted_answers(
    table: TabularBlackbox,
    surrogate: TrainedSurrogateBlackbox,
    *,
    folds: int = CROSS_FIT_FOLDS,
    fold_seed: int = CROSS_FIT_SEED,
    cache_dir: Path | None = None,
    one_seed_noise: OneSeedNoise | None = None,
) -> CrossFittedAnswers:
    """A table of out-of-sample answers for every configuration of ``table``: fold ``k``'s
    configurations are answered by ``surrogate``'s recipe refitted without them (every
    fidelity, every seed of the surrogate, every objective it models). ``cache_dir``: keep
    and reuse the answers (keyed by the table's contents, the recipe, folds and seeds).
    ``one_seed_noise``: instead of the surrogate's recorded one-seed noise model (``None``:
    as the surrogate was published, :meth:`OneSeedNoise.recorded_in` its metadata;
    surrogates published before the seventh session used recorded donors and clipping);
    part of the cache key."""
    _check_same_table(table, surrogate)
    assignment = fold_assignment(len(table.configurations), folds, fold_seed)
    source = surrogate.source
    fit_seed = int(source.get("tuning", {}).get("seed", 0))
    seed_noise = bool(source.get("seed_noise", True))
    if one_seed_noise is None:
        one_seed_noise = OneSeedNoise.recorded_in(source)
    recipe = surrogate.models
    name = f"{surrogate.name}-cross-fitted-answers"
    path = None
    if cache_dir is not None:
        key = {
            "version": CROSS_FIT_VERSION,
            "table": table_fingerprint(table),
            "recipe": [
                [m.objective, m.family, dict(m.hyperparameters), m.fidelity] for m in recipe
            ],
            "folds": folds,
            "fold_seed": fold_seed,
            "fit_seed": fit_seed,
            "seed_noise": seed_noise,
            "single_seed_noise": one_seed_noise.enabled,
            # absent for the sixth session's noise model, so its cached answers stay valid
            **{
                name: value
                for name, value, before in (
                    ("noise_donors", one_seed_noise.donors, "recorded"),
                    ("noise_bounds", one_seed_noise.bounds, "clip"),
                )
                if value != before
            },
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode())
        path = Path(cache_dir) / f"cross-fit-{table.name}-{digest.hexdigest()[:32]}.npy"
    if path is not None and path.exists():
        values = np.load(path, allow_pickle=False)
        seeds = surrogate.seeds
    else:
        values, seeds = None, None
        sample = sample_features(
            SurrogateTrainingData(table, fold_split(assignment, 0, fold_seed)),
            CALIBRATION_CONFIGURATIONS,
            fit_seed,
        )
        for fold in range(folds):
            split = fold_split(assignment, fold, fold_seed)
            model = fold_surrogate(
                table,
                recipe,
                split,
                fit_seed=fit_seed,
                seed_noise=seed_noise,
                one_seed_noise=one_seed_noise,
                name=f"{name}-fold-{fold}",
                calibration_sample=sample,
            )
            if values is None:
                seeds = model.seeds
                shape = (len(assignment), len(table.fidelity_values), len(seeds), len(recipe))
                values = np.full(shape, np.nan)
            for index in split.test:
                config = table.configuration(int(index))
                for seed_index in range(len(seeds)):
                    values[index, :, seed_index, :] = model.curve(config, seed_index)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(partial, "wb") as stream:
                np.save(stream, values, allow_pickle=False)
            os.replace(partial, path)
    answers = TabularBlackbox(
        name=name,
        configuration_space=table.configuration_space,
        configurations=table.configurations.reset_index(drop=True),
        fidelity_name=table.fidelity_name,
        fidelity_values=table.fidelity_values,
        seeds=seeds,
        objectives=surrogate.objectives,
        elapsed_time_objective=surrogate.elapsed_time_objective,
        values=values,
    )
    return CrossFittedAnswers(answers, assignment, fold_seed)


def _check_same_table(table: TabularBlackbox, surrogate: TrainedSurrogateBlackbox) -> None:
    if list(surrogate.fidelity_values) != list(table.fidelity_values):
        raise SurrogateTrainingError(
            f"surrogate {surrogate.name!r} has another fidelity grid than {table.name!r}"
        )
    unknown = [name for name in surrogate.objective_names if name not in table.objective_names]
    if unknown:
        raise SurrogateTrainingError(
            f"surrogate {surrogate.name!r} models objectives {unknown} that {table.name!r} "
            "does not record; is it a surrogate of this table?"
        )


def cross_fitted_faithfulness(
    table: TabularBlackbox,
    surrogate: TrainedSurrogateBlackbox,
    settings: StudySettings,
    *,
    folds: int = CROSS_FIT_FOLDS,
    fold_seed: int = CROSS_FIT_SEED,
    study_cache: Path | None = None,
    one_seed_noise: OneSeedNoise | None = None,
) -> FaithfulnessReport:
    """The faithfulness statistic between the study on the whole ``table`` and the same
    study on the cross-fitted answer table (:func:`cross_fitted_answers`); the noise floor
    is the table against a replica of itself with seeds ``seeds .. 2*seeds-1``."""
    answers = cross_fitted_answers(
        table,
        surrogate,
        folds=folds,
        fold_seed=fold_seed,
        cache_dir=study_cache,
        one_seed_noise=one_seed_noise,
    )
    return compare_studies(
        table, answers.table, settings, study_cache=study_cache, cache_surrogate=True
    )
