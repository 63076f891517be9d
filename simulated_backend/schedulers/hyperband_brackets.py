"""Hyperband's brackets (Li et al., 2018, JMLR, Algorithm 1) mapped to a fidelity grid.

With maximum fidelity ``R``, minimum fidelity ``r`` and ``eta``:
``s_max = floor(log_eta(R / r))``; bracket ``s`` (from ``s_max`` down to 0) starts
``n = ceil((s_max + 1) / (s + 1) * eta**s)`` configurations; stage ``i`` (0 .. s) runs
``n_i = floor(n * eta**-i)`` of them to resource ``r_i = R * eta**-s * eta**i``.
Each ``r_i`` is snapped to the smallest grid value >= it (``r_s = R`` is on the grid).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from simulated_backend.schedulers.rung_levels import (
    describe_grid,
    resolve_max_fidelity,
    resolve_min_fidelity,
    snap_to_grid,
    validate_fidelity_values,
    validate_reduction_factor,
)


@dataclass(frozen=True)
class BracketStage:
    """One rung of a synchronous bracket: ``n_trials`` trials run to ``level``.

    ``exact_fidelity`` is the paper's ``r_i`` before snapping; ``level`` is the grid value used.
    """

    n_trials: int
    exact_fidelity: float
    level: Any


@dataclass(frozen=True)
class Bracket:
    """Bracket ``s`` of Hyperband: successive halving over ``len(stages) = s + 1`` stages."""

    s: int
    stages: tuple[BracketStage, ...]

    @property
    def n_initial(self) -> int:
        return self.stages[0].n_trials


def hyperband_brackets(
    fidelity_values: Sequence[Any],
    min_fidelity: Any = None,
    reduction_factor: Any = 3,
    max_fidelity: Any = None,
) -> tuple[Bracket, ...]:
    """All brackets of Hyperband, in the paper's order ``s = s_max, ..., 0``.

    Example:
        >>> [b.n_initial for b in hyperband_brackets(range(1, 82))]
        [81, 34, 15, 8, 5]
    """
    grid = validate_fidelity_values(fidelity_values)
    eta = Fraction(validate_reduction_factor(reduction_factor))
    max_fidelity = resolve_max_fidelity(grid, max_fidelity)
    if max_fidelity == grid[0]:
        raise ValueError(
            f"max_fidelity={max_fidelity!r} is the first fidelity of the grid "
            f"{describe_grid(grid)}: Hyperband needs at least two fidelities"
        )
    grace = resolve_min_fidelity(grid, min_fidelity, max_fidelity)
    big_r, small_r = Fraction(max_fidelity), Fraction(grace)
    s_max = 0
    while small_r * eta ** (s_max + 1) <= big_r:
        s_max += 1
    if s_max == 0:
        raise ValueError(
            f"max_fidelity / min_fidelity = {max_fidelity} / {grace} is below "
            f"reduction_factor={reduction_factor}: Hyperband would have a single bracket "
            "without early stopping; lower min_fidelity or reduction_factor"
        )
    brackets = []
    for s in range(s_max, -1, -1):
        n = math.ceil(Fraction(s_max + 1, s + 1) * eta**s)
        stages = []
        for i in range(s + 1):
            resource = big_r * eta ** (i - s)
            level = max_fidelity if i == s else snap_to_grid(resource, grid)
            if stages and level == stages[-1].level:
                raise ValueError(
                    f"bracket s={s}: resources {float(resource / eta):.6g} and "
                    f"{float(resource):.6g} both snap to fidelity {level} of the grid "
                    f"{describe_grid(grid)}; use a larger reduction_factor or min_fidelity"
                )
            stages.append(BracketStage(math.floor(n / eta**i), float(resource), level))
        brackets.append(Bracket(s, tuple(stages)))
    return tuple(brackets)
