"""An executor a user might write: tasks on a thread pool of this process.

Referenced by the tests as ``tests.benchmarking.user_executor:make_thread_executor`` (from
the CLI, a YAML study file and an entry point), and used as an instance from Python.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any


class ThreadPoolTaskExecutor:
    """Runs every item on a pool of threads; remembers which threads ran something."""

    def __init__(self, n_threads: int = 2) -> None:
        self.description = f"a user thread pool of {n_threads} threads"
        self.n_workers = n_threads
        self.threads_used: set[str] = set()
        self.closed = False
        self._pool = concurrent.futures.ThreadPoolExecutor(
            n_threads, thread_name_prefix="user-executor"
        )

    def map_unordered(
        self, function: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[tuple[Any, Any, BaseException | None]]:
        def call(item: Any) -> Any:
            self.threads_used.add(threading.current_thread().name)
            return function(item)

        futures = {self._pool.submit(call, item): item for item in items}
        for future in concurrent.futures.as_completed(futures):
            error = future.exception()
            yield futures[future], None if error else future.result(), error

    def close(self) -> None:
        self._pool.shutdown()
        self.closed = True


def make_thread_executor(n_jobs: int | None = None) -> ThreadPoolTaskExecutor:
    """The factory simtune calls for ``--executor tests.benchmarking.user_executor:make_thread_executor``."""
    return ThreadPoolTaskExecutor(n_jobs or 2)


def refuse_to_start(n_jobs: int | None = None) -> ThreadPoolTaskExecutor:
    """A factory that must not be called (the study has nothing left to run)."""
    raise AssertionError("an executor was started for a study with nothing to run")
