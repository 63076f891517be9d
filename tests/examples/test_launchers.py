"""The launcher scripts in examples/ run as real processes on a real blackbox."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from simulated_backend import read_run
from tests.conftest import REPO_ROOT


@pytest.mark.usefixtures("shared_data_dir")
@pytest.mark.parametrize(
    "script, method",
    [
        ("launch_random_search.py", "RS"),
        ("launch_asha.py", "ASHA"),
        ("launch_hyperband.py", "HYPERBAND"),
        ("launch_bohb.py", "BOHB"),
    ],
)
def test_launcher_runs_on_real_blackbox_and_reports_best_config(tmp_path, script, method):
    out = tmp_path / "run"
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "examples" / script),
            "--benchmark",
            "xgboost-mnist",
            "--n-workers",
            "4",
            "--max-wallclock-time",
            "3600",
            "--seed",
            "0",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    assert "best config:" in completed.stdout
    assert f"results written to {out}" in completed.stdout
    run = read_run(out)
    assert run.metadata["status"] == "completed"
    assert run.metadata["n_workers"] == 4
    assert run.metadata["scheduler"]["scheduler_name"]
    assert run.results.simulated_time.max() <= 3600
    best = run.results.test_error.min()
    assert f"best test_error = {best:.6g}" in completed.stdout


def test_launcher_rejects_unknown_benchmark_with_suggestion(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "examples" / "launch_asha.py"),
            "--benchmark",
            "xgboost-mnst",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("simtune: error: unknown benchmark 'xgboost-mnst'")
    assert "Did you mean: xgboost-mnist" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_launcher_prints_the_best_config_with_plain_json_types(tmp_path):
    """Integers print as integers (not ``"32"``), from a run on the embedded benchmark."""
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "examples" / "launch_asha.py"),
            "--benchmark",
            "sklearn-mlp-digits",
            "--max-wallclock-time",
            "3",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    line = next(x for x in completed.stdout.splitlines() if x.startswith("best config: "))
    config = json.loads(line.removeprefix("best config: "))
    assert type(config["n_layers"]) is int and type(config["batch_size"]) is int
    assert type(config["alpha"]) is float and type(config["solver"]) is str
    best = read_run(tmp_path / "run").best_config()  # the Python API: plain values too
    assert best == config
    assert "np." not in repr(best)
    assert all(type(value) in (int, float, str) for value in best.values())
