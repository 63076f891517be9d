"""Throughput of simtune's wrapped objective against mfhpo-simulator 1.4.6, same run.

The same optimizer (a seeded random search that keeps every worker busy) drives the same
objective (a synthetic tabular benchmark, lookups only) through both wrappers:

- process-pool mode: the optimizer submits calls to a ``concurrent.futures`` process pool;
- independent-process mode: ``n`` worker processes started on their own open the wrapper
  (simtune: by run name; mfhpo-simulator: by its shared directory) and take jobs from the
  optimizer over pipes, as BOHB or NePS workers do;
- ask/tell mode: simtune's ``simulate()`` against ``ObjectiveFuncWrapper(ask_and_tell=True)``.

It checks that both return the results in the same order (the order of simtune's engine
replay, :func:`replay_in_simulator`) and prints evaluations per second and the targets of
issue 13 with "met" or "MISSED". ``--index-stress`` starts 8 independent processes 1,000
times and counts failed worker-index assignments.

Every point is the median of several runs of each side (``QUICK``/``FULL``), simtune's and
the peer's runs interleaved so that both see the same load; the ratio is of the medians.
The old statistic (simtune's best run over the peer's single run) is printed beside it.

    PYTHONPATH=$PWD python benchmarks/wrapper_throughput.py --quick
    PYTHONPATH=$PWD python benchmarks/wrapper_throughput.py --index-stress
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import selectors
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import ConfigSpace as CS
import numpy as np
import pandas as pd

from blackbox_repository import Objective, TabularBlackbox
from simulated_backend.wrapped_objective import (
    SimulationCoordinator,
    WrappedObjective,
    replay_in_simulator,
    simulate,
)

N_CONFIGS, N_FIDELITIES = 200, 10

# mfhpo-simulator warns on every wrapper that n_workers exceeds the 2 cores
warnings.filterwarnings("ignore", category=UserWarning, module="benchmark_simulator")


def synthetic_blackbox(n_fidelities: int = N_FIDELITIES, seed: int = 0) -> TabularBlackbox:
    """Random learning curves with real-valued step times (no ties in simulated time).

    ``n_fidelities < N_FIDELITIES`` keeps the first fidelities of the same table.
    """
    rng = np.random.default_rng(seed)
    values = np.empty((N_CONFIGS, N_FIDELITIES, 1, 2))
    values[..., 0] = rng.random((N_CONFIGS, N_FIDELITIES, 1))
    values[..., 1] = np.cumsum(1.0 + 9.0 * rng.random((N_CONFIGS, N_FIDELITIES, 1)), axis=1)
    values = np.ascontiguousarray(values[:, :n_fidelities])
    return TabularBlackbox(
        name="synthetic-wrapper-benchmark",
        configuration_space=CS.ConfigurationSpace(space={"x": (0, N_CONFIGS - 1)}),
        configurations=pd.DataFrame({"x": np.arange(N_CONFIGS)}),
        fidelity_name="epoch",
        fidelity_values=np.arange(1, n_fidelities + 1),
        seeds=np.arange(1),
        objectives=[Objective("loss", "min"), Objective("runtime", "min", "s")],
        elapsed_time_objective="runtime",
        values=values,
    )


_TABLE = synthetic_blackbox().values  # read by mfhpo-simulator's objective in every process


def mfhpo_objective(
    eval_config: dict, fidels: dict | None, seed: int | None, **kwargs: Any
) -> dict:
    """mfhpo-simulator's calling convention over the same table."""
    epoch = fidels["epoch"] if fidels else N_FIDELITIES
    loss, runtime = _TABLE[int(eval_config["x"]), int(epoch) - 1, 0]
    return {"loss": float(loss), "runtime": float(runtime)}


def proposals(seed: int, count: int) -> list[tuple[dict, int]]:
    """The random-search optimizer's proposals, in the order it makes them."""
    rng = random.Random(seed)
    return [({"x": rng.randrange(N_CONFIGS)}, rng.randint(1, N_FIDELITIES)) for _ in range(count)]


@dataclass(frozen=True)
class Measured:
    evaluations_per_second: float
    order: list[tuple[int, int]]  # (x, epoch) of the results by simulated finish time
    matches_reference: bool | None = None


# ------------------------------------------------------------------ process-pool mode
def warm_up(pool: ProcessPoolExecutor, n_workers: int) -> None:
    """Start all of the pool's processes before the clock runs (it forks them on demand)."""
    wait([pool.submit(os.getpid) for _ in range(n_workers)])


