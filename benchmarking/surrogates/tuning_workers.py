"""The Dask workers of one surrogate fit, shared by all its tuning runs.

A fit tunes every (objective, model family) pair in its own run of simtune's Tuner on the
real backend. Starting a Dask client and scattering the training data for each run cost
seconds per run (and two clients scattering the same content-hashed key raced: the key
was released by the first client while the second replicated it, and a run's fits failed
with "the Dask task failed: None"). So :class:`TuningWorkers` connects once per fit (to a
new ``LocalCluster`` or to ``address``), scatters the training data once under a unique
key, and hands each run a :class:`RunRunner`: a runner of the real backend's protocol
whose ``close`` ends that run's tasks only.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from simulated_backend.real_backend.runners import RunnerError, crashed_outcome
from simulated_backend.real_backend.trial_step import StepOutcome, StepTask, execute_step


def _run_step(
    task: StepTask, objective: Callable[..., Mapping[str, float]], shared: Mapping[str, Any]
) -> StepOutcome:
    return execute_step(task, objective, shared)


class TuningWorkers:
    """A Dask client (and ``LocalCluster`` unless ``address`` is given) with data scattered.

    Args:
        data: read-only keyword arguments every call gets (e.g. the training data), sent
            to every worker once.
        n_workers: worker processes of the new cluster (one thread each), or the number of
            tasks to keep in flight on the cluster at ``address``.
        address: ``tcp://host:port`` of an existing Dask scheduler.
    """

    def __init__(
        self, data: Mapping[str, Any], n_workers: int = 2, address: str | None = None
    ) -> None:
        from distributed import Client, LocalCluster

        self.n_workers = int(n_workers)
        self._cluster = None
        if address is None:
            self._cluster = LocalCluster(
                n_workers=self.n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                host="127.0.0.1",
            )
            address = self._cluster.scheduler_address
        self.address = address
        try:
            self._client = Client(address)
            # hash=False: a key of its own, never shared with another client's data
            futures = self._client.scatter(dict(data), broadcast=True, hash=False)
        except BaseException:
            self.close()
            raise
        self._data = dict(futures)

    def runner(
        self, objective: Callable[..., Mapping[str, float]], shared: Mapping[str, Any]
    ) -> RunRunner:
        """A runner calling ``objective(..., **data, **shared)`` on these workers."""
        return RunRunner(self._client, objective, {**self._data, **shared}, self.n_workers)

    def close(self) -> None:
        client, self._client = getattr(self, "_client", None), None
        if client is not None:
            client.close()
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.close()

    def __enter__(self) -> TuningWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RunRunner:
    """One tuning run's view of :class:`TuningWorkers` (the real backend's ``Runner``)."""

    def __init__(
        self,
        client: Any,
        objective: Callable[..., Mapping[str, float]],
        shared: Mapping[str, Any],
        n_workers: int,
    ) -> None:
        self.n_workers = n_workers
        self._client = client
        self._objective = objective
        self._shared = dict(shared)  # futures inside are resolved by Dask on the worker
        self._running: dict[Any, tuple[StepTask, float]] = {}
        self._finished: queue.SimpleQueue = queue.SimpleQueue()  # filled by Dask's callbacks
        self._ready: list[StepOutcome] = []
        self._closed = False

    def start(self) -> None:
        """The workers are up before the run: nothing to start."""

    def submit(self, task: StepTask) -> None:
        if self._closed:
            raise RunnerError("this tuning run's runner is closed")
        if self.count_available() < 1:
            raise RunnerError("no worker is free: check count_available() before submit()")
        future = self._client.submit(
            _run_step, task, self._objective, self._shared, pure=False, retries=0
        )
        self._running[future] = (task, time.time())
        future.add_done_callback(self._finished.put)

    def _collect(self, timeout: float = 0.0) -> None:
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
        """End this run's tasks (a fit still running is abandoned); the workers stay."""
        if self._closed:
            return
        self._closed = True
        if self._running:
            self._client.cancel(list(self._running), force=True)
        self._running = {}

    def describe(self) -> dict[str, Any]:
        return {"runner": "dask", "n_workers": self.n_workers, "shared_by_the_fit": True}
