"""Faithfulness: does the surrogate lead to the same conclusions as its table?

The same study (methods x seeds, same metric, workers and simulated budget) runs on the
tabular blackbox and on its trained surrogate. At several fractions of the budget each
method's **mean best value** over the seeds ranks the methods on each blackbox (the ranking
of mean normalized regret is the same: regret is an increasing affine map of the best value
on one blackbox); the statistic is **Kendall tau-b between the two rankings**, per budget.

Two figures tell the reader how far that statistic can be trusted:

* **noise floor**: the same statistic between the table study and a *replica* of it run
  with as many other seeds (seeds ``n .. 2n-1``). It is what a perfect surrogate (the table
  itself) would score; when it is below the agreement threshold the table cannot separate
  the methods at that budget and no surrogate can be asked to;
* **bootstrap interval**: the 5 % and 95 % percentiles of tau when every method's seeds are
  resampled with replacement on both blackboxes.

On the surrogate, methods sample its whole search space, as a user of the surrogate would.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blackbox_repository.blackbox import Blackbox

DEFAULT_METHODS = ("RS", "ASHA", "Hyperband", "BOHB")
BUDGET_FRACTIONS = (0.25, 0.5, 1.0)
DEFAULT_SEEDS = 30
AGREEMENT_THRESHOLD = 0.8
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_PERCENTILES = (5.0, 95.0)


@dataclass(frozen=True)
class StudySettings:
    """The study both sides of a faithfulness comparison run: ``methods`` x ``seeds`` (seeds
    ``0 .. seeds-1``; the replica uses ``seeds .. 2*seeds-1``) on ``n_workers`` workers for
    ``max_wallclock_time`` simulated seconds, ranked by ``metric`` in ``mode`` at each
    fraction of the budget in ``fractions``, with ``bootstrap_samples`` resamples for the
    intervals."""

    metric: str
    mode: str
    max_wallclock_time: float
    n_workers: int = 4
    seeds: int = DEFAULT_SEEDS
    methods: tuple[str, ...] = DEFAULT_METHODS
    fractions: tuple[float, ...] = BUDGET_FRACTIONS
    bootstrap_samples: int = BOOTSTRAP_SAMPLES

    def __post_init__(self) -> None:
        if self.seeds < 2:
            raise ValueError(f"faithfulness needs at least 2 seeds per method, got {self.seeds}")
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "fractions", tuple(self.fractions))

    def study_arguments(self) -> dict[str, Any]:
        """The arguments of :func:`study_best` besides the seeds (also a cached study's key)."""
        return dict(
            metric=self.metric,
            mode=self.mode,
            max_wallclock_time=self.max_wallclock_time,
            n_workers=self.n_workers,
            methods=self.methods,
            fractions=self.fractions,
        )


@dataclass(frozen=True)
class FaithfulnessReport:
    """Rank agreement of methods on table and surrogate, with its noise floor."""

    metric: str
    mode: str
    methods: tuple[str, ...]
    seeds: int
    max_wallclock_time: float
    budget_fractions: tuple[float, ...]
    kendall_tau: tuple[float, ...]  # per budget fraction: table vs surrogate
    kendall_tau_interval: tuple[tuple[float, float], ...]  # bootstrap percentiles
    noise_floor: tuple[float, ...]  # per budget fraction: table vs table replica
    noise_floor_interval: tuple[tuple[float, float], ...]
    mean_best_table: dict[str, tuple[float, ...]]  # per method, per budget fraction
    mean_best_surrogate: dict[str, tuple[float, ...]]
    mean_best_replica: dict[str, tuple[float, ...]]

    @property
    def agrees(self) -> bool:
        """Kendall tau >= :data:`AGREEMENT_THRESHOLD` at every budget fraction."""
        return all(tau >= AGREEMENT_THRESHOLD for tau in self.kendall_tau)

    @property
    def table_separates(self) -> tuple[bool, ...]:
        """Per budget: whether the table's own replica reaches the threshold."""
        return tuple(floor >= AGREEMENT_THRESHOLD for floor in self.noise_floor)

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": (
                "Kendall tau-b between the methods' rankings by mean best value over seeds, "
                "table vs surrogate, per budget fraction"
            ),
            "metric": self.metric,
            "mode": self.mode,
            "methods": list(self.methods),
            "seeds": self.seeds,
            "max_wallclock_time": self.max_wallclock_time,
            "budget_fractions": list(self.budget_fractions),
            "kendall_tau": list(self.kendall_tau),
            "kendall_tau_interval": [list(pair) for pair in self.kendall_tau_interval],
            "noise_floor": list(self.noise_floor),
            "noise_floor_interval": [list(pair) for pair in self.noise_floor_interval],
            "agrees": self.agrees,
            "table_separates": list(self.table_separates),
            "mean_best_table": {k: list(v) for k, v in self.mean_best_table.items()},
            "mean_best_surrogate": {k: list(v) for k, v in self.mean_best_surrogate.items()},
            "mean_best_replica": {k: list(v) for k, v in self.mean_best_replica.items()},
            "difference_at_full_budget": {
                m: self.mean_best_surrogate[m][-1] - self.mean_best_table[m][-1]
                for m in self.methods
            },
        }


