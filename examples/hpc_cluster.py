"""Run a study on an HPC cluster: Dask workers as SLURM (or PBS) jobs via dask-jobqueue.

Install the optional extra (``pip install "simtune[hpc]"``), adapt the resources below to
your cluster, and name the factory as the study's executor::

    simtune run --study study.yaml --executor examples.hpc_cluster:make_slurm_executor --n-jobs 64

(with ``examples/`` importable, e.g. ``PYTHONPATH=.``, or copy this file into your own
package). Each SLURM job runs one Dask worker process with one thread; ``--n-jobs`` is the
number of jobs. The jobs must see the study's output folder (a shared filesystem) and have
the blackboxes in their local cache (see docs/scaling.md). simtune closes the cluster, and
so cancels the jobs, when the study ends.
"""

from __future__ import annotations

from typing import Any

from benchmarking.dask_executor import DaskExecutor

DEFAULT_JOBS = 32


def slurm_cluster(**overrides: Any):
    """A ``SLURMCluster`` of single-threaded workers (no job is submitted until it scales)."""
    from dask_jobqueue import SLURMCluster

    settings = {
        "queue": "cpu",  # the partition
        "account": None,  # --account, if your site needs one
        "cores": 1,  # one simulation at a time per job: runs are single-threaded
        "processes": 1,
        "memory": "4GB",  # ~350 MB per worker plus the blackboxes it holds (docs/scaling.md)
        "walltime": "02:00:00",
        "job_extra_directives": ["--output=dask-worker-%j.out"],
        "scheduler_options": {"dashboard_address": ":0"},  # a free port, never 8787
    }
    settings.update(overrides)
    return SLURMCluster(**settings)


def make_slurm_executor(n_jobs: int | None = None, **overrides: Any) -> DaskExecutor:
    """The executor factory simtune calls: ``n_jobs`` SLURM jobs of one worker each."""
    cluster = slurm_cluster(**overrides)
    cluster.scale(jobs=n_jobs or DEFAULT_JOBS)
    return DaskExecutor(cluster=cluster)


def make_pbs_executor(n_jobs: int | None = None, **overrides: Any) -> DaskExecutor:
    """The same on PBS / Torque."""
    from dask_jobqueue import PBSCluster

    settings = {"queue": "batch", "cores": 1, "processes": 1, "memory": "4GB",
                "walltime": "02:00:00", "scheduler_options": {"dashboard_address": ":0"}}  # fmt: skip
    settings.update(overrides)
    cluster = PBSCluster(**settings)
    cluster.scale(jobs=n_jobs or DEFAULT_JOBS)
    return DaskExecutor(cluster=cluster)
