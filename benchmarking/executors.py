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

The Dask executor (a LocalCluster, an existing scheduler, or any Dask cluster object) is
:class:`benchmarking.dask_executor.DaskExecutor`, imported only when a study uses it.

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
PRELOADED_MODULES = ("benchmarking.study", "benchmarking.simulation", "benchmarking.baselines")
"""Imported once by the forkserver of a local process pool, before it forks workers."""
Outcome = tuple[Any, Any, BaseException | None]


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


def map_in_window(
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
        check_n_jobs(n_jobs)
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

        yield from map_in_window(submit, wait_one, items, self.n_jobs * TASKS_IN_FLIGHT_PER_WORKER)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._lifeline.close()


def _start_pool_worker(lifeline: Any) -> None:
    """First thing in a worker of the local process pool: exit with the study's process,
    and keep the benchmarks its tasks load."""
    from benchmarking.loaded_benchmarks import LoadedBenchmarks, keep_in_this_context

    exit_with_parent(lifeline)
    keep_in_this_context(LoadedBenchmarks())  # the worker's tasks all run in this context


def check_n_jobs(n_jobs: int) -> None:
    """Raise :class:`ExecutorError` unless ``n_jobs`` is an integer >= 1."""
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
        from benchmarking.dask_executor import DaskExecutor

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
