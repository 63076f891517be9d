"""Does the simulator produce what real workers would? ``simtune validate``.

For each setting (a method and a runtime stretch), the same scheduler with the same seed
runs twice on the same stretched blackbox:

1. in the simulator (``SimulatorBackend``, one recorded seed for every trial);
2. on the real backend with real worker processes, where each fidelity step *sleeps* its
   recorded runtime times ``time_scale`` (:func:`benchmarking.replay.replay_step`).

The comparison, per setting: the fraction of results ``(trial, fidelity)`` that arrive in
the same order (among the results both runs have), the largest difference in finish
time in simulated seconds, the real scheduling error (95th percentile of the finish-time
difference, in real milliseconds), how many consecutive results of the simulation are
closer than that error once scaled (where the real order is a coin toss), and the real
speed-up of simulation (real run's seconds over the simulation's).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmarking.baselines import MethodContext, make_scheduler
from benchmarking.replay import ReplaySource, replay_step, stretched_blackbox
from benchmarking.simulation import prepared_blackbox, resolve_definition
from blackbox_repository import TabularBlackbox
from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.real_backend import ProcessRunner, RealBackend

DEFAULT_STEP_SECONDS = (100.0, 500.0, 2000.0)
DEFAULT_BUDGET_STEPS = 20.0


@dataclass(frozen=True)
class ValidationResult:
    """The comparison of one setting's simulated and real runs."""

    method: str
    median_step_seconds: float
    n_results_simulated: int
    n_results_real: int
    n_common: int
    order_match: float
    max_finish_difference: float
    timing_error_ms: float
    close_gaps: int
    first_difference: int | None
    gap_at_first_difference_ms: float | None
    round_trip_ms: float
    real_seconds: float
    simulated_seconds: float

    @property
    def speedup(self) -> float:
        return self.real_seconds / self.simulated_seconds

    def describe(self) -> str:
        return (
            f"{self.method:<10} median step {self.median_step_seconds:>5g} s: "
            f"{self.n_results_simulated} results simulated, {self.n_results_real} real, "
            f"{self.n_common} in both; order match {100 * self.order_match:.1f}%; "
            f"max finish-time difference {self.max_finish_difference:.1f} simulated s; "
            f"timing error p95 {self.timing_error_ms:.1f} ms; "
            f"gaps closer than that: {self.close_gaps}; "
            f"{self._first_difference()}; "
            f"report-to-next-step round trip p50 {self.round_trip_ms:.1f} ms; "
            f"speed-up of simulation {self.speedup:,.0f}x"
        )

    def _first_difference(self) -> str:
        if self.first_difference is None:
            return "same order throughout"
        return (
            f"first difference at result {self.first_difference + 1} "
            f"(simulated {self.gap_at_first_difference_ms:.1f} ms apart, scaled)"
        )

    def markdown_row(self) -> str:
        return (
            f"| {self.method} | {self.median_step_seconds:g} | {self.n_results_simulated} | "
            f"{self.n_results_real} | {100 * self.order_match:.1f}% | "
            f"{self.max_finish_difference:.1f} | {self.timing_error_ms:.1f} | "
            f"{self.close_gaps} | "
            + (
                "-"
                if self.first_difference is None
                else f"{self.first_difference + 1} ({self.gap_at_first_difference_ms:.1f} ms)"
            )
            + f" | {self.round_trip_ms:.1f} | {self.speedup:,.0f}x |"
        )


