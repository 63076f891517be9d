"""BOHB's model-based searcher (Falkner et al., 2018): TPE-style good and bad densities per
fidelity level, a random fraction, and the best of ``num_samples`` candidates by l(x)/g(x).

Observations are kept per fidelity level (the rung levels and the max resource where the
scheduler records results). For a new configuration, with probability ``random_fraction``
one is drawn at random; otherwise the highest level with at least ``min_points_in_model +
2`` observations is used (Algorithm 2 of the paper; ``min_points_in_model`` defaults to
``d + 1``). Its observations are ranked (best first): the good set is the best
``max(N_min, floor(top_n_percent% * N))``, the bad set the worst ``max(N_min, N -
N_good)``; a kernel density is fitted to each (see
:mod:`~simulated_backend.schedulers.kernel_density`). ``num_samples`` points are drawn from
the good density with bandwidths times ``bandwidth_factor`` (or, on a finite search space,
drawn uniformly from the candidates not suggested yet) and the one maximising ``l(x) /
g(x)`` is suggested.

Cost per result stays flat as observations grow, and small: a level's models are refitted
only when a suggestion needs them and its observations grew by 10% since the last fit;
each density keeps at most ``max_points_in_density`` (default 128) of its ranked points,
evenly spaced by rank (the best and the worst kept), so scoring a candidate costs O(1). On
a finite search space the candidates' values are grouped once (see
:mod:`~simulated_backend.schedulers.candidate_scores`) and each fit turns into per-group
tables, so a model-based suggestion scores its candidates with a few table lookups.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from simulated_backend.schedulers.candidate_scores import CandidateGroups, CandidateScorer
from simulated_backend.schedulers.kernel_density import KernelDensity, fit_kernel_density
from simulated_backend.schedulers.protocol import Trial
from simulated_backend.schedulers.rungs import key_function
from simulated_backend.schedulers.search_space import NUMERIC, ORDINAL, SearchSpace
from simulated_backend.schedulers.searchers import Candidate, RandomSearcher

REFIT_DIVISOR = 10  # a level's model is refitted once its observations grew by 1/10
# suggestions whose candidates are drawn and scored at once: after a fit, as many as the
# previous fit served (at least FIRST_BATCH), doubling with every batch up to LARGEST_BATCH
FIRST_BATCH = 2
LARGEST_BATCH = 32
COIN_BATCH = 256  # uniforms for the random-or-model decision, drawn at once


def _check_number(name: str, value: Any, allowed: Callable[[float], bool], what: str) -> Any:
    """``value`` as a plain number if ``allowed(value)``; else a ValueError saying ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    integer = "integer" in what
    if not allowed(value) or (integer and not (math.isfinite(value) and value == int(value))):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    value = value.item() if isinstance(value, np.generic) else value
    return int(value) if integer else value


def _by_rank(ranked: np.ndarray, limit: int) -> np.ndarray:
    """``ranked`` itself, or ``limit`` of its rows evenly spaced by rank (best and worst kept)."""
    n = len(ranked)
    if n <= limit:
        return ranked
    return ranked[np.linspace(0, n - 1, limit).round().astype(int)]


class LevelObservations:
    """Encoded configurations and their ranking keys observed at one level.

    Kept as Python lists (an observation costs two appends); :meth:`ranked` turns only the
    rows added since its last call into an array.
    """

    def __init__(self, n_dimensions: int) -> None:
        self._vectors: list[tuple[float, ...]] = []
        self._keys: list[float] = []
        self._array = np.empty((0, n_dimensions))

    @property
    def count(self) -> int:
        return len(self._keys)

    def add(self, vector: tuple[float, ...], key: float) -> None:
        self._vectors.append(vector)
        self._keys.append(key)

    def ranked(self) -> np.ndarray:
        """The vectors, best key first (ties in arrival order)."""
        if len(self._array) < len(self._vectors):
            new_rows = np.array(self._vectors[len(self._array) :], dtype=float)
            self._array = np.concatenate([self._array, new_rows])
        order = np.argsort(np.array(self._keys), kind="stable")
        return self._array[order]