def drive_pool(submit: Any, n_workers: int, jobs: list[tuple[dict, int]], n_evals: int) -> float:
    """Keep ``n_workers`` calls in flight until ``n_evals`` returned; returns evaluations/s."""
    remaining = iter(jobs)
    start = time.perf_counter()
    futures = {submit(*next(remaining)) for _ in range(n_workers)}
    returned = 0
    while futures and returned < n_evals:
        done, futures = wait(futures, return_when=FIRST_COMPLETED)
        returned += sum(1 for future in done if future.exception() is None)
        if returned < n_evals:
            for _ in done:
                futures.add(submit(*next(remaining)))
    elapsed = time.perf_counter() - start
    return returned / elapsed


def simtune_pool(n_workers: int, n_evals: int, seed: int, blackbox: TabularBlackbox) -> Measured:
    jobs = proposals(seed, n_evals + 4 * n_workers)
    with SimulationCoordinator(blackbox, n_workers=n_workers, max_evaluations=n_evals) as run:
        objective = run.objective
        with ProcessPoolExecutor(n_workers) as pool:
            warm_up(pool, n_workers)
            rate = drive_pool(lambda c, e: pool.submit(objective, c, e), n_workers, jobs, n_evals)
    order = [(e.config["x"], e.fidelity) for e in run.evaluations]
    reference = replay_in_simulator(blackbox, run.evaluations, n_workers)
    expected = [(e.trial_id, e.fidelity, e.finish_time) for e in run.evaluations]
    return Measured(rate, order, reference == expected)


def _mfhpo_wrapper(n_workers: int, n_evals: int, directory: str, **kwargs: Any) -> Any:
    from benchmark_simulator import ObjectiveFuncWrapper

    return ObjectiveFuncWrapper(
        obj_func=mfhpo_objective,
        save_dir_name=os.path.basename(directory),
        tmp_dir=os.path.dirname(directory),
        n_workers=n_workers,
        n_evals=n_evals,
        n_actual_evals_in_opt=n_evals + 4 * n_workers,
        fidel_keys=["epoch"],
        obj_keys=["loss"],
        runtime_key="runtime",
        store_config=True,
        max_waiting_time=120.0,
        **kwargs,
    )


def mfhpo_order(directory: str) -> list[tuple[int, int]]:
    import json

    with open(os.path.join(directory, "results.json")) as stream:
        results = json.load(stream)
    rows = sorted(zip(results["cumtime"], results["x"], results["epoch"]))
    return [(int(x), int(epoch)) for _, x, epoch in rows]


def peer_pool(n_workers: int, n_evals: int, seed: int) -> Measured:
    directory = os.path.join(tempfile.mkdtemp(prefix="mfhpo-"), f"pool-{uuid.uuid4().hex[:8]}")
    try:
        wrapper = _mfhpo_wrapper(n_workers, n_evals, directory)
        jobs = proposals(seed, n_evals + 4 * n_workers)
        with ProcessPoolExecutor(n_workers) as pool:
            warm_up(pool, n_workers)
            rate = drive_pool(
                lambda c, e: pool.submit(wrapper, c, fidels={"epoch": e}), n_workers, jobs, n_evals
            )
        return Measured(rate, mfhpo_order(wrapper.dir_name))
    finally:
        shutil.rmtree(os.path.dirname(directory), ignore_errors=True)


# ------------------------------------------------------------------ independent processes
# How the optimizer and its worker processes wait for each other's messages (the same for
# both wrappers): "selector" keeps one selector per process, as an event loop does (Pyro's,
# asyncio's, Dask's); "per-wait" is the harness of the sessions before 2026-11-28, which
# called multiprocessing.connection.wait / Connection.poll, building a new selector and
# registering every pipe on every wait: O(n) per evaluation in the optimizer, charged to
# whichever wrapper runs (printed as the old figure).
HARNESSES = ("selector", "per-wait")


def independent_worker(
    kind: str, conn: Any, where: tuple, n_workers: int, n_evals: int, harness: str = "selector"
) -> None:
    """A worker process started on its own: opens the wrapper, then serves jobs from a pipe."""
    if kind == "simtune":
        run_name, runs_dir = where
        objective = WrappedObjective.connect(run_name, runs_dir)
        conn.send(objective.worker_index)
    else:
        wrapper = _mfhpo_wrapper(
            n_workers, n_evals, where[0], launch_multiple_wrappers_from_user_side=True
        )
        objective = lambda config, epoch: wrapper(config, fidels={"epoch": epoch})  # noqa: E731
        conn.send(-1)
    parent = os.getppid()
    if harness == "selector":
        waiting = selectors.DefaultSelector()
        waiting.register(conn, selectors.EVENT_READ)
        job_arrived = waiting.select
    else:
        job_arrived = conn.poll
    while True:
        if not job_arrived(1.0):
            if os.getppid() != parent:  # the optimizer died: die with it
                return
            continue
        job = conn.recv()
        if job is None:
            return
        try:
            conn.send(objective(*job))
        except Exception as error:  # the run ended: tell the optimizer, keep serving
            conn.send(error)


