"""Analysis of a study: best-so-far curves, aggregates over seeds, regret, ranks, final table.

Every function takes and returns long pandas DataFrames and works on whole columns at once
(groupby, ``merge_asof``); nothing loops over rows. The input is one row per reported
result with the columns ``method``, ``benchmark``, ``seed``, ``simulated_time`` and
``value`` (the value of the benchmark's metric), as :func:`benchmarking.collation.read_traces`
returns it. What is known about each benchmark (mode, time budget, best and worst value)
comes as a mapping ``benchmark name -> BenchmarkSummary``.

Example:
    >>> traces = read_traces("results/collated")  # doctest: +SKIP
    >>> summaries = read_benchmark_summaries("results/collated")  # doctest: +SKIP
    >>> curves = best_so_far_on_grid(traces, summaries, n_points=50)  # doctest: +SKIP
    >>> aggregate_over_seeds(curves, statistic="median")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

RUN_COLUMNS = ["method", "benchmark", "seed"]
TRACE_COLUMNS = [*RUN_COLUMNS, "simulated_time", "value"]
STATISTICS = ("mean", "median")
GRID_SCALES = ("linear", "log")


@dataclass(frozen=True)
class BenchmarkSummary:
    """What the analysis needs to know about one benchmark of a study.

    Args:
        metric: name of the objective that was optimized.
        mode: ``"min"`` or ``"max"``.
        budget: simulated seconds every run was given (the end of the time grid).
        best_value: best value of the metric in the benchmark, if known (e.g. the best
            entry of a tabular blackbox); needed for regret.
        worst_value: worst value of the metric in the benchmark, if known; needed for
            normalized regret.
    """

    metric: str
    mode: str
    budget: float
    best_value: float | None = None
    worst_value: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        try:
            budget = float(self.budget)
        except (TypeError, ValueError):
            budget = math.nan
        if not (math.isfinite(budget) and budget > 0):
            raise ValueError(
                f"budget must be a positive number of simulated seconds, got {self.budget!r}"
            )


def _check_columns(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks the columns {missing}; it has {list(frame.columns)}")


def _check_known(frame: pd.DataFrame, summaries: Mapping[str, BenchmarkSummary]) -> None:
    unknown = sorted(set(frame["benchmark"].unique()) - set(summaries))
    if unknown:
        raise ValueError(
            f"no BenchmarkSummary for benchmarks {unknown}; pass one per benchmark "
            f"(known: {sorted(summaries)})"
        )


def _sign(frame: pd.DataFrame, summaries: Mapping[str, BenchmarkSummary]) -> np.ndarray:
    """+1 where the benchmark minimizes, -1 where it maximizes: ``sign * value`` is minimized."""
    signs = {name: (1.0 if s.mode == "min" else -1.0) for name, s in summaries.items()}
    return frame["benchmark"].map(signs).to_numpy(dtype=float)


# --------------------------------------------------------------------- best so far
def best_so_far(traces: pd.DataFrame, summaries: Mapping[str, BenchmarkSummary]) -> pd.DataFrame:
    """Add the column ``best``: the best metric value of the run up to and including each row.

    Rows are sorted by run, then simulated time (stable, so event order is kept at equal
    times). NaN values never count as best; ``best`` is NaN until the run's first number.
    """
    _check_columns(traces, TRACE_COLUMNS, "traces")
    _check_known(traces, summaries)
    frame = traces.sort_values([*RUN_COLUMNS, "simulated_time"], kind="stable").reset_index(
        drop=True
    )
    sign = _sign(frame, summaries)
    signed = frame["value"].to_numpy(dtype=float) * sign
    signed = np.where(np.isnan(signed), np.inf, signed)
    running = (
        pd.Series(signed).groupby([frame[c] for c in RUN_COLUMNS], sort=False).cummin().to_numpy()
    )
    frame["best"] = np.where(np.isinf(running), np.nan, running * sign)
    return frame


def time_grid(
    budget: float, n_points: int = 100, scale: str = "linear", start: float | None = None
) -> np.ndarray:
    """``n_points`` increasing simulated times ending at ``budget``.

    ``"linear"``: ``budget * k / n_points`` for k = 1..n_points. ``"log"``: geometric from
    ``start`` (default ``budget / 1000``) to ``budget``.
    """
    if scale not in GRID_SCALES:
        raise ValueError(f"scale must be one of {GRID_SCALES}, got {scale!r}")
    if not isinstance(n_points, int) or n_points < 1:
        raise ValueError(f"n_points must be a positive integer, got {n_points!r}")
    if scale == "linear":
        return budget * np.arange(1, n_points + 1, dtype=float) / n_points
    start = budget / 1000.0 if start is None else float(start)
    if not 0 < start <= budget:
        raise ValueError(f"start of a log grid must be in (0, budget={budget}], got {start!r}")
    return np.geomspace(start, budget, n_points)


def best_so_far_on_grid(
    traces: pd.DataFrame,
    summaries: Mapping[str, BenchmarkSummary],
    n_points: int = 100,
    scale: str = "linear",
) -> pd.DataFrame:
    """Best-so-far of every run at the points of its benchmark's time grid.

    Returns one row per (method, benchmark, seed, step) with ``time`` (simulated seconds),
    ``fraction`` (time / budget) and ``best`` (the best value among the run's results
    reported at or before ``time``; NaN before its first result). All benchmarks share the
    step index, so curves of benchmarks with different budgets line up by ``fraction``.
    """
    frame = best_so_far(traces, summaries)
    grids = []
    for name, summary in summaries.items():
        times = time_grid(summary.budget, n_points, scale)
        grids.append(
            pd.DataFrame(
                {
                    "benchmark": name,
                    "step": np.arange(n_points),
                    "time": times,
                    "fraction": times / summary.budget,
                }
            )
        )
    grid = pd.concat(grids, ignore_index=True)
    runs = frame[RUN_COLUMNS].drop_duplicates()
    queries = runs.merge(grid, on="benchmark", how="inner")
    queries["run_key"] = _run_keys(queries)
    frame["run_key"] = _run_keys(frame)
    queries = queries.sort_values("time", kind="stable")
    known = frame[["run_key", "simulated_time", "best"]].sort_values(
        "simulated_time", kind="stable"
    )
    merged = pd.merge_asof(
        queries,
        known,
        left_on="time",
        right_on="simulated_time",
        by="run_key",
        direction="backward",
    )
    merged = merged.drop(columns=["run_key", "simulated_time"])
    return merged.sort_values([*RUN_COLUMNS, "step"]).reset_index(drop=True)[
        [*RUN_COLUMNS, "step", "time", "fraction", "best"]
    ]


def _run_keys(frame: pd.DataFrame) -> pd.Series:
    """One string per run, used as the ``by`` key of ``merge_asof`` (it needs a single column)."""
    return (
        frame["method"].astype(str)
        + "\x1f"
        + frame["benchmark"].astype(str)
        + "\x1f"
        + frame["seed"].astype(str)
    )


# --------------------------------------------------------------------- aggregates
def aggregate_over_seeds(
    curves: pd.DataFrame, statistic: str = "mean", column: str = "best"
) -> pd.DataFrame:
    """Center and band of ``column`` over seeds at every (method, benchmark, step).

    ``statistic="mean"``: center = mean, band = mean +/- standard error (std with ddof=1
    over sqrt(n)). ``statistic="median"``: center = median, band = first and third quartiles.
    NaN values (runs without a result yet) are left out; ``n_runs`` counts the others.
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    _check_columns(curves, ["method", "benchmark", "step", "time", "fraction", column], "curves")
    grouped = curves.groupby(["method", "benchmark", "step"], sort=True)
    values = grouped[column]
    result = grouped[["time", "fraction"]].first()
    result["n_runs"] = values.count()
    if statistic == "mean":
        center = values.mean()
        standard_error = values.std(ddof=1) / np.sqrt(result["n_runs"])
        standard_error = standard_error.where(result["n_runs"] > 1, 0.0)
        result["center"] = center
        result["lower"] = center - standard_error
        result["upper"] = center + standard_error
    else:
        result["center"] = values.median()
        result["lower"] = values.quantile(0.25)
        result["upper"] = values.quantile(0.75)
    return result.reset_index()


