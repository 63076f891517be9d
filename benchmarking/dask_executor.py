"""The Dask executor of a study: a new LocalCluster, an existing scheduler by address, or
any Dask cluster object (e.g. dask-jobqueue's), behind the :class:`~benchmarking.executors.Executor`
protocol.

A LocalCluster forks its worker processes from a ``forkserver`` (Linux) that imports Dask
once while the study's process imports it too, instead of spawning each worker to import
it again, and runs without the periodic work that only a dashboard would show
(:data:`LOCAL_CLUSTER_CONFIG`). Where it can, that forkserver is itself a fork of the
study's process (:mod:`benchmarking.forked_forkserver`), so the workers start with simtune
imported instead of importing it before their first task. Its workers exit when the
study's process dies (:mod:`benchmarking.parent_watch`).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from benchmarking.executors import (
    DEFAULT_N_JOBS,
    PRELOADED_MODULES,
    TASKS_IN_FLIGHT_PER_WORKER,
    Outcome,
    TaskExecutor,
    check_n_jobs,
    map_in_window,
)
from blackbox_repository.errors import SimtuneError

DASK_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for an existing Dask scheduler before giving up."""

LOCAL_CLUSTER_PRELOAD = ("distributed", "numpy", "pandas")
"""Imported once by the forkserver that forks the workers of a Dask LocalCluster, while
this process imports Dask: Dask's own forkserver list. A forkserver forked from this
process has simtune imported already; Python's own forkserver (the fallback) does not,
and each worker imports the rest of simtune (ConfigSpace with SciPy, pyarrow) as it
starts, in parallel with the others, which starts a cluster of one worker per core sooner
than importing it all once, serially."""
LOCAL_CLUSTER_CONFIG = {
    # no dashboard shows them: the statistical profiler samples each task's stack every
    # 10 ms, the system monitor polls psutil twice a second in every process
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    # event-loop health checks and memory polls once a second instead of 50 and 10 times
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    # tasks wait on the scheduler until a worker is free (Dask's queuing): nothing to steal
    "distributed.scheduler.work-stealing": False,
}
"""Dask settings of a LocalCluster the executor starts: together they cut the idle CPU of
the scheduler and workers from about 12% of a core to about 2%."""


class DaskSchedulerUnreachableError(SimtuneError, ConnectionError):
    """The Dask scheduler given by address could not be reached."""