def drive_processes(
    conns: list, jobs: list[tuple[dict, int]], n_evals: int, harness: str = "selector"
) -> float:
    """The optimizer side: one job per idle worker process until ``n_evals`` returned."""
    from multiprocessing.connection import wait as wait_for

    remaining = iter(jobs)
    waiting = selectors.DefaultSelector()
    for conn in conns:
        waiting.register(conn, selectors.EVENT_READ)

    def answered(busy: set) -> list:
        if harness == "selector":
            return [key.fileobj for key, _ in waiting.select()]
        return wait_for(list(busy))

    start = time.perf_counter()
    for conn in conns:
        conn.send(next(remaining))
    returned, busy = 0, set(conns)
    while returned < n_evals and busy:
        for conn in answered(busy):
            answer = conn.recv()
            returned += not isinstance(answer, Exception)
            if returned < n_evals:
                conn.send(next(remaining))
            else:
                busy.discard(conn)
                waiting.unregister(conn)
    return returned / (time.perf_counter() - start)


def start_workers(
    kind: str, where: tuple, n_workers: int, n_evals: int, harness: str = "selector"
) -> tuple[list, list, list]:
    context = multiprocessing.get_context("fork")
    processes, conns = [], []
    for _ in range(n_workers):
        mine, theirs = context.Pipe()
        process = context.Process(
            target=independent_worker,
            args=(kind, theirs, where, n_workers, n_evals, harness),
            daemon=True,
        )
        process.start()
        theirs.close()
        processes.append(process)
        conns.append(mine)
    try:
        indices = [conn.recv() for conn in conns]
    except EOFError:  # a worker died while opening the wrapper
        for process in processes:
            process.terminate()
            process.join(timeout=10)
        raise
    return processes, conns, indices


def stop_workers(processes: list, conns: list) -> None:
    for conn in conns:
        with contextlib.suppress(OSError):
            conn.send(None)
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()


def simtune_independent(
    n_workers: int, n_evals: int, seed: int, blackbox: TabularBlackbox, harness: str = "selector"
) -> Measured:
    runs_dir = tempfile.mkdtemp(prefix="simtune-runs-")
    run_name = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        with SimulationCoordinator(
            blackbox,
            n_workers=n_workers,
            max_evaluations=n_evals,
            run_name=run_name,
            runs_dir=runs_dir,
        ) as run:
            processes, conns, _ = start_workers(
                "simtune", (run_name, runs_dir), n_workers, n_evals, harness
            )
            jobs = proposals(seed, n_evals + 4 * n_workers)
            rate = drive_processes(conns, jobs, n_evals, harness)
            stop_workers(processes, conns)
    finally:
        shutil.rmtree(runs_dir, ignore_errors=True)
    order = [(e.config["x"], e.fidelity) for e in run.evaluations]
    reference = replay_in_simulator(blackbox, run.evaluations, n_workers)
    expected = [(e.trial_id, e.fidelity, e.finish_time) for e in run.evaluations]
    return Measured(rate, order, reference == expected)


PEER_START_ATTEMPTS = 3


def peer_independent(
    n_workers: int, n_evals: int, seed: int, harness: str = "selector"
) -> Measured:
    """One peer run; a start whose worker-index allocation fails (the peer's own race, see
    ``--index-stress``) is reported on stderr and retried with a fresh directory."""
    for attempt in range(1, PEER_START_ATTEMPTS + 1):
        try:
            return _peer_independent_run(n_workers, n_evals, seed, harness)
        except EOFError:
            print(
                f"mfhpo-simulator: a worker of {n_workers} independent processes died while "
                f"allocating its index (attempt {attempt} of {PEER_START_ATTEMPTS})",
                file=sys.stderr,
            )
    raise RuntimeError(f"mfhpo-simulator could not start {n_workers} independent workers")


