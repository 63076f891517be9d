"""Rung levels on a fidelity grid, and the validation every multi-fidelity scheduler shares.

Blackboxes report results at the values of a fidelity grid, which need not be contiguous
integers (e.g. training-set sizes 56 .. 56000). A level computed by a formula
(``min_fidelity * eta**k`` for ASHA, ``R * eta**-s * eta**i`` for Hyperband) is *snapped*
to the smallest grid value >= the level. Arithmetic is exact (``fractions.Fraction``), so
``81 * 3**-4`` is exactly 1 and never 1.0000000000000002.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from blackbox_repository.blackbox import native


def describe_grid(grid: Sequence[Any]) -> str:
    """A short rendering of a fidelity grid for error messages."""
    if len(grid) <= 12:
        return str(list(grid))
    head = ", ".join(str(v) for v in grid[:5])
    return f"[{head}, ..., {grid[-1]}] ({len(grid)} values)"


def validate_fidelity_values(fidelity_values: Sequence[Any]) -> tuple:
    """The sorted fidelity grid as a tuple of plain numbers; ValueError if it is not one."""
    if isinstance(fidelity_values, str):
        raise ValueError(
            f"fidelity_values must be the blackbox's fidelity grid (a sequence of numbers), got "
            f"the string {fidelity_values!r}; schedulers no longer take the fidelity's name "
            "(results carry the fidelity under the key 'fidelity'): drop that argument"
        )
    if isinstance(fidelity_values, bytes) or not hasattr(fidelity_values, "__len__"):
        raise ValueError(
            f"fidelity_values must be a sequence of numbers (the blackbox's fidelity grid), "
            f"got {fidelity_values!r}"
        )
    grid = tuple(native(v) for v in fidelity_values)
    if len(grid) == 0:
        raise ValueError("fidelity_values is empty; pass the blackbox's fidelity grid")
    for value in grid:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ValueError(f"fidelity_values must be finite numbers, got {value!r}")
        if value <= 0:
            raise ValueError(f"fidelity_values must be positive, got {value!r}")
    if any(b <= a for a, b in zip(grid, grid[1:])):
        raise ValueError(f"fidelity_values must be strictly increasing, got {describe_grid(grid)}")
    return grid


def validate_reduction_factor(reduction_factor: Any) -> int | float:
    """``eta``: a finite number >= 2."""
    if (
        isinstance(reduction_factor, bool)
        or not isinstance(reduction_factor, (int, float))
        or not math.isfinite(reduction_factor)
        or reduction_factor < 2
    ):
        raise ValueError(f"reduction_factor must be a number >= 2, got {reduction_factor!r}")
    return native(reduction_factor)


def snap_to_grid(level: Fraction | float, grid: Sequence[Any]) -> Any | None:
    """The smallest grid value >= ``level``, or ``None`` if ``level`` is above the grid."""
    exact = [Fraction(v) for v in grid]
    position = bisect.bisect_left(exact, Fraction(level))
    return grid[position] if position < len(grid) else None


@dataclass(frozen=True)
class RungSettings:
    """Resolved multi-fidelity settings of an asynchronous scheduler.

    ``rung_levels`` are the grid values where decisions are taken (all below
    ``max_fidelity``); trials are stopped at ``max_fidelity``.
    """

    fidelity_values: tuple
    max_fidelity: Any
    min_fidelity: Any
    reduction_factor: int | float
    rung_levels: tuple


def resolve_max_fidelity(grid: tuple, max_fidelity: Any) -> Any:
    """``max_fidelity`` (default: the last grid value), which must lie on the grid."""
    if max_fidelity is None:
        return grid[-1]
    if native(max_fidelity) not in set(grid):
        raise ValueError(
            f"max_fidelity={max_fidelity!r} is not on the fidelity grid {describe_grid(grid)}; "
            "choose one of its values"
        )
    return grid[grid.index(native(max_fidelity))]


def resolve_min_fidelity(grid: tuple, min_fidelity: Any, max_fidelity: Any) -> Any:
    """``min_fidelity`` (default: the first grid value) snapped up to the grid."""
    if min_fidelity is None:
        return grid[0]
    if isinstance(min_fidelity, bool) or not isinstance(min_fidelity, (int, float)):
        raise ValueError(f"min_fidelity must be a number, got {min_fidelity!r}")
    if not grid[0] <= min_fidelity < max_fidelity:
        raise ValueError(
            f"min_fidelity={min_fidelity!r} must be at least the first fidelity {grid[0]} and "
            f"below max_fidelity={max_fidelity!r} (grid {describe_grid(grid)}); with "
            "min_fidelity >= max_fidelity there is nothing to schedule early"
        )
    return snap_to_grid(min_fidelity, grid)


def asha_rung_settings(
    fidelity_values: Sequence[Any],
    min_fidelity: Any = None,
    reduction_factor: Any = 3,
    rung_levels: Sequence[Any] | None = None,
    max_fidelity: Any = None,
) -> RungSettings:
    """Rung levels of ASHA (Li et al., 2020) on a fidelity grid.

    Default levels are ``min_fidelity * eta**k`` for k = 0, 1, ... while below
    ``max_fidelity``, each snapped to the smallest grid value >= it; a snapped level equal
    to ``max_fidelity`` is dropped (it is the end, not a rung). Two levels snapping to the
    same grid value is an error (the grid is too coarse for this ``eta``). Explicit
    ``rung_levels`` must lie on the grid, increase strictly and stay below
    ``max_fidelity``.

    Example:
        >>> asha_rung_settings(range(1, 82)).rung_levels
        (1, 3, 9, 27)
    """
    grid = validate_fidelity_values(fidelity_values)
    eta = validate_reduction_factor(reduction_factor)
    max_fidelity = resolve_max_fidelity(grid, max_fidelity)
    if max_fidelity == grid[0]:
        raise ValueError(
            f"max_fidelity={max_fidelity!r} is the first fidelity of the grid "
            f"{describe_grid(grid)}: a multi-fidelity scheduler needs at least two fidelities; "
            "use RandomSearch for single-fidelity blackboxes"
        )
    if rung_levels is not None:
        levels = _validate_explicit_levels(grid, rung_levels, max_fidelity)
        if min_fidelity is not None and native(min_fidelity) != levels[0]:
            raise ValueError(
                f"min_fidelity={min_fidelity!r} contradicts rung_levels={list(levels)} "
                "(the minimum fidelity is the first rung level); give only one of them"
            )
        return RungSettings(grid, max_fidelity, levels[0], eta, levels)
    grace = resolve_min_fidelity(grid, min_fidelity, max_fidelity)
    levels: list = []
    level = Fraction(grace)
    while level < Fraction(max_fidelity):
        snapped = snap_to_grid(level, grid)
        if snapped == max_fidelity:
            break
        if levels and snapped == levels[-1]:
            raise ValueError(
                f"rung levels {_fmt(level / Fraction(eta))} and {_fmt(level)} both snap to "
                f"fidelity {snapped} of the grid {describe_grid(grid)}; use a larger "
                "reduction_factor or give rung_levels explicitly"
            )
        levels.append(snapped)
        level *= Fraction(eta)
    return RungSettings(grid, max_fidelity, grace, eta, tuple(levels))


def _validate_explicit_levels(grid: tuple, rung_levels: Sequence[Any], max_fidelity: Any) -> tuple:
    levels = tuple(native(v) for v in rung_levels)
    if len(levels) == 0:
        raise ValueError(
            "rung_levels is empty: there would be no early stopping; pass None for the "
            "default levels or use RandomSearch"
        )
    on_grid = set(grid)
    for level in levels:
        if level not in on_grid:
            raise ValueError(
                f"rung level {level!r} is not on the fidelity grid {describe_grid(grid)}; "
                "every rung level must be one of the grid values"
            )
        if level >= max_fidelity:
            raise ValueError(
                f"rung level {level!r} is not below max_fidelity={max_fidelity!r}; rung "
                "levels must be smaller than the maximum fidelity"
            )
    if any(b <= a for a, b in zip(levels, levels[1:])):
        raise ValueError(f"rung_levels must increase strictly, got {list(levels)}")
    return tuple(grid[grid.index(level)] for level in levels)


def _fmt(level: Fraction) -> str:
    return str(int(level)) if level.denominator == 1 else f"{float(level):.6g}"
