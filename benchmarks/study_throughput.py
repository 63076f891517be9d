"""Study throughput and driver memory: 1,000 short simulated runs in one process, on a local
process pool and on a Dask LocalCluster; the driver's memory for 10,000 and 100,000 tasks.

    python benchmarks/study_throughput.py [--n-jobs 2] [--seeds 125] [--skip-memory]

Every executor runs the same study (4 methods x 2 real tabular benchmarks x 125 seeds =
1,000 tasks) into its own fresh output folder, with the blackboxes already in the local
cache, each in a fresh process that has imported simtune (as a user's process has) and
nothing else: no executor inherits a worker, a forkserver or an import from another's
measurement. Wall time is end to end, as a user waits for it: starting the workers (or
the cluster), importing simtune (and Dask) in them, running every task, stopping the
workers. (The Dask workers are forked from a fork of that process, so they start with
what it imported, as the in-process peer runs with it: docs/executors.md, "Workers that
start with simtune imported"; the process pool's workers import simtune themselves.) The peer is the same study run one task after another in one process, through
the same code (the same batches, the same writing and flushing of results), measured in
the same run.

Targets (issue 12, item 4):

- the Dask LocalCluster of 2 workers finishes the study at least 1.5x faster than one
  process, end to end;
- the driver's memory for a study of 100,000 tasks is bounded: measured from a dry run
  (expanding the tasks, checking which are done) plus writing the study manifest, in a
  fresh process, at 10,000 and 100,000 tasks (peak Python heap by tracemalloc, and the
  growth of resident memory); target under 100 MB at 100,000 tasks and growing no faster
  than the number of tasks.

Figures depend on what else runs on the machine: the load average is printed with them.
On Linux with autogroup scheduling, ``nice`` does not lower other sessions' share of the
CPU: each session gets an equal share, however niced its processes are. See
docs/performance.md for how the published figures were measured.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from benchmarking.benchmark_definitions import benchmark_definition
from benchmarking.executors import PRELOADED_MODULES
from benchmarking.study import Study, check_benchmarks, execute_study

METHODS = ("RS", "ASHA", "HYPERBAND", "ASYNC-HYPERBAND")
# BOHB is left out: its model makes a run on xgboost-mnist take over a second, so it would
# measure the scheduler rather than the study machinery.
BUDGETS = {"xgboost-mnist": 900.0, "taskset-imdb-gru128-bs128": 20_000.0}
SPEED_UP_TARGET = 1.5
MEMORY_TARGET_MB = 100.0
MEMORY_SIZES = (10_000, 100_000)


def make_study(n_seeds: int) -> Study:
    benchmarks = [
        benchmark_definition(name).with_overrides(max_wallclock_time=budget)
        for name, budget in BUDGETS.items()
    ]
    return Study.from_names(list(METHODS), benchmarks, list(range(n_seeds)))


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------- throughput
def _measure_one(kind: str, n_seeds: int, n_jobs: int, out: Path) -> None:
    """In a fresh process (simtune imported, nothing started): run the study on executor
    ``kind`` and print its wall time as JSON."""
    for module in PRELOADED_MODULES:  # all that running a task in this process needs
        importlib.import_module(module)
    study = make_study(n_seeds)
    started = time.perf_counter()
    report = execute_study(study, out, executor=kind, n_jobs=n_jobs, check=False)
    wall = time.perf_counter() - started
    print(
        json.dumps(
            {
                "wall": wall,
                "executor": report.executor,
                "n_completed": report.n_completed,
                "failed": [outcome.error for outcome in report.failed[:1]],
            }
        )
    )


def measure_throughput(n_seeds: int, n_jobs: int) -> dict[str, tuple[float, str]]:
    """Wall seconds and executor description of the whole study on each executor."""
    n_tasks = len(make_study(n_seeds).tasks())
    walls = {}
    with tempfile.TemporaryDirectory(prefix="simtune-throughput-") as scratch:
        for kind in ("inprocess", "processes", "dask"):
            output = subprocess.run(
                [sys.executable, __file__, "--measure", kind, "--seeds", str(n_seeds),
                 "--n-jobs", str(n_jobs), "--out", str(Path(scratch) / kind)],
                capture_output=True, text=True,
            )  # fmt: skip
            if output.returncode != 0:
                raise SystemExit(f"{kind}: the measurement failed:\n{output.stderr}")
            measured = json.loads(output.stdout.strip().splitlines()[-1])
            if measured["n_completed"] != n_tasks:
                raise SystemExit(
                    f"{kind}: only {measured['n_completed']} of {n_tasks} tasks completed: "
                    f"{measured['failed']}"
                )
            walls[kind] = (measured["wall"], measured["executor"])
            print(
                f"  {kind}: {measured['wall']:.1f} s (load average now {load_average()})",
                flush=True,
            )
    return walls


# --------------------------------------------------------------------- driver memory
def _memory_probe(n_tasks: int) -> None:
    """In a fresh process: the driver's peak memory for a dry run, then for writing the
    study manifest, above what the imports took (Python heap peak by tracemalloc, and
    resident memory)."""
    from benchmarking.study_layout import StudyLayout

    n_seeds = n_tasks // (len(METHODS) * len(BUDGETS))
    make_study(1).tasks()  # imports and registries loaded before measuring
    rss_before = _resident_mb()
    tracemalloc.start()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="simtune-dry-run-") as scratch:
        study = make_study(n_seeds)
        report = execute_study(study, Path(scratch) / "out", dry_run=True, check=False)
        dry_run_seconds = time.perf_counter() - started
        dry_run_peak = tracemalloc.get_traced_memory()[1]
        layout = StudyLayout(Path(scratch) / "out")
        layout.root.mkdir()
        layout.add_to_manifest(study.tasks())
        manifest_bytes = layout.manifest_path.stat().st_size
        peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "n_tasks": report.n_tasks,
                "dry_run_mb": dry_run_peak / 2**20,
                "with_manifest_mb": peak / 2**20,
                "resident_growth_mb": _resident_mb() - rss_before,
                "dry_run_seconds": dry_run_seconds,
                "manifest_mb_on_disk": manifest_bytes / 1e6,
            }
        )
    )


def _resident_mb() -> float:
    """Resident memory now (Linux), else the peak so far."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_memory() -> list[dict[str, float]]:
    rows = []
    for n_tasks in MEMORY_SIZES:
        output = subprocess.run(
            [sys.executable, __file__, "--memory-probe", str(n_tasks)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--seeds", type=int, default=125, help="seeds per (method, benchmark)")
    parser.add_argument("--skip-memory", action="store_true", help="throughput only")
    parser.add_argument("--skip-throughput", action="store_true", help="memory only")
    parser.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--measure", choices=("inprocess", "processes", "dask"), help=argparse.SUPPRESS
    )
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        _memory_probe(args.memory_probe)
        return
    if args.measure:
        _measure_one(args.measure, args.seeds, args.n_jobs, args.out)
        return
    if not args.skip_throughput:
        study = make_study(args.seeds)
        n_tasks = len(study.tasks())
        check_benchmarks(study)  # convert into the local cache before timing anything
        print(
            f"{n_tasks} tasks ({', '.join(METHODS)} x {', '.join(BUDGETS)} x {args.seeds} seeds), "
            f"{os.cpu_count()} cores, {args.n_jobs} worker processes, load average before: "
            f"{load_average()}",
            flush=True,
        )
        walls = measure_throughput(args.seeds, args.n_jobs)
        sequential = walls["inprocess"][0]
        print(f"\n{'executor':<52} {'wall s':>7} {'tasks/s':>8} {'speed-up':>9}")
        for wall, description in walls.values():
            print(f"{description:<52} {wall:7.1f} {n_tasks / wall:8.1f} {sequential / wall:8.2f}x")
        dask_speed_up = sequential / walls["dask"][0]
        print(
            f"Dask LocalCluster of {args.n_jobs} workers vs one process, end to end: "
            f"{dask_speed_up:.2f}x (target >= {SPEED_UP_TARGET}x: {verdict(dask_speed_up >= SPEED_UP_TARGET)})"
        )
    if not args.skip_memory:
        rows = measure_memory()
        print(
            f"\n{'tasks':>8} {'dry run MB':>11} {'+ manifest MB':>14} {'RSS growth MB':>14} "
            f"{'dry run s':>10} {'manifest MB on disk':>20}"
        )
        for row in rows:
            print(
                f"{row['n_tasks']:>8} {row['dry_run_mb']:11.1f} {row['with_manifest_mb']:14.1f} "
                f"{row['resident_growth_mb']:14.1f} {row['dry_run_seconds']:10.2f} "
                f"{row['manifest_mb_on_disk']:20.1f}"
            )
        small, large = rows[0], rows[-1]
        growth = large["with_manifest_mb"] / max(small["with_manifest_mb"], 1e-9)
        size_ratio = large["n_tasks"] / small["n_tasks"]
        bounded = large["with_manifest_mb"] <= MEMORY_TARGET_MB and growth <= size_ratio * 1.2
        print(
            f"driver memory at {large['n_tasks']:,} tasks: {large['with_manifest_mb']:.1f} MB "
            f"({large['with_manifest_mb'] * 2**20 / large['n_tasks']:.0f} bytes per task; "
            f"x{growth:.1f} for x{size_ratio:.0f} tasks) (target <= {MEMORY_TARGET_MB:g} MB, "
            f"growing at most linearly: {verdict(bounded)})"
        )
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
