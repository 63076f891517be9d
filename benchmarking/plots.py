"""Figures of a study: best-so-far per benchmark with bands, average rank over time.

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas: no pyplot
state, no display needed, safe in worker processes and CI. Every figure is saved as PNG
and PDF, each written to a temporary file and renamed.

Example:
    >>> plot_study("results/collated", "results/plots")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from benchmarking.analysis import (
    BenchmarkSummary,
    add_regret,
    aggregate_over_seeds,
    average_rank,
    best_so_far_on_grid,
)
from benchmarking.early_stops import EarlyStop

FIGURE_FORMATS = ("png", "pdf")
PANEL_COLUMNS = 3
REGRET_FLOOR = 1e-5


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _method_colors(methods: list[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    palette = colormaps["tab10" if len(methods) <= 10 else "tab20"]
    return {method: palette(i % palette.N) for i, method in enumerate(sorted(methods))}


def save_figure(figure, path_stem: Path | str, dpi: int = 150) -> list[Path]:
    """Write ``<path_stem>.png`` and ``<path_stem>.pdf`` atomically; returns the paths."""
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for extension in FIGURE_FORMATS:
        path = path_stem.with_name(f"{path_stem.name}.{extension}")
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            figure.savefig(tmp, format=extension, dpi=dpi)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        written.append(path)
    return written


def plot_best_so_far(
    aggregated: pd.DataFrame,
    summaries: Mapping[str, BenchmarkSummary],
    path_stem: Path | str,
    *,
    value_label: str = "best {metric} ({mode})",
    log_x: bool = False,
    log_y: bool = False,
    stops: Sequence[EarlyStop] = (),
) -> list[Path]:
    """One panel per benchmark: each method's center line and band over simulated time.

    ``aggregated`` is :func:`benchmarking.analysis.aggregate_over_seeds` output. Each of
    ``stops`` (runs that ended before the budget, :func:`benchmarking.early_stops.early_stops`)
    is marked with an ``x`` on its method's curve at the runs' median end time, and the
    legend says why (the search space was used up, or another reason).
    """
    benchmarks = sorted(aggregated["benchmark"].unique())
    if not benchmarks:
        raise ValueError("nothing to plot: the aggregated curves are empty")
    n_columns = min(PANEL_COLUMNS, len(benchmarks))
    n_rows = math.ceil(len(benchmarks) / n_columns)
    width = 4.2 * n_columns
    figure = _new_figure(width, 3.2 * n_rows + 0.6)
    axes = figure.subplots(n_rows, n_columns, squeeze=False).ravel()
    colors = _method_colors(list(aggregated["method"].unique()))
    for axis, benchmark in zip(axes, benchmarks):
        summary = summaries[benchmark]
        rows = aggregated[aggregated["benchmark"] == benchmark]
        for method, curve in rows.groupby("method", sort=True):
            curve = curve.sort_values("time")
            axis.plot(
                curve["time"], curve["center"], label=method, color=colors[method], linewidth=1.6
            )
            axis.fill_between(
                curve["time"],
                curve["lower"],
                curve["upper"],
                color=colors[method],
                alpha=0.2,
                linewidth=0,
            )
        panel_stops = [stop for stop in stops if stop.benchmark == benchmark]
        for stop in panel_stops:
            curve = rows[rows["method"] == stop.method].sort_values("time")
            if curve.empty:
                continue
            at = curve[curve["time"] <= stop.median_end_time].tail(1)
            at = at if not at.empty else curve.head(1)
            axis.plot(
                [stop.median_end_time],
                [at["center"].iloc[0]],
                marker="x",
                markersize=9,
                markeredgewidth=2,
                color=colors[stop.method],
                linestyle="none",
            )
        axis.set_title(benchmark, fontsize=10)
        axis.set_xlabel("simulated time (s)")
        axis.set_ylabel(value_label.format(metric=summary.metric, mode=summary.mode))
        axis.set_xscale("log" if log_x else "linear")
        if log_y:
            axis.set_yscale("log")
        axis.grid(alpha=0.3)
    for axis in axes[len(benchmarks) :]:
        axis.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if stops:
        from matplotlib.lines import Line2D

        used_up = all(stop.search_space_used_up for stop in stops)
        handles.append(Line2D([], [], marker="x", markeredgewidth=2, color="0.3", linestyle="none"))
        labels.append("x: search space used up" if used_up else "x: stopped before the budget")
    figure.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), max(1, int(width / 1.5))),
        frameon=False,
    )
    return save_figure(figure, path_stem)


def average_rank_figure(ranks: pd.DataFrame, *, title: str = "Average rank of each method"):
    """The figure of :func:`plot_average_rank` (a ``matplotlib.figure.Figure``), unsaved."""
    figure = _new_figure(5.5, 3.8)
    axis = figure.subplots()
    axis.set_title(title, fontsize=10)
    colors = _method_colors(list(ranks["method"].unique()))
    for method, curve in ranks.groupby("method", sort=True):
        curve = curve.sort_values("fraction")
        axis.plot(
            curve["fraction"], curve["rank"], label=method, color=colors[method], linewidth=1.6
        )
    axis.set_xlabel("fraction of the time budget")
    axis.set_ylabel("average rank (1 = best)")
    n_methods = ranks["method"].nunique()
    axis.set_ylim(0.9, n_methods + 0.1)
    axis.grid(alpha=0.3)
    axis.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


def plot_average_rank(
    ranks: pd.DataFrame, path_stem: Path | str, *, title: str = "Average rank of each method"
) -> list[Path]:
    """Average rank of each method (1 = best) against the fraction of the time budget."""
    return save_figure(average_rank_figure(ranks, title=title), path_stem)


def average_rank_title(traces: pd.DataFrame) -> str:
    """``Average rank (1 = best) over 2 benchmarks x 5 seeds``, from the study's traces."""
    n_benchmarks = traces["benchmark"].nunique()
    n_seeds = traces["seed"].nunique()
    return (
        f"Average rank (1 = best) over {n_benchmarks} benchmark{'s' if n_benchmarks > 1 else ''}"
        f" x {n_seeds} seed{'s' if n_seeds > 1 else ''}"
    )


