"""Simulator throughput: simulated results per real second, simtune vs Syne Tune, same run.

On a NAS-Bench-201-shaped tabular blackbox (15,625 configurations = 5 operations on 6
edges, x 200 epochs; synthetic learning curves; cumulative elapsed time with 8-40 s per
epoch depending on the architecture, +-10% per epoch) it measures:

1. ASHA and random search, 4 and 16 workers, for 10 simulated hours, in simtune (native
   schedulers, best of 3 runs) and in Syne Tune 0.16's simulator (``UserBlackboxBackend`` +
   ``SimulatorCallback``, its documented setup, with result files and status printing
   switched off so it spends its time simulating). Syne Tune runs are cut after
   ``--syne-tune-seconds`` real seconds (default 60); its results per second are what it
   reached, and its cost per result over its first and last 1,000 results shows how it
   grows. Ratios are given in real time and in CPU time of this process (the latter is
   robust to other load on a shared machine). Syne Tune's own scheduler also runs on simtune
   through :class:`SyneTuneScheduler` for as many results as Syne Tune reached.
2. simtune's cost per result in windows (n/2, n] of one long run (4 workers) at 1k, 10k,
   100k and 1M results: random search, and ASHA drawing grid configurations with replacement
   (the 15,625-configuration grid would run out otherwise), with trials started per result.
3. simtune's cost per result from 1 to 256 workers (ASHA, 100,000 results each, best of 3).

Targets: simtune >= 100x Syne Tune's results/s with ASHA at 4 workers and >= 300x at 16
workers; cost per result within 2x from 1k to 1M results and from 1 to 256 workers.

    python benchmarks/simulator_throughput.py            # everything, about 2.5 minutes
    python benchmarks/simulator_throughput.py --quick    # smaller runs, Syne Tune cut at 10 s
"""

from __future__ import annotations

import argparse
import gc
import io
import itertools
import logging
import os
import sys
import tempfile
import time
from contextlib import redirect_stdout
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import ConfigSpace as CS
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blackbox_repository import Objective, TabularBlackbox  # noqa: E402
from simulated_backend import SimulatorBackend, StopCriterion, Tuner, TunerCallback  # noqa: E402
from simulated_backend.schedulers import (  # noqa: E402
    ASHA,
    BOHB,
    Candidate,
    Hyperband,
    RandomSearch,
    SearchSpace,
    SuccessiveHalving,
)

OPERATIONS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
EDGES = [f"edge_{i}" for i in range(6)]
N_EPOCHS = 200
METRIC = "valid_error"
TEN_HOURS = 10 * 3600.0


# ---------------------------------------------------------------------- the blackbox
def nas201_shaped_blackbox(seed: int = 0) -> TabularBlackbox:
    """15,625 architectures x 200 epochs x 1 seed; objectives valid_error and elapsed_time."""
    rng = np.random.default_rng(seed)
    grid = np.array(list(itertools.product(range(len(OPERATIONS)), repeat=len(EDGES))))
    n_configs = len(grid)
    configurations = pd.DataFrame(
        {edge: np.array(OPERATIONS)[grid[:, i]] for i, edge in enumerate(EDGES)}
    )
    space = CS.ConfigurationSpace(space={edge: OPERATIONS for edge in EDGES})
    # convolutions cost time and help accuracy: a plausible, smooth structure
    conv_cost = np.isin(grid, (2, 3)).sum(axis=1) + 2 * (grid == 3).sum(axis=1)
    final_error = 0.06 + 0.5 * np.exp(-0.35 * conv_cost) + 0.03 * rng.random(n_configs)
    rate = rng.uniform(0.02, 0.08, n_configs)
    epochs = np.arange(1, N_EPOCHS + 1)
    curve = final_error[:, None] + (0.9 - final_error[:, None]) * np.exp(-rate[:, None] * epochs)
    curve += 0.01 * rng.standard_normal(curve.shape)
    seconds_per_epoch = 8.0 + 32.0 * conv_cost / conv_cost.max()
    epoch_times = seconds_per_epoch[:, None] * rng.uniform(0.9, 1.1, (n_configs, N_EPOCHS))
    values = np.empty((n_configs, N_EPOCHS, 1, 2))
    values[:, :, 0, 0] = np.clip(curve, 0.0, 1.0)
    values[:, :, 0, 1] = np.cumsum(epoch_times, axis=1)
    return TabularBlackbox(
        name="nas201-shaped-synthetic",
        configuration_space=space,
        configurations=configurations,
        fidelity_name="epoch",
        fidelity_values=epochs,
        seeds=[0],
        objectives=[Objective(METRIC, "min"), Objective("elapsed_time", "min", "s")],
        elapsed_time_objective="elapsed_time",
        values=values,
    )


