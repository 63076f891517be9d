"""The plain-tuple trial-start path of searchers (next_config_and_index) gives what
next_candidate gives, and a subclass overriding next_candidate is still called."""

from __future__ import annotations

import numpy as np

from simulated_backend.schedulers import ASHA, Candidate, RandomSearch, RandomSearcher, SearchSpace
from simulated_backend.schedulers.searchers import config_and_index_function
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
