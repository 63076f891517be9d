"""The benchmarks one process has loaded, kept for the next runs on them.

A study runs many short tasks on a few benchmarks. Preparing a benchmark for a run costs
more than many of its runs' other steps: loading its blackbox (memory-mapping the files of
the local blackbox cache), validating the definition against it, cutting its fidelity grid,
wrapping it in a surrogate, and building its search space (about 10 ms for a grid of 1,000
configurations). :class:`LoadedBenchmarks` does each of these once per process and
benchmark and keeps the result (the least recently used ones are dropped beyond
``max_entries``).

An object of it belongs to whoever runs the tasks, never to the module: each worker of an
executor gets its own (:mod:`benchmarking.executors` installs one per worker: the process
pool in each worker process, the Dask executor through a worker plugin, the in-process
executor in its own context), :func:`this_workers_benchmarks` finds it from inside a task,
and :func:`benchmarking.simulation.run_simulation` takes one as an argument (without one
it prepares the benchmark afresh).

Example:
    >>> loaded = LoadedBenchmarks()
    >>> prepared = loaded.prepared(benchmark_definition("sklearn-mlp-digits"))  # doctest: +SKIP
    >>> prepared.blackbox.name, loaded.n_loads  # doctest: +SKIP
    ('sklearn-mlp-digits', 1)
"""

from __future__ import annotations

import collections
import contextvars
import json
import os
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from blackbox_repository import Blackbox, load_blackbox
from blackbox_repository.cache import CACHE_ENV_VAR
from blackbox_repository.errors import MissingDependencyError
from blackbox_repository.recipes import recipe_from_reference

if TYPE_CHECKING:
    from benchmarking.benchmark_definitions import BenchmarkDefinition
    from simulated_backend.schedulers import SearchSpace

BENCHMARKS_KEPT_PER_PROCESS = 8
"""How many prepared benchmarks one :class:`LoadedBenchmarks` keeps by default."""
DASK_PLUGIN_NAME = "simtune-loaded-benchmarks"
"""Name of the Dask worker plugin that gives each Dask worker its :class:`LoadedBenchmarks`."""

_this_workers: contextvars.ContextVar[LoadedBenchmarks | None] = contextvars.ContextVar(
    "simtune_loaded_benchmarks", default=None
)


@dataclass(frozen=True)
class PreparedBenchmark:
    """A benchmark ready for runs: its blackbox (validated against the definition, cut at
    its max fidelity, wrapped in its surrogate) and its search space.

    ``search_space`` is shared by every run on the benchmark in this process: give each
    run ``search_space.fresh()`` (its own draws), never the shared object.
    """

    blackbox: Blackbox
    search_space: SearchSpace


class LoadedBenchmarks:
    """Prepared benchmarks kept by one process (or one worker) for its later runs.

    Args:
        max_entries: prepared benchmarks kept; the least recently used is dropped beyond.

    Thread-safe: Dask workers with several threads share one.
    """

    def __init__(self, max_entries: int = BENCHMARKS_KEPT_PER_PROCESS) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an integer >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        self._blackboxes: collections.OrderedDict[tuple, Blackbox] = collections.OrderedDict()
        self._prepared: collections.OrderedDict[tuple, PreparedBenchmark] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()
        self.n_loads = 0
        """How many times a blackbox was read from disk (from the local blackbox cache)."""

    def __len__(self) -> int:
        return len(self._prepared)

    def prepared(self, definition: BenchmarkDefinition) -> PreparedBenchmark:
        """The prepared benchmark of ``definition``, loaded on first use.

        The definition is validated against its blackbox on every call (a few
        microseconds), so a definition that does not fit its blackbox is always refused.
        """
        cache_dir = os.environ.get(CACHE_ENV_VAR)
        loaded = self._loaded(definition.blackbox, definition.recipe, cache_dir)
        definition.validate(loaded)
        key = (
            definition.blackbox,
            definition.recipe,
            definition.surrogate,
            json.dumps(dict(definition.surrogate_kwargs), sort_keys=True, default=str),
            definition.max_fidelity,
            cache_dir,
        )
        with self._lock:
            prepared = self._prepared.get(key)
            if prepared is not None:
                self._prepared.move_to_end(key)
                return prepared
        prepared = _prepare(loaded, definition)
        with self._lock:
            self._prepared[key] = prepared
            _drop_oldest(self._prepared, self.max_entries)
        return prepared

    def _loaded(self, blackbox_name: str, recipe: str | None, cache_dir: str | None) -> Blackbox:
        key = (blackbox_name, recipe, cache_dir)
        with self._lock:
            blackbox = self._blackboxes.get(key)
            if blackbox is not None:
                self._blackboxes.move_to_end(key)
                return blackbox
        # the local cache first; a recipe reference lets a worker with an empty cache build it
        own_recipe = recipe_from_reference(recipe)[0] if recipe is not None else None
        blackbox = load_blackbox(blackbox_name, cache_dir=cache_dir, recipe=own_recipe)
        with self._lock:
            self.n_loads += 1
            self._blackboxes[key] = blackbox
            _drop_oldest(self._blackboxes, self.max_entries)
        return blackbox


def _drop_oldest(entries: collections.OrderedDict, max_entries: int) -> None:
    while len(entries) > max_entries:
        entries.popitem(last=False)


def _prepare(loaded: Blackbox, definition: BenchmarkDefinition) -> PreparedBenchmark:
    from benchmarking.benchmark_definitions import truncate_fidelity
    from simulated_backend.schedulers import SearchSpace

    # a cut tabular blackbox is a numpy view of the loaded one: no second copy in memory
    blackbox = truncate_fidelity(loaded, definition.max_fidelity)
    if definition.surrogate is not None:
        blackbox = _make_surrogate(
            blackbox, definition.surrogate, dict(definition.surrogate_kwargs)
        )
    return PreparedBenchmark(blackbox, SearchSpace.from_blackbox(blackbox))


def _make_surrogate(blackbox: Blackbox, model: str, kwargs: dict[str, Any]) -> Blackbox:
    try:
        from blackbox_repository.surrogate import make_surrogate
    except ImportError as error:
        raise MissingDependencyError(
            f"benchmark uses surrogate {model!r} but surrogate models are unavailable ({error}); "
            "install them with `pip install simtune[surrogates]`"
        ) from error
    return make_surrogate(blackbox, model=model, **kwargs)


# --------------------------------------------------------------------- one per worker
def keep_in_this_context(loaded: LoadedBenchmarks) -> None:
    """Make ``loaded`` the object :func:`this_workers_benchmarks` finds in the current
    context (a process pool worker's initializer calls it once; the in-process executor
    calls it in a context of its own)."""
    _this_workers.set(loaded)


def this_workers_benchmarks() -> LoadedBenchmarks:
    """The :class:`LoadedBenchmarks` of the worker running the current task.

    That is the one installed in this context (:func:`keep_in_this_context`), else the one
    of the Dask worker plugin :data:`DASK_PLUGIN_NAME`, else a new object that nothing
    keeps (outside an executor's worker: every call prepares afresh).
    """
    loaded = _this_workers.get()
    if loaded is not None:
        return loaded
    if "distributed" in sys.modules:  # never import Dask just to find out we are not in it
        from distributed import get_worker

        try:
            plugin = get_worker().plugins.get(DASK_PLUGIN_NAME)
        except ValueError:  # not in a Dask worker
            plugin = None
        if plugin is not None:
            return plugin.loaded_benchmarks
    return LoadedBenchmarks()
