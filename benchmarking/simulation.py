"""One simulated run from names: a method on a benchmark with a seed.

:func:`run_simulation` resolves the benchmark's definition, prepares its blackbox and
search space (:mod:`benchmarking.loaded_benchmarks`), builds the method's scheduler from
the baselines registry and runs the Tuner. The study runner calls it once per task with
the :class:`~benchmarking.loaded_benchmarks.LoadedBenchmarks` of the worker running the
task, so a worker prepares each benchmark once for all its tasks; the launcher scripts in
``examples/`` call it once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarking.benchmark_definitions import BenchmarkDefinition, benchmark_definition
from benchmarking.loaded_benchmarks import LoadedBenchmarks
from blackbox_repository import Blackbox
from simulated_backend import RunResults, SimulatorBackend, StopCriterion, Tuner


def resolve_definition(
    benchmark: str | BenchmarkDefinition,
    *,
    n_workers: int | None = None,
    max_wallclock_time: float | None = None,
    max_num_results: int | None = None,
) -> BenchmarkDefinition:
    """The benchmark's definition with the given (non-``None``) settings overridden."""
    definition = (
        benchmark if isinstance(benchmark, BenchmarkDefinition) else benchmark_definition(benchmark)
    )
    return definition.with_overrides(
        n_workers=n_workers,
        max_wallclock_time=max_wallclock_time,
        max_num_results=max_num_results,
    )


def prepared_blackbox(
    definition: BenchmarkDefinition, loaded: LoadedBenchmarks | None = None
) -> Blackbox:
    """The blackbox of ``definition``, validated against it, cut at its max fidelity and
    wrapped in its surrogate if it has one (kept in ``loaded`` if given)."""
    return (LoadedBenchmarks() if loaded is None else loaded).prepared(definition).blackbox


def run_simulation(
    method: str,
    benchmark: str | BenchmarkDefinition,
    seed: int = 0,
    n_workers: int | None = None,
    max_wallclock_time: float | None = None,
    max_num_results: int | None = None,
    results_dir: Path | str | None = None,
    method_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
    metadata: Mapping[str, Any] | None = None,
    loaded_benchmarks: LoadedBenchmarks | None = None,
    fsync_results: bool = True,
) -> RunResults:
    """Run ``method`` on ``benchmark`` in simulated time and return its results.

    Args:
        method: a method name (``RS``, ``ASHA``, ``OPTUNA-TPE``, ...; any case; see
            ``simtune methods``) or a ``package.module:factory`` reference.
        benchmark: a benchmark name, a ``package.module:recipe`` reference, or a
            :class:`BenchmarkDefinition`.
        seed: seeds the scheduler and the simulator backend.
        n_workers, max_wallclock_time, max_num_results: override the definition's
            defaults (``None`` keeps them). ``max_num_results`` caps the number of
            reported results.
        results_dir: folder for ``results.parquet`` and ``metadata.json`` (written atomically).
        method_kwargs: keyword arguments of the method's scheduler.
        progress: show a progress bar over simulated time.
        metadata: extra JSON-able fields for ``metadata.json``.
        loaded_benchmarks: where the prepared benchmark is kept for later runs in this
            process (default: prepared for this run only).
        fsync_results: flush the results files to disk before renaming them into place
            (False when the caller flushes many runs at once, as the study runner does).

    Example:
        >>> run = run_simulation("ASHA", "sklearn-mlp-digits", seed=0, max_num_results=50)
        >>> len(run.results), sorted(run.best_config())[:2]
        (50, ['activation', 'alpha'])
    """
    from benchmarking.baselines import MethodContext, make_scheduler

    definition = resolve_definition(
        benchmark,
        n_workers=n_workers,
        max_wallclock_time=max_wallclock_time,
        max_num_results=max_num_results,
    )
    if loaded_benchmarks is None:
        loaded_benchmarks = LoadedBenchmarks()
    prepared = loaded_benchmarks.prepared(definition)
    blackbox = prepared.blackbox
    context = MethodContext.from_blackbox(
        blackbox,
        metric=definition.metric,
        mode=definition.mode,
        seed=seed,
        n_workers=definition.n_workers,
        search_space=prepared.search_space.fresh(),  # its own draws, built once per process
    )
    scheduler = make_scheduler(method, context, **dict(method_kwargs or {}))
    backend = SimulatorBackend(blackbox, n_workers=definition.n_workers, seed=seed)
    stop_criterion = StopCriterion(
        max_wallclock_time=definition.max_wallclock_time,
        max_num_results=definition.max_num_results,
    )
    run_metadata = {
        "method": method,
        "method_kwargs": dict(method_kwargs or {}),
        "benchmark": definition.name,
        "blackbox": definition.blackbox,
        "benchmark_definition": definition.to_dict(),
        **dict(metadata or {}),
    }
    tuner = Tuner(
        scheduler,
        backend,
        stop_criterion,
        results_dir=results_dir,
        metadata=run_metadata,
        progress=progress,
        fsync_results=fsync_results,
    )
    return tuner.run()
