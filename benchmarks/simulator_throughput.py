"""Simulator throughput: simulated results per real second, simtune vs Syne Tune, same run.

On a NAS-Bench-201-shaped tabular blackbox (see ``simulator_workload.py``) it measures:

1. ASHA, random search and BOHB for 10 simulated hours, in simtune (native schedulers,
   best of 3 runs) and in Syne Tune 0.16's simulator (see ``syne_tune_simulator.py``; runs
   cut after ``--syne-tune-seconds`` real seconds). Ratios in real time and in CPU time of
   this process (the latter is robust to other load on a shared machine). Syne Tune's own
   scheduler also runs on simtune through :class:`SyneTuneScheduler` for as many results as
   Syne Tune reached.
2. Workers kept busy: results per simulated hour at 16 workers of synchronous successive
   halving, Hyperband and BOHB against ASHA's (the same ten hours).
3. Trial starts: CPU µs per start (draw a configuration, map it to its grid row, draw its
   seed); simtune's cost per result in windows (n/2, n] of a long run (4 workers) at 1k,
   10k, 100k and 1M results (ASHA drawing grid configurations with replacement, random
   search; each window the best of 3 identical runs: ``long_runs.py``); BOHB's cost per
   result as its observations grow (16 workers).
4. Memory: resident memory a run holds per recorded result, and at a million results
   (the 1M-result ASHA run of section 3 again, in a fresh process: see ``run_memory.py``).
5. simtune's cost per result from 1 to 256 workers (ASHA, 100,000 results each, best of 3).

Every target is printed with "met" or "MISSED" beside it. Both simulators run in this one
process, single-threaded: the script sets ``OPENBLAS_NUM_THREADS=1`` (unless set) before
numpy loads, for both sides alike, because on a 2-core machine BLAS threads only spin
(Syne Tune's BOHB fits its densities with numpy/statsmodels).

    python benchmarks/simulator_throughput.py            # everything, about 8 minutes
    python benchmarks/simulator_throughput.py --quick    # smaller runs, Syne Tune cut at 10 s
    python benchmarks/simulator_throughput.py --bohb-only  # BOHB's figures alone, about 1 minute
    python benchmarks/simulator_throughput.py --section 3  # trial starts and long runs, ~1.5 minutes
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: see the docstring

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bohb_windows import bohb_long_runs  # noqa: E402
from long_runs import best_long_run_windows, fitted_start_cost, long_run_windows  # noqa: E402
from run_memory import measure_in_fresh_process  # noqa: E402
from simulator_workload import (  # noqa: E402
    TEN_HOURS,
    best_of,
    in_new_processes,
    nas201_shaped_blackbox,
    simtune_scheduler,
    time_simtune,
    trial_start_cost,
    trial_start_cost_here,
)
from syne_tune_simulator import (  # noqa: E402
    syne_tune_available,
    syne_tune_blackbox,
    syne_tune_scheduler,
    time_syne_tune,
)

from simulated_backend import StopCriterion  # noqa: E402


def fmt(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def indent(table: pd.DataFrame, prefix: str = "   ") -> str:
    return prefix + table.to_string(index=False, float_format=fmt).replace("\n", "\n" + prefix)


# ---------------------------------------------------------------------- 1. peers
def compare_with_syne_tune(blackbox, runs, real_limit, with_syne_tune) -> pd.DataFrame:
    """The same ten simulated hours in simtune and in Syne Tune's simulator."""
    if with_syne_tune:
        from simulated_backend.schedulers.syne_tune_adapter import SyneTuneScheduler

        st_blackbox, config_space = syne_tune_blackbox(blackbox)
    rows = []
    for label, kind, n_workers in runs:
        stop = StopCriterion(max_wallclock_time=TEN_HOURS)
        ours = best_of(3, partial(simtune_scheduler, kind, blackbox, 0), blackbox, n_workers, stop)
        row = {
            "method": label,
            "workers": n_workers,
            "simtune results": ours.results,
            "simtune results/s": ours.per_second,
        }
        if with_syne_tune:
            theirs = time_syne_tune(
                kind, blackbox, st_blackbox, config_space, n_workers, TEN_HOURS, real_limit
            )
            row.update(
                {
                    "ST results": theirs.measured.results,
                    "ST simulated h": theirs.measured.simulated_seconds / 3600,
                    "ST results/s": theirs.measured.per_second,
                    "ST ms/result first 1k": theirs.first_1k_ms,
                    "ST ms/result last 1k": theirs.last_1k_ms,
                    "ratio": ours.per_second / theirs.measured.per_second,
                    "ratio (CPU)": ours.per_cpu_second / theirs.measured.per_cpu_second,
                }
            )
            # Syne Tune's own scheduler on simtune's engine, for as many results as Syne Tune
            # reached: what the engine alone saves
            adapted = SyneTuneScheduler(
                syne_tune_scheduler(kind, config_space, blackbox, 0), search_space=blackbox, seed=0
            )
            same_results = StopCriterion(
                max_wallclock_time=TEN_HOURS, max_num_results=max(theirs.measured.results, 1)
            )
            row["ST scheduler on simtune results/s"] = time_simtune(
                adapted, blackbox, n_workers, same_results
            ).per_second
        rows.append(row)
    return pd.DataFrame(rows)


