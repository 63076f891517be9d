"""The Dask workers of one surrogate fit, shared by all its tuning runs.

A fit tunes every (objective, model family) pair in its own run of simtune's Tuner on the
real backend. Starting a Dask client and scattering the training data for each run cost
seconds per run (and two clients scattering the same content-hashed key raced: the key
was released by the first client while the second replicated it, and a run's fits failed
with "the Dask task failed: None"). So :class:`TuningWorkers` connects once per fit (to a
new ``LocalCluster`` or to ``address``), scatters the training data once under a unique
key, and hands each run a :class:`~simulated_backend.real_backend.dask_runner.ClientRunner`:
a runner of the real backend's protocol whose ``close`` ends that run's tasks only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from simulated_backend.real_backend.dask_runner import ClientRunner

CLOSE_SECONDS = 60.0
"""How long closing the LocalCluster may take before the fit goes on without waiting."""


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
    ) -> ClientRunner:
        """A runner calling ``objective(..., **data, **shared)`` on these workers; its
        ``close`` ends that run's tasks only."""
        # the futures inside ``shared`` are resolved by Dask on the worker
        return ClientRunner(self._client, objective, {**self._data, **shared}, self.n_workers)

    def close(self) -> None:
        client, self._client = getattr(self, "_client", None), None
        if client is not None:
            client.close()
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            try:
                cluster.close(timeout=CLOSE_SECONDS)
            except TimeoutError:
                # seen at load average 25: every tuning run had finished and was journalled,
                # and the fit failed only because the workers were slow to say goodbye; the
                # nannies' worker processes are this process's children and end with it
                warnings.warn(
                    f"the tuning workers' LocalCluster did not close within {CLOSE_SECONDS:g} s "
                    "(machine overloaded?); continuing, its processes end with this one",
                    RuntimeWarning,
                    stacklevel=2,
                )

    def __enter__(self) -> TuningWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
