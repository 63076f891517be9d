"""The Dask worker plugin of the study's Dask executor (imported only where Dask is).

Each Dask worker gets its own :class:`~benchmarking.loaded_benchmarks.LoadedBenchmarks`
when the plugin is registered (or when the worker joins later), which tasks find with
:func:`~benchmarking.loaded_benchmarks.this_workers_benchmarks`. Workers of a LocalCluster
the executor started also exit when their parent process dies
(:func:`benchmarking.parent_watch.exit_with_parent`): their parent is the study's process,
or the forkserver that exits with it.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from benchmarking.loaded_benchmarks import DASK_PLUGIN_NAME, LoadedBenchmarks
from benchmarking.parent_watch import exit_with_parent


class LoadedBenchmarksPlugin(WorkerPlugin):
    """Gives each Dask worker the benchmarks its tasks load, kept for its later tasks.

    Args:
        exit_with_parent: also make the worker process exit when its parent dies (only
            for workers the study started itself).
    """

    name = DASK_PLUGIN_NAME

    def __init__(self, exit_with_parent: bool = False) -> None:
        self.exit_with_parent = exit_with_parent
        self.loaded_benchmarks: LoadedBenchmarks | None = None

    def setup(self, worker: Any) -> None:
        self.loaded_benchmarks = LoadedBenchmarks()
        if self.exit_with_parent:
            exit_with_parent()
