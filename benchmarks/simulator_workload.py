"""The workload of ``simulator_throughput.py``: a NAS-Bench-201-shaped blackbox, simtune's
schedulers on it, and timed simtune runs (real and CPU time, resident memory).

The blackbox: 15,625 configurations (5 operations on 6 edges) x 200 epochs x 1 seed;
synthetic learning curves; cumulative elapsed time with 8-40 s per epoch depending on the
architecture, +-10% per epoch.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import ConfigSpace as CS
import numpy as np
import pandas as pd

from blackbox_repository import Objective, TabularBlackbox
from simulated_backend import SimulatorBackend, StopCriterion, Tuner, TunerCallback
from simulated_backend.schedulers import (
    ASHA,
    BOHB,
    Candidate,
    Hyperband,
    RandomSearch,
    SearchSpace,
    SuccessiveHalving,
    Trial,
)
from simulated_backend.schedulers.protocol import GridTrial, by_row_suggest_function

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
    its indices in batches and hands the engine the grid row, its config built only when
    something reads it (``next_grid_row`` and ``grid_configs``).
    """

    def __init__(self, blackbox: TabularBlackbox, seed: int) -> None:
        self.space = SearchSpace.from_blackbox(blackbox)
        self.rng = np.random.default_rng(seed)
        self._indices: list[int] = []
        self._config_of = self.space.candidate_config_function()
        self.grid_configs = self.space.grid_configs()

    @property
    def exhausted(self) -> bool:
        return False

    def next_candidate(self) -> Candidate:
        return Candidate(*self.next_config_and_index())

    def next_config_and_index(self) -> tuple[dict, int]:
        """The same as :meth:`next_candidate` as a plain tuple."""
        index = self.next_grid_row()
        return (self._config_of(index), index)

    def next_grid_row(self) -> int:
        """The next draw's grid row alone (what schedulers call in ``suggest_by_row``)."""
        if not self._indices:
            self._indices = self.rng.integers(self.space.n_candidates, size=1024).tolist()
        return self._indices.pop()

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
    """Real and CPU time and trials started at every ``every``-th result, net of the time
    other callbacks declared with :meth:`exclude` (measurements taken inside the run)."""

    def __init__(self, every: int = 500) -> None:
        self.every = every
        self.count = 0
        self.marks: dict[int, tuple[float, float, int]] = {}
        self._excluded_wall = self._excluded_cpu = 0.0

    def exclude(self, wall: float, cpu: float) -> None:
        """Leave ``wall`` real and ``cpu`` CPU seconds, spent just now, out of every window."""
        self._excluded_wall += wall
        self._excluded_cpu += cpu

    def on_trial_result(self, trial, result, decision) -> None:
        self.count += 1
        if self.count % self.every == 0:
            self.marks[self.count] = (
                time.perf_counter() - self._excluded_wall,
                time.process_time() - self._excluded_cpu,
                trial.trial_id,
            )

    def window(self, start: int, end: int) -> dict[str, float]:
        """Results per real second, CPU µs per result and trials started per result in (start, end]."""
        (wall0, cpu0, trial0), (wall1, cpu1, trial1) = self.marks[start], self.marks[end]
        n = end - start
        return {
            "results/s": n / (wall1 - wall0),
            "cpu us/result": 1e6 * (cpu1 - cpu0) / n,
            "trials/result": (trial1 - trial0) / n,
        }


