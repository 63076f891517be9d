"""A real Dask LocalCluster for the tabulation tests' module fixtures."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from distributed import LocalCluster


@contextmanager
def local_cluster(n_workers: int) -> Iterator[LocalCluster]:
    """``n_workers`` single-threaded worker processes, closed with a generous timeout
    (stopping a worker took over 5 s on a loaded machine)."""
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},
        silence_logs=logging.ERROR,
    )
    try:
        yield cluster
    finally:
        cluster.close(timeout=120)
