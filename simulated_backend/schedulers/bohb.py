"""BOHB (Falkner et al., 2018): Hyperband brackets whose new configurations come from a
TPE-style density model instead of uniform sampling.

The model (:class:`KernelDensitySearcher`): observations are kept per fidelity level (the
rung levels and the max resource where the scheduler records results). For a new
configuration, with probability ``random_fraction`` one is drawn at random; otherwise the
highest level with at least ``min_points_in_model + 2`` observations is used (Algorithm 2
of the paper; ``min_points_in_model`` defaults to ``d + 1``). Its observations are ranked
(best first): the good set is the best ``max(N_min, floor(top_n_percent% * N))``, the bad
set the worst ``max(N_min, N - N_good)``; a kernel density is fitted to each (see
:mod:`~simulated_backend.schedulers.kernel_density`). ``num_samples`` points are drawn from
the good density with bandwidths times ``bandwidth_factor`` (or, on a finite search space,
drawn at random from the candidates not suggested yet) and the one maximising
``l(x) / g(x)`` is suggested.

Cost per result stays flat as observations grow: a level's models are refitted only when a
suggestion needs them and its observations grew by 10% since the last fit, and each
density keeps at most ``max_points_in_density`` (default 128) of its ranked points, evenly
spaced by rank (the best and the worst kept), so scoring a candidate costs O(1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from simulated_backend.schedulers.async_hyperband import AsynchronousHyperband
from simulated_backend.schedulers.hyperband import Hyperband
from simulated_backend.schedulers.kernel_density import KernelDensity, fit_kernel_density
from simulated_backend.schedulers.protocol import Trial, TrialScheduler
from simulated_backend.schedulers.rungs import key_function
from simulated_backend.schedulers.scheduler_arguments import random_streams
from simulated_backend.schedulers.search_space import NUMERIC, ORDINAL, SearchSpace
from simulated_backend.schedulers.searchers import Candidate, RandomSearcher
from simulated_backend.schedulers.settings import FidelitySettings, SchedulerSettings


def _check_number(name: str, value: Any, allowed: Callable[[float], bool], what: str) -> Any:
    """``value`` as a plain number if ``allowed(value)``; else a ValueError saying ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    integer = "integer" in what
    if not allowed(value) or (integer and not (math.isfinite(value) and value == int(value))):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    value = value.item() if isinstance(value, np.generic) else value
    return int(value) if integer else value


REFIT_DIVISOR = 10  # a level's model is refitted once its observations grew by 1/10


def _by_rank(ranked: np.ndarray, limit: int) -> np.ndarray:
    """``ranked`` itself, or ``limit`` of its rows evenly spaced by rank (best and worst kept)."""
    n = len(ranked)
    if n <= limit:
        return ranked
    return ranked[np.linspace(0, n - 1, limit).round().astype(int)]


