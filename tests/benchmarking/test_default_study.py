"""The quickstart's default study compares like with like, and says when a run used up its
search space: in the final table (numbered notes) and in the best-so-far plot (an ``x``)."""

from __future__ import annotations

import pytest

from benchmarking.analysis import average_rank, best_so_far_on_grid
from benchmarking.benchmark_definitions import benchmark_definition
from benchmarking.cli import main
from benchmarking.collation import read_benchmark_summaries, read_runs, read_traces
from benchmarking.early_stops import SEARCH_SPACE_EXHAUSTED, early_stops
from benchmarking.plots import average_rank_figure, average_rank_title
from benchmarking.simulation import run_simulation

QUICKSTART_METHODS = ("RS", "ASHA", "HYPERBAND", "BOHB")


@pytest.mark.parametrize("name", ["sklearn-mlp-digits", "sklearn-mlp-breast-cancer"])
def test_the_default_budget_ends_no_run_before_its_search_space_is_used_up(name):
    budget = benchmark_definition(name).max_wallclock_time
    for method in QUICKSTART_METHODS:
        for seed in range(5):  # the quickstart's seeds 0-4
            run = run_simulation(method, name, seed=seed)
            assert run.metadata["stop_reason"] == "max_wallclock_time", (method, seed)
            assert run.metadata["end_time"] == pytest.approx(budget)


@pytest.fixture(scope="module")
def exhausted_study(tmp_path_factory):
    """ASHA and RS on the default benchmark with 30 simulated seconds: ASHA runs out of
    configurations after about 7 s, RS uses the whole budget."""
    out = tmp_path_factory.mktemp("study") / "out"
    arguments = ["run", "--methods", "ASHA,RS", "--benchmarks", "sklearn-mlp-digits"]
    arguments += ["--seeds", "0-1", "--max-wallclock-time", "30", "--out", str(out)]
    assert main([*arguments, "--executor", "inprocess", "--no-progress", "--plot"]) == 0
    return out


def test_early_stops_name_the_runs_that_used_up_their_search_space(exhausted_study):
    (stop,) = early_stops(read_runs(exhausted_study / "collated"))
    assert (stop.method, stop.benchmark, stop.reason) == (
        "ASHA",
        "sklearn-mlp-digits",
        SEARCH_SPACE_EXHAUSTED,
    )
    assert (stop.n_stopped, stop.n_runs, stop.budget) == (2, 2, 30.0)
    assert 0 < stop.median_end_time < 30
    assert "2 of 2 runs stopped early" in stop.describe()
    assert "search space used up" in stop.describe()


def test_the_final_table_marks_and_explains_them(exhausted_study, capsys):
    table = (exhausted_study / "plots" / "final_table.md").read_text()
    lines = table.splitlines()
    asha = next(line for line in lines if line.startswith("| ASHA |"))
    rs = next(line for line in lines if line.startswith("| RS |"))
    assert asha.endswith(" [1] |") and "[" not in rs
    note = next(line for line in lines if line.startswith("[1] "))
    assert note.startswith("[1] ASHA on sklearn-mlp-digits: 2 of 2 runs stopped early, at ")
    assert "of the 30 s budget (median): search space used up" in note
    latex = (exhausted_study / "plots" / "final_table.tex").read_text()
    assert "[1]" in latex and "\\footnotesize [1] ASHA on sklearn-mlp-digits" in latex
    assert (exhausted_study / "plots" / "best_so_far.png").stat().st_size > 0


def test_the_average_rank_plot_has_a_title(exhausted_study):
    dataset = exhausted_study / "collated"
    traces, summaries = read_traces(dataset), read_benchmark_summaries(dataset)
    ranks = average_rank(best_so_far_on_grid(traces, summaries, n_points=20), summaries)
    title = average_rank_title(traces)
    assert title == "Average rank (1 = best) over 1 benchmark x 2 seeds"
    assert average_rank_figure(ranks, title=title).axes[0].get_title() == title
