"""`simtune validate`: the simulator against real worker processes replaying runtimes."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from benchmarking.cli import main
from benchmarking.validation import compare_runs


def test_compare_runs_counts_results_in_the_same_order_and_time_differences():
    simulated = pd.DataFrame(
        {
            "trial_id": [0, 1, 0, 1, 2],
            "fidelity": [1, 1, 2, 2, 1],
            "simulated_time": [1.0, 2, 3, 4, 5],
        }
    )
    real = pd.DataFrame(  # (0, 2) and (1, 2) swapped; (2, 1) missing
        {
            "trial_id": [0, 1, 1, 0],
            "fidelity": [1, 1, 2, 2],
            "simulated_time": [0.001, 0.002, 0.0041, 0.0042],
        }
    )
    comparison = compare_runs(simulated, real, time_scale=0.001)
    assert comparison["n_common"] == 4
    assert comparison["order_match"] == 0.5
    assert comparison["max_finish_difference"] == pytest.approx(1.2)


def test_validate_command_on_a_small_setting(capsys):
    arguments = ["validate", "--benchmark", "sklearn-mlp-digits", "--methods", "ASHA"]
    arguments += ["--n-workers", "2", "--time-scale", "0.001", "--step-seconds", "300"]
    assert main([*arguments, "--budget-steps", "6"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("validating ASHA on sklearn-mlp-digits with 2 worker processes")
    setting = lines[1]
    assert setting.startswith("ASHA") and "median step   300 s" in setting
    simulated, real = map(int, re.search(r"(\d+) results simulated, (\d+) real", setting).groups())
    assert simulated > 5 and real > 0
    match = float(re.fullmatch(r"order match: ([\d.]+)%", lines[-1]).group(1))
    assert 0 <= match <= 100
    assert f"order match {match:.1f}%" in setting