def plot_study(
    dataset_dir: Path | str,
    plots_dir: Path | str,
    *,
    statistic: str = "mean",
    scale: str = "linear",
    n_points: int = 100,
) -> list[Path]:
    """All figures of a collated study into ``plots_dir``; returns the files written.

    ``best_so_far``: one panel per benchmark (center and band per ``statistic``);
    ``average_rank``: ranks over benchmarks and seeds; ``normalized_regret`` (log scale)
    when the best and worst values of some benchmark are known.
    """
    from benchmarking.collation import read_benchmark_summaries, read_runs, read_traces
    from benchmarking.early_stops import early_stops

    summaries = read_benchmark_summaries(dataset_dir)
    traces = read_traces(dataset_dir)
    if traces.empty:
        raise ValueError(
            f"{dataset_dir} holds no results to plot; did every task fail? (see `simtune collect`)"
        )
    plots_dir = Path(plots_dir)
    curves = best_so_far_on_grid(traces, summaries, n_points=n_points, scale=scale)
    log_x = scale == "log"
    stops = early_stops(read_runs(dataset_dir))
    written = plot_best_so_far(
        aggregate_over_seeds(curves, statistic=statistic),
        summaries,
        plots_dir / "best_so_far",
        log_x=log_x,
        stops=stops,
    )
    written += plot_average_rank(
        average_rank(curves, summaries),
        plots_dir / "average_rank",
        title=average_rank_title(traces),
    )
    known = [
        name
        for name, s in summaries.items()
        if s.best_value is not None and s.worst_value is not None
    ]
    if known:
        regret = add_regret(curves[curves["benchmark"].isin(known)], summaries)
        # a run that found the optimum has regret 0: clip so that it shows on a log scale
        clipped = regret["normalized_regret"].clip(lower=REGRET_FLOOR)
        aggregated = aggregate_over_seeds(
            regret.assign(normalized_regret=clipped), statistic, column="normalized_regret"
        )
        written += plot_best_so_far(
            aggregated,
            summaries,
            plots_dir / "normalized_regret",
            value_label=f"normalized regret (floor {REGRET_FLOOR:g})",
            log_x=log_x,
            log_y=True,
            stops=stops,
        )
    return written
