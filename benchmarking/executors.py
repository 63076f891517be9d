"""Where the tasks of a study run: in this process, in a local process pool, or on Dask.

Every executor has one method, :meth:`TaskExecutor.map_unordered`: apply a function to
items and yield ``(item, result, error)`` as each finishes, in completion order. A task
that raises (or whose worker dies) yields its exception instead of stopping the others.
At most a few tasks per worker are in flight at once, so a study of 100,000 tasks never
holds 100,000 futures.

Workers live for the whole study and run many tasks each, so per-process caches (the
blackboxes of :mod:`benchmarking.simulation`) are filled once per worker, not per task.

Example:
    >>> with make_executor("dask", n_jobs=4) as executor:  # doctest: +SKIP
    ...     for item, result, error in executor.map_unordered(function, items):
    ...         ...
"""

from __future__ import annotations

import abc
import collections
import concurrent.futures
import logging
import multiprocessing
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from blackbox_repository.errors import SimtuneError

EXECUTOR_KINDS = ("inprocess", "processes", "dask")
DEFAULT_N_JOBS = 2
TASKS_IN_FLIGHT_PER_WORKER = 4
DASK_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for an existing Dask scheduler before giving up."""

PRELOADED_MODULES = ("benchmarking.study", "benchmarking.simulation", "benchmarking.baselines")
"""Imported once by the forkserver of a local process pool, before it forks workers."""

Outcome = tuple[Any, Any, BaseException | None]


class DaskSchedulerUnreachableError(SimtuneError, ConnectionError):
    """The Dask scheduler given by address could not be reached."""


class TaskExecutor(abc.ABC):
    """Runs a function over items; a context manager that releases its workers on exit."""

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

    def map_unordered(
        self, function: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[Outcome]:
        for item in items:
            try:
                result = function(item)
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
        self.n_jobs = n_jobs
        self.description = f"a local pool of {n_jobs} processes ({start_method})"
        self._pool = concurrent.futures.ProcessPoolExecutor(max_workers=n_jobs, mp_context=context)

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


class DaskExecutor(TaskExecutor):
    """Tasks on Dask distributed: a new ``LocalCluster`` or an existing scheduler.

    Args:
        scheduler_address: ``tcp://host:port`` of a running ``dask scheduler``; ``None``
            starts a ``LocalCluster`` of ``n_jobs`` worker processes (one thread each).
        n_jobs: workers of the LocalCluster (ignored with an existing scheduler).
        connect_timeout: seconds to wait for an existing scheduler; an unreachable one is
            :class:`DaskSchedulerUnreachableError` after that, and nothing is started.
    """

    def __init__(
        self,
        scheduler_address: str | None = None,
        n_jobs: int = DEFAULT_N_JOBS,
        connect_timeout: float = DASK_CONNECT_TIMEOUT,
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as error:
            raise ImportError(
                f"the dask executor needs dask.distributed ({error}); `pip install simtune[dask]`"
            ) from error
        self._cluster = None
        if scheduler_address is not None:
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
            _check_n_jobs(n_jobs)
            self._cluster = LocalCluster(
                n_workers=n_jobs,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster, set_as_default=False)
            self.description = f"a Dask LocalCluster of {n_jobs} worker processes"

    @property
    def client(self):
        """The ``distributed.Client`` (e.g. to inspect workers)."""
        return self._client

    def n_worker_threads(self) -> int:
        return max(1, sum(self._client.nthreads().values()))

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
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _check_n_jobs(n_jobs: int) -> None:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be an integer >= 1, got {n_jobs!r}")


def make_executor(
    kind: str | None = None, n_jobs: int | None = None, dask_scheduler: str | None = None
) -> TaskExecutor:
    """The executor ``kind`` (one of :data:`EXECUTOR_KINDS`), started and ready.

    ``kind=None`` means ``"dask"``: a LocalCluster, or the existing cluster at
    ``dask_scheduler``; ``n_jobs`` (local processes or LocalCluster workers) defaults to 2.
    """
    if kind is None:
        kind = "dask"
    if dask_scheduler is not None and kind != "dask":
        raise ValueError(
            f"a Dask scheduler address ({dask_scheduler}) needs the dask executor, not {kind!r}"
        )
    if kind not in EXECUTOR_KINDS:
        raise ValueError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTOR_KINDS)}")
    n_jobs = DEFAULT_N_JOBS if n_jobs is None else n_jobs
    if kind == "inprocess":
        return InProcessExecutor()
    if kind == "processes":
        return LocalProcessExecutor(n_jobs)
    return DaskExecutor(dask_scheduler, n_jobs)
