"""Wrapped runs on disk: collected and plotted as study runs; saved when the host dies."""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarking.cli import main as simtune_main
from simulated_backend.results import read_run
from simulated_backend.wrapped_objective import OptimizerTime, SimulationCoordinator
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox
from tests.simulated_backend.wrapped_objective.wrapped_drivers import (
    keep_workers_busy,
    proposals,
)


def run_random_search(blackbox, folder, seed: int) -> None:
    with SimulationCoordinator(
        blackbox,
        n_workers=2,
        max_evaluations=20,
        results_dir=folder,
        quiescence=0.2,
        metadata={"method": "WRAPPED-RS", "seed": seed},
    ) as run:
        objective = run.objective
        with ThreadPoolExecutor(2) as pool:
            keep_workers_busy(lambda c, f: pool.submit(objective, c, f), 2, proposals(seed, 20), 20)


def test_wrapped_runs_are_collected_and_plotted_like_study_runs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    blackbox = random_tabular_blackbox(3)
    study = tmp_path / "study"
    for seed in (0, 1):
        run_random_search(
            blackbox, study / "runs" / blackbox.name / "WRAPPED-RS" / f"seed-{seed}", seed
        )
    assert simtune_main(["collect", str(study), "--no-best-values"]) == 0
    assert simtune_main(["plot", str(study)]) == 0
    assert "WRAPPED-RS" in capsys.readouterr().out
    assert list((study / "plots").glob("*.png"))


def host_that_dies(blackbox, results_dir) -> None:
    run = SimulationCoordinator(blackbox, n_workers=1, results_dir=results_dir, quiescence=0.2)
    run.open()
    run.objective({"x": 1}, 1)
    run.objective({"x": 2}, 2)
    os._exit(3)  # no close, no atexit: the coordinator must notice on its own


def test_coordinator_saves_the_run_when_its_host_process_dies(tmp_path):
    blackbox = random_tabular_blackbox(3)
    host = multiprocessing.get_context("fork").Process(
        target=host_that_dies, args=(blackbox, tmp_path / "run")
    )
    host.start()
    host.join(60)
    assert host.exitcode == 3
    deadline = time.monotonic() + 10
    while not (tmp_path / "run" / "metadata.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    saved = read_run(tmp_path / "run")
    assert len(saved.results) == 2 and saved.metadata["status"] == "failed"
    assert "host process ended" in saved.metadata["stop_reason"]


def test_cpu_time_of_the_optimizer_is_charged_when_asked(tmp_path):
    blackbox = random_tabular_blackbox(3)
    with SimulationCoordinator(
        blackbox, n_workers=1, optimizer_time=OptimizerTime.cpu(), quiescence=0.2
    ) as run:
        first = run.objective({"x": 1}, 1)
        spin_until = time.process_time() + 0.3
        while time.process_time() < spin_until:  # the optimizer "thinks" for 0.3 s of CPU
            pass
        second = run.objective({"x": 2}, 1)
    charged = second["simulated_start_time"] - first["simulated_time"]
    assert 0.25 <= charged <= 5.0
