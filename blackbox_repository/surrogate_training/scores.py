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
