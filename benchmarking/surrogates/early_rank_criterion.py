"""Does a surrogate reproduce a table's early-to-last rank structure? (a model criterion)

Methods that promote from early rungs (ASHA, Hyperband, BOHB) compete on how well a
configuration's value at an early fidelity foretells its value at the last one. On a table
with one recorded seed an early value is one noisy run; a model answers the smooth trend.
The criterion compares, at ASHA's rung fidelities, Kendall tau between each configuration's
value at the rung and at the last fidelity on the table (T), on the cross-fitted answers as
published (A) and on the answers with the one-seed noise model on (N). The decision rule
(docs/surrogate-training.md, "One-seed noise as the default?") was fixed before any figure:
N is adopted iff d(N) < d(A) and N is closer than A on a strict majority of the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from blackbox_repository.blackbox import native
from simulated_backend.schedulers.rung_levels import asha_rung_settings

REDUCTION_FACTOR = 3


def rung_positions(fidelity_values: Sequence[Any], reduction_factor: float = REDUCTION_FACTOR):
    """Grid positions of ASHA's rung levels (reduction factor from the grid's minimum
    fidelity, snapped to the grid, all below the last fidelity)."""
    grid = list(fidelity_values)
    levels = asha_rung_settings(grid, reduction_factor=reduction_factor).rung_levels
    return tuple(grid.index(level) for level in levels)


def early_to_last_taus(values: np.ndarray, positions: Sequence[int]) -> tuple[float, ...]:
    """Kendall tau-b, per grid position in ``positions``, between each configuration's value
    there and at the last fidelity. ``values``: configurations x fidelities x seeds (one
    objective); a configuration's value is its mean over seeds, and only configurations with
    a finite value at both fidelities count."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 3:
        raise ValueError(
            f"values must be configurations x fidelities x seeds, got shape {values.shape}"
        )
    finite = np.isfinite(values).all(axis=2)
    means = np.where(finite, np.nanmean(np.where(finite[..., None], values, 0.0), axis=2), np.nan)
    last = means[:, -1]
    taus = []
    for position in positions:
        early = means[:, position]
        both = np.isfinite(early) & np.isfinite(last)
        if both.sum() < 2:
            taus.append(float("nan"))
            continue
        taus.append(float(kendalltau(early[both], last[both]).statistic))
    return tuple(taus)


@dataclass(frozen=True)
class EarlyRankAgreement:
    """One table's early-to-last taus on the table, the answers (A) and the noisy answers (N)."""

    name: str
    rung_fidelities: tuple
    table: tuple[float, ...]
    answers: tuple[float, ...]
    noisy_answers: tuple[float, ...]

    def distance(self, side: str) -> float:
        """Mean over the rung fidelities of |tau_side - tau_table|; ``side``: "answers" or
        "noisy_answers"."""
        taus = np.asarray(getattr(self, side), dtype=float)
        return float(np.mean(np.abs(taus - np.asarray(self.table, dtype=float))))

    @property
    def noisy_closer(self) -> bool:
        """N is strictly closer to the table than A."""
        return self.distance("noisy_answers") < self.distance("answers")


@dataclass(frozen=True)
class NoiseCriterion:
    """The pre-registered decision over a set of one-seed tables."""

    agreements: tuple[EarlyRankAgreement, ...]
    distance_answers: float
    distance_noisy: float
    noisy_closer_on: int
    adopted: bool

    def lines(self) -> list[str]:
        """A printable report: per table and rung, then the decision."""
        out = ["table | rung fidelities | tau table | tau A (as now) | tau N (noise on) | "
               "d(A) | d(N) | N closer"]  # fmt: skip
        for a in self.agreements:
            out.append(
                f"{a.name} | {', '.join(str(f) for f in a.rung_fidelities)} | "
                f"{_taus(a.table)} | {_taus(a.answers)} | {_taus(a.noisy_answers)} | "
                f"{a.distance('answers'):.3f} | {a.distance('noisy_answers'):.3f} | "
                f"{'yes' if a.noisy_closer else 'no'}"
            )
        n = len(self.agreements)
        out.append(
            f"d(A) = {self.distance_answers:.3f}, d(N) = {self.distance_noisy:.3f}; N closer on "
            f"{self.noisy_closer_on} of {n} tables (strict majority: > {n / 2:g}): single-seed "
            f"noise {'ADOPTED as the default' if self.adopted else 'NOT adopted (stays opt-in)'}"
        )
        return out


def early_rank_agreement(
    name: str, table: Any, answers: Any, noisy_answers: Any, metric: str
) -> EarlyRankAgreement:
    """The early-to-last taus of ``metric`` at ASHA's rungs of ``table``'s grid on the table,
    its cross-fitted answer table and its answer table with single-seed noise (three
    :class:`~blackbox_repository.tabular.TabularBlackbox` of the same grid)."""
    positions = rung_positions(table.fidelity_values)

    def taus(blackbox: Any) -> tuple[float, ...]:
        if list(blackbox.fidelity_values) != list(table.fidelity_values):
            raise ValueError(f"{blackbox.name!r} has another fidelity grid than {table.name!r}")
        values = blackbox.values[:, :, :, blackbox.objective_index(metric)]
        return early_to_last_taus(values, positions)

    fidelities = tuple(native(table.fidelity_values[p]) for p in positions)
    return EarlyRankAgreement(name, fidelities, taus(table), taus(answers), taus(noisy_answers))


def noise_criterion(agreements: Sequence[EarlyRankAgreement]) -> NoiseCriterion:
    """Adopt single-seed noise iff d(N) < d(A) and N is closer on a strict majority."""
    if not agreements:
        raise ValueError("the criterion needs at least one table")
    d_answers = float(np.mean([a.distance("answers") for a in agreements]))
    d_noisy = float(np.mean([a.distance("noisy_answers") for a in agreements]))
    closer = sum(a.noisy_closer for a in agreements)
    adopted = d_noisy < d_answers and closer > len(agreements) / 2
    return NoiseCriterion(tuple(agreements), d_answers, d_noisy, closer, adopted)


def _taus(taus: Sequence[float]) -> str:
    return " / ".join(f"{t:.2f}" for t in taus)