def study_target(
    table: Blackbox, max_wallclock_time: float | None = None
) -> tuple[str, str, float]:
    """Metric, mode and simulated budget of ``table``'s faithfulness study: its benchmark
    definition's, else its first objective's with ``max_wallclock_time`` (which also
    overrides a definition's budget)."""
    try:
        from benchmarking.benchmark_definitions import benchmark_definition

        definition = benchmark_definition(table.name)
        metric, mode, budget = definition.metric, definition.mode, definition.max_wallclock_time
    except ValueError:  # a user's tabulation has no definition: its first objective
        objective = table.objectives[0]
        metric, mode, budget = objective.name, objective.mode, None
    if max_wallclock_time is not None:
        budget = max_wallclock_time
    if budget is None:
        from blackbox_repository.surrogate_training.errors import SurrogateTrainingError

        raise SurrogateTrainingError(
            f"{table.name!r} has no benchmark definition; give --max-wallclock-time"
        )
    return metric, mode, float(budget)


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


def study_best(
    blackbox: Blackbox,
    *,
    metric: str,
    mode: str,
    max_wallclock_time: float,
    seeds: Sequence[int],
    n_workers: int = 4,
    methods: Sequence[str] = DEFAULT_METHODS,
    fractions: Sequence[float] = BUDGET_FRACTIONS,
) -> np.ndarray:
    """Best value per (method, seed, budget fraction) of the study on ``blackbox``."""
    return np.array(
        [
            [
                best_at_budgets(
                    method, blackbox, metric, mode, seed, n_workers, max_wallclock_time, fractions
                )
                for seed in seeds
            ]
            for method in methods
        ],
        dtype=float,
    )


STUDY_CACHE_VERSION = 1
"""Bumped when a study's results may change for the same inputs (keys of cached studies)."""


def table_fingerprint(blackbox: Blackbox) -> str:
    """sha256 of a table's contents (configurations, grid, values): the part of a cached
    study's key that says which data it ran on."""
    digest = hashlib.sha256()
    digest.update(blackbox.name.encode())
    digest.update(np.asarray(blackbox.fidelity_values, dtype=float).tobytes())
    digest.update(np.asarray(blackbox.seeds).tobytes())
    values = getattr(blackbox, "values", None)
    if values is not None:
        digest.update(np.ascontiguousarray(values).tobytes())
    configurations = getattr(blackbox, "configurations", None)
    if configurations is not None:
        digest.update(configurations.to_csv(index=False).encode())
    return digest.hexdigest()


