"""Runs that ended before their budget, and why: what the final table and plots must say.

A run of a tabular benchmark can end before its time budget because its scheduler has
nothing more to run: every configuration of the table was tried (the search space was used
up). Its best value then stays flat until the budget, so comparing it with a method that
used the whole budget is not like for like. :func:`early_stops` finds such runs in a
collated study (``_runs.parquet``, one row per run with its ``stop_reason``) and
:meth:`EarlyStop.describe` says it in one sentence.

Example:
    >>> from benchmarking.collation import read_runs  # doctest: +SKIP
    >>> for stop in early_stops(read_runs("results/collated")):  # doctest: +SKIP
    ...     print(stop.describe())
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

# simulated_backend.tuner's stop_reason when no event is left and the scheduler starts no trial
SEARCH_SPACE_EXHAUSTED = "the scheduler has nothing more to run"
# stop reasons that mean "the run used its budget": nothing to report
BUDGET_STOP_REASONS = frozenset({"max_wallclock_time", "max_num_results"})
RUN_RECORD_NEEDED = ("method", "benchmark", "status", "stop_reason", "end_time")


@dataclass(frozen=True)
class EarlyStop:
    """The runs of one (method, benchmark) that ended before their budget for one reason."""

    method: str
    benchmark: str
    reason: str
    n_stopped: int
    n_runs: int
    median_end_time: float
    budget: float | None

    @property
    def search_space_used_up(self) -> bool:
        return self.reason == SEARCH_SPACE_EXHAUSTED

    def describe(self) -> str:
        """One sentence: which runs, when, and why (``search space used up`` if so)."""
        budget = f" of the {self.budget:g} s budget" if self.budget is not None else ""
        why = (
            "search space used up (every configuration of the table was tried; the "
            "scheduler had nothing more to run), its best value stays flat from there"
            if self.search_space_used_up
            else f"stop reason: {self.reason or 'not recorded'}"
        )
        return (
            f"{self.method} on {self.benchmark}: {self.n_stopped} of {self.n_runs} runs stopped "
            f"early, at {self.median_end_time:.3g} s{budget} (median): {why}"
        )


def early_stops(runs: pd.DataFrame) -> list[EarlyStop]:
    """Completed runs whose stop reason is not their budget, per (method, benchmark, reason).

    ``runs`` is :func:`benchmarking.collation.read_runs` output. Sorted by benchmark, method.
    """
    missing = [c for c in RUN_RECORD_NEEDED if c not in runs.columns]
    if missing:
        raise ValueError(f"the run records lack the columns {missing}; collect the study again")
    completed = runs[runs["status"] == "completed"]
    n_runs = completed.groupby(["method", "benchmark"]).size()
    early = completed[~completed["stop_reason"].isin(BUDGET_STOP_REASONS)]
    stops = []
    for (method, benchmark, reason), rows in early.groupby(
        ["method", "benchmark", "stop_reason"], sort=True
    ):
        budgets = (
            rows["max_wallclock_time"].dropna() if "max_wallclock_time" in rows else pd.Series()
        )
        budget = float(budgets.max()) if len(budgets) else None
        stops.append(
            EarlyStop(
                method=str(method),
                benchmark=str(benchmark),
                reason=str(reason),
                n_stopped=len(rows),
                n_runs=int(n_runs[(method, benchmark)]),
                median_end_time=float(rows["end_time"].median()),
                budget=budget if budget is not None and math.isfinite(budget) else None,
            )
        )
    return sorted(stops, key=lambda s: (s.benchmark, s.method, s.reason))


def footnote_marks(stops: list[EarlyStop]) -> dict[tuple[str, str], str]:
    """``(method, benchmark) -> " [1]"`` (numbers in the order of ``stops``, one per pair)."""
    marks: dict[tuple[str, str], list[str]] = {}
    for number, stop in enumerate(stops, start=1):
        marks.setdefault((stop.method, stop.benchmark), []).append(str(number))
    return {pair: f" [{','.join(numbers)}]" for pair, numbers in marks.items()}


def footnotes(stops: list[EarlyStop]) -> list[str]:
    """``[n] <description>`` for each early stop, matching :func:`footnote_marks`."""
    return [f"[{number}] {stop.describe()}" for number, stop in enumerate(stops, start=1)]
