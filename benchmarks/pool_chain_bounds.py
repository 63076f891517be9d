"""What a process-pool evaluation of a wrapped objective could cost at best (a diagnostic, no target).

In process-pool mode an evaluation is one chain: the coordinator releases a worker's call,
that worker returns its result to the optimizer's ``ProcessPoolExecutor`` (result thread,
main thread, call-queue feeder thread), the optimizer submits the next call, a pool worker
takes it and calls the objective, and the call reaches the coordinator. This script times
the same optimizer (``wrapper_throughput.drive_pool``: ``n`` calls kept in flight) on the
same ``ProcessPoolExecutor`` with three objectives, interleaved, median of the repeats:

- ``simtune``: simtune's wrapped objective (``SimulationCoordinator``, synthetic table);
- ``minimal coordinator``: each call writes one byte to a coordinator process over a
  socket pair and waits for one byte back; the coordinator keeps the waiting callers in a
  line and, once all ``n`` wait, wakes the first (no lookup, no pickling, no recording):
  what a coordinator process in the chain costs by itself;
- ``callers release each other``: no coordinator process; each call joins the line in
  shared memory under a lock and, once all ``n`` wait, wakes the first itself through its
  pipe: the best case of the design where callers place their own calls and release each
  other (docs/performance.md, "The lever left").

Neither bound looks anything up or records anything, so they bound what any wrapper on
this pool could reach, not what a complete one would.

    PYTHONPATH=$PWD python benchmarks/pool_chain_bounds.py [--workers 4 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import select
import socket
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wrapper_throughput  # noqa: E402  (the benchmark's optimizer and table)

RESULT = {"loss": 0.5, "runtime": 1.0, "simulated_start_time": 0.0, "simulated_time": 1.0}

# per pool worker: what its initializer set up (module level: the pool calls plain functions)
_WORKER: dict[str, Any] = {}


# ------------------------------------------------------------------ minimal coordinator
def _line_coordinator(sockets: list[socket.socket], n_workers: int) -> None:
    """Wake the caller that waited longest once all ``n_workers`` callers wait."""
    poller = select.epoll()
    index_of = {s.fileno(): k for k, s in enumerate(sockets)}
    for fd in index_of:
        poller.register(fd, select.EPOLLIN)
    line: collections.deque[int] = collections.deque()
    while True:
        for fd, _ in poller.poll():
            if not os.read(fd, 64):
                os._exit(0)
            line.append(index_of[fd])
            if len(line) >= n_workers:
                os.write(sockets[line.popleft()].fileno(), b"r")


def _take_index(lock: Any, counter: Any) -> int:
    with lock:
        index = counter.value
        counter.value += 1
    return index


def _init_coordinated(lock: Any, counter: Any, sockets: list[socket.socket]) -> None:
    index = _take_index(lock, counter)
    _WORKER.update(fd=sockets[index].fileno())


def coordinated_call(config: dict, epoch: int) -> dict:
    fd = _WORKER["fd"]
    os.write(fd, b"c")
    os.read(fd, 64)
    return {**RESULT, "fidelity": epoch}


def minimal_coordinator(n_workers: int, n_evals: int, seed: int) -> float:
    context = multiprocessing.get_context("fork")
    pairs = [socket.socketpair() for _ in range(n_workers)]
    pid = os.fork()
    if pid == 0:
        for _, worker_end in pairs:
            worker_end.close()
        _line_coordinator([end for end, _ in pairs], n_workers)
    for coordinator_end, _ in pairs:
        coordinator_end.close()
    worker_ends = [end for _, end in pairs]
    try:
        initargs = (context.Lock(), context.Value("i", 0, lock=False), worker_ends)
        rate = _drive(
            context, _init_coordinated, initargs, coordinated_call, n_workers, n_evals, seed
        )
    finally:
        for end in worker_ends:  # the coordinator reads end of file and exits
            end.close()
        os.waitpid(pid, 0)
    return rate


# ------------------------------------------------------------------ callers release each other
def _init_relay(lock: Any, line: Any, counter: Any, pipes: list[tuple[int, int]]) -> None:
    index = _take_index(lock, counter)
    _WORKER.update(lock=lock, line=line, index=index, pipes=pipes)


def relay_call(config: dict, epoch: int) -> dict:
    """Join the line (``line[0]``: length, ``line[1]``: head, then a ring of indices); the
    call that completes it wakes the first in line (possibly itself)."""
    worker, line, pipes = _WORKER, _WORKER["line"], _WORKER["pipes"]
    n_workers = len(pipes)
    first = -1
    with worker["lock"]:
        length, head = line[0], line[1]
        line[2 + (head + length) % n_workers] = worker["index"]
        length += 1
        if length >= n_workers:
            first = line[2 + head]
            line[1] = (head + 1) % n_workers
            length -= 1
        line[0] = length
    if first >= 0:
        os.write(pipes[first][1], b"r")
    os.read(pipes[worker["index"]][0], 1)
    return {**RESULT, "fidelity": epoch}


def callers_release_each_other(n_workers: int, n_evals: int, seed: int) -> float:
    context = multiprocessing.get_context("fork")
    pipes = [os.pipe() for _ in range(n_workers)]
    try:
        initargs = (
            context.Lock(),
            context.Array("i", 2 + n_workers, lock=False),
            context.Value("i", 0, lock=False),
            pipes,
        )
        return _drive(context, _init_relay, initargs, relay_call, n_workers, n_evals, seed)
    finally:
        for reader, writer in pipes:
            os.close(reader)
            os.close(writer)


def _drive(
    context: Any,
    initializer: Any,
    initargs: tuple,
    call: Any,
    n_workers: int,
    n_evals: int,
    seed: int,
) -> float:
    jobs = wrapper_throughput.proposals(seed, n_evals + 4 * n_workers)
    with ProcessPoolExecutor(n_workers, context, initializer, initargs) as pool:
        wrapper_throughput.warm_up(pool, n_workers)
        rate = wrapper_throughput.drive_pool(
            lambda c, e: pool.submit(call, c, e), n_workers, jobs, n_evals
        )
        # the calls still waiting in the line: let them return so that the pool can shut down
        for reader_or_socket in range(n_workers):
            _release_all(initargs, reader_or_socket)
    return rate


def _release_all(initargs: tuple, index: int) -> None:
    ends = initargs[-1]
    end = ends[index]
    if isinstance(end, socket.socket):
        end.shutdown(socket.SHUT_RD)  # its blocked read returns end of file
    else:
        os.write(end[1], b"r")


# ------------------------------------------------------------------ simtune
def simtune(n_workers: int, n_evals: int, seed: int) -> float:
    blackbox = wrapper_throughput.synthetic_blackbox()
    return wrapper_throughput.simtune_pool(
        n_workers, n_evals, seed, blackbox
    ).evaluations_per_second


VARIANTS = {
    "simtune": simtune,
    "minimal coordinator": minimal_coordinator,
    "callers release each other": callers_release_each_other,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[4])
    parser.add_argument("--evaluations", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rates: dict[tuple[int, str], list[float]] = collections.defaultdict(list)
    for repeat in range(args.repeats):
        for n_workers in args.workers:
            for name, variant in VARIANTS.items():
                rates[n_workers, name].append(variant(n_workers, args.evaluations, repeat))
    print(
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.evaluations} evaluations "
        f"per run, median of {args.repeats} interleaved runs"
    )
    for n_workers in args.workers:
        base = statistics.median(rates[n_workers, "simtune"])
        for name in VARIANTS:
            runs = rates[n_workers, name]
            rate = statistics.median(runs)
            print(
                f"process pool, {n_workers} workers, {name:27s} {rate:7.0f}/s  "
                f"({rate / base:.2f}x simtune; runs {min(runs):.0f}-{max(runs):.0f}/s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