class KernelDensitySearcher:
    """BOHB's model-based searcher (see the module docstring)."""

    def __init__(
        self,
        search_space: SearchSpace,
        mode: str,
        rng: np.random.Generator,
        min_points_in_model: int | None = None,
        top_n_percent: float = 15,
        num_samples: int = 64,
        random_fraction: float = 1 / 3,
        bandwidth_factor: float = 3,
        min_bandwidth: float = 1e-3,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        max_points_in_density: int = 128,
    ) -> None:
        self._random = RandomSearcher(search_space, rng, points_to_evaluate)
        self.search_space = self._random.search_space  # the draw state is shared with it
        self.rng = rng
        d = len(self.search_space.dimensions)
        if min_points_in_model is None:
            min_points_in_model = d + 1
        self.min_points_in_model = _check_number(
            "min_points_in_model", min_points_in_model, lambda v: v >= 1, "an integer >= 1"
        )
        self.top_n_percent = _check_number(
            "top_n_percent", top_n_percent, lambda v: 0 < v < 100, "a number in (0, 100)"
        )
        self.num_samples = _check_number(
            "num_samples", num_samples, lambda v: v >= 1, "an integer >= 1"
        )
        self.random_fraction = _check_number(
            "random_fraction", random_fraction, lambda v: 0 <= v <= 1, "a number in [0, 1]"
        )
        self.bandwidth_factor = _check_number(
            "bandwidth_factor", bandwidth_factor, lambda v: 0 < v < math.inf, "a number > 0"
        )
        self.min_bandwidth = _check_number(
            "min_bandwidth", min_bandwidth, lambda v: 0 < v < math.inf, "a number > 0"
        )
        self.max_points_in_density = _check_number(
            "max_points_in_density",
            max_points_in_density,
            lambda v: v >= 2 * self.min_points_in_model,
            f"an integer >= 2 * min_points_in_model = {2 * self.min_points_in_model}",
        )
        self._cardinalities = np.array(
            [
                0 if dim.kind in (NUMERIC, ORDINAL) else dim.cardinality
                for dim in self.search_space.dimensions
            ]
        )
        self._key = key_function(mode)
        self._encoded: dict[int, np.ndarray] = {}  # trial id -> encoded config
        self._observations: dict[Any, tuple[list[np.ndarray], list[float]]] = {}
        self._models: dict[Any, tuple[int, KernelDensity, KernelDensity]] = {}
        self._eligible_levels: list[Any] = []  # levels with enough observations for a model
        self.n_random = 0
        self.n_model_based = 0
        self.last_model_level: Any = None

    @property
    def exhausted(self) -> bool:
        return self._random.exhausted

    # ------------------------------------------------------------------ observations
    def on_observation(self, trial: Trial, level: Any, value: float) -> None:
        vector = self._encoded.get(trial.trial_id)
        if vector is None:
            space = self.search_space
            if space.is_finite:  # encoded once for all candidates: a row lookup
                vector = space.candidate_encodings()[space.index_of(trial.config)]
            else:
                vector = space.encode([trial.config])[0]
            self._encoded[trial.trial_id] = vector
        vectors, keys = self._observations.setdefault(level, ([], []))
        vectors.append(vector)
        keys.append(self._key(value))
        if len(keys) == self.min_points_in_model + 2:
            self._eligible_levels.append(level)

    def n_observations(self, level: Any) -> int:
        """Observations recorded at ``level``."""
        return len(self._observations.get(level, ((), ()))[1])

    def model_level(self) -> Any:
        """The highest level with at least ``min_points_in_model + 2`` observations, or None."""
        return max(self._eligible_levels) if self._eligible_levels else None

    def _model(self, level: Any) -> tuple[KernelDensity, KernelDensity]:
        """The good and bad densities of ``level``, refitted only when its observations grew
        by a tenth since the last fit (bounded refits: amortized O(log n) per
        observation), each fitted to at most ``max_points_in_density`` points."""
        vectors, keys = self._observations[level]
        n = len(keys)
        cached = self._models.get(level)
        if cached is not None and (n - cached[0]) * REFIT_DIVISOR < cached[0]:
            return cached[1], cached[2]
        order = np.argsort(np.asarray(keys), kind="stable")
        data = np.asarray(vectors)[order]
        n_good = max(self.min_points_in_model, int(self.top_n_percent * n // 100))
        n_bad = max(self.min_points_in_model, n - n_good)
        good = fit_kernel_density(
            _by_rank(data[:n_good], self.max_points_in_density),
            self._cardinalities,
            self.min_bandwidth,
        )
        bad = fit_kernel_density(
            _by_rank(data[n - n_bad :], self.max_points_in_density),
            self._cardinalities,
            self.min_bandwidth,
        )
        self._models[level] = (n, good, bad)
        return good, bad

    # ------------------------------------------------------------------ suggestions
    def next_config(self) -> dict[str, Any] | None:
        """The configuration of :meth:`next_candidate` alone."""
        candidate = self.next_candidate()
        return None if candidate is None else candidate.config

    def next_candidate(self) -> Candidate | None:
        if self._random.n_points_left or self.rng.random() < self.random_fraction:
            return self._random_candidate()
        level = self.model_level()
        if level is None:
            return self._random_candidate()
        good, bad = self._model(level)
        candidate = self._model_based_candidate(good, bad)
        if candidate is None:
            return self._random_candidate()
        self.n_model_based += 1
        self.last_model_level = level
        return candidate

    def _random_candidate(self) -> Candidate | None:
        candidate = self._random.next_candidate()
        if candidate is not None:
            self.n_random += 1
        return candidate

    def _model_based_candidate(self, good: KernelDensity, bad: KernelDensity) -> Candidate | None:
        space = self.search_space
        if space.is_finite:
            indices = space.peek(self.rng, self.num_samples)
            if len(indices) == 0:
                return None
            points = space.candidate_encodings()[indices]
            scores = good.log_pdf(points) - bad.log_pdf(points)
            index = int(indices[int(np.argmax(scores))])
            config = space.take(index)
            return Candidate(config, index if space.candidates_are_grid_rows else None)
        points = good.sample(self.rng, self.num_samples, self.bandwidth_factor)
        scores = good.log_pdf(points) - bad.log_pdf(points)
        for row in np.argsort(-scores, kind="stable"):
            config = space.decode(points[row])
            if config is not None:  # None: a forbidden combination, try the next best
                return Candidate(config)
        return None

    def metadata(self) -> dict[str, Any]:
        return {
            "searcher": "kde",
            "min_points_in_model": self.min_points_in_model,
            "top_n_percent": self.top_n_percent,
            "num_samples": self.num_samples,
            "random_fraction": self.random_fraction,
            "bandwidth_factor": self.bandwidth_factor,
            "min_bandwidth": self.min_bandwidth,
            "max_points_in_density": self.max_points_in_density,
        }


class BOHB(TrialScheduler):
    """BOHB: Hyperband with a kernel-density model proposing new configurations.

    Args:
        search_space, metric, mode, fidelity_values, min_fidelity, max_fidelity,
            reduction_factor, seed, points_to_evaluate: as for Hyperband.
        min_points_in_model: ``N_min`` (default ``d + 1``, d = number of hyperparameters).
        top_n_percent: share of observations in the good set (default 15).
        num_samples: candidates scored per model-based suggestion (default 64).
        random_fraction: share of suggestions drawn at random (default 1/3).
        bandwidth_factor: bandwidth multiplier when sampling candidates (default 3).
        min_bandwidth: bandwidth floor (default 1e-3).
        asynchronous: ``False`` (default): synchronous Hyperband brackets, as in the paper
            (overlapping as in HpBandSter); ``True``: asynchronous Hyperband (ASHA brackets)
            of type ``async_type``.
        async_type: ``"promotion"`` (default) or ``"stopping"``; only with ``asynchronous=True``.
        num_brackets: use only the first brackets (default: all).
    """

    def __init__(
        self,
        search_space: SearchSpace,
        metric: str,
        mode: str,
        fidelity_values: Sequence[Any],
        *,
        min_fidelity: Any = None,
        max_fidelity: Any = None,
        reduction_factor: Any = 3,
        min_points_in_model: int | None = None,
        top_n_percent: float = 15,
        num_samples: int = 64,
        random_fraction: float = 1 / 3,
        bandwidth_factor: float = 3,
        min_bandwidth: float = 1e-3,
        asynchronous: bool = False,
        async_type: str | None = None,
        num_brackets: int | None = None,
        seed: int = 0,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        settings = SchedulerSettings(search_space, metric, mode, seed, points_to_evaluate)
        super().__init__(metric, mode)
        if not isinstance(asynchronous, bool):
            raise ValueError(f"asynchronous must be True or False, got {asynchronous!r}")
        if async_type is not None and not asynchronous:
            raise ValueError(
                f"async_type={async_type!r} only applies with asynchronous=True; "
                "synchronous BOHB has no stopping/promotion variant"
            )
        self.settings = settings
        self.seed = settings.seed
        # stream 2: the bracket machinery uses streams 0 and 1 of the same seed
        searcher_rng = random_streams(self.seed, 3)[2]
        self.searcher = KernelDensitySearcher(
            search_space,
            mode,
            searcher_rng,
            min_points_in_model=min_points_in_model,
            top_n_percent=top_n_percent,
            num_samples=num_samples,
            random_fraction=random_fraction,
            bandwidth_factor=bandwidth_factor,
            min_bandwidth=min_bandwidth,
            points_to_evaluate=points_to_evaluate,
        )
        fidelity = FidelitySettings(fidelity_values, min_fidelity, max_fidelity, reduction_factor)
        # the searcher holds the points to evaluate: the bracket machinery gets none
        brackets_settings = replace(settings, points_to_evaluate=None)
        if asynchronous:
            self.brackets: TrialScheduler = AsynchronousHyperband.from_settings(
                brackets_settings,
                fidelity,
                type=async_type or "promotion",
                num_brackets=num_brackets,
                searcher=self.searcher,
            )
        else:
            self.brackets = Hyperband.from_settings(
                brackets_settings, fidelity, num_brackets=num_brackets, searcher=self.searcher
            )
        self.asynchronous = asynchronous
        # the bracket machinery answers every callback: bind them once
        self.suggest = self.brackets.suggest
        self.on_trial_add = self.brackets.on_trial_add
        self.on_trial_result = self.brackets.on_trial_result
        self.on_trial_complete = self.brackets.on_trial_complete
        self.on_trial_error = self.brackets.on_trial_error
        self.on_trial_remove = self.brackets.on_trial_remove

    @property
    def exhausted(self) -> bool:
        return self.searcher.exhausted

    def metadata(self) -> dict[str, Any]:
        inner = self.brackets.metadata()
        inner.pop("scheduler_name")
        return {
            **inner,
            **self.settings.metadata(),
            "scheduler_name": "BOHB",
            "asynchronous": self.asynchronous,
            "async_type": inner.get("type"),
        }
