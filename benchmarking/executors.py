"""Where the tasks of a study run: in this process, in a local process pool, on Dask, or
on any executor a user plugs in.

An executor is any object with the small :class:`Executor` protocol: a ``description``
and ``map_unordered(function, items)``, which applies a picklable function to items and
yields ``(item, result, error)`` as each finishes, in completion order (a task that raises,
or whose worker dies, yields its exception instead of stopping the others), and ``close()``.
:func:`resolve_executor` turns what the user gave (CLI ``--executor``, YAML ``executor:``,
or Python) into one: an executor object as is, a built-in name (:data:`BUILTIN_EXECUTORS`),
an entry point of the group ``simtune.executors``, or a ``package.module:factory``
reference. A factory is called as ``factory(n_jobs=...)`` and returns an executor.

At most a few tasks per worker are in flight at once, so a study of 100,000 tasks never
holds 100,000 futures. Workers live for the whole study and run many tasks each, and each
built-in executor gives each of its workers a
:class:`~benchmarking.loaded_benchmarks.LoadedBenchmarks` (the in-process executor in a
context of its own, a pool worker from its initializer, a Dask worker from a worker
plugin), so a benchmark is loaded and prepared once per worker, not per task. Workers of
the local process pool and of a Dask LocalCluster exit when the study's process dies
(:mod:`benchmarking.parent_watch`).

A Dask LocalCluster forks its worker processes from a ``forkserver`` (Linux) that
imports Dask once while the study's process imports it too, instead of spawning each
worker to import it again, and runs without the periodic work that only a dashboard
would show (:data:`LOCAL_CLUSTER_CONFIG`). Where it can, that forkserver is itself a fork
of the study's process (:mod:`benchmarking.forked_forkserver`), so the workers start with
simtune imported instead of importing it before their first task.

Example:
    >>> with make_executor("dask", n_jobs=4) as executor:  # doctest: +SKIP
    ...     for item, result, error in executor.map_unordered(function, items):
    ...         ...
"""

from __future__ import annotations

import abc
import collections
import concurrent.futures
import contextlib
import contextvars
import importlib
import logging
import multiprocessing
import sys
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

from benchmarking.parent_watch import Lifeline, exit_with_parent
from blackbox_repository.errors import SimtuneError

