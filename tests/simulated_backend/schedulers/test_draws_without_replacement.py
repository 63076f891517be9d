"""Draws without replacement in batches: the same rows, in the same order, as one swap per
draw (the definition the fixed-seed trajectories rest on), to exhaustion."""

from __future__ import annotations

import math

import ConfigSpace as CS
import numpy as np
import pandas as pd
import pytest

from simulated_backend.schedulers import SearchSpace
from simulated_backend.schedulers.searchers import UNIFORM_BATCH_SIZE, RandomSearcher
from tests.simulated_backend.schedulers.scheduler_drivers import grid_blackbox


class OneSwapPerDraw:
    """The draw as it is defined: the candidate at ``int(u * n)`` of the ``n`` left is drawn,
    the last one left moves into its place (plain lists, one Python step per draw)."""

    def __init__(self, n: int) -> None:
        self.pool = list(range(n))
        self.n = n

    def take(self, index: int) -> None:
        self._remove(self.pool.index(index))

    def draw(self, uniform: float) -> int | None:
        if self.n == 0:
            return None
        position = min(int(uniform * self.n), self.n - 1)
        index = self.pool[position]
        self._remove(position)
        return index

    def _remove(self, position: int) -> None:
        last = self.n - 1
        self.pool[position], self.pool[last] = self.pool[last], self.pool[position]
        self.n = last


def integer_grid(n: int) -> SearchSpace:
    """A search space whose candidates are the integers 0..n-1 (any size, built fast)."""
    space = CS.ConfigurationSpace({"x": (0, 10**7)})
    return SearchSpace(space, pd.DataFrame({"x": np.arange(n)}))


@pytest.mark.parametrize("n_candidates", [1, 15, 16, 40, 300, 2_000, 15_625])
def test_batched_draws_equal_one_swap_per_draw_until_exhausted(n_candidates):
    space = integer_grid(n_candidates)
    for seed in range(4):
        rng = np.random.default_rng([seed, n_candidates])
        batched, expected = space.fresh(), OneSwapPerDraw(n_candidates)
        for index in rng.choice(n_candidates, size=min(seed, n_candidates), replace=False):
            batched.take(int(index))  # points to evaluate, removed before any draw
            expected.take(int(index))
        while not batched.exhausted:
            size = int(rng.choice([1, 5, 16, 17, 200, UNIFORM_BATCH_SIZE, 20_000]))
            uniforms = rng.random(size)
            uniforms[: min(size, 2)] = [math.nextafter(1.0, 0.0), 0.0][: min(size, 2)]
            given = uniforms.tolist() if seed % 2 else uniforms  # a list or an array
            drawn = batched.draw_indices(given)
            # taken from the end of the uniforms, returned last drawn first (for pop())
            wanted = [expected.draw(u) for u in reversed(uniforms.tolist())]
            wanted = [index for index in wanted if index is not None]
            assert drawn == wanted[::-1]
            assert all(type(index) is int for index in drawn)
            assert batched.n_remaining == expected.n
        # the pool afterwards is the same: each candidate was drawn exactly once
        assert expected.n == 0 and sorted(expected.pool) == list(range(n_candidates))
        assert all(batched.was_drawn(index) for index in range(n_candidates))
        assert batched.draw_indices(rng.random(UNIFORM_BATCH_SIZE)) == []
        assert batched.draw_index(0.5) is None
        with pytest.raises(ValueError, match="already drawn"):
            batched.take(0)


def test_what_is_left_after_a_batch_is_what_one_swap_per_draw_leaves():
    """Single draws, takes and peeks after a batch see the same pool (order included)."""
    space = integer_grid(5_000)
    batched, expected = space.fresh(), OneSwapPerDraw(5_000)
    rng = np.random.default_rng(7)
    for _ in range(3):
        uniforms = rng.random(UNIFORM_BATCH_SIZE)
        batched.draw_indices(uniforms)
        for u in reversed(uniforms.tolist()):
            expected.draw(u)
        left = set(expected.pool[: expected.n])
        assert [not batched.was_drawn(i) for i in range(5_000)] == [i in left for i in range(5_000)]
        assert batched.peek_at([k / 100 for k in range(100)]) == [
            expected.pool[int(k / 100 * expected.n)] for k in range(100)
        ]
        victim = expected.pool[expected.n // 2]
        batched.take(victim)
        expected.take(victim)
        singles = rng.random(20).tolist()
        assert [batched.draw_index(u) for u in singles] == [expected.draw(u) for u in singles]


@pytest.mark.parametrize("n_configs", [7, 300])
def test_random_searcher_rows_are_the_generators_draws_in_order(n_configs):
    """The searcher's grid rows: batches of UNIFORM_BATCH_SIZE uniforms from its generator,
    each drawn by one swap, after the points to evaluate; then None, exhausted."""
    space = SearchSpace.from_blackbox(grid_blackbox(n_configs=n_configs))
    for seed in range(3):
        point = space.candidate(2)
        searcher = RandomSearcher(space, np.random.default_rng(seed), [point])
        assert searcher.next_grid_row() is None  # the point to evaluate comes first
        assert searcher.next_candidate() == (point, 2)
        expected, reference_rng = OneSwapPerDraw(n_configs), np.random.default_rng(seed)
        expected.take(2)
        wanted = []
        while expected.n:
            for u in reference_rng.random(UNIFORM_BATCH_SIZE).tolist():
                if expected.n:
                    wanted.append(expected.draw(u))
        rows = []
        while (row := searcher.next_grid_row()) is not None:
            rows.append(row)
        assert rows == wanted and len(set(rows)) == n_configs - 1
        assert searcher.exhausted and searcher.next_candidate() is None