def cached_study_best(
    blackbox: Blackbox, cache_dir: Path | None, *, seeds: Sequence[int], **settings: Any
) -> np.ndarray:
    """:func:`study_best`, read from ``cache_dir`` when the same study on the same table
    (same contents, settings and seeds) ran before; written there (temp file + rename)
    otherwise. Studies are deterministic for fixed seeds, so a cached study is the study.
    Only tables are cached (a surrogate changes with every fit)."""
    if cache_dir is None:
        return study_best(blackbox, seeds=seeds, **settings)
    key = {
        "version": STUDY_CACHE_VERSION,
        "table": table_fingerprint(blackbox),
        "seeds": [int(s) for s in seeds],
        **{k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
    }
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    path = Path(cache_dir) / f"study-{blackbox.name}-{name}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    best = study_best(blackbox, seeds=seeds, **settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(partial, "wb") as stream:
        np.save(stream, best, allow_pickle=False)
    os.replace(partial, path)
    return best


def mean_best(best: np.ndarray) -> np.ndarray:
    """Mean over seeds of ``best`` (methods, seeds, fractions) -> (methods, fractions)."""
    with np.errstate(invalid="ignore"):
        counts = np.sum(np.isfinite(best), axis=1)
        totals = np.nansum(best, axis=1)
        return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


def ranking_tau(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Kendall tau-b between the methods' mean-best rankings of two studies, per fraction.

    ``first`` and ``second`` are (methods, seeds, fractions) arrays of the same methods and
    fractions (seed counts may differ). The sign of the mode does not matter: both rankings
    use the same direction. NaN when a ranking is constant (every method tied).
    """
    from scipy.stats import kendalltau

    first_means, second_means = mean_best(first), mean_best(second)
    taus = []
    for position in range(first_means.shape[1]):
        a, b = first_means[:, position], second_means[:, position]
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            taus.append(math.nan)
            continue
        tau = kendalltau(a, b).statistic
        taus.append(float(tau) if tau == tau else math.nan)
    return np.array(taus)


def bootstrap_interval(
    first: np.ndarray,
    second: np.ndarray,
    *,
    samples: int = BOOTSTRAP_SAMPLES,
    percentiles: Sequence[float] = BOOTSTRAP_PERCENTILES,
    seed: int = 0,
) -> np.ndarray:
    """Percentiles of :func:`ranking_tau` over seed resamples: (fractions, len(percentiles)).

    Each method's seeds are resampled with replacement, independently on both studies
    (the runs of different methods and blackboxes are independent).
    """
    rng = np.random.default_rng(seed)
    taus = np.empty((samples, first.shape[2]))
    for sample in range(samples):
        taus[sample] = ranking_tau(_resample(first, rng), _resample(second, rng))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every resample tied: NaN
        return np.nanpercentile(taus, percentiles, axis=0).T


def _resample(best: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n_methods, n_seeds, _ = best.shape
    picks = rng.integers(n_seeds, size=(n_methods, n_seeds))
    return best[np.arange(n_methods)[:, None], picks]


def faithfulness(
    table: Blackbox,
    surrogate: Blackbox,
    settings: StudySettings,
    *,
    study_cache: Path | None = None,
) -> FaithfulnessReport:
    """Run the study of ``settings`` on both blackboxes (and a table replica with seeds
    ``seeds .. 2*seeds-1``) and compare the method rankings. ``study_cache``: a folder
    where the table's studies are kept and reused (:func:`cached_study_best`)."""
    return compare_studies(table, surrogate, settings, study_cache=study_cache)


def compare_studies(
    table: Blackbox,
    other: Blackbox,
    settings: StudySettings,
    *,
    study_cache: Path | None = None,
    cache_surrogate: bool = False,
) -> FaithfulnessReport:
    """The statistic between the study on ``table`` and the same study on ``other`` (a
    surrogate, or a table of its answers: ``cache_surrogate`` then caches its study too),
    with the noise floor of ``table`` against a replica of itself with other seeds."""
    seeds, methods = settings.seeds, settings.methods
    arguments = settings.study_arguments()
    on_table = cached_study_best(table, study_cache, seeds=range(seeds), **arguments)
    other_cache = study_cache if cache_surrogate else None
    on_surrogate = cached_study_best(other, other_cache, seeds=range(seeds), **arguments)
    on_replica = cached_study_best(table, study_cache, seeds=range(seeds, 2 * seeds), **arguments)
    taus = ranking_tau(on_table, on_surrogate)
    floors = ranking_tau(on_table, on_replica)
    tau_interval = bootstrap_interval(on_table, on_surrogate, samples=settings.bootstrap_samples)
    floor_interval = bootstrap_interval(on_table, on_replica, samples=settings.bootstrap_samples)

    def by_method(best: np.ndarray) -> dict[str, tuple[float, ...]]:
        means = mean_best(best)
        return {m: tuple(float(v) for v in means[k]) for k, m in enumerate(methods)}

    return FaithfulnessReport(
        metric=settings.metric,
        mode=settings.mode,
        methods=methods,
        seeds=seeds,
        max_wallclock_time=settings.max_wallclock_time,
        budget_fractions=settings.fractions,
        kendall_tau=tuple(float(t) for t in taus),
        kendall_tau_interval=tuple((float(lo), float(hi)) for lo, hi in tau_interval),
        noise_floor=tuple(float(t) for t in floors),
        noise_floor_interval=tuple((float(lo), float(hi)) for lo, hi in floor_interval),
        mean_best_table=by_method(on_table),
        mean_best_surrogate=by_method(on_surrogate),
        mean_best_replica=by_method(on_replica),
    )
