"""One simulated run from names: a method on a benchmark with a seed.

:func:`run_simulation` resolves the benchmark's definition, loads its blackbox (once per
process, see :func:`prepared_blackbox`), builds the method's scheduler from the baselines
registry and runs the Tuner. The study runner calls it once per task; the launcher
scripts in ``examples/`` call it once.

Blackboxes are kept in a small per-process cache for the life of the process: a worker of
a process pool or of a Dask cluster loads each benchmark from its local blackbox cache the
first time one of its tasks needs it and reuses it for every later task, instead of
loading (or shipping) the data once per task.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarking.benchmark_definitions import (
    BenchmarkDefinition,
    benchmark_definition,
    truncate_fidelity,
)
from blackbox_repository import Blackbox, load_blackbox
from blackbox_repository.cache import CACHE_ENV_VAR
from blackbox_repository.errors import MissingDependencyError
from blackbox_repository.recipes import recipe_from_reference
from simulated_backend import RunResults, SimulatorBackend, StopCriterion, Tuner

BLACKBOXES_KEPT_PER_PROCESS = 8
"""How many prepared blackboxes one process keeps (least recently used ones are dropped)."""


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


def prepared_blackbox(definition: BenchmarkDefinition) -> Blackbox:
    """The blackbox of ``definition``, validated against it, cut at its max fidelity and
    wrapped in its surrogate if it has one; loaded once per process and then reused."""
    cache_dir = os.environ.get(CACHE_ENV_VAR)
    definition.validate(_loaded_blackbox(definition.blackbox, definition.recipe, cache_dir))
    return _prepared_blackbox(
        definition.blackbox,
        definition.recipe,
        definition.surrogate,
        json.dumps(dict(definition.surrogate_kwargs), sort_keys=True, default=str),
        definition.max_fidelity,
        cache_dir,
    )


def blackbox_loads_in_this_process() -> int:
    """How many times this process read a blackbox from disk (cache misses)."""
    return _loaded_blackbox.cache_info().misses


@functools.lru_cache(maxsize=BLACKBOXES_KEPT_PER_PROCESS)
def _loaded_blackbox(blackbox_name: str, recipe: str | None, cache_dir: str | None) -> Blackbox:
    # the cache first; a recipe reference lets a worker with an empty cache build it
    own_recipe = recipe_from_reference(recipe)[0] if recipe is not None else None
    return load_blackbox(blackbox_name, cache_dir=cache_dir, recipe=own_recipe)


@functools.lru_cache(maxsize=BLACKBOXES_KEPT_PER_PROCESS)
def _prepared_blackbox(
    blackbox_name: str,
    recipe: str | None,
    surrogate: str | None,
    surrogate_kwargs_json: str,
    max_fidelity: float | None,
    cache_dir: str | None,
) -> Blackbox:
    # a cut tabular blackbox is a numpy view of the loaded one: no second copy in memory
    loaded = _loaded_blackbox(blackbox_name, recipe, cache_dir)
    blackbox = truncate_fidelity(loaded, max_fidelity)
    if surrogate is not None:
        blackbox = _make_surrogate(blackbox, surrogate, json.loads(surrogate_kwargs_json))
    return blackbox


def _make_surrogate(blackbox: Blackbox, model: str, kwargs: dict[str, Any]) -> Blackbox:
    try:
        from blackbox_repository.surrogate import make_surrogate
    except ImportError as error:
        raise MissingDependencyError(
            f"benchmark uses surrogate {model!r} but surrogate models are unavailable ({error}); "
            "install them with `pip install simtune[surrogates]`"
        ) from error
    return make_surrogate(blackbox, model=model, **kwargs)


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
    blackbox = prepared_blackbox(definition)
    context = MethodContext.from_blackbox(
        blackbox,
        metric=definition.metric,
        mode=definition.mode,
        seed=seed,
        n_workers=definition.n_workers,
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
    )
    return tuner.run()
