"""The faithfulness statistic: Kendall tau-b of the methods' mean-best rankings, its
bootstrap interval over seeds, and the noise floor from a replica of the table study (real
embedded digits MLP benchmark, short runs)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarking.surrogates.faithfulness import (
    StudySettings,
    bootstrap_interval,
    faithfulness,
    mean_best,
    ranking_tau,
)
from blackbox_repository import load_blackbox


def runs(means, spread: float, seeds: int = 40, seed: int = 0) -> np.ndarray:
    """(methods, seeds, 1) best values around ``means``."""
    rng = np.random.default_rng(seed)
    return np.asarray(means)[:, None, None] + spread * rng.standard_normal((len(means), seeds, 1))


def test_ranking_tau_of_same_reversed_and_constant_rankings():
    first = runs([1.0, 2.0, 3.0, 4.0], 0.0)
    assert ranking_tau(first, first)[0] == pytest.approx(1.0)
    assert ranking_tau(first, runs([4.0, 3.0, 2.0, 1.0], 0.0))[0] == pytest.approx(-1.0)
    assert np.isnan(ranking_tau(first, runs([1.0, 1.0, 1.0, 1.0], 0.0))[0])
    with_missing = first.copy()
    with_missing[0, :, 0] = np.nan  # a method that never reported at this budget
    assert np.isnan(ranking_tau(with_missing, first)[0])
    np.testing.assert_allclose(mean_best(first)[:, 0], [1, 2, 3, 4])


def test_bootstrap_interval_is_tight_for_separated_methods_and_wide_within_noise():
    separated = bootstrap_interval(runs([1, 2, 3, 4], 0.1), runs([1, 2, 3, 4], 0.1, seed=1))
    assert separated.shape == (1, 2) and separated[0, 0] == pytest.approx(1.0)
    noisy = bootstrap_interval(runs([1, 1.01, 1.02, 1.03], 1.0), runs([1, 1, 1, 1], 1.0, seed=1))
    assert noisy[0, 0] < 0 < noisy[0, 1]


def test_table_against_itself_agrees_and_reports_its_noise_floor(tmp_path):
    table = load_blackbox("sklearn-mlp-digits")
    settings = StudySettings(
        metric="valid_error", mode="min", max_wallclock_time=2.0, n_workers=2, seeds=3,
        methods=("RS", "ASHA"), fractions=(0.5, 1.0), bootstrap_samples=50,
    )  # fmt: skip
    report = faithfulness(table, table, settings, study_cache=tmp_path)
    cached = sorted(tmp_path.glob("study-sklearn-mlp-digits-*.npy"))
    assert len(cached) == 2  # the table's study and its replica (other seeds)
    stamps = [path.stat().st_mtime_ns for path in cached]
    again = faithfulness(table, table, settings, study_cache=tmp_path)
    assert again.mean_best_table == report.mean_best_table
    assert again.mean_best_replica == report.mean_best_replica
    assert [path.stat().st_mtime_ns for path in cached] == stamps  # read, not run again
    # the same seeds on the same blackbox: the same runs, so the same ranking
    assert report.kendall_tau == (1.0, 1.0) and report.agrees
    assert report.mean_best_surrogate == report.mean_best_table
    assert report.mean_best_replica != report.mean_best_table  # other seeds, other runs
    assert all(-1 <= t <= 1 for t in report.noise_floor if t == t)
    record = report.to_dict()
    assert record["statistic"].startswith("Kendall tau-b") and len(record["noise_floor"]) == 2
    with pytest.raises(ValueError, match="at least 2 seeds"):
        StudySettings(metric="valid_error", mode="min", max_wallclock_time=2.0, seeds=1)