def _peer_independent_run(n_workers: int, n_evals: int, seed: int, harness: str) -> Measured:
    directory = os.path.join(tempfile.mkdtemp(prefix="mfhpo-"), f"ind-{uuid.uuid4().hex[:8]}")
    try:
        processes, conns, _ = start_workers("mfhpo", (directory,), n_workers, n_evals, harness)
        jobs = proposals(seed, n_evals + 4 * n_workers)
        rate = drive_processes(conns, jobs, n_evals, harness)
        stop_workers(processes, conns)
        from benchmark_simulator._constants import DIR_NAME

        folder = os.path.join(os.path.dirname(directory), DIR_NAME, os.path.basename(directory))
        return Measured(rate, mfhpo_order(folder))
    finally:
        shutil.rmtree(os.path.dirname(directory), ignore_errors=True)


# ------------------------------------------------------------------ ask/tell
class RandomAskTell:
    """A seeded random search with both ask/tell conventions (simtune's and the peer's)."""

    def __init__(self, seed: int, peer: bool = False) -> None:
        self.rng = random.Random(seed)
        self.peer = peer
        self.asked = 0

    def ask(self) -> Any:
        config = {"x": self.rng.randrange(N_CONFIGS)}
        self.asked += 1
        return (config, {"epoch": 1}, None) if self.peer else (self.asked, config)

    def tell(self, *args: Any, **kwargs: Any) -> None:
        pass


def simtune_ask_tell(n_workers: int, n_evals: int, seed: int) -> Measured:
    blackbox = synthetic_blackbox(n_fidelities=1)
    start = time.perf_counter()  # the same span as the peer's: from building the run to its end
    run = simulate(RandomAskTell(seed), blackbox, n_workers=n_workers, max_evaluations=n_evals)
    rate = len(run.results) / (time.perf_counter() - start)
    order = [(int(x), 1) for x in run.results["config_x"]]
    return Measured(rate, order)


def peer_ask_tell(n_workers: int, n_evals: int, seed: int) -> Measured:
    directory = os.path.join(tempfile.mkdtemp(prefix="mfhpo-"), f"at-{uuid.uuid4().hex[:8]}")
    try:
        wrapper = _mfhpo_wrapper(n_workers, n_evals, directory, ask_and_tell=True)
        start = time.perf_counter()
        wrapper.simulate(RandomAskTell(seed, peer=True))
        rate = n_evals / (time.perf_counter() - start)
        return Measured(rate, mfhpo_order(wrapper.dir_name))
    finally:
        shutil.rmtree(os.path.dirname(directory), ignore_errors=True)


# ------------------------------------------------------------------ worker-index stress
def index_stress(rounds: int, n_workers: int = 8) -> int:
    """Start ``n_workers`` independent processes ``rounds`` times; count failed assignments."""
    runs_dir = tempfile.mkdtemp(prefix="simtune-runs-")
    run_name = f"stress-{uuid.uuid4().hex[:8]}"
    blackbox = synthetic_blackbox()
    failures = 0
    try:
        with SimulationCoordinator(
            blackbox, n_workers=n_workers, run_name=run_name, runs_dir=runs_dir, idle_timeout=None
        ):
            for done in range(rounds):
                if done and done % 100 == 0:
                    print(f"  {done} starts, {failures} failures", flush=True)
                try:
                    processes, conns, indices = start_workers(
                        "simtune", (run_name, runs_dir), n_workers, 0
                    )
                except Exception:
                    failures += 1
                    continue
                if sorted(indices) != list(range(n_workers)):
                    failures += 1
                stop_workers(processes, conns)
    finally:
        shutil.rmtree(runs_dir, ignore_errors=True)
    return failures


# ------------------------------------------------------------------ report
def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


@dataclass(frozen=True)
class Budget:
    """Evaluations per run and runs per point (``peer_repeats_untargeted`` at 1 and 16 workers)."""

    ours_evals: int
    peer_evals: int
    repeats: int
    peer_repeats_untargeted: int


QUICK = Budget(ours_evals=1000, peer_evals=150, repeats=5, peer_repeats_untargeted=3)
FULL = Budget(ours_evals=3000, peer_evals=400, repeats=7, peer_repeats_untargeted=5)
WORKER_COUNTS = (1, 4, 8, 16)
TARGET_WORKERS = (4, 8)
MODES = ("pool", "independent", "ask-tell")
ASK_TELL_EVALS = 3000  # longer runs let the peer's ask/tell order drift (it charges real time)


def median(values: list[float]) -> float:
    return float(np.median(values))


