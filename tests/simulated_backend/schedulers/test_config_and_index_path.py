"""The plain-tuple trial-start path of searchers (next_config_and_index) gives what
next_candidate gives, and a subclass overriding next_candidate is still called."""

from __future__ import annotations

import numpy as np
import pytest

from simulated_backend.schedulers import (
    ASHA,
    AsynchronousHyperband,
    Candidate,
    RandomSearch,
    RandomSearcher,
    SearchSpace,
)
from simulated_backend.schedulers.protocol import by_row_suggest_function
from simulated_backend.schedulers.searchers import config_and_index_function, grid_row_function
from tests.simulated_backend.schedulers.scheduler_drivers import grid_blackbox


def grid_space() -> SearchSpace:
    return SearchSpace.from_blackbox(grid_blackbox(n_configs=6))


def test_plain_tuples_and_candidates_give_the_same_draws():
    fast = RandomSearcher(grid_space(), np.random.default_rng(3))
    slow = RandomSearcher(grid_space(), np.random.default_rng(3))
    drawn = [fast.next_config_and_index() for _ in range(7)]
    candidates = [slow.next_candidate() for _ in range(7)]
    assert drawn[-1] is None and candidates[-1] is None  # 6 candidates, then exhausted
    assert [type(d) for d in drawn[:-1]] == [tuple] * 6
    assert all(isinstance(c, Candidate) for c in candidates[:-1])
    assert [tuple(c) for c in candidates[:-1]] == drawn[:-1]
    assert sorted(index for _, index in drawn[:-1]) == list(range(6))


def test_a_subclass_overriding_next_candidate_is_called():
    class Shifted(RandomSearcher):
        def next_candidate(self):
            candidate = super().next_candidate()
            return (
                None if candidate is None else Candidate({**candidate.config, "act": "tanh"}, None)
            )

    plain = RandomSearcher(grid_space(), np.random.default_rng(0))
    assert config_and_index_function(plain) == plain.next_config_and_index
    shifted = Shifted(grid_space(), np.random.default_rng(0))
    assert config_and_index_function(shifted) == shifted.next_candidate
    scheduler = ASHA(grid_space(), "loss", "min", [1, 3, 9], searcher=shifted)
    suggestions = [scheduler.suggest() for _ in range(6)]
    assert all(s.config["act"] == "tanh" and s.config_index is None for s in suggestions)


def test_schedulers_suggest_the_searchers_draws_in_order():
    searcher = RandomSearcher(grid_space(), np.random.default_rng(5))
    expected = [searcher.next_candidate() for _ in range(6)]
    scheduler = RandomSearch(grid_space(), "loss", "min", seed=5)
    # RandomSearch draws from its own stream of the seed: compare with ASHA's searcher below
    asha = ASHA(
        grid_space(),
        "loss",
        "min",
        [1, 3],
        searcher=RandomSearcher(grid_space(), np.random.default_rng(5)),
    )
    got = [asha.suggest() for _ in range(6)]
    assert [(s.config, s.config_index) for s in got] == [tuple(c) for c in expected]
    assert scheduler.suggest().config_index in range(6)
    assert asha.suggest() is None


@pytest.mark.parametrize("kind", ["asha", "async_hyperband", "random_search"])
def test_suggest_by_row_gives_the_rows_that_suggest_gives_with_configs(kind):
    """The Tuner's path (new trials on grid rows as the row alone) draws what suggest draws."""

    def make():
        if kind == "random_search":
            return RandomSearch(grid_space(), "loss", "min", seed=2)
        if kind == "asha":
            return ASHA(grid_space(), "loss", "min", [1, 3, 9], seed=2)
        return AsynchronousHyperband(grid_space(), "loss", "min", [1, 3, 9], seed=2)

    by_row, with_configs = make(), make()
    assert by_row_suggest_function(by_row) == by_row.suggest_by_row
    rows = [by_row.suggest_by_row() for _ in range(7)]
    suggestions = [with_configs.suggest() for _ in range(7)]
    assert rows[-1] is None and suggestions[-1] is None
    assert all(type(row) is int for row in rows[:-1])
    assert rows[:-1] == [s.config_index for s in suggestions[:-1]]
    grid = by_row.grid_configs
    assert [grid.config_of_row(row) for row in rows[:-1]] == [s.config for s in suggestions[:-1]]


def test_next_grid_row_draws_what_next_candidate_draws():
    """The row-only path consumes the generator exactly as the config path does, points to
    evaluate first (those come with their config), and ends when the grid is exhausted."""
    space = grid_space()
    point = space.candidate(4)
    by_row = RandomSearcher(space, np.random.default_rng(7), points_to_evaluate=[point])
    by_config = RandomSearcher(space, np.random.default_rng(7), points_to_evaluate=[point])
    assert grid_row_function(by_row) == by_row.next_grid_row
    rows = []
    for k in range(7):
        # rows drawn ahead in a batch still count as not suggested yet
        assert by_row.exhausted == (k == 6)
        row = by_row.next_grid_row()
        rows.append(by_row.next_candidate() if row is None else row)
    expected = [by_config.next_candidate() for _ in range(7)]
    assert rows[0] == expected[0] == Candidate(point, 4)  # the point, with its config
    assert rows[1:6] == [c.config_index for c in expected[1:6]]
    assert rows[6] is None and expected[6] is None
    assert [by_row.grid_configs.config_of_row(r) for r in rows[1:6]] == [
        c.config for c in expected[1:6]
    ]


def test_a_subclass_overriding_next_candidate_gets_no_row_path():
    class Shifted(RandomSearcher):
        def next_candidate(self):
            return super().next_candidate()

    shifted = Shifted(grid_space(), np.random.default_rng(0))
    assert grid_row_function(shifted) is None
    scheduler = ASHA(grid_space(), "loss", "min", [1, 3, 9], searcher=shifted)
    assert scheduler.grid_configs is None
    assert by_row_suggest_function(scheduler) is None
    assert scheduler.suggest().config is not None


def test_rows_drawn_ahead_are_given_out_first_by_the_config_path():
    """next_grid_row draws a batch ahead; next_candidate gives those rows next, in order."""
    mixed = RandomSearcher(grid_space(), np.random.default_rng(9))
    plain = RandomSearcher(grid_space(), np.random.default_rng(9))
    first = mixed.next_grid_row()
    rest = [mixed.next_candidate() for _ in range(6)]
    expected = [plain.next_candidate() for _ in range(7)]
    assert first == expected[0].config_index
    assert rest == expected[1:]
    assert rest[-1] is None and mixed.exhausted