def print_peer_targets(table: pd.DataFrame) -> None:
    def ratio(method: str, n_workers: int) -> float:
        row = table[(table.method == method) & (table.workers == n_workers)]
        return float(row.ratio.iloc[0])

    for method, n_workers, target in (("ASHA", 4, 150), ("ASHA", 16, 300), ("BOHB", 16, 100)):
        if not ((table.method == method) & (table.workers == n_workers)).any():
            continue  # not run (--bohb-only)
        value = ratio(method, n_workers)
        print(
            f"   target: {method}, {n_workers} workers, >= {target}x Syne Tune's results/s: "
            f"{value:,.0f}x ({verdict(value >= target)})"
        )


# ---------------------------------------------------------------------- 2. busy workers
def synchronous_throughput(blackbox, repeats: int = 3, bohb_only: bool = False) -> pd.DataFrame:
    """Results per simulated hour and per CPU second at 16 workers, ten simulated hours.

    The methods run interleaved (ASHA, SH, HB, BOHB, ASHA, ...; best of ``repeats`` each),
    so a change of load on a shared machine hits them alike.
    """
    methods = (
        ("ASHA", "asha"),
        ("successive halving", "successive_halving"),
        ("Hyperband", "hyperband"),
        ("BOHB", "bohb"),
    )
    if bohb_only:
        methods = (methods[0], methods[3])
    stop = StopCriterion(max_wallclock_time=TEN_HOURS)
    best: dict[str, object] = {}
    for _ in range(repeats):
        for label, kind in methods:
            measured = time_simtune(simtune_scheduler(kind, blackbox, 0), blackbox, 16, stop)
            if label not in best or measured.cpu_seconds < best[label].cpu_seconds:
                best[label] = measured
    table = pd.DataFrame(
        [
            {
                "method": label,
                "results": best[label].results,
                "results/simulated h": best[label].results / (TEN_HOURS / 3600),
                "results/CPU s": best[label].per_cpu_second,
            }
            for label, _ in methods
        ]
    )
    asha = table.iloc[0]
    table["ASHA / this (per simulated h)"] = (
        asha["results/simulated h"] / table["results/simulated h"]
    )
    table["ASHA / this (per CPU s)"] = asha["results/CPU s"] / table["results/CPU s"]
    return table


# ---------------------------------------------------------------------- 3. long runs
def flatness(values: pd.Series, target: float) -> str:
    spread = values.max() / values.min()
    return f"max/min = {spread:.2f} (target <= {target}: {verdict(spread <= target)})"


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:  # noqa: C901 - one report, top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument(
        "--syne-tune-seconds", type=float, default=None, help="real-time cut of each Syne Tune run"
    )
    parser.add_argument("--no-syne-tune", action="store_true", help="skip the Syne Tune runs")
    parser.add_argument(
        "--bohb-only",
        action="store_true",
        help="only BOHB's figures: its row of 1, ASHA and BOHB in 2, BOHB's windows in 3",
    )
    parser.add_argument(
        "--section",
        type=int,
        action="append",
        choices=range(1, 6),
        metavar="N",
        help="run only section N (1-5; repeatable). Default: all",
    )
    args = parser.parse_args(argv)
    sections = set(args.section or range(1, 6))
    real_limit = args.syne_tune_seconds or (10.0 if args.quick else 60.0)
    long_results = 100_000 if args.quick else 1_000_000
    scaling_results = 20_000 if args.quick else 100_000
    logging.getLogger("syne_tune").setLevel(logging.ERROR)
    os.environ.setdefault("SYNETUNE_FOLDER", tempfile.mkdtemp(prefix="syne-tune-"))
    pd.set_option("display.width", 250)

    t0 = time.perf_counter()
    blackbox = nas201_shaped_blackbox()
    print(f"blackbox: {blackbox!r} (built in {time.perf_counter() - t0:.1f} s)")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")

    if 1 in sections:
        print_section_1(blackbox, args, real_limit)
    if 2 in sections:
        print_section_2(blackbox, args)
    if 3 in sections:
        print_section_3(blackbox, args, long_results)
    if 4 in sections and not args.bohb_only:
        print_section_4(long_results)
    if 5 in sections and not args.bohb_only:
        print_section_5(blackbox, scaling_results)
    print(
        f"\nload average at end: {os.getloadavg()[0]:.1f}; total {time.perf_counter() - t0:.0f} s"
    )
    return 0


