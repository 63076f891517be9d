"""Rung levels of ASHA and bracket plans of Hyperband on fidelity grids."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulated_backend.schedulers import asha_rung_settings, hyperband_brackets, snap_to_grid

# Li et al. (2018), Table 1: R = 81, eta = 3; per bracket s, the (n_i, r_i) of each stage
PAPER_TABLE_R81 = {
    4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
    3: [(34, 3), (11, 9), (3, 27), (1, 81)],
    2: [(15, 9), (5, 27), (1, 81)],
    1: [(8, 27), (2, 81)],
    0: [(5, 81)],
}

# a non-contiguous grid: 28 training-set sizes from 56 to 56000 (as xgboost-mnist)
TRAINING_SET_SIZES = [int(v) for v in np.unique(np.round(np.geomspace(56, 56000, 28)))]


def reference_brackets(max_fidelity: int, min_resource: int, eta: int) -> dict:
    """Algorithm 1 of the paper, written out with integer arithmetic."""
    s_max = 0
    while min_resource * eta ** (s_max + 1) <= max_fidelity:
        s_max += 1
    table = {}
    for s in range(s_max, -1, -1):
        n = -(-((s_max + 1) * eta**s) // (s + 1))  # ceil
        table[s] = [(n // eta**i, max_fidelity * eta**i / eta**s) for i in range(s + 1)]
    return table


def plan(brackets) -> dict:
    return {b.s: [(st.n_trials, st.level) for st in b.stages] for b in brackets}


def test_hyperband_r81_matches_the_paper_table():
    assert plan(hyperband_brackets(range(1, 82), reduction_factor=3)) == PAPER_TABLE_R81
    assert [b.s for b in hyperband_brackets(range(1, 82))] == [4, 3, 2, 1, 0]


def test_hyperband_r27_matches_the_formulas():
    brackets = hyperband_brackets(range(1, 28), reduction_factor=3)
    assert plan(brackets) == {
        3: [(27, 1), (9, 3), (3, 9), (1, 27)],
        2: [(12, 3), (4, 9), (1, 27)],
        1: [(6, 9), (2, 27)],
        0: [(4, 27)],
    }


@pytest.mark.parametrize(
    ("max_fidelity", "eta"), [(81, 3), (27, 3), (64, 2), (100, 3), (200, 3), (52, 2), (125, 5)]
)
def test_hyperband_sizes_follow_algorithm_1_on_contiguous_grids(max_fidelity, eta):
    brackets = hyperband_brackets(range(1, max_fidelity + 1), reduction_factor=eta)
    reference = reference_brackets(max_fidelity, 1, eta)
    assert set(plan(brackets)) == set(reference)
    for bracket in brackets:
        expected = reference[bracket.s]
        assert [st.n_trials for st in bracket.stages] == [n for n, _ in expected]
        assert [st.exact_fidelity for st in bracket.stages] == pytest.approx(
            [r for _, r in expected]
        )
        assert [st.level for st in bracket.stages] == [math.ceil(r - 1e-9) for _, r in expected]


def test_hyperband_on_a_non_contiguous_grid_snaps_each_budget_up():
    grid = TRAINING_SET_SIZES
    brackets = hyperband_brackets(grid, reduction_factor=3)
    s_max = int(math.floor(math.log(56000 / 56, 3) + 1e-9))
    assert brackets[0].s == s_max == 6
    for bracket in brackets:
        assert bracket.stages[-1].level == 56000
        for i, stage in enumerate(bracket.stages):
            resource = 56000 * 3.0 ** (i - bracket.s)
            assert stage.exact_fidelity == pytest.approx(resource)
            assert stage.level == min(v for v in grid if v >= resource - 1e-6)
            assert stage.level in grid
        levels = [st.level for st in bracket.stages]
        assert levels == sorted(set(levels))


def test_asha_rung_levels_for_known_settings():
    assert asha_rung_settings(range(1, 82)).rung_levels == (1, 3, 9, 27)
    assert asha_rung_settings(range(1, 201)).rung_levels == (1, 3, 9, 27, 81)
    assert asha_rung_settings(range(1, 53), min_fidelity=2, reduction_factor=2).rung_levels == (
        2,
        4,
        8,
        16,
        32,
    )
    assert asha_rung_settings(range(1, 201), max_fidelity=100).rung_levels == (1, 3, 9, 27, 81)
    settings = asha_rung_settings(range(1, 201), reduction_factor=4, min_fidelity=3)
    assert settings.rung_levels == (3, 12, 48, 192)
    assert settings.max_fidelity == 200 and settings.min_fidelity == 3


def test_asha_rung_levels_snap_to_a_non_contiguous_grid():
    grid = TRAINING_SET_SIZES
    levels = asha_rung_settings(grid, reduction_factor=3).rung_levels
    assert levels[0] == 56
    for k, level in enumerate(levels):
        assert level == snap_to_grid(56 * 3**k, grid)
        assert level in grid
    assert 56 * 3 ** len(levels) >= 56000 or snap_to_grid(56 * 3 ** len(levels), grid) == 56000


def test_explicit_rung_levels_must_lie_on_the_grid():
    grid = [1, 2, 4, 8, 16, 32]
    assert asha_rung_settings(grid, rung_levels=[2, 8]).rung_levels == (2, 8)
    with pytest.raises(
        ValueError, match=r"rung level 3 is not on the fidelity grid \[1, 2, 4, 8, 16, 32\]"
    ):
        asha_rung_settings(grid, rung_levels=[2, 3])
    with pytest.raises(ValueError, match="not below max_fidelity"):
        asha_rung_settings(grid, rung_levels=[2, 32])
    with pytest.raises(ValueError, match="increase strictly"):
        asha_rung_settings(grid, rung_levels=[8, 2])
    with pytest.raises(ValueError, match="contradicts"):
        asha_rung_settings(grid, rung_levels=[2, 8], min_fidelity=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reduction_factor": 1.5}, "reduction_factor must be a number >= 2, got 1.5"),
        ({"reduction_factor": True}, "reduction_factor must be a number >= 2"),
        ({"max_fidelity": 50}, "max_fidelity=50 is not on the fidelity grid"),
        (
            {"min_fidelity": 64},
            "min_fidelity=64 must be at least the first fidelity 1 and below max_fidelity=32",
        ),
        ({"min_fidelity": 0.5}, "min_fidelity=0.5 must be at least the first fidelity"),
        ({"max_fidelity": 1}, "at least two fidelities"),
    ],
)
def test_settings_that_do_not_apply_are_errors(kwargs, message):
    grid = [1, 2, 4, 8, 16, 32]
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        asha_rung_settings(grid, **kwargs)


def test_grid_too_coarse_for_eta_is_an_error():
    with pytest.raises(ValueError, match="both snap to fidelity 10"):
        asha_rung_settings([1, 10, 100, 1000], reduction_factor=3)
    with pytest.raises(ValueError, match="both snap to fidelity"):
        hyperband_brackets([1, 100, 101, 1000], reduction_factor=3)


def test_hyperband_without_room_for_early_stopping_is_an_error():
    with pytest.raises(ValueError, match="single bracket without early stopping"):
        hyperband_brackets([1, 2], reduction_factor=3)


def test_fidelity_grid_must_increase():
    with pytest.raises(ValueError, match="strictly increasing"):
        asha_rung_settings([1, 3, 2])
    with pytest.raises(ValueError, match="empty"):
        hyperband_brackets([])
