"""`simtune surrogate fit / evaluate` end to end on a user's table in the cache (the real
breast-cancer MLP benchmark cut to 40 configurations x 5 epochs), tuned with ASHA on a
real Dask cluster; resume after a real `kill -9`, faithfulness and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from benchmarking.cli import main
from benchmarking.surrogates.faithfulness import StudySettings, faithfulness
from benchmarking.surrogates.report import load_trained_surrogate
from blackbox_repository import TabularBlackbox, load_blackbox
from blackbox_repository.cache import BlackboxCache
from blackbox_repository.file_format import write_blackbox

TABLE = "test-user-mlp"
REPO_ROOT = Path(__file__).resolve().parents[2]


def install_table(cache_dir, constant_objective: str | None = None) -> TabularBlackbox:
    full = load_blackbox("sklearn-mlp-breast-cancer")
    values = np.array(full.values[:40, :5], dtype=float)
    if constant_objective:
        values[:, :, :, full.objective_index(constant_objective)] = 0.5
    table = TabularBlackbox(
        name=TABLE,
        configuration_space=full.configuration_space,
        configurations=full.configurations.iloc[:40].reset_index(drop=True),
        fidelity_name=full.fidelity_name,
        fidelity_values=full.fidelity_values[:5],
        seeds=full.seeds,
        objectives=full.objectives,
        elapsed_time_objective=full.elapsed_time_objective,
        values=values,
    )
    cache = BlackboxCache(cache_dir)
    with cache.lock(TABLE), cache.staging(TABLE) as staged:
        write_blackbox(table, staged)
        cache.install(TABLE, staged)
    return table


def kill_9_after_first_fits(arguments: list[str], journals: Path, log: Path) -> list:
    """Run ``simtune ARGUMENTS`` in a subprocess; SIGKILL its main process (as ``kill -9 PID``
    does) once two fits are journalled; its Dask workers, which must die with it."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with open(log, "w") as stream:  # a file, not a pipe: surviving workers would hold a pipe
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarking.cli", *arguments],
            env=environment,
            stdout=stream,
            stderr=stream,
        )
    try:
        deadline = time.monotonic() + 300  # seconds on a quiet machine; minutes under load
        while len(list(journals.rglob("journal/*.json"))) < 2:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no fit finished in 300 s"
            time.sleep(0.05)
        workers = psutil.Process(process.pid).children(recursive=True)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return workers


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A fit killed with SIGKILL after its first fits, then resumed in-process to the end."""
    root = tmp_path_factory.mktemp("surrogate-cli")
    cache_dir = root / "cache"
    table = install_table(cache_dir)
    arguments = [
        "surrogate", "fit", TABLE, "--objectives", "valid_error", "--families", "lightgbm,knn",
        "--budget", "3", "--n-workers", "2", "--cache-dir", str(cache_dir), "--out", str(root / "work"),
    ]  # fmt: skip
    workers = kill_9_after_first_fits(arguments, root / "work", root / "killed.log")
    gone, alive = psutil.wait_procs(workers, timeout=15)
    for process in alive:  # clean up what the test started before failing
        process.kill()
    journalled = {p: p.stat().st_mtime_ns for p in (root / "work").rglob("journal/*.json")}
    assert main(arguments) == 0
    return root, cache_dir, table, arguments, journalled, len(alive)


def test_a_fit_killed_with_sigkill_resumes_without_refitting_and_its_workers_die(fitted):
    root, cache_dir, _, _, journalled, survivors = fitted
    assert survivors == 0, f"{survivors} worker processes outlived the killed fit"
    assert len(journalled) >= 2
    # every fit finished before the kill is answered from the journal, never refitted
    assert {p: p.stat().st_mtime_ns for p in journalled} == journalled
    assert len(list((root / "work").rglob("journal/*.json"))) > len(journalled)
    assert BlackboxCache(cache_dir).has_entry(f"{TABLE}-surrogate")


def test_fit_installs_a_surrogate_loadable_by_name_with_its_split_and_choices(fitted):
    root, cache_dir, table, *_ = fitted
    surrogate = load_blackbox(f"{TABLE}-surrogate", cache_dir=cache_dir)
    assert surrogate.objective_names == ("valid_error", "elapsed_time")
    record = json.loads((root / "work" / "fit.json").read_text())
    split = record["split"]
    assert sorted(split["train"] + split["validation"] + split["test"]) == list(range(40))
    assert surrogate.source["split"] == split
    for objective in ("valid_error", "elapsed_time"):
        assert {m["family"] for m in record["tuned"][objective]} == {"lightgbm", "knn"}
        assert all(m["n_results"] >= 3 for m in record["tuned"][objective])
        run = pd.read_parquet(
            root / "work" / "tuning" / objective / "lightgbm" / "run" / "results.parquet"
        )
        assert (run["status"] == "success").all() and run["fidelity"].min() == 1


def test_fit_again_resumes_without_refitting_tuned_models(fitted):
    root, _, _, arguments, *_ = fitted
    tuning = root / "work" / "tuning"
    before = {p: p.stat().st_mtime_ns for p in tuning.rglob("*.json")}
    assert main(arguments) == 0
    assert {p: p.stat().st_mtime_ns for p in tuning.rglob("*.json")} == before


def test_evaluate_writes_scores_per_objective_and_fidelity_predictions_and_plots(fitted, capsys):
    root, cache_dir, table, *_ = fitted
    out = root / "report"
    assert (
        main(
            [
                "surrogate",
                "evaluate",
                f"{TABLE}-surrogate",
                "--out",
                str(out),
                "--cache-dir",
                str(cache_dir),
            ]
        )
        == 0
    )
    assert "Kendall tau" in capsys.readouterr().out
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert set(predictions["objective"]) == {"valid_error", "elapsed_time"}
    test_configs = json.loads((root / "work" / "fit.json").read_text())["split"]["test"]
    assert set(predictions["configuration"]) == set(test_configs)
    scores = json.loads((out / "scores.json").read_text())["scores"]
    fidelities = {s["fidelity"] for s in scores if s["objective"] == "valid_error"}
    assert fidelities == {"all", *(str(f) for f in table.fidelity_values)}
    assert all(-1 <= s["kendall_tau"] <= 1 for s in scores if s["fidelity"] == "all")
    assert (out / "predicted-vs-true.png").stat().st_size > 0
    assert (out / "predicted-vs-true.pdf").read_bytes().startswith(b"%PDF")
    assert "| valid_error | **all** |" in (out / "scores.md").read_text()


def test_faithfulness_compares_method_rankings_on_table_and_surrogate(fitted):
    _, cache_dir, table, *_ = fitted
    surrogate = load_trained_surrogate(f"{TABLE}-surrogate", cache_dir)
    settings = StudySettings(
        metric="valid_error", mode="min", max_wallclock_time=2.0,
        n_workers=2, seeds=2, methods=("RS", "ASHA", "BOHB"), fractions=(0.5, 1.0),
    )  # fmt: skip
    report = faithfulness(table, surrogate, settings)
    record = report.to_dict()
    assert len(record["kendall_tau"]) == 2
    assert all(-1 <= tau <= 1 for tau in record["kendall_tau"] if tau == tau)
    assert set(record["difference_at_full_budget"]) == {"RS", "ASHA", "BOHB"}


def test_faithfulness_takes_one_of_held_out_and_cross_fitted(fitted, capsys):
    _, cache_dir, *_ = fitted
    arguments = ["surrogate", "faithfulness", f"{TABLE}-surrogate", "--cache-dir", str(cache_dir)]
    code = main([*arguments, "--max-wallclock-time", "1", "--held-out", "--cross-fitted"])
    assert code == 2
    assert "choose one of --held-out and --cross-fitted" in capsys.readouterr().err


def test_a_constant_objective_is_a_one_line_error_and_nothing_is_installed(tmp_path, capsys):
    install_table(tmp_path / "cache", constant_objective="train_error")
    code = main(
        [
            "surrogate",
            "fit",
            TABLE,
            "--cache-dir",
            str(tmp_path / "cache"),
            "--out",
            str(tmp_path / "w"),
        ]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("simtune: error:") and "'train_error'" in error and "constant" in error
    assert BlackboxCache(tmp_path / "cache").names() == [TABLE]
    assert not (tmp_path / "w").exists()


def test_the_surrogate_runs_in_a_simulation_by_name(fitted, monkeypatch):
    from benchmarking.simulation import run_simulation

    _, cache_dir, *_ = fitted
    monkeypatch.setenv("SIMTUNE_CACHE_DIR", str(cache_dir))
    run = run_simulation("ASHA", f"{TABLE}-surrogate", seed=0, max_num_results=12)
    assert len(run.results) == 12
    assert run.results["valid_error"].notna().all()
