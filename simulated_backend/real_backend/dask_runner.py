"""Fidelity steps on a Dask cluster: a ``LocalCluster`` by default, or an existing scheduler.

The objective and the shared keyword arguments (for example a training set) are
scattered to every worker once, when the runner starts, and handed to every call as
futures, so large read-only data never travels with each task. A worker that dies under
a task ends it as ``crashed`` (Dask's own retries are off for these tasks: a step must
not run twice behind the Tuner's back).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from simulated_backend.real_backend.runners import RunnerError, crashed_outcome
from simulated_backend.real_backend.trial_step import StepOutcome, StepTask, execute_step


def _run_on_worker(
    task: StepTask, objective: Callable[..., Mapping[str, float]], shared: Mapping[str, Any]
) -> StepOutcome:
    return execute_step(task, objective, shared)


class ClientRunner:
    """Runs steps as tasks of an existing Dask client (the real backend's ``Runner``).

    ``objective`` and ``shared`` may be futures (scattered data): Dask resolves them on the
    worker. :meth:`close` cancels this runner's tasks only; the client stays, so several
    runs can share one client (see ``benchmarking.surrogates.tuning_workers``).
    """

    def __init__(
        self,
        client: Any,
        objective: Any,
        shared: Any,
        n_workers: int,
    ) -> None:
        self.n_workers = int(n_workers)
        self._client = client
        self._objective = objective
        self._shared = shared
        self._running: dict[Any, tuple[StepTask, float]] = {}
        self._finished: queue.SimpleQueue = queue.SimpleQueue()  # filled by Dask's callbacks
        self._ready: list[StepOutcome] = []
        self._closed = False

    def start(self) -> None:
        """The workers are up before the runner is created: nothing to start."""

    def submit(self, task: StepTask) -> None:
        if self._closed:
            raise RunnerError("the Dask runner is closed")
        if self.count_available() < 1:
            raise RunnerError("no worker is free: check count_available() before submit()")
        future = self._client.submit(
            _run_on_worker, task, self._objective, self._shared, pure=False, retries=0
        )
        self._running[future] = (task, time.time())
        future.add_done_callback(self._finished.put)

    def _collect(self, timeout: float | None = 0.0) -> None:
        finished = []
        try:
            if timeout:
                finished.append(self._finished.get(timeout=timeout))
            while True:
                finished.append(self._finished.get_nowait())
        except queue.Empty:
            pass
        for future in finished:
            if future not in self._running:
                continue  # cancelled at close
            task, started = self._running.pop(future)
            if future.status == "finished":
                self._ready.append(future.result())
            else:
                error = future.exception() if future.status == "error" else future.status
                self._ready.append(
                    crashed_outcome(task, f"the Dask task failed: {error!r}", started)
                )

    def iter_results(self) -> Iterator[StepOutcome]:
        self._collect()
        ready, self._ready = self._ready, []
        yield from ready

    def wait(self, timeout: float | None = None) -> None:
        if self._ready or not self._running:
            return
        self._collect(timeout if timeout is not None else 3600.0)

    def is_running(self) -> bool:
        return bool(self._running) or bool(self._ready)

    def count_available(self) -> int:
        return self.n_workers - len(self._running)

    def close(self) -> None:
        """End this runner's tasks (a step still running is abandoned); the client stays."""
        if self._closed:
            return
        self._closed = True
        if self._running:
            self._client.cancel(list(self._running), force=True)
        self._running = {}

    def describe(self) -> dict[str, Any]:
        return {"runner": "dask", "n_workers": self.n_workers}


class DaskRunner(ClientRunner):
    """Runs steps on ``n_workers`` Dask worker processes of a client of its own.

    Args:
        objective: the user's function (picklable).
        n_workers: workers of the ``LocalCluster`` (one thread each); with ``address``,
            how many tasks to keep in flight at most (default: the cluster's thread count).
        shared: keyword arguments handed to every call, scattered to the workers once.
        address: an existing scheduler (``tcp://host:port``) instead of a new cluster.
    """

    def __init__(
        self,
        objective: Callable[..., Mapping[str, float]],
        n_workers: int | None = None,
        shared: Mapping[str, Any] | None = None,
        address: str | None = None,
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as error:
            raise ImportError(
                f"the Dask runner needs dask[distributed] ({error}); install it with "
                "`pip install 'simtune[study]'`"
            ) from error
        if n_workers is not None and (
            isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1
        ):
            raise ValueError(f"n_workers must be an integer >= 1, got {n_workers!r}")
        self._cluster = None
        if address is None:
            self._cluster = LocalCluster(
                n_workers=n_workers or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                host="127.0.0.1",
            )
            client = Client(self._cluster)
        else:
            client = Client(address)
        if n_workers is None:
            n_workers = sum(client.nthreads().values()) or 1
        self.address = address or self._cluster.scheduler_address
        scattered_objective = client.scatter(objective, broadcast=True)
        # a list of one: a dict given to scatter would be scattered key by key
        [scattered_shared] = client.scatter([dict(shared or {})], broadcast=True)
        super().__init__(client, scattered_objective, scattered_shared, n_workers)

    def start(self) -> None:
        """The cluster is up and the shared data scattered when the runner is created."""

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def describe(self) -> dict[str, Any]:
        return {
            "runner": "dask",
            "n_workers": self.n_workers,
            "address": None if self._cluster is not None else self.address,
        }