# ---------------------------------------------------------------------- simtune runs
class GridSamplerWithReplacement:
    """A ConfigSearcher drawing recorded configurations uniformly, with replacement.

    Lets ASHA run for a million results on a 15,625-configuration grid (drawing without
    replacement runs out after 15,625 trials); like simtune's own random searcher it draws
    its uniforms in batches and hands the engine the grid row with the configuration.
    """

    def __init__(self, blackbox: TabularBlackbox, seed: int) -> None:
        self.space = SearchSpace.from_blackbox(blackbox)
        self.rng = np.random.default_rng(seed)
        self._indices: list[int] = []

    @property
    def exhausted(self) -> bool:
        return False

    def next_candidate(self) -> Candidate:
        if not self._indices:
            self._indices = self.rng.integers(self.space.n_candidates, size=1024).tolist()
        index = self._indices.pop()
        return Candidate(self.space.candidate(index), index)

    def on_observation(self, trial, level, value) -> None:
        """Random sampling learns nothing."""

    def metadata(self) -> dict:
        return {"searcher": "grid-with-replacement"}


def simtune_scheduler(
    kind: str, blackbox: TabularBlackbox, seed: int, with_replacement: bool = False
):
    """simtune's native scheduler; ``with_replacement`` samples the grid with replacement."""
    space = SearchSpace.from_blackbox(blackbox)
    if kind == "random_search":
        return RandomSearch(space, METRIC, "min", seed=seed)
    fidelities = blackbox.fidelity_values
    if kind == "bohb":
        return BOHB(space, METRIC, "min", fidelities, reduction_factor=3, seed=seed)
    if kind in ("hyperband", "successive_halving"):
        scheduler_class = Hyperband if kind == "hyperband" else SuccessiveHalving
        return scheduler_class(space, METRIC, "min", fidelities, reduction_factor=3, seed=seed)
    searcher = GridSamplerWithReplacement(blackbox, seed) if with_replacement else None
    return ASHA(space, METRIC, "min", fidelities, reduction_factor=3, seed=seed, searcher=searcher)


class WindowClock(TunerCallback):
    """Real and CPU time and trials started at every ``every``-th result."""

    def __init__(self, every: int = 500) -> None:
        self.every = every
        self.count = 0
        self.marks: dict[int, tuple[float, float, int]] = {}

    def on_trial_result(self, trial, result, decision) -> None:
        self.count += 1
        if self.count % self.every == 0:
            self.marks[self.count] = (time.perf_counter(), time.process_time(), trial.trial_id)

    def window(self, start: int, end: int) -> dict[str, float]:
        """Results per real second, CPU µs per result and trials started per result in (start, end]."""
        (wall0, cpu0, trial0), (wall1, cpu1, trial1) = self.marks[start], self.marks[end]
        n = end - start
        return {
            "results/s": n / (wall1 - wall0),
            "cpu us/result": 1e6 * (cpu1 - cpu0) / n,
            "trials/result": (trial1 - trial0) / n,
        }


@dataclass(frozen=True)
class Measured:
    """A timed run: results, real and CPU seconds of this process, simulated seconds reached."""

    results: int
    seconds: float
    cpu_seconds: float
    simulated_seconds: float
    stop_reason: str = ""

    @property
    def per_second(self) -> float:
        return self.results / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.results / self.cpu_seconds


def best_of(repeats: int, make_scheduler, blackbox, n_workers, stop) -> Measured:
    """The fastest of ``repeats`` identical (deterministic) runs: noise on a shared machine only adds."""
    runs = [time_simtune(make_scheduler(), blackbox, n_workers, stop) for _ in range(repeats)]
    return min(runs, key=lambda measured: measured.seconds)


