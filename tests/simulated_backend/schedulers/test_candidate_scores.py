"""Table scoring of grid candidates: the same log l(x) - log g(x) as the densities give."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simulated_backend.schedulers.candidate_scores import (
    MAX_GROUP_ROWS,
    CandidateGroups,
    CandidateScorer,
)
from simulated_backend.schedulers.kernel_density import fit_kernel_density


def nas201_like_encodings() -> np.ndarray:
    """Every combination of 6 categorical dimensions with 5 values (15,625 candidates)."""
    return np.array(list(itertools.product(range(5), repeat=6)), dtype=float)


def direct_log_ratio(good, bad, points: np.ndarray) -> np.ndarray:
    return good.log_pdf(points) - bad.log_pdf(points)


def test_categorical_grid_scores_equal_the_densities_and_use_two_tables_of_125_rows():
    encodings = nas201_like_encodings()
    groups = CandidateGroups.from_encodings(encodings)
    assert groups.groups == ((0, 1, 2), (3, 4, 5))
    assert groups.codes.shape == (15_625, 2) and groups.codes.max() == 124
    rng = np.random.default_rng(0)
    cardinalities = np.full(6, 5)
    good = fit_kernel_density(encodings[rng.integers(0, 15_625, 9)], cardinalities)
    bad = fit_kernel_density(encodings[rng.integers(0, 15_625, 60)], cardinalities)
    scorer = CandidateScorer(groups, good, bad)
    assert scorer.in_linear_domain
    indices = rng.integers(0, 15_625, 500)
    expected = direct_log_ratio(good, bad, encodings[indices])
    np.testing.assert_allclose(scorer.log_ratio(indices), expected, rtol=1e-10, atol=1e-10)


def test_numeric_and_inactive_values_score_as_the_densities_do_in_both_domains():
    rng = np.random.default_rng(1)
    x = np.round(rng.random(40), 3)
    category = rng.integers(0, 3, 40).astype(float)
    category[::5] = np.nan  # inactive for every fifth candidate
    constant = np.zeros(40)  # a single category: no information
    encodings = np.column_stack([x, category, constant])
    cardinalities = np.array([0, 3, 1])
    groups = CandidateGroups.from_encodings(encodings)
    good = fit_kernel_density(encodings[:8], cardinalities)
    bad = fit_kernel_density(encodings[8:30], cardinalities)
    scorer = CandidateScorer(groups, good, bad)
    assert scorer.in_linear_domain
    everything = np.arange(40)
    np.testing.assert_allclose(
        scorer.log_ratio(everything),
        direct_log_ratio(good, bad, encodings),
        rtol=1e-10,
        atol=1e-10,
    )
    # a good set with one x value: its bandwidth is min_bandwidth, kernels of far candidates
    # underflow in the linear domain, so the scorer sums logs instead
    narrow = encodings[:8].copy()
    narrow[:, 0] = x[0]
    good = fit_kernel_density(narrow, cardinalities, min_bandwidth=1e-3)
    scorer = CandidateScorer(groups, good, bad)
    assert not scorer.in_linear_domain
    expected = direct_log_ratio(good, bad, encodings)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(scorer.log_ratio(everything), expected, rtol=1e-9)


def test_dimensions_with_too_many_values_are_left_to_direct_scoring():
    many = np.linspace(0, 1, MAX_GROUP_ROWS + 1)[:, None]
    assert CandidateGroups.from_encodings(many) is None
    assert CandidateGroups.from_encodings(many[:MAX_GROUP_ROWS]) is not None


@pytest.mark.parametrize("n_good", [7, 20])
def test_scores_rank_candidates_near_the_good_set_first(n_good):
    encodings = nas201_like_encodings()
    groups = CandidateGroups.from_encodings(encodings)
    cardinalities = np.full(6, 5)
    good_rows = np.tile([3, 3, 3, 3, 3, 3], (n_good, 1)).astype(float)
    good_rows[:, 0] = np.arange(n_good) % 5  # good configurations: 3 on edges 1-5
    bad = fit_kernel_density(
        encodings[np.random.default_rng(2).integers(0, 15_625, 80)], cardinalities
    )
    scorer = CandidateScorer(groups, fit_kernel_density(good_rows, cardinalities), bad)
    scores = scorer.log_ratio(np.arange(15_625))
    best = encodings[int(np.argmax(scores))]
    assert (best[1:] == 3).all()