class ModelFit(NamedTuple):
    """The densities of one level, fitted at ``n_observations``; ``scorer`` for finite spaces."""

    n_observations: int
    good: KernelDensity
    bad: KernelDensity
    scorer: CandidateScorer | None


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
        space = self.search_space
        # finite spaces: the candidates' values grouped once, for table scoring per fit
        self._groups = (
            CandidateGroups.from_encodings(space.candidate_encodings()) if space.is_finite else None
        )
        self._grid_rows = space.candidates_are_grid_rows
        # candidates drawn and scored for the next suggestions, with the fit that scored them
        # (one row per suggestion) and the next row to use
        self._batch_scores = np.empty((0, 0))
        self._batch_indices = np.empty((0, 0), dtype=np.intp)
        self._batch_best: list[int] = []  # per group: the candidate with the highest score
        self._batch_best_is_number: list[bool] = []  # per group: that score is not NaN
        self._next_group = 0
        self._batch_fit: ModelFit | None = None
        self._batch_size = FIRST_BATCH
        self._served = 0  # suggestions made with the candidates of _batch_fit
        self._encoded: dict[int, tuple[float, ...]] = {}  # trial id -> encoded config
        self._coins: list[float] = []  # uniforms deciding random or model-based, drawn in batches
        self._observations: dict[Any, LevelObservations] = {}
        self._models: dict[Any, ModelFit] = {}
        self._eligible_levels: list[Any] = []  # levels with enough observations for a model
        self.n_random = 0
        self.n_model_based = 0
        self.n_fits = 0
        self.last_model_level: Any = None

    @property
    def exhausted(self) -> bool:
        return self._random.exhausted

    # ------------------------------------------------------------------ observations
    def on_observation(self, trial: Trial, level: Any, value: float) -> None:
        vector = self._encoded.get(trial.trial_id)
        if vector is None:
            vector = self._encoded[trial.trial_id] = self.search_space.encode_config(trial.config)
        observations = self._observations.get(level)
        if observations is None:
            observations = self._observations[level] = LevelObservations(len(vector))
        observations.add(vector, self._key(value))
        if observations.count == self.min_points_in_model + 2:
            self._eligible_levels.append(level)

    def n_observations(self, level: Any) -> int:
        """Observations recorded at ``level``."""
        observations = self._observations.get(level)
        return 0 if observations is None else observations.count

    def model_level(self) -> Any:
        """The highest level with at least ``min_points_in_model + 2`` observations, or None."""
        return max(self._eligible_levels) if self._eligible_levels else None

    def last_fit(self, level: Any) -> ModelFit | None:
        """The densities fitted last at ``level`` (None before the first model-based suggestion
        that used it)."""
        return self._models.get(level)

    def _model(self, level: Any) -> ModelFit:
        """The good and bad densities of ``level``, refitted only when its observations grew
        by a tenth since the last fit (bounded refits: amortized O(log n) per
        observation), each fitted to at most ``max_points_in_density`` points."""
        observations = self._observations[level]
        n = observations.count
        cached = self._models.get(level)
        if (
            cached is not None
            and (n - cached.n_observations) * REFIT_DIVISOR < cached.n_observations
        ):
            return cached
        data = observations.ranked()
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
        scorer = None if self._groups is None else CandidateScorer(self._groups, good, bad)
        fit = self._models[level] = ModelFit(n, good, bad, scorer)
        self.n_fits += 1
        return fit

    # ------------------------------------------------------------------ suggestions
    def next_config(self) -> dict[str, Any] | None:
        """The configuration of :meth:`next_candidate` alone."""
        candidate = self.next_candidate()
        return None if candidate is None else candidate.config

    def next_candidate(self) -> Candidate | None:
        if not self._coins:  # one generator call per many suggestions
            self._coins = self.rng.random(COIN_BATCH).tolist()
        if self._coins.pop() < self.random_fraction or self._random.n_points_left:
            return self._random_candidate()
        level = self.model_level()
        if level is None:
            return self._random_candidate()
        fit = self._model(level)
        if self.search_space.is_finite:
            candidate = self._best_of_candidates(fit)
        else:
            candidate = self._best_of_samples(fit.good, fit.bad)
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

    def _best_of_candidates(self, fit: ModelFit) -> Candidate | None:
        """The best by l/g of about ``num_samples`` candidates not suggested yet, drawn
        uniformly; None once the space is exhausted (see :meth:`_rank_batch`)."""
        space = self.search_space
        while True:
            stale = self._batch_fit is not fit or self._next_group == len(self._batch_scores)
            if stale and not self._rank_batch(fit):
                return None
            index = self._best_in_group(self._next_group)
            self._next_group += 1
            if index is not None:
                self._served += 1
                return Candidate(space.take(index), index if self._grid_rows else None)

    def _best_in_group(self, group: int) -> int | None:
        """The candidate of ``group`` (of the current batch) with the highest score that was
        not suggested yet (ties: the first drawn), or None if all were.

        The same choice as walking the group's candidates in a stable descending sort of
        their scores, but each group's best is found for the whole batch at once (one
        ``argmax``): it is nearly always free; the sort runs only when it was suggested
        already, or its score is NaN (which the sort puts last and ``argmax`` would pick).
        """
        index = self._batch_best[group]
        was_drawn = self.search_space.was_drawn
        if self._batch_best_is_number[group] and not was_drawn(index):
            return index
        scores, indices = self._batch_scores[group], self._batch_indices[group]
        for index in indices[np.argsort(-scores, kind="stable")].tolist():
            if not was_drawn(index):
                return index
        return None

    def _rank_batch(self, fit: ModelFit) -> bool:
        """Draw and rank the candidates of the next suggestions (False: none are left).

        The fit is fixed until the next refit, so the candidates of several suggestions are
        drawn and scored at once: after a fit, a batch of as many suggestions as the
        previous fit served (at least FIRST_BATCH), doubling up to LARGEST_BATCH. Each suggestion's candidates are drawn uniformly from the whole
        grid, ``num_samples * n_candidates / n_remaining`` of them, so that ``num_samples``
        of them are expected not to have been suggested yet; those that were are skipped
        (as are any suggested between the batch and the suggestion). Once fewer than a
        quarter of the candidates are left, each suggestion draws exactly ``num_samples``
        from those left instead.
        """
        space = self.search_space
        n_left, n_candidates = space.n_remaining, space.n_candidates
        if n_left == 0:
            return False
        if self._batch_fit is not fit:  # size the first batch by what the last fit served
            self._batch_size = min(max(self._served, FIRST_BATCH), LARGEST_BATCH)
            self._batch_fit, self._served = fit, 0
        if fit.scorer is None or 4 * n_left < n_candidates:
            # one suggestion at a time (without tables, log_pdf's memory grows with m * n * d)
            n_groups, group_size = 1, self.num_samples
            indices = space.peek_at(self.rng.random(self.num_samples).tolist())
        else:
            n_groups = self._batch_size
            self._batch_size = min(2 * self._batch_size, LARGEST_BATCH)
            group_size = -(-self.num_samples * n_candidates // n_left)
            uniforms = self.rng.random(n_groups * group_size)
            indices = (uniforms * n_candidates).astype(np.intp)
        if fit.scorer is not None:
            scores = fit.scorer.log_ratio(indices)
        else:
            points = space.candidate_encodings()[indices]
            scores = fit.good.log_pdf(points) - fit.bad.log_pdf(points)
        shape = (n_groups, group_size)
        self._fill_batch(scores.reshape(shape), np.asarray(indices).reshape(shape))
        return True

    def _fill_batch(self, scores: np.ndarray, indices: np.ndarray) -> None:
        """Hold the candidates ``indices`` (one row per suggestion) and their ``scores``;
        each row's best is found here for all rows at once (see :meth:`_best_in_group`)."""
        self._batch_scores, self._batch_indices = scores, indices
        groups, best = np.arange(len(scores)), scores.argmax(axis=1)
        best_scores = scores[groups, best]
        self._batch_best = indices[groups, best].tolist()
        self._batch_best_is_number = (best_scores == best_scores).tolist()
        self._next_group = 0

    def _best_of_samples(self, good: KernelDensity, bad: KernelDensity) -> Candidate | None:
        """The best by l/g of ``num_samples`` points drawn from the good density (wider by
        ``bandwidth_factor``), decoded; forbidden configurations are skipped."""
        space = self.search_space
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