def print_section_1(blackbox, args, real_limit: float) -> None:
    """1. the same runs in both simulators"""
    with_syne_tune = not args.no_syne_tune and syne_tune_available()
    runs = [
        ("ASHA", "asha", 4),
        ("ASHA", "asha", 16),
        ("random search", "random_search", 4),
        ("random search", "random_search", 16),
        ("BOHB", "bohb", 16),
    ]
    if args.bohb_only:
        runs = runs[-1:]
    table = compare_with_syne_tune(blackbox, runs, real_limit, with_syne_tune)
    print(
        "1. Ten simulated hours on the same blackbox (simtune: best of 3; Syne Tune: one run, "
        f"cut at {real_limit:.0f} real s)"
    )
    print(indent(table))
    if with_syne_tune:
        print_peer_targets(table)
    else:
        print(
            "   (Syne Tune not installed, or --no-syne-tune: bash scripts/install_peer_extras.sh)"
        )


def print_section_2(blackbox, args) -> None:
    """2. synchronous brackets keep workers busy"""
    print(
        "\n2. Results per simulated hour and per CPU second, 16 workers, ten simulated hours "
        "(interleaved, best of 3)"
    )
    busy = synchronous_throughput(blackbox, bohb_only=args.bohb_only)
    print(indent(busy))
    for _, row in busy.iloc[1:].iterrows():
        ratio = row["ASHA / this (per simulated h)"]
        print(
            f"   target: {row.method} within 1.3x of ASHA's results per simulated hour: "
            f"{ratio:.2f}x ({verdict(ratio <= 1.3)})"
        )
    bohb = float(busy[busy.method == "BOHB"]["ASHA / this (per CPU s)"].iloc[0])
    print(
        "   target: BOHB within 3x of simtune's ASHA in results per (CPU) second: ASHA / BOHB "
        f"= {bohb:.2f} ({verdict(bohb <= 3)})"
    )


