"""Real optimizers on a wrapped objective: Optuna, Dask futures, SMAC3 (Dask), HpBandSter BOHB.

Each run's returned order is checked against simtune's engine replay of the same calls.
SMAC3 and HpBandSter come from ``scripts/install_peer_extras.sh``; their tests skip when
they are absent (CI runs that script).
"""

from __future__ import annotations

import multiprocessing
import random

import pytest

from simulated_backend.results import read_run
from simulated_backend.wrapped_objective import SimulationCoordinator, simulate
from simulated_backend.wrapped_objective.adapters import SmacTarget
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox
from tests.simulated_backend.wrapped_objective.wrapped_drivers import (
    engine_order,
    proposals,
    returned_order,
)


@pytest.fixture(scope="module")
def blackbox():
    return random_tabular_blackbox(3)


@pytest.fixture(scope="module")
def dask_client():
    """One real LocalCluster (a spawned worker process with 2 threads) for the Dask tests."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


# ------------------------------------------------------------------ Optuna
def test_optuna_study_through_ask_tell_is_reproducible(blackbox, tmp_path):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs = []
    for folder in ("first", "second"):
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=7))
        runs.append(
            simulate(
                study, blackbox, n_workers=3, max_evaluations=15, results_dir=tmp_path / folder
            )
        )
        assert len(study.trials) >= 15
    first, second = runs
    assert first.results.equals(second.results)
    assert first.results["simulated_time"].is_monotonic_increasing
    assert read_run(tmp_path / "first").metadata["method"] == "ask-tell:Study"


class RecordingRandomSearch:
    """A plain ask/tell optimizer: ``ask() -> (handle, config)``, ``tell(handle, value, state)``."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.told: list[tuple[int, float, str]] = []
        self.asked = 0

    def ask(self):
        self.asked += 1
        return self.asked, {"x": self.rng.randrange(40)}

    def tell(self, handle, value, state):
        self.told.append((handle, value, state))


def test_any_ask_tell_object_is_told_in_simulated_time_order(blackbox):
    optimizer = RecordingRandomSearch(0)
    run = simulate(optimizer, blackbox, n_workers=4, max_evaluations=20)
    completed = run.results[run.results["decision"] == "COMPLETED"]
    assert [value for _, value, _ in optimizer.told] == list(completed["loss"])
    assert completed["simulated_time"].is_monotonic_increasing
    assert {state for _, _, state in optimizer.told} == {"complete"}


def test_optuna_with_n_jobs_threads_returns_results_in_engine_order(blackbox):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with SimulationCoordinator(blackbox, n_workers=3, quiescence=0.5) as run:
        objective = run.objective

        def train(trial):
            config = {"x": trial.suggest_int("x", 0, 39)}
            return objective(config, trial.suggest_int("epoch", 1, 8))["loss"]

        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
        study.optimize(train, n_trials=24, n_jobs=3)
    assert len(run.evaluations) == 24
    assert returned_order(run) == engine_order(blackbox, run)


# ------------------------------------------------------------------ Dask futures
def test_dask_futures_return_results_in_engine_order(blackbox, dask_client):
    from distributed import wait as dask_wait

    with SimulationCoordinator(blackbox, n_workers=2, quiescence=0.5) as run:
        objective = run.objective
        jobs = iter(proposals(6, 16))
        futures = {dask_client.submit(objective, *next(jobs), pure=False) for _ in range(2)}
        while futures:
            done, futures = dask_wait(futures, return_when="FIRST_COMPLETED")
            for future in done:
                assert "simulated_time" in future.result()
                job = next(jobs, None)
                if job is not None:
                    futures.add(dask_client.submit(objective, *job, pure=False))
    assert len(run.evaluations) == 16
    assert returned_order(run) == engine_order(blackbox, run)


# ------------------------------------------------------------------ SMAC3
def test_smac_dask_runner_with_hyperband_returns_results_in_engine_order(
    blackbox, dask_client, tmp_path
):
    smac = pytest.importorskip("smac")
    from smac.intensifier.hyperband import Hyperband

    with SimulationCoordinator(blackbox, n_workers=2, quiescence=0.5) as run:
        scenario = smac.Scenario(
            blackbox.configuration_space,
            n_trials=10,
            min_budget=1,
            max_budget=8,
            n_workers=2,
            seed=0,
            deterministic=True,
            output_directory=tmp_path / "smac",
        )
        facade = smac.MultiFidelityFacade(
            scenario,
            SmacTarget(run.objective, "loss"),
            intensifier=Hyperband(scenario, eta=2),
            dask_client=dask_client,
            overwrite=True,
            logging_level=40,
        )
        facade.optimize()
    budgets = {e.fidelity for e in run.evaluations}
    assert len(run.evaluations) >= 10 and len(budgets) > 1  # a multi-fidelity schedule
    assert returned_order(run) == engine_order(blackbox, run)


# ------------------------------------------------------------------ HpBandSter
def test_hpbandster_bohb_with_independent_worker_processes(blackbox, tmp_path):
    pytest.importorskip("hpbandster")
    import hpbandster.core.nameserver as hpns
    from hpbandster.optimizers import BOHB

    from tests.simulated_backend.wrapped_objective.hpbandster_workers import (
        let_pyro_send_numpy_scalars,
        run_worker,
    )

    let_pyro_send_numpy_scalars()
    runs_dir = str(tmp_path / "runs")
    context = multiprocessing.get_context("fork")
    nameserver = hpns.NameServer(run_id="bohb-wrapped", host="127.0.0.1", port=0)
    host, port = nameserver.start()
    workers = []
    try:
        with SimulationCoordinator(
            blackbox, n_workers=2, run_name="bohb-wrapped", runs_dir=runs_dir, quiescence=0.5
        ) as run:
            for _ in range(2):
                worker = context.Process(
                    target=run_worker, args=("bohb-wrapped", runs_dir, host, port), daemon=True
                )
                worker.start()
                workers.append(worker)
            optimizer = BOHB(
                configspace=blackbox.configuration_space,
                run_id="bohb-wrapped",
                nameserver=host,
                nameserver_port=port,
                host="127.0.0.1",
                min_budget=1,
                max_budget=8,
                eta=2,
            )
            result = optimizer.run(n_iterations=2, min_n_workers=2)
            optimizer.shutdown(shutdown_workers=True)
    finally:
        nameserver.shutdown()
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.terminate()
    assert len(run.evaluations) == len(result.get_all_runs())
    assert {e.worker for e in run.evaluations} == {0, 1}
    assert returned_order(run) == engine_order(blackbox, run)
