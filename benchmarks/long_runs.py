"""Section 3's long runs: CPU cost per result in windows (n/2, n] of one long run.

A window's figure is CPU time of this process over the window's results, measured inside
the run (:class:`WindowClock`). The first window, (500, 1,000], is about 2.5 ms of CPU: one
such sample on this kind of host (a virtual machine on a shared host) moves between about
2 and 5.5 µs per result for the same code at the same point of the same run, with no
page fault, garbage collection or context switch in it to explain the difference (measured
in the eighth session: see docs/performance.md, "Eighth session (issue 12, life12)"). The
runs are deterministic (the same trajectory every time), so :func:`best_long_run_windows`
repeats them and keeps each window's cheapest figure, as BOHB's windows and every fresh
run beside a window already did: noise on a shared machine only adds.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
from simulator_workload import (
    FreshRunsBeside,
    Measured,
    WindowClock,
    simtune_scheduler,
    time_simtune,
)

from simulated_backend import StopCriterion

SIZES = (1_000, 10_000, 100_000, 1_000_000)
FRESH_RESULTS = 1_000  # results of a fresh run beside a window (FreshRunsBeside)


def long_run_windows(
    blackbox,
    kind,
    n_results,
    n_workers=4,
    every=500,
    sizes=None,
    callbacks=lambda clock: [],
    one_loop=True,
):
    """Per-window cost within one long run (each window beside a fresh run measured at its
    end); ``callbacks(clock)``: extra callbacks; ``one_loop=False``: the long run on the
    Tuner's layered loop (the fresh runs beside it as the Tuner chooses)."""
    sizes = sizes or SIZES
    clock = WindowClock(every=every)
    make = partial(simtune_scheduler, kind, blackbox, 1, kind == "asha")
    beside = FreshRunsBeside(set(sizes), make, blackbox, n_workers, clock)
    measured = time_simtune(
        make(),
        blackbox,
        n_workers,
        StopCriterion(max_num_results=n_results),
        callbacks=[clock, beside, *callbacks(clock)],
        one_loop=one_loop,
    )
    rows = []
    for n in sizes:
        if n > measured.results:
            continue
        window = clock.window(n // 2, n)
        fresh = beside.reference[n]
        rows.append(
            {
                "results": n,
                "window": f"({n // 2:,}, {n:,}]",
                **window,
                "fresh run us/result": fresh,
                "window / fresh": window["cpu us/result"] / fresh,
            }
        )
    return measured, pd.DataFrame(rows)


def best_long_run_windows(
    blackbox, kind, n_results, repeats: int = 3, n_workers: int = 4
) -> tuple[Measured, pd.DataFrame, pd.DataFrame]:
    """``repeats`` identical long runs: (the fastest run, each window's cheapest figure
    over the runs, the first run's windows alone: the single-run statistic printed until
    the seventh session). Fresh runs beside a window: the cheapest too. The window
    (500, 1,000] counts the fresh runs beside it as samples too: they are the same results."""
    runs = [long_run_windows(blackbox, kind, n_results, n_workers) for _ in range(repeats)]
    tables = [windows.set_index("results") for _, windows in runs]
    best = tables[0].copy()
    for column, pick in (
        ("cpu us/result", "min"),
        ("fresh run us/result", "min"),
        ("results/s", "max"),
    ):
        best[column] = getattr(pd.concat([table[column] for table in tables], axis=1), pick)(axis=1)
    # the fresh runs beside a window replay the long run's first FRESH_RESULTS results
    # exactly (the same scheduler and backend seeds): the window (500, 1,000] of each is the
    # same work as the long run's own, 3 more samples per run of the noisiest window
    if FRESH_RESULTS in best.index:
        best.loc[FRESH_RESULTS, "cpu us/result"] = min(
            best.loc[FRESH_RESULTS, "cpu us/result"], best.loc[FRESH_RESULTS, "fresh run us/result"]
        )
    best["window / fresh"] = best["cpu us/result"] / best["fresh run us/result"]
    best["one run us/result"] = tables[0]["cpu us/result"]
    fastest = min((measured for measured, _ in runs), key=lambda measured: measured.seconds)
    return fastest, best.reset_index(), runs[0][1]


def fitted_start_cost(windows: pd.DataFrame) -> float:
    """CPU µs per result that each trial started adds: the slope of a least-squares line
    through (trials started per result, CPU µs per result) over the windows."""
    slope, _ = np.polyfit(windows["trials/result"], windows["cpu us/result"], 1)
    return float(slope)