def print_section_3(blackbox, args, long_results: int):
    """3. trial starts and cost per result as runs grow"""
    print("\n3. Trial starts and cost per result as one run grows")
    n_starts = 15_000
    for label, kind, with_replacement in (
        ()
        if args.bohb_only
        else (
            ("ASHA, grid with replacement", "asha", True),
            ("ASHA, simtune's random searcher", "asha", False),
            ("random search", "random_search", False),
        )
    ):
        here = trial_start_cost(blackbox, kind, n_starts, with_replacement)
        cost = min(
            here,
            *in_new_processes(3, trial_start_cost_here, kind, n_starts, with_replacement),
        )
        print(
            f"   target: a trial start ({label}) costs <= 5 µs: {cost:.2f} CPU µs "
            f"({verdict(cost <= 5)}; best of 3 x {n_starts:,} starts in this process and in "
            f"each of 3 new ones; this process alone, the statistic before the eighth "
            f"session: {here:.2f})"
        )
    for label, kind in (
        ()
        if args.bohb_only
        else (
            ("random search", "random_search"),
            ("ASHA, grid sampled with replacement", "asha"),
        )
    ):
        measured, windows, one_run = best_long_run_windows(blackbox, kind, long_results)
        print(
            f"   {label}, 4 workers: {measured.results:,} results in {measured.seconds:.1f} s "
            f"({measured.per_second:,.0f} results/s end to end, "
            f"{measured.simulated_seconds / 86400:,.0f} simulated days; each window the best "
            "of 3 identical runs, (500, 1,000] also of the fresh runs beside it, which replay "
            "those results; the first run's alone beside it)"
        )
        print(indent(windows, "      "))
        target = 1.5 if kind == "asha" else 2.0
        print(f"      CPU cost per result {flatness(windows['cpu us/result'], target)}")
        print(
            "      (one run, the statistic printed until the seventh session: max/min = "
            f"{one_run['cpu us/result'].max() / one_run['cpu us/result'].min():.2f}, largest "
            f"window / fresh = {one_run['window / fresh'].max():.2f})"
        )
        worst = windows["window / fresh"].max()
        print(
            "      against a fresh run measured beside each window (load taken out): largest "
            f"window / fresh = {worst:.2f} (target <= {target}: {verdict(worst <= target)})"
        )
        if kind == "asha":
            print(
                "      each trial started adds "
                f"{fitted_start_cost(windows):.1f} CPU µs per result (fitted over the windows; "
                f"one run: {fitted_start_cost(one_run):.1f})"
            )
            late, last = windows.iloc[-2], windows.iloc[-1]
            if abs(last["trials/result"] - late["trials/result"]) <= 0.1 * last["trials/result"]:
                print(
                    "      (not the target, for the issue's owner: at the same share of results "
                    f"that start a trial, {late['window']} at {late['trials/result']:.2f} -> "
                    f"{last['window']} at {last['trials/result']:.2f}, cost per result "
                    f"{last['cpu us/result'] / late['cpu us/result']:.2f}x)"
                )
            _, layered = long_run_windows(blackbox, kind, long_results, one_loop=False)
            costs = layered["cpu us/result"]
            print(
                "      the same run on the Tuner's layered loop (Tuner(one_loop=False), the "
                "path before the ninth session; one run): "
                f"{' / '.join(f'{cost:.2f}' for cost in costs)} CPU µs per result, max/min = "
                f"{costs.max() / costs.min():.2f}, each trial started adds "
                f"{fitted_start_cost(layered):.1f} µs"
            )
    bohb_results = 20_000 if args.quick else 80_000
    sizes = tuple(n for n in (5_000, 10_000, 20_000, 40_000, 80_000) if n <= bohb_results)
    measured, windows = bohb_long_runs(long_run_windows, blackbox, bohb_results, sizes)
    print(
        f"   BOHB, 16 workers: {measured.results:,} results in {measured.seconds:.1f} s "
        f"({measured.per_second:,.0f} results/s end to end; each window the best of 5 runs)"
    )
    print(indent(windows, "      "))
    print(
        "      (full GCs, spills: the engine's lumps in each window, not BOHB's model: a full "
        "garbage collection walks the whole heap, a spill writes 65,536 results to disk)"
    )
    print(
        "      BOHB CPU cost per result (slice floors) "
        f"{flatness(windows['slice floor us/result'], 1.5)}"
    )
    spread = windows["cpu us/result"].max() / windows["cpu us/result"].min()
    print(
        "      (each window the cheapest whole run, the statistic before the eighth session: "
        f"max/min = {spread:.2f})"
    )


def print_section_4(long_results: int) -> None:
    """4. memory of long runs: section 3's ASHA run again, in a fresh process (the peak
    resident memory of this one was raised by the sections before)"""
    memory = measure_in_fresh_process(long_results, every=long_results // 10)
    print(
        f"\n4. Resident memory of one run (ASHA, grid with replacement, 4 workers, "
        f"{memory['results']:,} results, in a fresh process): grew by "
        f"{memory['grown_mb']:,.0f} MB = {memory['bytes_per_result']:,.0f} bytes per result "
        f"(slope over {long_results // 10:,}-result samples "
        f"{memory['slope_bytes_per_result']:,.0f}); "
        f"{memory['slope_bytes_per_result'] * 1e6 / 2**20:,.0f} MB per million results "
        "(reported, no target: the recorder holds at most one chunk; what grows is the "
        "per-trial state of the Tuner, backend and scheduler)"
    )


def print_section_5(blackbox, scaling_results: int) -> None:
    """5. cost per result from 1 to 256 workers"""
    scaling = []
    for n_workers in (1, 4, 16, 64, 256):
        measured = best_of(
            3,
            partial(simtune_scheduler, "asha", blackbox, 2, with_replacement=True),
            blackbox,
            n_workers,
            StopCriterion(max_num_results=scaling_results),
        )
        scaling.append(
            {
                "workers": n_workers,
                "results": measured.results,
                "results/s": measured.per_second,
                "cpu us/result": 1e6 * measured.cpu_seconds / measured.results,
                "stop reason": measured.stop_reason,
            }
        )
    scaling = pd.DataFrame(scaling)
    print(
        f"\n5. ASHA (grid sampled with replacement), {scaling_results:,} results per run, best "
        "of 3, by number of workers"
    )
    print(indent(scaling))
    print(f"   CPU cost per result {flatness(scaling['cpu us/result'], 2.0)}")


if __name__ == "__main__":
    sys.exit(main())
