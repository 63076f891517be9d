"""Study throughput: 200 short simulated runs one after another, on a local process pool,
and on a Dask LocalCluster; tasks per second, total wall time and the parallel speed-up.

    python benchmarks/study_throughput.py [--n-jobs 2] [--seeds 25]

Every executor runs the same study (4 methods x 2 real tabular benchmarks x 25 seeds = 200
tasks) into its own fresh output folder, with the blackboxes already in the local cache.
Wall time includes starting and stopping the workers (what a user waits for); the startup
of the pool or cluster alone is measured separately and printed too. Figures depend on
what else runs on the machine: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarking.benchmark_definitions import benchmark_definition
from benchmarking.executors import make_executor
from benchmarking.study import Study, check_benchmarks, execute_study

METHODS = ("RS", "ASHA", "HYPERBAND", "ASYNC-HYPERBAND")
# BOHB is left out: its model makes a run on xgboost-mnist take over a second, so it would
# measure the scheduler rather than the study machinery.
BUDGETS = {"xgboost-mnist": 900.0, "taskset-imdb-gru128-bs128": 20_000.0}


def make_study(n_seeds: int) -> Study:
    benchmarks = [
        benchmark_definition(name).with_overrides(max_wallclock_time=budget)
        for name, budget in BUDGETS.items()
    ]
    return Study.from_names(list(METHODS), benchmarks, list(range(n_seeds)))


def _import_simtune(_: int) -> int:
    import benchmarking.simulation  # noqa: F401 - what a worker's first task imports

    return os.getpid()


def startup_seconds(kind: str, n_jobs: int) -> float:
    """Seconds to start the workers and have each import simtune (then stop them)."""
    started = time.perf_counter()
    with make_executor(kind, n_jobs=n_jobs) as executor:
        list(executor.map_unordered(_import_simtune, range(n_jobs)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 2, help="worker processes")
    parser.add_argument("--seeds", type=int, default=25, help="seeds per (method, benchmark)")
    args = parser.parse_args()
    study = make_study(args.seeds)
    n_tasks = len(study.tasks())
    check_benchmarks(study)  # convert into the local cache before timing anything
    print(
        f"{n_tasks} tasks ({', '.join(METHODS)} x {', '.join(BUDGETS)} x {args.seeds} seeds), "
        f"{os.cpu_count()} cores, {args.n_jobs} worker processes, load average before: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="simtune-throughput-") as scratch:
        for kind in ("inprocess", "processes", "dask"):
            startup = 0.0 if kind == "inprocess" else startup_seconds(kind, args.n_jobs)
            out = Path(scratch) / kind
            report = execute_study(study, out, executor=kind, n_jobs=args.n_jobs, check=False)
            if report.n_completed != n_tasks:
                raise SystemExit(
                    f"{kind}: only {report.n_completed} of {n_tasks} tasks completed: {report.failed[:1]}"
                )
            rows.append((kind, report.wall_seconds, startup, report))
    sequential = rows[0][1]
    header = (
        "executor",
        "wall s",
        "tasks/s",
        "startup s",
        "tasks/s after startup",
        "speed-up",
        "loads",
    )
    print("\n{:<44} {:>7} {:>8} {:>10} {:>22} {:>9} {:>6}".format(*header))
    for _kind, wall, startup, report in rows:
        steady = n_tasks / max(wall - startup, 1e-9)
        loads = sum(report.blackbox_loads.values())
        print(
            f"{report.executor:<44} {wall:7.2f} {n_tasks / wall:8.1f} {startup:10.2f} "
            f"{steady:22.1f} {sequential / wall:8.2f}x {loads:6d}"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "speed-up = sequential wall time / wall time (startup included); startup = starting the "
        "workers and importing simtune in each (measured apart); loads = blackboxes read from "
        "disk by all worker processes together"
    )


if __name__ == "__main__":
    main()
