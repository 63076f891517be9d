"""The HPC example builds a real dask-jobqueue SLURMCluster (no SLURM here: nothing is
submitted) whose job script runs one single-threaded Dask worker per job."""

from __future__ import annotations

import pytest

from examples.hpc_cluster import slurm_cluster


def test_the_slurm_example_builds_a_cluster_and_its_job_script():
    pytest.importorskip("dask_jobqueue", reason="the hpc extra (dask-jobqueue) is not installed")
    with slurm_cluster(queue="short", memory="2GB", walltime="00:30:00") as cluster:
        script = cluster.job_script()
        assert "#SBATCH -p short" in script
        assert "#SBATCH -t 00:30:00" in script
        assert "distributed.cli.dask_worker" in script and "--nthreads 1" in script
        assert cluster.scheduler_address.startswith("tcp://")
        assert len(cluster.workers) == 0  # nothing was submitted