@dataclass(frozen=True)
class Point:
    """All runs of one mode at one worker count, simtune's and the peer's."""

    ours: list[Measured]
    peer: list[Measured]

    def rate(self, side: str) -> float:
        runs = self.ours if side == "ours" else self.peer
        return median([run.evaluations_per_second for run in runs])

    @property
    def ratio(self) -> float:
        return self.rate("ours") / self.rate("peer")

    @property
    def old_ratio(self) -> float:
        """The statistic printed before: simtune's best run over the peer's first run."""
        best = max(run.evaluations_per_second for run in self.ours)
        return best / self.peer[0].evaluations_per_second

    def same_order_as_peer(self, n_workers: int) -> str:
        """Whether every peer run returned the first results in simtune's order.

        Compared: the first ``min(runs' lengths) - n_workers`` results (the last ones of a
        run are cut off by its budget). A run that drifts shows where it first differs.
        """
        ours = self.ours[0].order
        k = max(0, min(len(ours), min(len(run.order) for run in self.peer)) - n_workers)
        drifts = [
            next(i for i, (a, b) in enumerate(zip(run.order, ours)) if a != b)
            for run in self.peer
            if run.order[:k] != ours[:k]
        ]
        detail = f"{len(self.peer) - len(drifts)}/{len(self.peer)} runs, first {k}"
        if drifts:
            detail += f"; others differ from result {', '.join(map(str, drifts))}"
        return f"same order as peer: {not drifts} ({detail})"


def measure_mode(
    ours_fn: Any, peer_fn: Any, budget: Budget, seed: int, blackbox: TabularBlackbox
) -> dict[int, Point]:
    """Paired runs, interleaved over worker counts: both sides see the same load over time."""
    ours: dict[int, list[Measured]] = {n: [] for n in WORKER_COUNTS}
    peer: dict[int, list[Measured]] = {n: [] for n in WORKER_COUNTS}
    for repeat in range(budget.repeats):
        for n in WORKER_COUNTS:
            ours[n].append(ours_fn(n, budget.ours_evals, seed, blackbox))
            if n in TARGET_WORKERS or repeat < budget.peer_repeats_untargeted:
                peer[n].append(peer_fn(n, budget.peer_evals, seed))
    return {n: Point(ours[n], peer[n]) for n in WORKER_COUNTS}


def measure_independent(
    budget: Budget, seed: int, blackbox: TabularBlackbox
) -> tuple[dict[int, Point], dict[int, Point]]:
    """Independent processes with the selector harness and, interleaved, the old one.

    The old harness's peer runs only at the targeted worker counts (its spread is simtune's).
    """
    runs: dict[str, tuple[dict, dict]] = {
        harness: ({n: [] for n in WORKER_COUNTS}, {n: [] for n in WORKER_COUNTS})
        for harness in HARNESSES
    }
    for repeat in range(budget.repeats):
        for n in WORKER_COUNTS:
            for harness in HARNESSES:
                ours, peer = runs[harness]
                ours[n].append(simtune_independent(n, budget.ours_evals, seed, blackbox, harness))
                untargeted = repeat < budget.peer_repeats_untargeted and harness == "selector"
                if n in TARGET_WORKERS or untargeted:
                    peer[n].append(peer_independent(n, budget.peer_evals, seed, harness))
    current, old = (
        {n: Point(runs[h][0][n], runs[h][1][n]) for n in WORKER_COUNTS} for h in HARNESSES
    )
    return current, old


def report_old_harness(mode: str, points: dict[int, Point]) -> None:
    """The figures with the harness of the earlier sessions (no verdict: printed for comparison)."""
    rates = {n: point.rate("ours") for n, point in points.items()}
    ratios = ", ".join(f"{n} workers {points[n].ratio:.1f}x" for n in TARGET_WORKERS)
    print(
        f"{mode:<22} old harness (a selector built per wait, as before 2026-11-28): simtune "
        + " / ".join(f"{rate:.0f}" for rate in rates.values())
        + f"/s at {'/'.join(map(str, rates))} workers; against the peer on the same harness "
        f"{ratios}; spread {max(rates.values()) / min(rates.values()):.2f}x",
        flush=True,
    )


