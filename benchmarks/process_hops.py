"""What one wake-up of a process costs as more processes take turns (a diagnostic, no target).

An evaluation through a wrapped objective in independent-process mode is a chain of
wake-ups of different processes (the optimizer, the worker it calls, the coordinator, the
worker whose result returns). This script isolates the effect of the number of processes
taking turns: a parent ("the optimizer") hands a small pickled dict to one of ``k`` child
processes in turn over pipes; each child unpickles it, changes a field and pickles it back,
exactly the same work whatever ``k``. It prints the CPU time per round trip of the parent
and of the child that answered, for ``k`` = 1, 4 and 16 (interleaved, median of the
repeats). With ``k`` = 16 each child wakes once every 16 round trips and finds its caches
cold (this machine: 2 cores, 1 MiB of L2 cache each), so the same Python work costs more
CPU time per wake-up: docs/performance.md#wrapped-objectives uses it to explain why 16
workers are slower per evaluation than 1.

    python benchmarks/process_hops.py [--round-trips 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import statistics
import sys
import time

MESSAGE = pickle.dumps({"loss": 0.5, "runtime": 3.2, "fidelity": 3, "worker": 2, "trial_id": 1})
PROCESS_COUNTS = (1, 4, 16)


def answer(data: bytes) -> bytes:
    """The same Python work at every hop: unpickle, change a field, pickle."""
    message = pickle.loads(data)
    message["trial_id"] += 1
    return pickle.dumps(message)


def child_loop(jobs: int, answers: int) -> None:
    while True:
        data = os.read(jobs, 4096)
        if not data:
            os._exit(0)
        os.write(answers, answer(data))


def round_trips(k: int, count: int) -> tuple[float, float, float]:
    """(wall, parent CPU, child CPU) in microseconds per round trip with ``k`` children."""
    answers_read, answers_write = os.pipe()
    job_writers, children = [], []
    for _ in range(k):
        jobs_read, jobs_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(jobs_write)
            child_loop(jobs_read, answers_write)
        os.close(jobs_read)
        job_writers.append(jobs_write)
        children.append(pid)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, cpu_started = time.perf_counter(), time.process_time()
    message = MESSAGE
    for n in range(count):
        os.write(job_writers[n % k], message)
        message = answer(os.read(answers_read, 4096))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    for fd in job_writers:
        os.close(fd)  # the children read end of file and exit
    for pid in children:
        os.waitpid(pid, 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    os.close(answers_read)
    os.close(answers_write)
    return wall / count * 1e6, cpu / count * 1e6, child_cpu / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--round-trips", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    measured: dict[int, list[tuple[float, float, float]]] = {k: [] for k in PROCESS_COUNTS}
    for _ in range(args.repeats):
        for k in PROCESS_COUNTS:
            measured[k].append(round_trips(k, args.round_trips))
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; median of {args.repeats}")
    base = statistics.median(m[2] for m in measured[PROCESS_COUNTS[0]])
    for k, runs in measured.items():
        wall, parent, child = (statistics.median(m[i] for m in runs) for i in range(3))
        print(
            f"{k:2d} processes taking turns: {wall:6.1f} us per round trip; CPU per round trip: "
            f"parent {parent:5.1f} us, child {child:5.1f} us ({child / base:.2f}x the child's "
            f"with 1 process)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