EXECUTOR_KINDS = ("inprocess", "processes", "dask")
"""The built-in executor names."""
ENTRY_POINT_GROUP = "simtune.executors"
DEFAULT_N_JOBS = 2
TASKS_IN_FLIGHT_PER_WORKER = 4
DASK_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for an existing Dask scheduler before giving up."""

PRELOADED_MODULES = ("benchmarking.study", "benchmarking.simulation", "benchmarking.baselines")
"""Imported once by the forkserver of a local process pool, before it forks workers."""
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

Outcome = tuple[Any, Any, BaseException | None]


class DaskSchedulerUnreachableError(SimtuneError, ConnectionError):
    """The Dask scheduler given by address could not be reached."""


class ExecutorError(SimtuneError, ValueError):
    """Executor settings that cannot work (a bad worker count, a factory's bad product)."""


class UnknownExecutorError(ExecutorError):
    """An executor name that is neither built in, nor an entry point, nor a reference."""


@runtime_checkable
class Executor(Protocol):
    """What the study runner needs from an executor (see the module docstring).

    An executor may also have an ``n_workers`` attribute: the study then cuts its tasks
    into batches for that many workers (default: ``n_jobs``, or 2).
    """

    description: str

    def map_unordered(
        self, function: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[Outcome]:
        """Yield ``(item, result, None)`` or ``(item, None, error)`` as tasks finish."""
        ...

    def close(self) -> None:
        """Release the workers."""
        ...


class TaskExecutor(abc.ABC):
    """Base class of the built-in executors: a context manager that closes on exit."""

    description: str = ""

    @abc.abstractmethod
    def map_unordered(
        self, function: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[Outcome]:
        """Yield ``(item, result, None)`` or ``(item, None, error)`` as tasks finish."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the workers."""

    def __enter__(self) -> TaskExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class InProcessExecutor(TaskExecutor):
    """One task after another in the calling process (debugging, small studies)."""

    description = "in this process"
    n_workers = 1

    def __init__(self) -> None:
        from benchmarking.loaded_benchmarks import LoadedBenchmarks, keep_in_this_context

        # tasks run in a context of their own that keeps the benchmarks they loaded: the
        # caller's context never sees them, and they are freed with the executor
        self._context = contextvars.copy_context()
        self._context.run(keep_in_this_context, LoadedBenchmarks())

    def map_unordered(
        self, function: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[Outcome]:
        for item in items:
            try:
                result = self._context.run(function, item)
            except Exception as error:  # the task failed; the study goes on
                yield item, None, error
            else:
                yield item, result, None

    def close(self) -> None:
        """Nothing to release: tasks ran in this process."""


def _windowed(
    submit: Callable[[Any], Any],
    wait_one: Callable[[], tuple[Any, Any, BaseException | None]],
    items: Iterable[Any],
    window: int,
) -> Iterator[Outcome]:
    """Keep at most ``window`` tasks in flight; yield outcomes as they complete."""
    pending = collections.deque(items)
    in_flight = 0
    while pending or in_flight:
        while pending and in_flight < window:
            submit(pending.popleft())
            in_flight += 1
        yield wait_one()
        in_flight -= 1


class LocalProcessExecutor(TaskExecutor):
    """A local pool of ``n_jobs`` worker processes (``forkserver`` on Linux, else ``spawn``).

    Processes are not forked from the caller: a worker never inherits a half-initialised
    state (threads, open files). With ``forkserver``, the server process imports
    :data:`PRELOADED_MODULES` once and every worker starts as a copy of it, instead of
    importing simtune again (about 2 s of CPU per worker). That sets the preload list of
    this process's forkserver, which only matters before it first starts.
    """

    def __init__(self, n_jobs: int = DEFAULT_N_JOBS, start_method: str | None = None) -> None:
        _check_n_jobs(n_jobs)
        if start_method is None:
            start_method = "forkserver" if sys.platform.startswith("linux") else "spawn"
        context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            context.set_forkserver_preload(list(PRELOADED_MODULES))
        self.n_jobs = self.n_workers = n_jobs
        self.description = f"a local pool of {n_jobs} processes ({start_method})"
        self._lifeline = Lifeline(context)  # workers exit when this process dies
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=n_jobs,
            mp_context=context,
            initializer=_start_pool_worker,
            initargs=(self._lifeline.reader,),
        )

    def map_unordered(
        self, function: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[Outcome]:
        futures: dict[concurrent.futures.Future, Any] = {}

        def submit(item: Any) -> None:
            futures[self._pool.submit(function, item)] = item

        def wait_one() -> Outcome:
            done, _ = concurrent.futures.wait(
                futures, return_when=concurrent.futures.FIRST_COMPLETED
            )
            future = next(iter(done))
            item = futures.pop(future)
            error = future.exception()
            return (item, None, error) if error is not None else (item, future.result(), None)

        yield from _windowed(submit, wait_one, items, self.n_jobs * TASKS_IN_FLIGHT_PER_WORKER)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._lifeline.close()


def _start_pool_worker(lifeline: Any) -> None:
    """First thing in a worker of the local process pool: exit with the study's process,
    and keep the benchmarks its tasks load."""
    from benchmarking.loaded_benchmarks import LoadedBenchmarks, keep_in_this_context

    exit_with_parent(lifeline)
    keep_in_this_context(LoadedBenchmarks())  # the worker's tasks all run in this context


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
            _check_n_jobs(n_jobs)
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
        yield from _windowed(submit, wait_one, items, window)

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


def _check_n_jobs(n_jobs: int) -> None:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ExecutorError(f"n_jobs must be an integer >= 1, got {n_jobs!r}")


def make_executor(
    kind: str | None = None, n_jobs: int | None = None, dask_scheduler: str | None = None
) -> Executor:
    """The executor named ``kind``, started and ready (see :func:`resolve_executor`).

    ``kind=None`` means ``"dask"``: a LocalCluster, or the existing cluster at
    ``dask_scheduler``; ``n_jobs`` (local processes or LocalCluster workers) defaults to 2.
    """
    if kind is None:
        kind = "dask"
    if dask_scheduler is not None and kind != "dask":
        raise ExecutorError(
            f"a Dask scheduler address ({dask_scheduler}) needs the dask executor, not {kind!r}"
        )
    if kind == "inprocess":
        return InProcessExecutor()
    if kind == "processes":
        return LocalProcessExecutor(DEFAULT_N_JOBS if n_jobs is None else n_jobs)
    if kind == "dask":
        return DaskExecutor(dask_scheduler, DEFAULT_N_JOBS if n_jobs is None else n_jobs)
    executor = executor_factory(kind)(n_jobs=n_jobs)
    if not isinstance(executor, Executor):
        raise ExecutorError(
            f"executor factory {kind!r} returned {type(executor).__name__}, which lacks "
            "description, map_unordered() or close() (see benchmarking.executors.Executor)"
        )
    return executor


def executor_factory(name: str) -> Callable[..., Executor]:
    """The factory of a plug-in executor: an entry point of ``simtune.executors`` or a
    ``package.module:factory`` reference."""
    entry_points = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if name in entry_points:
        return entry_points[name].load()
    module_name, colon, attribute = name.partition(":")
    if not colon or not module_name or not attribute:
        known = [*EXECUTOR_KINDS, *sorted(entry_points)]
        raise UnknownExecutorError(
            f"unknown executor {name!r}; choose one of {', '.join(known)}, or give a factory "
            "as package.module:function"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UnknownExecutorError(
            f"executor {name!r}: cannot import module {module_name!r} ({error}); check the "
            "name and that the module is on the Python path"
        ) from None
    factory = module
    for part in attribute.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise UnknownExecutorError(
                f"executor {name!r}: module {module_name!r} has no attribute {attribute!r}"
            )
    if not callable(factory):
        raise UnknownExecutorError(f"executor {name!r} names {factory!r}, which is not callable")
    return factory


def resolve_executor(
    executor: str | Executor | None, n_jobs: int | None = None, dask_scheduler: str | None = None
) -> contextlib.AbstractContextManager[Executor]:
    """A context manager giving the executor to use; it closes what it started.

    An executor object is used as is and left open (its owner closes it); a name is
    started with :func:`make_executor` and closed on exit.
    """
    if executor is None or isinstance(executor, str):
        return contextlib.closing(make_executor(executor, n_jobs, dask_scheduler))
    if not isinstance(executor, Executor):
        raise TypeError(
            f"executor must be a name or an object with description, map_unordered() and "
            f"close(), got {type(executor).__name__}"
        )
    if dask_scheduler is not None:
        raise ExecutorError("a Dask scheduler address applies to the dask executor only")
    return contextlib.nullcontext(executor)