class FreshRunsBeside(TunerCallback):
    """At given result counts of a long run, measure a fresh short run of the same kind.

    A long run on a shared machine sees the load change between its first and its last
    window; comparing each window with a fresh run measured right at its end (CPU µs per
    result over results 500..1,000 of the fresh run, best of 3) takes the load out of the
    ratio. Its own time is left out of ``clock``'s windows (a window starting at a count in
    ``at`` would include it otherwise), and so are its objects: the fresh runs run with the
    garbage collector paused and their cyclic garbage is collected (young generation only)
    before the long run resumes. Otherwise the objects they create would count towards the
    long run's next full collection, which then lands in a window (about 40 ms for the
    whole heap, 1 µs per result of a 40k-result window) although the long run alone never
    triggers one.
    """

    def __init__(
        self,
        at: set[int],
        make_scheduler,
        blackbox,
        n_workers: int,
        clock: WindowClock | None = None,
    ) -> None:
        self.at = at
        self.clock = clock
        self.make_scheduler = make_scheduler
        self.blackbox = blackbox
        self.n_workers = n_workers
        self.count = 0
        self.reference: dict[int, float] = {}

    def on_trial_result(self, trial, result, decision) -> None:
        self.count += 1
        if self.count in self.at:
            wall, cpu = time.perf_counter(), time.process_time()
            collecting = gc.isenabled()
            gc.disable()
            try:
                self.reference[self.count] = min(self._fresh_cost() for _ in range(3))
            finally:
                gc.collect(0)  # the fresh runs' cycles; survivors of the long run move on
                if collecting:
                    gc.enable()
            if self.clock is not None:
                self.clock.exclude(time.perf_counter() - wall, time.process_time() - cpu)

    def _fresh_cost(self) -> float:
        clock = WindowClock(every=500)
        # the same callbacks as the long run (each costs a little per result)
        same_callbacks = [
            clock,
            FreshRunsBeside(set(), self.make_scheduler, self.blackbox, self.n_workers),
        ]
        Tuner(
            self.make_scheduler(),
            SimulatorBackend(self.blackbox, n_workers=self.n_workers, seed=0),
            StopCriterion(max_num_results=1_000),
            callbacks=same_callbacks,
        ).run()
        return clock.window(500, 1_000)["cpu us/result"]


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


def time_simtune(scheduler, blackbox, n_workers, stop, callbacks=(), one_loop=True) -> Measured:
    """A timed run; ``one_loop=False``: always the Tuner's layered loop (``Tuner(one_loop=)``)."""
    gc.collect()
    tuner = Tuner(
        scheduler,
        SimulatorBackend(blackbox, n_workers=n_workers, seed=0),
        stop,
        callbacks=callbacks,
        one_loop=one_loop,
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


def in_new_processes(processes: int, function: Callable, *args: Any) -> list:
    """``function(*args)`` run ``processes`` times, each in a new (spawned) process, one at
    a time. A process on this host sometimes runs the same code in a slow phase that all its
    repeats share (docs/performance.md, "Eighth session (issue 12, bohbwin12)"); repeats in
    new processes are independent samples. ``function`` must be importable by name."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn, max_tasks_per_child=1) as pool:
        return [pool.submit(function, *args).result() for _ in range(processes)]


# ---------------------------------------------------------------------- trial starts
def trial_start_cost_here(kind: str, n: int, with_replacement: bool) -> float:
    """:func:`trial_start_cost` on the benchmark's blackbox built in this process (what
    :func:`in_new_processes` runs)."""
    return trial_start_cost(nas201_shaped_blackbox(), kind, n, with_replacement)


def trial_start_cost(blackbox: TabularBlackbox, kind: str, n: int, with_replacement: bool) -> float:
    """CPU µs per trial start through the calls the Tuner makes: ``suggest`` (draw a
    configuration; ``suggest_by_row`` where the Tuner calls it: simtune's schedulers drawing
    grid rows at random give a new trial's row alone, its config built only when read),
    the trial's record, ``on_trial_add``, and ``SimulatorBackend.start_trial_at_row`` (its
    seed, its first result scheduled) for a trial given by its row, else ``start_trial``;
    best of 3."""
    best = float("inf")
    for _ in range(3):
        scheduler = simtune_scheduler(kind, blackbox, 0, with_replacement)
        grid = scheduler.grid_configs
        suggest = by_row_suggest_function(scheduler) or scheduler.suggest
        backend = SimulatorBackend(blackbox, n_workers=n, seed=0)
        gc.collect()
        started = time.process_time()
        for trial_id in range(n):
            suggestion = suggest()
            if type(suggestion) is int:
                config, config_index = None, suggestion
            else:
                config, _, config_index = suggestion
            if config is None:
                trial = GridTrial.at_row(trial_id, config_index, grid, 0.0)
                scheduler.on_trial_add(trial)
                backend.start_trial_at_row(trial_id, config_index)
            else:
                trial = Trial(trial_id, config, 0.0)
                scheduler.on_trial_add(trial)
                backend.start_trial(trial_id, config, config_index)
        best = min(best, (time.process_time() - started) / n * 1e6)
    return best
