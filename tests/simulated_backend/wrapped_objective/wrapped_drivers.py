"""Optimizer-side drivers and the engine-order check shared by the wrapped-objective tests."""

from __future__ import annotations

import os
import random
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Any

from simulated_backend.wrapped_objective import SimulationCoordinator, replay_in_simulator


def proposals(seed: int, count: int, n_configs: int = 40, n_fidelities: int = 8) -> list:
    """A random search's proposals ``(config, fidelity)``, in the order it makes them."""
    rng = random.Random(seed)
    return [({"x": rng.randrange(n_configs)}, rng.randint(1, n_fidelities)) for _ in range(count)]


def keep_workers_busy(submit: Any, n_workers: int, jobs: list, n_calls: int) -> list[dict]:
    """Submit ``n_calls`` jobs keeping ``n_workers`` in flight; results in completion order."""
    remaining = iter(jobs[:n_calls])
    futures = {submit(*job) for _, job in zip(range(n_workers), remaining)}
    returned = []
    while futures:
        done, futures = wait(futures, return_when=FIRST_COMPLETED)
        returned.extend(future.result() for future in done)
        for _ in done:
            job = next(remaining, None)
            if job is not None:
                futures.add(submit(*job))
    return returned


def engine_order(blackbox: Any, run: SimulationCoordinator) -> list[tuple]:
    """What simtune's discrete-event engine says the order of the recorded calls must be."""
    return replay_in_simulator(blackbox, run.evaluations, run.settings.n_workers)


def returned_order(run: SimulationCoordinator) -> list[tuple]:
    return [(e.trial_id, e.fidelity, e.finish_time) for e in run.evaluations]


def serve_jobs(run_name: str, runs_dir: str, conn: Any) -> None:
    """An independently started worker process: opens the run by name, serves jobs."""
    from simulated_backend.wrapped_objective import WrappedObjective

    objective = WrappedObjective.connect(run_name, runs_dir)
    conn.send(objective.worker_index)
    parent = os.getppid()
    while True:
        if not conn.poll(1.0):
            if os.getppid() != parent:  # the test process died: die with it
                return
            continue
        job = conn.recv()
        if job is None:
            return
        try:
            conn.send(objective(*job))
        except Exception as error:
            conn.send(error)