def report_mode(mode: str, points: dict[int, Point]) -> bool:
    all_met = True
    for n, point in points.items():
        target = ""
        if n in TARGET_WORKERS:
            target = f"target >= 10x: {verdict(point.ratio >= 10)}"
            all_met &= point.ratio >= 10
        replay = all(run.matches_reference for run in point.ours)
        ratios = [
            a.evaluations_per_second / b.evaluations_per_second
            for a, b in zip(point.ours, point.peer)
        ]
        print(
            f"{mode:<22} n={n:<3} simtune {point.rate('ours'):8.0f}/s   mfhpo-simulator "
            f"{point.rate('peer'):7.1f}/s   {point.ratio:6.1f}x   (paired runs "
            f"{min(ratios):.1f}-{max(ratios):.1f}x; old statistic {point.old_ratio:.1f}x)   "
            f"{point.same_order_as_peer(n)}   engine replay: {replay}   {target}",
            flush=True,
        )
    rates = [point.rate("ours") for point in points.values()]
    spread = max(rates) / min(rates)
    old_rates = [max(run.evaluations_per_second for run in p.ours) for p in points.values()]
    print(
        f"{mode:<22} simtune from 1 to 16 workers: {spread:.2f}x spread (old statistic, "
        f"best runs: {max(old_rates) / min(old_rates):.2f}x)   target within 2x: "
        f"{verdict(spread <= 2)}",
        flush=True,
    )
    return all_met and spread <= 2


def report_ask_tell(budget: Budget, seed: int) -> bool:
    n_evals = ASK_TELL_EVALS
    ours: list[Measured] = []
    peer: list[Measured] = []
    for _ in range(budget.repeats):
        ours.append(simtune_ask_tell(4, n_evals, seed))
        peer.append(peer_ask_tell(4, n_evals, seed))
    point = Point(ours, peer)
    print(
        f"{'ask/tell':<22} n=4   simtune {point.rate('ours'):8.0f}/s   mfhpo-simulator "
        f"{point.rate('peer'):7.0f}/s   {point.ratio:6.1f}x   (old statistic "
        f"{point.old_ratio:.1f}x)   {point.same_order_as_peer(4)}   "
        f"target >= 2x: {verdict(point.ratio >= 2)}",
        flush=True,
    )
    return point.ratio >= 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer evaluations (< 5 minutes)")
    parser.add_argument(
        "--index-stress",
        type=int,
        nargs="?",
        const=1000,
        default=None,
        metavar="ROUNDS",
        help="only start 8 independent processes ROUNDS times (default 1000) and count failures",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=None, help="paired runs per point")
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=list(MODES),
        help="measure only these modes (default: all; every target is judged only with all)",
    )
    args = parser.parse_args(argv)
    if args.index_stress is not None:
        start = time.perf_counter()
        failures = index_stress(args.index_stress)
        print(
            f"worker-index assignment: {failures} failures over {args.index_stress} starts of 8 "
            f"independent processes ({time.perf_counter() - start:.0f} s)   {verdict(failures == 0)}"
        )
        return 0
    try:
        import benchmark_simulator
    except ImportError:
        sys.exit("the peer is missing: pip install mfhpo-simulator==1.4.6")
    budget = QUICK if args.quick else FULL
    if args.repeats:
        budget = Budget(
            budget.ours_evals,
            budget.peer_evals,
            args.repeats,
            min(args.repeats, budget.peer_repeats_untargeted),
        )
    blackbox = synthetic_blackbox()
    started = time.perf_counter()
    print(
        f"simtune wrapped objective vs mfhpo-simulator {benchmark_simulator.__version__}: "
        f"{budget.ours_evals} / {budget.peer_evals} evaluations per run, {os.cpu_count()} "
        f"cores, load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"median of {budget.repeats} runs per point for both (the peer's: "
        f"{budget.peer_repeats_untargeted} at 1 and 16 workers, where no ratio is a target), "
        "simtune's and the peer's runs interleaved over worker counts so that both see the "
        "same load; the ratio is of the medians. Old statistic: simtune's best run over the "
        "peer's first run. The peer charges its own real overhead to simulated time, so its "
        "order may drift from the exact one with many workers"
    )
    all_met = True
    if "pool" in args.modes:
        points = measure_mode(simtune_pool, peer_pool, budget, args.seed, blackbox)
        all_met &= report_mode("process pool", points)
    if "independent" in args.modes:
        points, old_harness = measure_independent(budget, args.seed, blackbox)
        all_met &= report_mode("independent processes", points)
        report_old_harness("independent processes", old_harness)
    if "ask-tell" in args.modes:
        all_met &= report_ask_tell(budget, args.seed)
    scope = "" if set(args.modes) == set(MODES) else f" of modes {', '.join(args.modes)}"
    print(
        f"{'all targets' if all_met else 'some targets'}{scope} "
        f"{'met' if all_met else 'MISSED'} "
        f"({time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
