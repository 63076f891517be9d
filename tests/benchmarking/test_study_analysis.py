"""Analysis functions on small hand-made traces whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmarking.analysis import (
    BenchmarkSummary,
    add_regret,
    aggregate_over_seeds,
    average_rank,
    best_so_far,
    best_so_far_on_grid,
    final_table,
    final_values,
    table_latex,
    table_markdown,
    time_grid,
)

NAN = math.nan


def traces_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["method", "benchmark", "seed", "simulated_time", "value"])


SUMMARIES = {
    "err_bench": BenchmarkSummary("error", "min", budget=10.0, best_value=0.0, worst_value=1.0),
    "acc_bench": BenchmarkSummary(
        "accuracy", "max", budget=100.0, best_value=90.0, worst_value=50.0
    ),
}


def test_best_so_far_is_mode_aware_and_skips_nan():
    traces = traces_frame(
        [
            ("A", "err_bench", 0, 3.0, 0.3),
            ("A", "err_bench", 0, 1.0, 0.5),
            ("A", "err_bench", 0, 2.0, NAN),
            ("A", "err_bench", 0, 4.0, 0.4),
            ("A", "acc_bench", 0, 5.0, NAN),
            ("A", "acc_bench", 0, 6.0, 60.0),
            ("A", "acc_bench", 0, 7.0, 55.0),
            ("A", "acc_bench", 0, 8.0, 70.0),
        ]
    )
    frame = best_so_far(traces, SUMMARIES)
    err = frame[frame["benchmark"] == "err_bench"]
    assert err["simulated_time"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert err["best"].tolist() == [0.5, 0.5, 0.3, 0.3]
    acc = frame[frame["benchmark"] == "acc_bench"]["best"].tolist()
    assert math.isnan(acc[0]) and acc[1:] == [60.0, 60.0, 70.0]


def test_time_grid_linear_and_log():
    assert time_grid(10.0, 4).tolist() == [2.5, 5.0, 7.5, 10.0]
    grid = time_grid(1000.0, 4, "log")
    assert grid[0] == pytest.approx(1.0) and grid[-1] == pytest.approx(1000.0)
    assert np.allclose(np.diff(np.log10(grid)), 1.0)
    with pytest.raises(ValueError, match="scale"):
        time_grid(1.0, 3, "cubic")
    with pytest.raises(ValueError, match="n_points"):
        time_grid(1.0, 0)


def test_best_so_far_on_grid_takes_results_at_or_before_each_time():
    traces = traces_frame(
        [
            ("A", "err_bench", 0, 2.5, 0.8),  # exactly at the first grid point: counts
            ("A", "err_bench", 0, 6.0, 0.2),
            ("A", "err_bench", 0, 11.0, 0.0),  # after the budget: never on the grid
            ("B", "err_bench", 0, 5.1, 0.6),
        ]
    )
    curves = best_so_far_on_grid(traces, {"err_bench": SUMMARIES["err_bench"]}, n_points=4)
    a = curves[curves["method"] == "A"]
    b = curves[curves["method"] == "B"]
    assert a["time"].tolist() == [2.5, 5.0, 7.5, 10.0]
    assert a["fraction"].tolist() == [0.25, 0.5, 0.75, 1.0]
    assert a["best"].tolist() == [0.8, 0.8, 0.2, 0.2]
    assert b["best"].isna().tolist() == [True, True, False, False]
    assert b["best"].iloc[2:].tolist() == [0.6, 0.6]


def test_aggregate_mean_with_standard_error_and_median_with_quartiles():
    values = [0.1, 0.2, 0.6, NAN]
    curves = pd.DataFrame(
        {
            "method": "A",
            "benchmark": "err_bench",
            "seed": [0, 1, 2, 3],
            "step": 0,
            "time": 10.0,
            "fraction": 1.0,
            "best": values,
        }
    )
    mean = aggregate_over_seeds(curves, "mean").iloc[0]
    finite = np.array([0.1, 0.2, 0.6])
    se = finite.std(ddof=1) / math.sqrt(3)
    assert mean["n_runs"] == 3
    assert mean["center"] == pytest.approx(finite.mean())
    assert mean["lower"] == pytest.approx(finite.mean() - se)
    assert mean["upper"] == pytest.approx(finite.mean() + se)
    median = aggregate_over_seeds(curves, "median").iloc[0]
    assert median["center"] == pytest.approx(0.2)
    assert median["lower"] == pytest.approx(np.quantile(finite, 0.25))
    assert median["upper"] == pytest.approx(np.quantile(finite, 0.75))
    with pytest.raises(ValueError, match="statistic"):
        aggregate_over_seeds(curves, "mode")


def test_normalized_regret_for_min_and_max_and_unknown_optimum():
    curves = pd.DataFrame(
        {
            "method": "A",
            "benchmark": ["err_bench", "acc_bench", "other"],
            "seed": 0,
            "step": 0,
            "best": [0.25, 80.0, 3.0],
        }
    )
    summaries = {**SUMMARIES, "other": BenchmarkSummary("loss", "min", budget=1.0)}
    frame = add_regret(curves, summaries)
    assert frame["regret"].tolist()[:2] == [0.25, 10.0]
    assert frame["normalized_regret"].tolist()[:2] == [0.25, 0.25]
    assert math.isnan(frame["normalized_regret"].iloc[2])


def test_average_rank_ties_missing_values_and_mode():
    # err_bench (min): A=0.1 best, B=C=0.3 tie; acc_bench (max): B=80 best, A=70, C has no result yet
    curves = pd.DataFrame(
        {
            "method": ["A", "B", "C", "A", "B", "C"],
            "benchmark": ["err_bench"] * 3 + ["acc_bench"] * 3,
            "seed": 0,
            "step": 0,
            "fraction": 1.0,
            "best": [0.1, 0.3, 0.3, 70.0, 80.0, NAN],
        }
    )
    ranks = average_rank(curves, SUMMARIES).set_index("method")["rank"]
    assert ranks["A"] == pytest.approx((1 + 2) / 2)
    assert ranks["B"] == pytest.approx((2.5 + 1) / 2)
    assert ranks["C"] == pytest.approx((2.5 + 3) / 2)


def test_final_values_ignore_results_after_the_budget_and_table_reports_mean_and_se():
    traces = traces_frame(
        [
            ("A", "err_bench", 0, 1.0, 0.4),
            ("A", "err_bench", 0, 12.0, 0.0),  # after the budget of 10 s
            ("A", "err_bench", 1, 2.0, 0.2),
            ("B", "err_bench", 0, 3.0, 0.1),
            ("B", "err_bench", 1, 3.0, 0.3),
            ("A", "acc_bench", 0, 5.0, 60.0),
            ("B", "acc_bench", 0, 5.0, 85.0),
        ]
    )
    finals = final_values(traces, SUMMARIES)
    by_run = finals.set_index(["method", "benchmark", "seed"])["best"]
    assert by_run[("A", "err_bench", 0)] == 0.4
    assert by_run[("B", "acc_bench", 0)] == 85.0
    table = final_table(finals).set_index(["method", "benchmark"])
    assert table.loc[("A", "err_bench"), "mean"] == pytest.approx(0.3)
    assert table.loc[("A", "err_bench"), "standard_error"] == pytest.approx(
        np.std([0.4, 0.2], ddof=1) / math.sqrt(2)
    )
    assert math.isnan(table.loc[("A", "acc_bench"), "standard_error"])  # one seed: no s.e.
    markdown = table_markdown(table.reset_index(), SUMMARIES)
    lines = markdown.splitlines()
    assert lines[0] == "| method | acc_bench (accuracy, max) | err_bench (error, min) |"
    assert lines[2] == "| A | 60 | 0.3 ± 0.1 |"
    assert lines[3] == "| B | **85** | **0.2 ± 0.1** |"
    latex = table_latex(table.reset_index(), SUMMARIES)
    assert r"method & acc\_bench & err\_bench \\" in latex
    assert r"B & \textbf{85} & \textbf{0.2 $\pm$ 0.1} \\" in latex


def test_unknown_benchmark_or_missing_columns_are_clear_errors():
    traces = traces_frame([("A", "nowhere", 0, 1.0, 0.5)])
    with pytest.raises(ValueError, match=r"no BenchmarkSummary for benchmarks \['nowhere'\]"):
        best_so_far(traces, SUMMARIES)
    with pytest.raises(ValueError, match="lacks the columns"):
        best_so_far(traces.drop(columns="value"), SUMMARIES)
    with pytest.raises(ValueError, match="budget"):
        BenchmarkSummary("error", "min", budget=0.0)


def test_average_rank_uses_only_seeds_with_a_run_of_every_method():
    # seed 1 has no run of B (a failed task): only seed 0 is ranked, where B beats A
    curves = pd.DataFrame(
        {
            "method": ["A", "B", "A"],
            "benchmark": "err_bench",
            "seed": [0, 0, 1],
            "step": 0,
            "fraction": 1.0,
            "best": [0.5, 0.4, 0.0],
        }
    )
    ranks = average_rank(curves, SUMMARIES).set_index("method")["rank"]
    assert ranks.to_dict() == {"A": 2.0, "B": 1.0}
    disjoint_seeds = curves.assign(seed=[0, 1, 2])  # A on seeds 0 and 2, B on seed 1
    with pytest.raises(ValueError, match=r"no \(benchmark, seed\) has a run of every method"):
        average_rank(disjoint_seeds, SUMMARIES)
