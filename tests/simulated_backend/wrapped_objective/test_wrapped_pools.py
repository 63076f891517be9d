"""Worker pools and independent processes calling a wrapped objective (real processes)."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from simulated_backend.results import read_run
from simulated_backend.wrapped_objective import (
    FunctionObjective,
    OptimizerTime,
    SimulationCoordinator,
    SimulationFinished,
    WrappedObjectiveError,
)
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox
from tests.simulated_backend.wrapped_objective.wrapped_drivers import (
    engine_order,
    keep_workers_busy,
    proposals,
    returned_order,
    serve_jobs,
)


@pytest.fixture(scope="module")
def blackbox():
    return random_tabular_blackbox(3)  # integer step times: ties in simulated time are common


def elapsed(blackbox, x: int, epoch: int) -> float:
    return float(blackbox.curve({"x": x})[epoch - 1][1])


def test_process_pool_returns_results_in_engine_order_and_writes_a_run(blackbox, tmp_path):
    with SimulationCoordinator(
        blackbox, n_workers=4, max_evaluations=60, results_dir=tmp_path, quiescence=0.3
    ) as run:
        objective = run.objective
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(4, mp_context=context) as pool:
            returned = keep_workers_busy(
                lambda c, f: pool.submit(objective, c, f), 4, proposals(0, 80), 60
            )
    assert returned_order(run) == engine_order(blackbox, run)
    assert [r["simulated_time"] for r in returned] == sorted(r["simulated_time"] for r in returned)
    saved = read_run(tmp_path)
    assert len(saved.results) == 60 and saved.metadata["status"] == "completed"
    assert saved.metadata["stop_reason"] == "max_evaluations=60 reached"
    assert set(saved.results["worker"]) == {0, 1, 2, 3}
    assert (saved.results["simulated_time"] >= saved.results["simulated_start_time"]).all()


def test_thread_pool_returns_results_in_engine_order(blackbox):
    with SimulationCoordinator(blackbox, n_workers=3, max_evaluations=40, quiescence=0.3) as run:
        objective = run.objective
        with ThreadPoolExecutor(3) as pool:
            keep_workers_busy(lambda c, f: pool.submit(objective, c, f), 3, proposals(2, 40), 40)
    assert returned_order(run) == engine_order(blackbox, run)


def test_continuation_is_charged_only_the_remaining_time(blackbox):
    with SimulationCoordinator(blackbox, n_workers=1, quiescence=0.2) as run:
        first = run.objective({"x": 5}, 2, trial_key="five")
        continued = run.objective({"x": 5}, 6, trial_key="five")
        from_scratch = run.objective({"x": 5}, 6)
    assert continued["trial_id"] == first["trial_id"] == 0 and from_scratch["trial_id"] == 1
    assert continued["simulated_start_time"] == first["simulated_time"]
    charged = continued["simulated_time"] - continued["simulated_start_time"]
    assert charged == elapsed(blackbox, 5, 6) - elapsed(blackbox, 5, 2)
    assert from_scratch["simulated_time"] - from_scratch["simulated_start_time"] == elapsed(
        blackbox, 5, 6
    )
    assert [e.continued for e in run.evaluations] == [False, True, False]
    assert returned_order(run) == engine_order(blackbox, run)


def test_synchronous_batches_are_simulated_exactly(blackbox):
    batches = [proposals(seed, 3) for seed in range(4)]
    with SimulationCoordinator(
        blackbox, n_workers=3, synchronous=True, quiescence=5.0, idle_timeout=60
    ) as run:
        objective = run.objective
        started = time.monotonic()
        with ThreadPoolExecutor(3) as pool:
            for batch in batches:  # the optimizer waits for the whole batch every time
                list(pool.map(lambda job: objective(*job), batch))
        real_seconds = time.monotonic() - started
    assert real_seconds < 5.0  # a synchronous batch drains without waiting for quiescence
    evaluations = run.evaluations
    batch_end = 0.0
    for k in range(4):
        batch = [e for e in evaluations if 3 * k <= e.call_index < 3 * k + 3]
        assert {e.start_time for e in batch} == {batch_end}
        batch_end = max(e.finish_time for e in batch)
    assert returned_order(run) == engine_order(blackbox, run)


def test_simulated_time_budget_ends_the_run(blackbox, tmp_path):
    with SimulationCoordinator(
        blackbox, n_workers=2, max_simulated_time=25.0, results_dir=tmp_path, quiescence=0.2
    ) as run:
        objective = run.objective
        with ThreadPoolExecutor(2) as pool, pytest.raises(SimulationFinished):
            keep_workers_busy(lambda c, f: pool.submit(objective, c, f), 2, proposals(3, 99), 99)
        assert run.wait_until_ended(5) and run.status == "completed"
        with pytest.raises(SimulationFinished, match="max_simulated_time=25"):
            objective({"x": 1}, 1)
    assert all(e.finish_time <= 25.0 for e in run.evaluations)
    assert read_run(tmp_path).metadata["end_time"] == 25.0


def test_killed_worker_ends_the_run_with_everything_recorded(blackbox, tmp_path):
    context = multiprocessing.get_context("fork")
    with SimulationCoordinator(
        blackbox,
        n_workers=2,
        results_dir=tmp_path,
        run_name="killed-worker",
        runs_dir=tmp_path / "runs",
        quiescence=60.0,
        idle_timeout=None,
    ) as run:
        workers, conns = [], []
        for _ in range(2):
            mine, theirs = context.Pipe()
            worker = context.Process(
                target=serve_jobs, args=("killed-worker", str(tmp_path / "runs"), theirs)
            )
            worker.start()
            workers.append(worker)
            conns.append(mine)
        assert sorted(conn.recv() for conn in conns) == [0, 1]
        conns[0].send(({"x": 1}, 1))
        conns[1].send(({"x": 2}, 8))  # finishes later: stays pending once the first returned
        assert "simulated_time" in conns[0].recv()
        time.sleep(0.3)  # let the second call reach the coordinator
        started = time.monotonic()
        os.kill(workers[1].pid, signal.SIGKILL)
        assert run.wait_until_ended(10), "the run must end when a worker dies"
        assert time.monotonic() - started < 10
        assert run.status == "failed" and "died" in run.reason
        saved = read_run(tmp_path)  # on disk before the host even closes the run
        assert len(saved.results) == 1 and saved.metadata["status"] == "failed"
        conns[0].send(None)
        for worker in workers:
            worker.join(5)


def test_optimizer_that_stops_calling_ends_the_run(blackbox, tmp_path):
    run = SimulationCoordinator(
        blackbox,
        n_workers=2,
        results_dir=tmp_path,
        quiescence=0.2,
        worker_start_grace=0.5,
        idle_timeout=1.5,
    ).open()
    try:
        for config, fidelity in proposals(4, 3):
            run.objective(config, fidelity)  # one caller, fewer than n_workers: quiescence
        assert run.wait_until_ended(10)
        assert run.status == "stopped" and "stopped calling after 3 evaluations" in run.reason
        saved = read_run(tmp_path)
        assert len(saved.results) == 3 and saved.metadata["status"] == "completed"
    finally:
        run.close()


def test_independent_processes_get_distinct_worker_indices(blackbox, tmp_path):
    from multiprocessing.connection import wait as wait_for

    context = multiprocessing.get_context("fork")
    runs_dir = str(tmp_path / "runs")
    with SimulationCoordinator(
        blackbox,
        n_workers=4,
        max_evaluations=40,
        run_name="independent",
        runs_dir=runs_dir,
        quiescence=0.3,
    ) as run:
        workers, conns = [], []
        for _ in range(4):
            mine, theirs = context.Pipe()
            worker = context.Process(target=serve_jobs, args=("independent", runs_dir, theirs))
            worker.start()
            workers.append(worker)
            conns.append(mine)
        assert sorted(conn.recv() for conn in conns) == [0, 1, 2, 3]
        jobs = iter(proposals(5, 40))
        for conn in conns:
            conn.send(next(jobs))
        busy = set(conns)
        while busy:
            for conn in wait_for(list(busy)):
                conn.recv()
                job = next(jobs, None)
                if job is None:
                    busy.discard(conn)
                    conn.send(None)
                else:
                    conn.send(job)
        for worker in workers:
            worker.join(5)
    assert len(run.evaluations) == 40
    assert returned_order(run) == engine_order(blackbox, run)


def test_fixed_optimizer_time_is_charged_before_each_call(blackbox):
    with SimulationCoordinator(
        blackbox, n_workers=1, optimizer_time=OptimizerTime.fixed(5.0), quiescence=0.2
    ) as run:
        first = run.objective({"x": 0}, 1)
        second = run.objective({"x": 1}, 1)
    assert first["simulated_start_time"] == 5.0
    assert second["simulated_start_time"] == first["simulated_time"] + 5.0


def test_copies_of_the_objective_share_their_thread_connection(blackbox):
    # a process pool unpickles a fresh copy per task: with one worker slot, a second
    # connection would wait for the slot and fail; shared, every copy is worker 0
    with SimulationCoordinator(blackbox, n_workers=1, quiescence=0.2) as run:
        copies = [pickle.loads(pickle.dumps(run.objective)) for _ in range(3)]
        results = [copy({"x": k}, 1) for k, copy in enumerate(copies)]
        results.append(run.objective({"x": 5}, 1))
    assert [result["worker"] for result in results] == [0, 0, 0, 0]
    assert [e.config["x"] for e in run.evaluations] == [0, 1, 2, 5]


def test_bad_fidelity_is_a_clear_error_and_the_run_goes_on(blackbox):
    with SimulationCoordinator(blackbox, n_workers=1, quiescence=0.2) as run:
        with pytest.raises(WrappedObjectiveError, match="above the largest recorded 'epoch'"):
            run.objective({"x": 0}, 99)
        assert run.objective({"x": 0}, 2.5)["fidelity"] == 3  # rounded up to the grid
    assert len(run.evaluations) == 1


def quadratic(config: dict, fidelity: float) -> dict:
    return {"loss": (config["x"] - 3) ** 2 / fidelity, "runtime": 2.0 * fidelity}


def test_function_objective_reports_its_own_runtime(tmp_path):
    function = FunctionObjective(quadratic, runtime_key="runtime", name="quadratic")
    with SimulationCoordinator(
        function_objective=function,
        n_workers=2,
        metric="loss",
        mode="min",
        results_dir=tmp_path,
        quiescence=0.2,
    ) as run:
        objective = run.objective
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda x: objective({"x": x}, 4), range(4)))
    assert [r["simulated_time"] - r["simulated_start_time"] for r in results] == [8.0] * 4
    saved = read_run(tmp_path)
    assert saved.metadata["benchmark"] == "quadratic"
    assert sorted(saved.results["loss"]) == sorted((x - 3) ** 2 / 4 for x in range(4))


def test_tcp_coordinator_with_authentication_key(blackbox):
    with SimulationCoordinator(
        blackbox, n_workers=2, max_evaluations=8, address_family="tcp", quiescence=0.3
    ) as run:
        objective = run.objective
        assert objective.address.family == "AF_INET" and len(objective.address.authkey) == 32
        with ThreadPoolExecutor(2) as pool:
            keep_workers_busy(lambda c, f: pool.submit(objective, c, f), 2, proposals(7, 8), 8)
    assert returned_order(run) == engine_order(blackbox, run)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_workers": 0}, "n_workers must be an integer >= 1"),
        ({"n_workers": 2, "max_evaluations": 0}, "max_evaluations must be an integer >= 1"),
        ({"n_workers": 2, "quiescence": 0}, "quiescence must be a positive number"),
        ({"n_workers": 2, "idle_timeout": 0.1}, "idle_timeout must be None or a number"),
        ({"n_workers": 2, "address_family": "pipe"}, "address_family must be one of"),
        ({"n_workers": 2, "mode": "max"}, "does not match objective 'loss'"),
    ],
)
def test_bad_settings_are_clear_errors(blackbox, arguments, message):
    with pytest.raises(ValueError, match=message):
        SimulationCoordinator(blackbox, **arguments)
