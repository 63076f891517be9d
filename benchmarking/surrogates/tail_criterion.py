"""Does a surrogate's answer table reach the table's best end as often as the table does?

A best-so-far curve can reach a configuration's best value over the fidelities, so the
share of configuration-runs whose best value lies in the table's best tail decides how
often a method meets a near-best value. With one-seed noise the sixth session's answers
put far too many configurations there (docs/surrogate-training.md, "Seventh session: the
best end of the answers"). The criterion, fixed before measuring: for p in
:data:`TAIL_PROBABILITIES`, q_p is the table's p-quantile of its best values, c_T(p) and
c_X(p) the table's and answer set X's fractions at or better than q_p, and
e(X) = mean_p |log((c_X + 1/n) / (c_T + 1/n))| (n: X's configuration-runs);
d_tail(X) = mean of e(X) over the tables. A candidate F replaces the default N iff
d_tail(F) < d_tail(N), e(F) < e(N) on a strict majority of the tables and
d(F) <= d(N) + :data:`EARLY_RANK_SLACK` (d: the early-rank distance of
:mod:`~benchmarking.surrogates.early_rank_criterion`); among those, the smallest d_tail wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarking.surrogates.early_rank_criterion import early_to_last_taus, rung_positions

TAIL_PROBABILITIES = (0.005, 0.01, 0.02, 0.05)
EARLY_RANK_SLACK = 0.02
"""How much a candidate may lose on the early-rank distance d and still be adopted."""
DEFAULT_NAME = "N"


def best_values(values: np.ndarray, mode: str) -> np.ndarray:
    """Each configuration-run's best value over the fidelities, as a minimum (``values``:
    configurations x fidelities x seeds of one objective; in ``max`` mode values are negated
    first). Runs without any finite value are left out."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 3:
        raise ValueError(
            f"values must be configurations x fidelities x seeds, got shape {values.shape}"
        )
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    signed = values if mode == "min" else -values
    runs = np.moveaxis(signed, 2, 1).reshape(-1, values.shape[1])  # (config-runs, fidelities)
    finite = np.isfinite(runs).any(axis=1)
    return np.min(np.where(np.isfinite(runs[finite]), runs[finite], np.inf), axis=1)


def tail_error(
    table_best: np.ndarray,
    answer_best: np.ndarray,
    probabilities: Sequence[float] = TAIL_PROBABILITIES,
) -> float:
    """e(X): mean over ``probabilities`` of |log((c_X + 1/n) / (c_T + 1/n))|, where q_p is
    the table's p-quantile of ``table_best`` (numpy's linear interpolation), c_T / c_X the
    fractions of ``table_best`` / ``answer_best`` at or below it, n = len(``answer_best``)."""
    table_best = np.asarray(table_best, dtype=float)
    answer_best = np.asarray(answer_best, dtype=float)
    if len(table_best) == 0 or len(answer_best) == 0:
        raise ValueError("the tail error needs best values on both sides")
    n = len(answer_best)
    errors = []
    for p in probabilities:
        q = np.quantile(table_best, p)
        c_table = float(np.mean(table_best <= q))
        c_answers = float(np.mean(answer_best <= q))
        errors.append(abs(np.log((c_answers + 1 / n) / (c_table + 1 / n))))
    return float(np.mean(errors))


@dataclass(frozen=True)
class TailAgreement:
    """One table's tail error e and early-rank distance d per answer set (the default
    :data:`DEFAULT_NAME` and each candidate), with the table's and answers' tail counts."""

    name: str
    tail_errors: Mapping[str, float]
    early_rank_distances: Mapping[str, float]
    tail_counts: Mapping[str, tuple[int, ...]]