class DaskExecutor(TaskExecutor):
    """Tasks on Dask distributed: a new ``LocalCluster`` or an existing scheduler.

    Args:
        scheduler_address: ``tcp://host:port`` of a running ``dask scheduler``; ``None``
            starts a ``LocalCluster`` of ``n_jobs`` worker processes (one thread each).
        n_jobs: workers of the LocalCluster (ignored with an existing scheduler).
        connect_timeout: seconds to wait for an existing scheduler; an unreachable one is
            :class:`DaskSchedulerUnreachableError` after that, and nothing is started.
        client: a ``distributed.Client`` of any cluster; the executor uses it and leaves
            it open on close (its owner closes it).
        cluster: a cluster object of any kind (e.g. a dask-jobqueue ``SLURMCluster``); the
            executor connects to it and closes it (and its jobs) on close.

    Example:
        >>> from dask_jobqueue import SLURMCluster  # doctest: +SKIP
        >>> cluster = SLURMCluster(cores=1, memory="4GB"); cluster.scale(jobs=32)  # doctest: +SKIP
        >>> executor = DaskExecutor(cluster=cluster)  # doctest: +SKIP
    """

    def __init__(
        self,
        scheduler_address: str | None = None,
        n_jobs: int = DEFAULT_N_JOBS,
        connect_timeout: float = DASK_CONNECT_TIMEOUT,
        client: Any = None,
        cluster: Any = None,
    ) -> None:
        self._cluster = None
        self._owns_client = client is None
        self._owns_local_cluster = scheduler_address is None and client is None and cluster is None
        if self._owns_local_cluster:
            check_n_jobs(n_jobs)
            _start_worker_forkserver()  # it imports in its own process while this one does
        if sum(x is not None for x in (scheduler_address, client, cluster)) > 1:
            raise ValueError("give one of a Dask scheduler address, client or cluster")
        try:
            from distributed import Client, LocalCluster
        except ImportError as error:
            raise ImportError(
                f"the dask executor needs dask.distributed ({error}); `pip install simtune[dask]`"
            ) from error
        if cluster is not None:
            self._cluster = cluster
            self._client = Client(cluster, set_as_default=False)
            self.description = (
                f"the Dask cluster {type(cluster).__name__} at {cluster.scheduler_address}"
            )
        elif client is not None:
            self._client = client
            self.description = f"the Dask cluster at {client.scheduler.address}"
        elif scheduler_address is not None:
            if "://" not in scheduler_address:
                raise ValueError(
                    f"Dask scheduler address {scheduler_address!r} has no protocol; "
                    "give it like tcp://host:8786"
                )
            try:
                self._client = Client(
                    scheduler_address, timeout=connect_timeout, set_as_default=False
                )
            except (OSError, TimeoutError) as error:
                raise DaskSchedulerUnreachableError(
                    f"cannot reach the Dask scheduler at {scheduler_address} within "
                    f"{connect_timeout:g} s ({type(error).__name__}: {error}); check the address "
                    "and that `dask scheduler` and its workers are running, or leave out "
                    "--dask-scheduler to start a local cluster"
                ) from None
            self.description = f"the Dask cluster at {scheduler_address}"
        else:
            self._cluster = _start_local_cluster(LocalCluster, n_jobs)
            self._client = Client(self._cluster, set_as_default=False)
            self.description = f"a Dask LocalCluster of {n_jobs} worker processes"
        from benchmarking.dask_worker_plugin import LoadedBenchmarksPlugin

        # each worker keeps the benchmarks its tasks load; the workers of our own
        # LocalCluster also exit with this process (other clusters' workers are not ours)
        self._client.register_plugin(
            LoadedBenchmarksPlugin(exit_with_parent=self._owns_local_cluster)
        )

    @property
    def client(self):
        """The ``distributed.Client`` (e.g. to inspect workers)."""
        return self._client

    def n_worker_threads(self) -> int:
        return max(1, sum(self._client.nthreads().values()))

    @property
    def n_workers(self) -> int:
        """Worker threads of the cluster now (what the study sizes its batches by)."""
        return self.n_worker_threads()

    def map_unordered(
        self, function: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[Outcome]:
        from distributed import as_completed

        futures: dict[Any, Any] = {}
        completed = as_completed(loop=self._client.loop)

        def submit(item: Any) -> None:
            future = self._client.submit(function, item, pure=False)
            futures[future] = item
            completed.add(future)

        def wait_one() -> Outcome:
            future = next(completed)
            item = futures.pop(future)
            if future.status == "finished":
                return item, future.result(), None
            try:
                error = future.exception()
            except Exception as raised:  # a cancelled future raises instead of returning
                error = raised
            return item, None, error

        window = self.n_worker_threads() * TASKS_IN_FLIGHT_PER_WORKER
        yield from map_in_window(submit, wait_one, items, window)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _start_worker_forkserver() -> None:
    """On Linux, start this process's forkserver now; the workers of the LocalCluster are
    forked from it. Where it can, the server is a fork of this process
    (:mod:`benchmarking.forked_forkserver`), forked once this process has imported Dask:
    the workers start with what this process has imported, and the server imports what
    it lacks of :data:`LOCAL_CLUSTER_PRELOAD` and :data:`PRELOADED_MODULES` while this
    process starts the scheduler.
    Otherwise Python's own forkserver preloads :data:`LOCAL_CLUSTER_PRELOAD` in a fresh
    process, and each worker imports simtune itself. (A forkserver that runs already,
    e.g. a process pool's, is used as it is.)"""
    if not sys.platform.startswith("linux"):
        return
    from multiprocessing import forkserver

    from benchmarking.forked_forkserver import can_fork_forkserver, start_forkserver_as_fork

    if can_fork_forkserver():
        # this process needs Dask anyway: imported before the fork (which starts no
        # thread), the server has it without importing it a second time
        with contextlib.suppress(ImportError):  # reported when the executor imports it
            import distributed  # noqa: F401
        if start_forkserver_as_fork([*LOCAL_CLUSTER_PRELOAD, *PRELOADED_MODULES]):
            return
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(LOCAL_CLUSTER_PRELOAD))
    forkserver.ensure_running()


def _start_local_cluster(local_cluster_class: Any, n_jobs: int) -> Any:
    """A LocalCluster of ``n_jobs`` single-threaded worker processes with
    :data:`LOCAL_CLUSTER_CONFIG`, forked on Linux from the forkserver
    (:func:`_start_worker_forkserver`)."""
    import dask

    settings: dict[str, Any] = dict(LOCAL_CLUSTER_CONFIG)
    if sys.platform.startswith("linux"):
        settings["distributed.worker.multiprocessing-method"] = "forkserver"
    with dask.config.set(settings):  # the nannies hand these settings to their workers
        return local_cluster_class(
            n_workers=n_jobs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # the scheduler's HTTP server (health checks) on a free port, never 8787
            scheduler_kwargs={"dashboard_address": ":0"},
            silence_logs=logging.ERROR,
            # each worker imports what its tasks need as it starts, while the cluster
            # and the client are still starting, not in its first task
            preload=list(PRELOADED_MODULES),
        )
