"""Tuning for real: the sklearn MLP trained step by step, and runs written as study tasks.

:func:`mlp_epoch_step` is the training function behind the embedded benchmark
(:mod:`benchmarking.tabulation.sklearn_objectives`: same data split, same network, same
metrics) in the real backend's form: one call trains a trial from its checkpoint up to
``epoch`` and returns the metrics there, with ``elapsed_time`` the cumulative training
seconds, as in the tabulated benchmark.

:func:`tune_for_real` runs a method from the baselines registry on the real backend and
writes the run into a study folder (``OUT/runs/<benchmark>/<method>/seed-<seed>/``), so
``simtune collect OUT`` and ``simtune plot OUT`` treat it like a simulated run.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ConfigSpace import ConfigurationSpace

from benchmarking.baselines import MethodContext, make_scheduler
from benchmarking.study_spec import SEED_PREFIX
from simulated_backend import RunResults, StopCriterion, Tuner
from simulated_backend.real_backend import RealBackend, StepLimits, make_runner
from simulated_backend.schedulers import SearchSpace

CHECKPOINT_FILE = "mlp.pkl"
MLP_OBJECTIVES = {
    "valid_error": "min",
    "valid_logloss": "min",
    "train_error": "min",
    "test_error": "min",
    "elapsed_time": "min",
}


def mlp_epoch_step(
    config: Mapping[str, Any], epoch: int, checkpoint_dir: str, split: Any, seed: int = 0
) -> dict[str, float]:
    """Train the MLP of ``config`` from its checkpoint up to ``epoch``; its metrics there.

    ``split`` is a :class:`~benchmarking.tabulation.sklearn_objectives.DataSplit` (shared
    read-only data: sent to each worker once). The checkpoint is the pickled model (a
    file this function wrote itself) with its epoch and training seconds.
    """
    from benchmarking.tabulation.sklearn_objectives import build_mlp, epoch_metrics

    path = Path(checkpoint_dir) / CHECKPOINT_FILE
    if path.exists():
        with open(path, "rb") as stream:
            model, trained, training_seconds = pickle.load(stream)
    else:
        model, trained, training_seconds = build_mlp(config, seed, len(split.y_train)), 0, 0.0
    for _ in range(trained + 1, int(epoch) + 1):
        start = time.perf_counter()
        model.partial_fit(split.X_train, split.y_train, classes=split.classes)
        training_seconds += time.perf_counter() - start
    tmp = path.with_name(CHECKPOINT_FILE + ".tmp")
    with open(tmp, "wb") as stream:
        pickle.dump((model, max(trained, int(epoch)), training_seconds), stream)
    os.replace(tmp, path)
    return {**epoch_metrics(model, split), "elapsed_time": training_seconds}


def tune_for_real(
    method: str,
    objective: Any,
    configuration_space: ConfigurationSpace,
    fidelities: Sequence[Any],
    objectives: Mapping[str, str],
    metric: str,
    mode: str,
    *,
    out: Path | str,
    benchmark: str,
    fidelity_name: str = "epoch",
    seed: int = 0,
    n_workers: int = 2,
    runner: str = "processes",
    max_wallclock_time: float | None = None,
    max_num_results: int | None = None,
    shared: Mapping[str, Any] | None = None,
    limits: StepLimits | None = None,
    dask_address: str | None = None,
    method_kwargs: Mapping[str, Any] | None = None,
    reference_benchmark: str | None = None,
) -> RunResults:
    """Run ``method`` on real workers and write the run as a study task under ``out``.

    The results folder is ``out/runs/<benchmark>/<method>/seed-<seed>``; trial
    checkpoints go to ``out/checkpoints/<benchmark>/<method>/seed-<seed>`` and are kept.
    ``reference_benchmark`` names a tabulated benchmark of the same problem (e.g.
    ``sklearn-mlp-digits``): its best and worst recorded values give the normalized
    regret of ``simtune plot``.
    """
    context = MethodContext(
        search_space=SearchSpace(configuration_space),
        metric=metric,
        mode=mode,
        fidelity_name=fidelity_name,
        fidelity_values=tuple(fidelities),
        seed=seed,
        n_workers=n_workers,
    )
    scheduler = make_scheduler(method, context, **dict(method_kwargs or {}))
    key = f"{benchmark}/{method}/{SEED_PREFIX}{seed}"
    out = Path(out)
    backend = RealBackend(
        make_runner(runner, objective, n_workers, shared, dask_address),
        fidelities,
        objectives,
        fidelity_name=fidelity_name,
        checkpoint_dir=out / "checkpoints" / key,
        limits=limits,
        benchmark=benchmark,
    )
    metadata = {"method": method, "method_kwargs": dict(method_kwargs or {}), "seed": seed}
    if reference_benchmark is not None:
        from benchmarking.benchmark_definitions import benchmark_definition

        metadata["benchmark_definition"] = benchmark_definition(reference_benchmark).to_dict()
    try:
        return Tuner(
            scheduler,
            backend,
            StopCriterion(max_wallclock_time=max_wallclock_time, max_num_results=max_num_results),
            results_dir=out / "runs" / key,
            metadata=metadata,
        ).run()
    finally:
        backend.close()
