"""Throughput of simtune's wrapped objective against mfhpo-simulator 1.4.6, same run.

The same optimizer (a seeded random search that keeps every worker busy) drives the same
objective (a synthetic tabular benchmark, lookups only) through both wrappers:

- process-pool mode: the optimizer submits calls to a ``concurrent.futures`` process pool;
- independent-process mode: ``n`` worker processes started on their own open the wrapper
  (simtune: by run name; mfhpo-simulator: by its shared directory) and take jobs from the
  optimizer over pipes, as BOHB or NePS workers do;
- ask/tell mode: simtune's ``simulate()`` against ``ObjectiveFuncWrapper(ask_and_tell=True)``.

It checks that both return the results in the same order (the order of simtune's engine
replay, :func:`replay_in_simulator`) and prints evaluations per second and the targets of
issue 13 with "met" or "MISSED". ``--index-stress`` starts 8 independent processes 1,000
times and counts failed worker-index assignments.

    PYTHONPATH=$PWD python benchmarks/wrapper_throughput.py --quick
    PYTHONPATH=$PWD python benchmarks/wrapper_throughput.py --index-stress
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import ConfigSpace as CS
import numpy as np
import pandas as pd

from blackbox_repository import Objective, TabularBlackbox
from simulated_backend.wrapped_objective import (
    SimulationCoordinator,
    WrappedObjective,
    replay_in_simulator,
    simulate,
)

N_CONFIGS, N_FIDELITIES = 200, 10


def synthetic_blackbox(n_fidelities: int = N_FIDELITIES, seed: int = 0) -> TabularBlackbox:
    """Random learning curves with real-valued step times (no ties in simulated time)."""
    rng = np.random.default_rng(seed)
    values = np.empty((N_CONFIGS, n_fidelities, 1, 2))
    values[..., 0] = rng.random((N_CONFIGS, n_fidelities, 1))
    values[..., 1] = np.cumsum(1.0 + 9.0 * rng.random((N_CONFIGS, n_fidelities, 1)), axis=1)
    return TabularBlackbox(
        name="synthetic-wrapper-benchmark",
        configuration_space=CS.ConfigurationSpace(space={"x": (0, N_CONFIGS - 1)}),
        configurations=pd.DataFrame({"x": np.arange(N_CONFIGS)}),
        fidelity_name="epoch",
        fidelity_values=np.arange(1, n_fidelities + 1),
        seeds=np.arange(1),
        objectives=[Objective("loss", "min"), Objective("runtime", "min", "s")],
        elapsed_time_objective="runtime",
        values=values,
    )


_TABLE = synthetic_blackbox().values  # read by mfhpo-simulator's objective in every process


def mfhpo_objective(eval_config: dict, fidels: dict | None, seed: int | None, **kwargs: Any) -> dict:
    """mfhpo-simulator's calling convention over the same table."""
    epoch = fidels["epoch"] if fidels else N_FIDELITIES
    loss, runtime = _TABLE[int(eval_config["x"]), int(epoch) - 1, 0]
    return {"loss": float(loss), "runtime": float(runtime)}


def proposals(seed: int, count: int) -> list[tuple[dict, int]]:
    """The random-search optimizer's proposals, in the order it makes them."""
    rng = random.Random(seed)
    return [({"x": rng.randrange(N_CONFIGS)}, rng.randint(1, N_FIDELITIES)) for _ in range(count)]


@dataclass(frozen=True)
class Measured:
    evaluations_per_second: float
    order: list[tuple[int, int]]  # (x, epoch) of the results by simulated finish time
    matches_reference: bool | None = None


# ------------------------------------------------------------------ process-pool mode
def drive_pool(submit: Any, n_workers: int, jobs: list[tuple[dict, int]], n_evals: int) -> float:
    """Keep ``n_workers`` calls in flight until ``n_evals`` returned; returns evaluations/s."""
    remaining = iter(jobs)
    start = time.perf_counter()
    futures = {submit(*next(remaining)) for _ in range(n_workers)}
    returned = 0
    while futures and returned < n_evals:
        done, futures = wait(futures, return_when=FIRST_COMPLETED)
        returned += sum(1 for future in done if future.exception() is None)
        if returned < n_evals:
            for _ in done:
                futures.add(submit(*next(remaining)))
    elapsed = time.perf_counter() - start
    return returned / elapsed


def simtune_pool(n_workers: int, n_evals: int, seed: int, blackbox: TabularBlackbox) -> Measured:
    jobs = proposals(seed, n_evals + 4 * n_workers)
    with SimulationCoordinator(blackbox, n_workers=n_workers, max_evaluations=n_evals) as run:
        objective = run.objective
        with ProcessPoolExecutor(n_workers) as pool:
            rate = drive_pool(lambda c, e: pool.submit(objective, c, e), n_workers, jobs, n_evals)
    order = [(e.config["x"], e.fidelity) for e in run.evaluations]
    reference = replay_in_simulator(blackbox, run.evaluations, n_workers)
    expected = [(e.trial_id, e.fidelity, e.finish_time) for e in run.evaluations]
    return Measured(rate, order, reference == expected)


def _mfhpo_wrapper(n_workers: int, n_evals: int, directory: str, **kwargs: Any) -> Any:
    from benchmark_simulator import ObjectiveFuncWrapper

    return ObjectiveFuncWrapper(
        obj_func=mfhpo_objective,
        save_dir_name=os.path.basename(directory),
        tmp_dir=os.path.dirname(directory),
        n_workers=n_workers,
        n_evals=n_evals,
        n_actual_evals_in_opt=n_evals + 4 * n_workers,
        fidel_keys=["epoch"],
        obj_keys=["loss"],
        runtime_key="runtime",
        store_config=True,
        max_waiting_time=120.0,
        **kwargs,
    )


def mfhpo_order(directory: str) -> list[tuple[int, int]]:
    import json

    with open(os.path.join(directory, "results.json")) as stream:
        results = json.load(stream)
    rows = sorted(zip(results["cumtime"], results["x"], results["epoch"]))
    return [(int(x), int(epoch)) for _, x, epoch in rows]
