"""Tuning one model family on one objective with simtune's schedulers on the real backend.

The tuned function is :func:`tuning_step`, the real backend's
``objective(config, fidelity, checkpoint_dir, **shared) -> metrics``: the fidelity is a
level ``1..L`` of the family's ladder (boosting rounds for gradient-boosted trees, the
fraction of training configurations for random forests and kNN); one call fits the model
at that level on the training rows and returns ``validation_loss = 1 - tau``, where tau is
the Kendall tau between true and predicted values among the validation configurations at
each fidelity of the table, averaged over the fidelities (how well the model ranks
configurations at the same budget: what a benchmark's conclusions rest on; a tau pooled
over every row would also reward ordering one configuration's fidelities, which is easy),
and the validation RMSE. A model is refitted from scratch at each level (fits take seconds; the
checkpoint folder stays unused).

**Resume after a kill.** Every finished step is written to a journal file named by the
hash of (objective, family, configuration, level) with temp file + rename; a step found
in the journal is answered from it at once. A tuning run that finished writes
``best.json`` and is not run again. Schedulers are seeded, so a rerun proposes the same
configurations first and finds them in the journal: no finished fit is repeated.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarking.surrogates.tuning_workers import TuningWorkers
from blackbox_repository.atomic_files import write_json_atomically
from blackbox_repository.surrogate_training.fitting import fit_model, predict_split
from blackbox_repository.surrogate_training.model_families import model_family
from blackbox_repository.surrogate_training.scores import (
    mean_tau_per_fidelity,
    regression_scores,
)
from blackbox_repository.surrogate_training.training_data import SurrogateTrainingData
from simulated_backend.callback import TunerCallback

TUNING_METRIC = "validation_loss"
TUNING_OBJECTIVES = {TUNING_METRIC: "min", "validation_rmse": "min"}
LEVEL_NAME = "level"
DEFAULT_RUN_SECONDS = 900.0
"""Real-seconds cap of one tuning run when none is given: a safety net, so that a lost or
stuck fit (seen once on the loaded machine: a Dask task that never reported) cannot hold a
fit forever; the run then ends with the results it has."""
DEFAULT_STEP_SECONDS = 300.0


@dataclass(frozen=True)
class TunedModel:
    """The best hyperparameters found for one family on one objective."""

    objective: str
    family: str
    hyperparameters: dict[str, Any]
    fidelity: float
    validation_loss: float
    n_results: int

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> TunedModel:
        return cls(**{name: record[name] for name in cls.__dataclass_fields__})


METRIC_VERSION = 2
"""Bumped when the tuning metric changes, so that journals of an older metric are not reused."""


def _step_key(objective: str, family: str, config: Mapping[str, Any], level: int) -> str:
    text = json.dumps(
        [METRIC_VERSION, objective, family, sorted(config.items()), int(level)], default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def tuning_step(
    config: Mapping[str, Any],
    fidelity: int,
    checkpoint_dir: str,
    data: SurrogateTrainingData,
    objective: str,
    family: str,
    journal_dir: str,
    seed: int = 0,
) -> dict[str, float]:
    """Fit ``family`` with ``config`` at level ``fidelity``; its validation loss and RMSE."""
    path = Path(journal_dir) / f"{_step_key(objective, family, config, fidelity)}.json"
    if path.exists():
        return json.loads(path.read_text())["metrics"]
    value = model_family(family).fidelity_values[int(fidelity) - 1]
    model = fit_model(data, objective, family, config, value, seed=seed)
    true, predicted = predict_split(model, data, objective, "validation")
    _, _, _, positions = data.rows(objective, "validation")
    tau = mean_tau_per_fidelity(true, predicted, positions)
    metrics = {
        TUNING_METRIC: 2.0 if math.isnan(tau) else 1.0 - tau,
        "validation_rmse": regression_scores(true, predicted)["rmse"],
    }
    write_json_atomically(
        path, {"config": dict(config), "level": int(fidelity), "metrics": metrics}
    )
    return metrics


class ResultsProgress(TunerCallback):
    """A progress bar over the number of results of a tuning run."""

    def __init__(self, total: int, description: str) -> None:
        self.total = total
        self.description = description
        self._bar = None

    def on_tuning_start(self, tuner: Any) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=self.total, desc=self.description, unit="fit", leave=False)

    def on_trial_result(self, trial: Any, result: dict[str, Any], decision: str) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def on_tuning_end(self, tuner: Any) -> None:
        if self._bar is not None:
            self._bar.close()


def finished_tuning(out: Path, objective: str, family: str) -> TunedModel | None:
    """The result of a finished tuning run under ``out`` (its ``best.json``), else None."""
    best_path = Path(out) / objective / family / "best.json"
    if not best_path.exists():
        return None
    return TunedModel.from_dict(json.loads(best_path.read_text()))


def tune_family(
    data: SurrogateTrainingData,
    objective: str,
    family: str,
    *,
    out: Path,
    budget: int,
    method: str = "ASHA",
    n_workers: int = 2,
    runner: str = "dask",
    dask_address: str | None = None,
    workers: TuningWorkers | None = None,
    seed: int = 0,
    max_wallclock_time: float | None = None,
    progress: bool = False,
) -> TunedModel:
    """Tune ``family`` for ``objective`` with ``method`` for ``budget`` results.

    With ``workers`` (the fit's :class:`TuningWorkers`, holding ``data`` on its Dask
    workers), the run's fits go there; else to a new runner of kind ``runner``.
    Writes ``out/<objective>/<family>/{journal/, run/, best.json}``; returns the finished
    ``best.json`` at once when it exists (resume).
    """
    from benchmarking.baselines import MethodContext, make_scheduler
    from simulated_backend import StopCriterion, Tuner
    from simulated_backend.real_backend import RealBackend, StepLimits, make_runner
    from simulated_backend.schedulers import SearchSpace

    folder = Path(out) / objective / family
    best_path = folder / "best.json"
    finished = finished_tuning(out, objective, family)
    if finished is not None:
        return finished
    model_kind = model_family(family)
    levels = list(range(1, len(model_kind.fidelity_values) + 1))
    context = MethodContext(
        search_space=SearchSpace(model_kind.space(seed)),
        metric=TUNING_METRIC,
        mode="min",
        fidelity_name=LEVEL_NAME,
        fidelity_values=tuple(levels),
        seed=seed,
        n_workers=n_workers,
    )
    # the family's default hyperparameters are tried first: with the small budgets of a
    # quick fit (4 results) random draws alone often miss every reasonable region
    scheduler = make_scheduler(method, context, points_to_evaluate=[dict(model_kind.default)])
    shared = {
        "objective": objective,
        "family": family,
        "journal_dir": str(folder / "journal"),
        "seed": seed,
    }
    (folder / "journal").mkdir(parents=True, exist_ok=True)
    if workers is not None:
        run_runner = workers.runner(tuning_step, shared)
    else:
        run_runner = make_runner(
            runner, tuning_step, n_workers, {"data": data, **shared}, dask_address
        )
    backend = RealBackend(
        run_runner,
        levels,
        TUNING_OBJECTIVES,
        fidelity_name=LEVEL_NAME,
        limits=StepLimits(wall_time=DEFAULT_STEP_SECONDS),
        benchmark=f"surrogate-{objective}-{family}",
        # results in submission order: the same fits whichever Dask worker is faster
        ordered=True,
    )
    callbacks = [ResultsProgress(budget, f"{objective} {family}")] if progress else []
    try:
        run = Tuner(
            scheduler,
            backend,
            StopCriterion(
                max_num_results=budget,
                max_wallclock_time=max_wallclock_time or DEFAULT_RUN_SECONDS,
            ),
            results_dir=folder / "run",
            metadata={"method": method, "seed": seed, "family": family, "objective": objective},
            callbacks=callbacks,
        ).run()
    finally:
        backend.close()
    results = run.results
    results = results[results[TUNING_METRIC].notna()]
    if results.empty:
        from blackbox_repository.surrogate_training.errors import SurrogateTrainingError

        raise SurrogateTrainingError(
            f"tuning {family} for {objective!r} produced no result (every fit failed or the "
            f"time budget was too small); see {folder / 'run'}"
        )
    ordered = results.sort_values([TUNING_METRIC, "fidelity"], ascending=[True, False])
    best = ordered.iloc[0]
    space = model_kind.space(seed)
    hyperparameters = {
        name: _plain(best[f"config_{name}"], space[name])
        for name in space
        if f"config_{name}" in best
    }
    tuned = TunedModel(
        objective=objective,
        family=family,
        hyperparameters=hyperparameters,
        fidelity=float(model_kind.fidelity_values[int(best["fidelity"]) - 1]),
        validation_loss=float(best[TUNING_METRIC]),
        n_results=int(len(run.results)),
    )
    write_json_atomically(best_path, asdict(tuned))
    return tuned


def at_published_fidelity(
    data: SurrogateTrainingData, tuned: TunedModel, *, out: Path, seed: int = 0
) -> TunedModel:
    """``tuned`` scored at the fidelity it is published with, to choose among families.

    A fraction family (random forest, extra trees, kNN) is published refitted on every row,
    but its tuning may have ended best at a fraction of the training configurations (with
    small budgets ASHA rarely promotes to the top level), while a boosting family is
    published at the rounds it was scored at. Comparing those losses compared a model fitted
    on 1/8 of the configurations with one fitted on all. This scores the same
    hyperparameters at the top level (on the training rows, against validation, as every
    tuning step; journalled like one) and returns ``tuned`` with that fidelity and loss;
    others are returned as they are.
    """
    family = model_family(tuned.family)
    top = family.fidelity_values[-1]
    if family.fidelity_kind != "fraction" or tuned.fidelity == top:
        return tuned
    metrics = tuning_step(
        tuned.hyperparameters,
        len(family.fidelity_values),
        "",
        data,
        tuned.objective,
        tuned.family,
        str(Path(out) / tuned.objective / tuned.family / "journal"),
        seed,
    )
    return replace(tuned, fidelity=float(top), validation_loss=float(metrics[TUNING_METRIC]))


def _plain(value: Any, hyperparameter: Any) -> Any:
    """A results-table value as the plain type of its hyperparameter."""
    from ConfigSpace import UniformIntegerHyperparameter

    if hasattr(value, "item"):
        value = value.item()
    if isinstance(hyperparameter, UniformIntegerHyperparameter):
        return int(round(value))
    return value
