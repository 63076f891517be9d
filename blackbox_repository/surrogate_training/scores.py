"""Test-set scores of a surrogate: Kendall tau, Spearman rho, R², MAE, RMSE."""

from __future__ import annotations

import math

import numpy as np

SCORE_NAMES = ("kendall_tau", "spearman_rho", "r2", "mae", "rmse")


def regression_scores(true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Scores of ``predicted`` against ``true`` (NaN where a score is undefined)."""
    from scipy.stats import kendalltau, spearmanr

    true = np.asarray(true, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    n = len(true)
    if n == 0:
        return dict.fromkeys(SCORE_NAMES, math.nan) | {"n": 0}
    error = predicted - true
    variance = float(np.var(true))
    constant = np.ptp(true) == 0 or np.ptp(predicted) == 0
    return {
        "kendall_tau": math.nan if constant else float(kendalltau(true, predicted).statistic),
        "spearman_rho": math.nan if constant else float(spearmanr(true, predicted).statistic),
        "r2": math.nan if variance == 0 else 1.0 - float(np.mean(error**2)) / variance,
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(math.sqrt(np.mean(error**2))),
        "n": n,
    }


def mean_tau_per_fidelity(
    true: np.ndarray, predicted: np.ndarray, fidelity_positions: np.ndarray
) -> float:
    """Kendall tau between true and predicted among the rows of each fidelity, averaged.

    This is how well a model ranks configurations at the same budget, which is what a
    benchmark's conclusions rest on; a tau over every row would also reward the easy part,
    ordering one configuration's fidelities. A fidelity with fewer than two rows or
    constant true values is left out; constant predictions there count as tau 0 (no
    ranking information). NaN when no fidelity can be scored.
    """
    from scipy.stats import kendalltau

    true = np.asarray(true, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    positions = np.asarray(fidelity_positions)
    taus = []
    for position in np.unique(positions):
        at = positions == position
        if at.sum() < 2 or np.ptp(true[at]) == 0:
            continue
        if np.ptp(predicted[at]) == 0:
            taus.append(0.0)
            continue
        taus.append(float(kendalltau(true[at], predicted[at]).statistic))
    return float(np.mean(taus)) if taus else math.nan