MARKDOWN_HEADER = (
    "| method | median step (sim. s) | results sim. | results real | order match | "
    "max finish diff (sim. s) | timing error p95 (ms) | gaps < error | first difference "
    "(gap) | round trip p50 (ms) | speed-up |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def compare_runs(simulated, real, time_scale: float) -> dict[str, float]:
    """Order match and finish-time differences of two results tables (simulated, real)."""
    sim_keys = list(zip(simulated.trial_id.tolist(), simulated.fidelity.tolist()))
    real_keys = list(zip(real.trial_id.tolist(), real.fidelity.tolist()))
    common = set(sim_keys) & set(real_keys)
    sim_order = [key for key in sim_keys if key in common]
    real_order = [key for key in real_keys if key in common]
    matched = sum(a == b for a, b in zip(sim_order, real_order))
    first = next((i for i, (a, b) in enumerate(zip(sim_order, real_order)) if a != b), None)
    sim_times = dict(zip(sim_keys, simulated.simulated_time.tolist()))
    real_times = dict(zip(real_keys, real.simulated_time.tolist()))
    differences = np.array([real_times[k] / time_scale - sim_times[k] for k in sim_order])
    error_ms = (
        float(np.percentile(np.abs(differences), 95)) * time_scale * 1e3 if len(common) else 0.0
    )
    ordered_times = np.array([sim_times[k] for k in sim_order])
    gaps_ms = np.diff(ordered_times) * time_scale * 1e3
    return {
        "n_common": len(common),
        "order_match": matched / len(common) if common else 1.0,
        "max_finish_difference": float(np.abs(differences).max()) if len(common) else 0.0,
        "timing_error_ms": error_ms,
        "close_gaps": int(np.sum(gaps_ms < error_ms)),
        "first_difference": first,
        "gap_at_first_difference_ms": None
        if first is None
        else abs(sim_times[sim_order[first]] - sim_times[real_order[first]]) * time_scale * 1e3,
    }


def round_trip_ms(real) -> float:
    """Median real time between a trial's report and the end of its next step, minus that
    step's own wall time: the decision round trip the simulator does not model."""
    ordered = real.sort_values(["trial_id", "timestamp"], kind="stable")
    same_trial = ordered.trial_id.to_numpy()[1:] == ordered.trial_id.to_numpy()[:-1]
    between = np.diff(ordered.timestamp.to_numpy()) - ordered.wall_time.to_numpy()[1:]
    gaps = between[same_trial]
    return float(np.median(gaps)) * 1e3 if len(gaps) else 0.0


def validate_setting(
    blackbox: TabularBlackbox,
    metric: str,
    mode: str,
    method: str,
    median_step_seconds: float,
    n_workers: int,
    time_scale: float,
    budget_steps: float = DEFAULT_BUDGET_STEPS,
    seed: int = 0,
) -> ValidationResult:
    """Run ``method`` simulated and for real on the stretched ``blackbox``; compare."""
    stretched = stretched_blackbox(blackbox, median_step_seconds)
    budget = budget_steps * median_step_seconds
    recorded_seed = blackbox.seeds[0]
    context = MethodContext.from_blackbox(stretched, metric, mode, seed, n_workers)
    started = time.perf_counter()
    simulated = Tuner(
        make_scheduler(method, context),
        SimulatorBackend(stretched, n_workers=n_workers, seed=seed, blackbox_seed=recorded_seed),
        StopCriterion(max_wallclock_time=budget),
    ).run()
    simulated_seconds = time.perf_counter() - started
    replay = ReplaySource(stretched, stretched.seed_index(recorded_seed), time_scale)
    runner = ProcessRunner(replay_step, n_workers, shared={"replay": replay})
    runner.start()  # worker start-up is not part of the replayed time
    backend = RealBackend(
        runner,
        context.fidelity_values,
        {objective.name: objective.mode for objective in stretched.objectives},
        fidelity_name=stretched.fidelity_name,
        benchmark=stretched.name,
    )
    try:
        tuner = Tuner(
            make_scheduler(method, context),
            backend,
            StopCriterion(max_wallclock_time=budget * time_scale),
            wait_timeout=0.05,
        )
        started = time.perf_counter()
        real = tuner.run()
        real_seconds = time.perf_counter() - started
    finally:
        backend.close()
    comparison = compare_runs(simulated.results, real.results, time_scale)
    return ValidationResult(
        method=method,
        median_step_seconds=median_step_seconds,
        n_results_simulated=len(simulated.results),
        n_results_real=len(real.results),
        round_trip_ms=round_trip_ms(real.results),
        real_seconds=real_seconds,
        simulated_seconds=simulated_seconds,
        **comparison,
    )


def validate(
    benchmark: str,
    methods: Sequence[str],
    n_workers: int,
    time_scale: float,
    step_seconds: Sequence[float] = DEFAULT_STEP_SECONDS,
    budget_steps: float = DEFAULT_BUDGET_STEPS,
    seed: int = 0,
    report=print,
) -> list[ValidationResult]:
    """Every (median step, method) setting; ``report`` gets each line as it is done."""
    if not (time_scale > 0):
        raise ValueError(
            f"time_scale must be positive (real seconds per simulated second), got {time_scale!r}"
        )
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers!r}")
    definition = resolve_definition(benchmark)
    blackbox = prepared_blackbox(definition)
    if not isinstance(blackbox, TabularBlackbox):
        raise ValueError(
            f"benchmark {benchmark!r} is {blackbox.kind}; validation replays recorded "
            "runtimes, choose a tabular benchmark"
        )
    results = []
    for step in step_seconds:
        for method in methods:
            result = validate_setting(
                blackbox,
                definition.metric,
                definition.mode,
                method,
                float(step),
                n_workers,
                time_scale,
                budget_steps,
                seed,
            )
            report(result.describe())
            results.append(result)
    return results