def add_regret(
    curves: pd.DataFrame, summaries: Mapping[str, BenchmarkSummary], column: str = "best"
) -> pd.DataFrame:
    """Add ``regret`` (distance to the benchmark's best value, >= 0) and ``normalized_regret``.

    ``normalized_regret = regret / |worst_value - best_value|``, in [0, 1] for values inside
    the benchmark's range. Benchmarks whose best (or worst) value is unknown get NaN.
    """
    _check_known(curves, summaries)
    best = curves["benchmark"].map({n: s.best_value for n, s in summaries.items()}).astype(float)
    worst = curves["benchmark"].map({n: s.worst_value for n, s in summaries.items()}).astype(float)
    sign = _sign(curves, summaries)
    frame = curves.copy()
    frame["regret"] = sign * (frame[column].to_numpy(dtype=float) - best.to_numpy())
    spread = np.abs(worst.to_numpy() - best.to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["normalized_regret"] = np.where(
            spread > 0, frame["regret"].to_numpy() / spread, np.nan
        )
    return frame


def average_rank(
    curves: pd.DataFrame, summaries: Mapping[str, BenchmarkSummary], column: str = "best"
) -> pd.DataFrame:
    """Average rank of each method over benchmarks and seeds at every grid step.

    At each (benchmark, seed, step) the methods are ranked by ``column`` (1 = best,
    mode-aware; ties share the average rank; a method without a result yet ranks below
    every method that has one). Ranks are then averaged over benchmarks and seeds. Only
    (benchmark, seed) pairs with a run of every method are ranked (complete cases), so a
    missing or failed task neither helps nor hurts a method.
    Returns ``method, step, fraction, rank``.
    """
    _check_known(curves, summaries)
    n_methods = curves["method"].nunique()
    runs_per_seed = curves.groupby(["benchmark", "seed"])["method"].transform("nunique")
    curves = curves[runs_per_seed == n_methods]
    if curves.empty:
        raise ValueError(
            "no (benchmark, seed) has a run of every method, so no rank can be computed; "
            "run the missing tasks (see `simtune collect`) or compare fewer methods"
        )
    signed = curves[column].to_numpy(dtype=float) * _sign(curves, summaries)
    ranks = (
        pd.Series(signed, index=curves.index)
        .groupby([curves["benchmark"], curves["seed"], curves["step"]])
        .rank(method="average", na_option="bottom")
    )
    frame = curves[["method", "step", "fraction"]].assign(rank=ranks)
    result = frame.groupby(["method", "step"], sort=True).agg(
        fraction=("fraction", "mean"), rank=("rank", "mean")
    )
    return result.reset_index()


# --------------------------------------------------------------------- final table
def final_values(traces: pd.DataFrame, summaries: Mapping[str, BenchmarkSummary]) -> pd.DataFrame:
    """Best value of every run among its results reported within its benchmark's budget.

    Returns ``method, benchmark, seed, best`` (NaN for a run with no result in the budget).
    """
    _check_columns(traces, TRACE_COLUMNS, "traces")
    _check_known(traces, summaries)
    budget = (
        traces["benchmark"].map({n: s.budget for n, s in summaries.items()}).to_numpy(dtype=float)
    )
    sign = _sign(traces, summaries)
    signed = traces["value"].to_numpy(dtype=float) * sign
    signed = np.where(traces["simulated_time"].to_numpy(dtype=float) <= budget, signed, np.nan)
    frame = traces[RUN_COLUMNS].assign(best=signed, sign=sign)
    grouped = frame.groupby(RUN_COLUMNS, sort=True)
    result = grouped["best"].min() * grouped["sign"].first()
    return result.rename("best").reset_index()


def final_table(finals: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard error and count of the final values per (method, benchmark)."""
    _check_columns(finals, [*RUN_COLUMNS, "best"], "final values")
    grouped = finals.groupby(["method", "benchmark"], sort=True)["best"]
    table = pd.DataFrame({"mean": grouped.mean(), "n_runs": grouped.count()})
    table["standard_error"] = (grouped.std(ddof=1) / np.sqrt(table["n_runs"])).where(
        table["n_runs"] > 1
    )
    return table.reset_index()


def _best_methods(
    table: pd.DataFrame, summaries: Mapping[str, BenchmarkSummary]
) -> set[tuple[str, str]]:
    best = set()
    for benchmark, rows in table.groupby("benchmark"):
        means = rows["mean"] if summaries[benchmark].mode == "min" else -rows["mean"]
        if means.notna().any():
            winner = means.min()
            best.update((m, benchmark) for m in rows.loc[means == winner, "method"])
    return best


def _cells(table: pd.DataFrame, digits: int, plus_minus: str) -> dict[tuple[str, str], str]:
    cells = {}
    for row in table.itertuples(index=False):
        if math.isnan(row.mean):
            text = "n/a"
        elif math.isnan(row.standard_error):
            text = f"{row.mean:.{digits}g}"
        else:
            text = f"{row.mean:.{digits}g} {plus_minus} {row.standard_error:.2g}"
        cells[(row.method, row.benchmark)] = text
    return cells


def table_markdown(
    table: pd.DataFrame,
    summaries: Mapping[str, BenchmarkSummary],
    digits: int = 4,
    marks: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """The final table in Markdown: one row per method, one column per benchmark.

    Cells are ``mean ± s.e.`` of the final best values; the best mean of each benchmark
    (mode-aware) is bold. ``marks`` appends text (e.g. a footnote number) to the cell of
    ``(method, benchmark)``.
    """
    methods = sorted(table["method"].unique())
    benchmarks = sorted(table["benchmark"].unique())
    cells = _cells(table, digits, "±")
    best = _best_methods(table, summaries)
    header = (
        "| method | "
        + " | ".join(f"{b} ({summaries[b].metric}, {summaries[b].mode})" for b in benchmarks)
        + " |"
    )
    lines = [header, "|---" * (len(benchmarks) + 1) + "|"]
    for method in methods:
        row = []
        for benchmark in benchmarks:
            text = cells.get((method, benchmark), "")
            text = f"**{text}**" if (method, benchmark) in best else text
            row.append(text + (marks or {}).get((method, benchmark), ""))
        lines.append(f"| {method} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
    """``text`` with the characters LaTeX treats specially (``\\ _ % & #``) escaped."""
    for char, escaped in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("%", r"\%"),
        ("&", r"\&"),
        ("#", r"\#"),
    ):
        text = text.replace(char, escaped)
    return text


def table_latex(
    table: pd.DataFrame,
    summaries: Mapping[str, BenchmarkSummary],
    digits: int = 4,
    marks: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """The final table as a LaTeX ``tabular`` (booktabs rules); best mean per benchmark bold;
    ``marks`` as in :func:`table_markdown`."""
    methods = sorted(table["method"].unique())
    benchmarks = sorted(table["benchmark"].unique())
    cells = _cells(table, digits, r"$\pm$")
    best = _best_methods(table, summaries)
    lines = [
        r"\begin{tabular}{l" + "r" * len(benchmarks) + "}",
        r"\toprule",
        "method & " + " & ".join(latex_escape(b) for b in benchmarks) + r" \\",
        r"\midrule",
    ]
    for method in methods:
        row = []
        for benchmark in benchmarks:
            text = cells.get((method, benchmark), "")
            text = rf"\textbf{{{text}}}" if (method, benchmark) in best else text
            row.append(text + latex_escape((marks or {}).get((method, benchmark), "")))
        lines.append(latex_escape(method) + " & " + " & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