def time_simtune(scheduler, blackbox, n_workers, stop, callbacks=()) -> Measured:
    gc.collect()
    tuner = Tuner(
        scheduler,
        SimulatorBackend(blackbox, n_workers=n_workers, seed=0),
        stop,
        callbacks=callbacks,
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    run = tuner.run()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return Measured(
        len(run.results),
        seconds,
        cpu_seconds,
        run.metadata["end_time"],
        run.metadata["stop_reason"],
    )


# ---------------------------------------------------------------------- Syne Tune runs
def syne_tune_available() -> bool:
    try:
        import syne_tune  # noqa: F401
    except ImportError:
        return False
    return True


def syne_tune_scheduler(kind: str, config_space: dict, blackbox: TabularBlackbox, seed: int):
    from syne_tune.optimizer.baselines import ASHA as SyneTuneASHA
    from syne_tune.optimizer.baselines import RandomSearch as SyneTuneRandomSearch

    if kind == "random_search":
        return SyneTuneRandomSearch(
            config_space, metrics=[METRIC], do_minimize=True, random_seed=seed
        )
    return SyneTuneASHA(
        config_space,
        metric=METRIC,
        time_attr="epoch",
        max_t=int(blackbox.max_fidelity),
        grace_period=int(blackbox.min_fidelity),
        reduction_factor=3,
        do_minimize=True,
        random_seed=seed,
    )


@dataclass(frozen=True)
class SyneTuneMeasured:
    measured: Measured
    first_1k_ms: float  # real ms per result over its first 1,000 results
    last_1k_ms: float  # ... over its last 1,000 results
    cut_by_real_time: bool


def time_syne_tune(
    kind, blackbox, st_blackbox, config_space, n_workers, budget, real_limit, seed=0
):
    from syne_tune import StoppingCriterion
    from syne_tune import Tuner as SyneTuneTuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend
    from syne_tune.tuner_callback import TunerCallback as SyneTuneCallback

    class RealTimeLimit(SyneTuneCallback):
        """Stops the run after ``real_limit`` real seconds and clocks every result."""

        def __init__(self) -> None:
            self.stamps: list[float] = []
            self.cut = False

        def on_tuning_start(self, tuner) -> None:
            deadline = time.perf_counter() + real_limit
            simulated_stop = tuner.stop_criterion  # SimulatorCallback's, on simulated time

            def stop(status) -> bool:
                if time.perf_counter() > deadline:
                    self.cut = True
                    return True
                return simulated_stop(status)

            tuner.stop_criterion = stop

        def on_trial_result(self, trial, status, result, decision) -> None:
            self.stamps.append(time.perf_counter())

    np.random.seed(seed)  # Syne Tune's random search draws from numpy's global generator
    backend = UserBlackboxBackend(blackbox=st_blackbox, elapsed_time_attr="elapsed_time", seed=0)
    limit = RealTimeLimit()
    simulator_callback = SimulatorCallback()
    tuner = SyneTuneTuner(
        trial_backend=backend,
        scheduler=syne_tune_scheduler(kind, config_space, blackbox, seed),
        stop_criterion=StoppingCriterion(max_wallclock_time=budget),
        n_workers=n_workers,
        sleep_time=0,
        callbacks=[simulator_callback, limit],
        save_tuner=False,
        results_update_interval=1e9,
        print_update_interval=1e9,
    )
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    with redirect_stdout(io.StringIO()):
        tuner.run()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    stamps = np.asarray(limit.stamps)
    n = len(stamps)
    k = min(1000, n - 1)
    first = (stamps[k] - stamps[0]) / k * 1e3 if k > 0 else float("nan")
    last = (stamps[-1] - stamps[-1 - k]) / k * 1e3 if k > 0 else float("nan")
    simulated = backend.time_keeper.time()
    return SyneTuneMeasured(Measured(n, seconds, cpu_seconds, simulated), first, last, limit.cut)


def syne_tune_blackbox(blackbox: TabularBlackbox):
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
    from syne_tune.config_space import randint

    from simulated_backend.schedulers.syne_tune_adapter import syne_tune_config_space

    config_space = syne_tune_config_space(blackbox)
    st_blackbox = BlackboxTabular(
        hyperparameters=blackbox.configurations,
        configuration_space=config_space,
        fidelity_space={"epoch": randint(1, N_EPOCHS)},
        objectives_evaluations=np.ascontiguousarray(blackbox.values.transpose(0, 2, 1, 3)),
        fidelity_values=blackbox.fidelity_values,
        objectives_names=list(blackbox.objective_names),
    )
    return st_blackbox, config_space


# ---------------------------------------------------------------------- the report
def fmt(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def compare_with_syne_tune(blackbox, runs, real_limit, with_syne_tune) -> pd.DataFrame:
    """Section 1: the same ten simulated hours in simtune and in Syne Tune's simulator."""
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
                    "ST real s": theirs.measured.seconds,
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


def long_run_windows(blackbox, kind, n_results) -> tuple[Measured, pd.DataFrame]:
    """Section 2: per-window cost within one long run."""
    clock = WindowClock(every=500)
    scheduler = simtune_scheduler(kind, blackbox, seed=1, with_replacement=True)
    measured = time_simtune(
        scheduler, blackbox, 4, StopCriterion(max_num_results=n_results), callbacks=[clock]
    )
    rows = [
        {"results": n, "window": f"({n // 2:,}, {n:,}]", **clock.window(n // 2, n)}
        for n in (1_000, 10_000, 100_000, 1_000_000)
        if n <= measured.results
    ]
    return measured, pd.DataFrame(rows)


def flatness(values: pd.Series) -> str:
    spread = values.max() / values.min()
    return f"max/min = {spread:.2f} (target <= 2: {'met' if spread <= 2 else 'MISSED'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument(
        "--syne-tune-seconds", type=float, default=None, help="real-time cut of each Syne Tune run"
    )
    parser.add_argument("--no-syne-tune", action="store_true", help="skip the Syne Tune runs")
    args = parser.parse_args(argv)
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

    # 1. the same runs in both simulators
    with_syne_tune = not args.no_syne_tune and syne_tune_available()
    runs = [
        ("ASHA", "asha", 4),
        ("ASHA", "asha", 16),
        ("random search", "random_search", 4),
        ("random search", "random_search", 16),
    ]
    table = compare_with_syne_tune(blackbox, runs, real_limit, with_syne_tune)
    print(
        f"1. Ten simulated hours on the same blackbox (simtune: best of 3; Syne Tune: one run, cut at {real_limit:.0f} real s)"
    )
    print(table.to_string(index=False, float_format=fmt))
    if with_syne_tune:
        for n_workers, target in ((4, 100), (16, 300)):
            ratio = table[(table.method == "ASHA") & (table.workers == n_workers)].ratio.iloc[0]
            print(
                f"   target: ASHA, {n_workers} workers, >= {target}x Syne Tune: {ratio:,.0f}x ({'met' if ratio >= target else 'MISSED'})"
            )
    else:
        print(
            "   (Syne Tune not installed, or --no-syne-tune: bash scripts/install_peer_extras.sh)"
        )

    # 2. cost per result as one run grows
    print("\n2. Cost per result within one long run, 4 workers (windows (n/2, n])")
    for label, kind in (
        ("random search", "random_search"),
        ("ASHA, grid sampled with replacement", "asha"),
    ):
        measured, windows = long_run_windows(blackbox, kind, long_results)
        print(
            f"   {label}: {measured.results:,} results in {measured.seconds:.1f} s "
            f"({measured.per_second:,.0f} results/s end to end, {measured.simulated_seconds / 86400:,.0f} simulated days)"
        )
        print("   " + windows.to_string(index=False, float_format=fmt).replace("\n", "\n   "))
        print(f"   CPU cost per result {flatness(windows['cpu us/result'])}")

    # 3. cost per result from 1 to 256 workers
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
        f"\n3. ASHA (grid sampled with replacement), {scaling_results:,} results per run, best of 3, by number of workers"
    )
    print(scaling.to_string(index=False, float_format=fmt))
    print(f"   CPU cost per result {flatness(scaling['cpu us/result'])}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
