"""Faithfulness: does the surrogate lead to the same conclusions as its table?

The same study (methods x seeds, same metric, workers and simulated budget) runs on the
tabular blackbox and on its trained surrogate. At several fractions of the budget, each
method's mean best value over seeds ranks the methods on each; the report gives Kendall
tau between the two rankings per budget, and per method the difference in mean best value
(surrogate - table) at the full budget. On the surrogate, methods sample its whole
search space, as a user of the surrogate would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from blackbox_repository.blackbox import Blackbox

DEFAULT_METHODS = ("RS", "ASHA", "Hyperband", "BOHB")
BUDGET_FRACTIONS = (0.25, 0.5, 1.0)


@dataclass(frozen=True)
class FaithfulnessReport:
    """Rank agreement of methods on table and surrogate."""

    metric: str
    methods: tuple[str, ...]
    seeds: int
    max_wallclock_time: float
    budget_fractions: tuple[float, ...]
    kendall_tau: tuple[float, ...]  # per budget fraction
    mean_best_table: dict[str, tuple[float, ...]]  # per method, per budget fraction
    mean_best_surrogate: dict[str, tuple[float, ...]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "methods": list(self.methods),
            "seeds": self.seeds,
            "max_wallclock_time": self.max_wallclock_time,
            "budget_fractions": list(self.budget_fractions),
            "kendall_tau": list(self.kendall_tau),
            "mean_best_table": {k: list(v) for k, v in self.mean_best_table.items()},
            "mean_best_surrogate": {k: list(v) for k, v in self.mean_best_surrogate.items()},
            "difference_at_full_budget": {
                m: self.mean_best_surrogate[m][-1] - self.mean_best_table[m][-1]
                for m in self.methods
            },
        }


def best_at_budgets(
    method: str,
    blackbox: Blackbox,
    metric: str,
    mode: str,
    seed: int,
    n_workers: int,
    max_wallclock_time: float,
    fractions: Sequence[float],
) -> list[float]:
    """Best value of ``metric`` found by ``method`` by each fraction of the budget."""
    from benchmarking.baselines import MethodContext, make_scheduler
    from simulated_backend import SimulatorBackend, StopCriterion, Tuner

    context = MethodContext.from_blackbox(
        blackbox, metric=metric, mode=mode, seed=seed, n_workers=n_workers
    )
    scheduler = make_scheduler(method, context)
    run = Tuner(
        scheduler,
        SimulatorBackend(blackbox, n_workers=n_workers, seed=seed),
        StopCriterion(max_wallclock_time=max_wallclock_time),
    ).run()
    results = run.results
    times = results["simulated_time"].to_numpy(dtype=float)
    values = results[metric].to_numpy(dtype=float)
    sign = 1.0 if mode == "min" else -1.0
    best = []
    for fraction in fractions:
        reached = values[(times <= fraction * max_wallclock_time) & np.isfinite(values)]
        best.append(float(sign * np.min(sign * reached)) if len(reached) else math.nan)
    return best


def faithfulness(
    table: Blackbox,
    surrogate: Blackbox,
    *,
    metric: str,
    mode: str,
    max_wallclock_time: float,
    n_workers: int = 4,
    seeds: int = 10,
    methods: Sequence[str] = DEFAULT_METHODS,
    fractions: Sequence[float] = BUDGET_FRACTIONS,
) -> FaithfulnessReport:
    """Run ``methods`` x ``seeds`` on both blackboxes and compare the method rankings."""
    from scipy.stats import kendalltau

    means: dict[str, dict[str, tuple[float, ...]]] = {"table": {}, "surrogate": {}}
    for label, blackbox in (("table", table), ("surrogate", surrogate)):
        for method in methods:
            runs = np.array(
                [
                    best_at_budgets(
                        method,
                        blackbox,
                        metric,
                        mode,
                        seed,
                        n_workers,
                        max_wallclock_time,
                        fractions,
                    )
                    for seed in range(seeds)
                ]
            )
            means[label][method] = tuple(float(v) for v in np.nanmean(runs, axis=0))
    taus = []
    for position in range(len(fractions)):
        on_table = [means["table"][m][position] for m in methods]
        on_surrogate = [means["surrogate"][m][position] for m in methods]
        tau = kendalltau(on_table, on_surrogate).statistic
        taus.append(float(tau) if tau == tau else math.nan)
    return FaithfulnessReport(
        metric=metric,
        methods=tuple(methods),
        seeds=seeds,
        max_wallclock_time=max_wallclock_time,
        budget_fractions=tuple(fractions),
        kendall_tau=tuple(taus),
        mean_best_table=means["table"],
        mean_best_surrogate=means["surrogate"],
    )