def tail_agreement(
    name: str, table_values: np.ndarray, answers: Mapping[str, np.ndarray], mode: str, grid
) -> TailAgreement:
    """The tail errors and early-rank distances of each answer set in ``answers`` (name ->
    configurations x fidelities x seeds of the metric) against ``table_values`` (same
    layout) on the fidelity ``grid``."""
    positions = rung_positions(grid)
    table_best = best_values(table_values, mode)
    table_taus = np.asarray(early_to_last_taus(table_values, positions))
    quantiles = [np.quantile(table_best, p) for p in TAIL_PROBABILITIES]
    errors, distances = {}, {}
    counts = {"table": tuple(int(np.sum(table_best <= q)) for q in quantiles)}
    for key, values in answers.items():
        best = best_values(values, mode)
        errors[key] = tail_error(table_best, best)
        taus = np.asarray(early_to_last_taus(values, positions))
        distances[key] = float(np.mean(np.abs(taus - table_taus)))
        counts[key] = tuple(int(np.sum(best <= q)) for q in quantiles)
    return TailAgreement(name, errors, distances, counts)


@dataclass(frozen=True)
class TailCriterion:
    """The pre-registered decision over the tables: per answer set d_tail, d and on how
    many tables a candidate's e is below the default's."""

    agreements: tuple[TailAgreement, ...]
    d_tail: Mapping[str, float]
    d_early: Mapping[str, float]
    closer_on: Mapping[str, int]
    passing: tuple[str, ...]
    adopted: str | None

    def lines(self) -> list[str]:
        """A printable report: per table, then per answer set, then the decision."""
        keys = list(self.d_tail)
        out = [
            "table | tail counts at 0.5/1/2/5 % (table; "
            + "; ".join(keys)
            + ") | e: "
            + " / ".join(keys)
            + " | d: "
            + " / ".join(keys)
        ]
        for a in self.agreements:
            counts = "; ".join("/".join(map(str, a.tail_counts[k])) for k in ["table", *keys])
            out.append(
                f"{a.name} | {counts} | "
                + " / ".join(f"{a.tail_errors[k]:.3f}" for k in keys)
                + " | "
                + " / ".join(f"{a.early_rank_distances[k]:.3f}" for k in keys)
            )
        n = len(self.agreements)
        for key in keys:
            closer = "" if key == DEFAULT_NAME else f"; closer than N on {self.closer_on[key]}"
            out.append(
                f"{key}: d_tail {self.d_tail[key]:.3f}, d {self.d_early[key]:.3f}{closer} of {n}"
                if closer
                else f"{key}: d_tail {self.d_tail[key]:.3f}, d {self.d_early[key]:.3f}"
            )
        verdict = (
            f"{self.adopted} ADOPTED (passing: {', '.join(self.passing)})"
            if self.adopted
            else "no candidate passes: N stays the default"
        )
        out.append(
            f"rule: d_tail(F) < d_tail(N), e(F) < e(N) on > {n / 2:g} tables, "
            f"d(F) <= d(N) + {EARLY_RANK_SLACK}: {verdict}"
        )
        return out


def tail_criterion(agreements: Sequence[TailAgreement]) -> TailCriterion:
    """The decision of the pre-registered rule (module docstring) over ``agreements``, whose
    answer sets are the default :data:`DEFAULT_NAME` and the candidates."""
    if not agreements:
        raise ValueError("the criterion needs at least one table")
    keys = list(agreements[0].tail_errors)
    if DEFAULT_NAME not in keys:
        raise ValueError(f"the criterion needs the default answers {DEFAULT_NAME!r}")
    d_tail = {k: float(np.mean([a.tail_errors[k] for a in agreements])) for k in keys}
    d_early = {k: float(np.mean([a.early_rank_distances[k] for a in agreements])) for k in keys}
    closer = {
        k: sum(a.tail_errors[k] < a.tail_errors[DEFAULT_NAME] for a in agreements) for k in keys
    }
    passing = tuple(
        k
        for k in keys
        if k != DEFAULT_NAME
        and d_tail[k] < d_tail[DEFAULT_NAME]
        and closer[k] > len(agreements) / 2
        and d_early[k] <= d_early[DEFAULT_NAME] + EARLY_RANK_SLACK
    )
    adopted = min(passing, key=lambda k: d_tail[k]) if passing else None
    return TailCriterion(tuple(agreements), d_tail, d_early, closer, passing, adopted)
