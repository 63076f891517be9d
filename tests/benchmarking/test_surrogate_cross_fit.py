"""The cross-fitted faithfulness study: out-of-sample answers for every configuration of the
table (real embedded digits MLP benchmark cut to 40 configurations x 6 epochs, a small
published surrogate with seed noise and curve ends, 4 folds, short studies)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarking.surrogates.cross_fit import (
    cross_fitted_answers,
    cross_fitted_faithfulness,
    fold_assignment,
    fold_split,
)
from benchmarking.surrogates.faithfulness import StudySettings
from blackbox_repository.repository import load_blackbox
from blackbox_repository.surrogate_training import SurrogateTrainingData, split_configurations
from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from blackbox_repository.tabular import TabularBlackbox
from tests.blackbox_repository.conftest import small_hgb_surrogate

N_CONFIGS, N_FIDELITIES, FOLDS = 40, 6, 4


def small_digits_table(values_edit=None) -> TabularBlackbox:
    full = load_blackbox("sklearn-mlp-digits")
    values = np.array(full.values[:N_CONFIGS, :N_FIDELITIES], dtype=float)
    if values_edit is not None:
        values_edit(values, full)
    return TabularBlackbox(
        name="test-digits-cross-fit",
        configuration_space=full.configuration_space,
        configurations=full.configurations.iloc[:N_CONFIGS].reset_index(drop=True),
        fidelity_name=full.fidelity_name,
        fidelity_values=full.fidelity_values[:N_FIDELITIES],
        seeds=full.seeds,
        objectives=full.objectives,
        elapsed_time_objective=full.elapsed_time_objective,
        values=values,
    )


@pytest.fixture(scope="module")
def fitted():
    table = small_digits_table()
    data = SurrogateTrainingData(table, split_configurations(N_CONFIGS, seed=1))
    surrogate = small_hgb_surrogate(
        data, "test-digits-cross-fit-surrogate", calibrate=True, seed_noise=True, curve_ends=True
    )
    answers = cross_fitted_answers(table, surrogate, folds=FOLDS, fold_seed=3)
    return table, surrogate, answers


def test_every_configuration_is_answered_out_of_sample_and_repeatably(fitted):
    table, surrogate, answers = fitted
    assignment = fold_assignment(N_CONFIGS, FOLDS, 3)
    np.testing.assert_array_equal(answers.folds, assignment)
    assert sorted(np.bincount(assignment)) == [10, 10, 10, 10]
    for fold in range(FOLDS):
        split = fold_split(assignment, fold, 3)
        training = np.concatenate([split.train, split.validation])
        assert not set(training) & set(split.test) and len(training) + len(split.test) == 40
    valid_error = table.objective_index("valid_error")
    assert answers.table.values.shape == (N_CONFIGS, N_FIDELITIES, 3, 2)
    assert np.isfinite(answers.table.values).all()
    assert answers.table.configurations.equals(table.configurations)
    # out of sample: changing the recorded values of fold 0 leaves fold 0's answers alone
    # (its model never saw them) and moves the answers of the folds that trained on them
    in_fold = assignment == 0

    def scramble_fold_zero(values, full):
        values[in_fold, :, :, valid_error] = values[in_fold][::-1, :, :, valid_error] ** 0.5

    edited = small_digits_table(scramble_fold_zero)
    again = cross_fitted_answers(edited, surrogate, folds=FOLDS, fold_seed=3)
    np.testing.assert_array_equal(again.table.values[in_fold], answers.table.values[in_fold])
    assert not np.array_equal(again.table.values[~in_fold], answers.table.values[~in_fold])
    # repeatable: the same inputs give a byte-identical answer table
    repeat = cross_fitted_answers(table, surrogate, folds=FOLDS, fold_seed=3)
    assert repeat.table.values.tobytes() == answers.table.values.tobytes()


def test_bad_fold_counts_give_clear_errors(fitted):
    table, surrogate, _ = fitted
    with pytest.raises(SurrogateTrainingError, match="41 folds for 40 configurations"):
        cross_fitted_answers(table, surrogate, folds=41)
    with pytest.raises(SurrogateTrainingError, match="at least 2 folds"):
        fold_assignment(N_CONFIGS, 1, 0)


def test_cross_fitted_study_runs_on_the_whole_table_and_is_cached(fitted, tmp_path):
    table, surrogate, answers = fitted
    settings = StudySettings(
        metric="valid_error", mode="min", max_wallclock_time=2.0, n_workers=2, seeds=3,
        methods=("RS", "ASHA"), fractions=(0.5, 1.0), bootstrap_samples=20,
    )  # fmt: skip
    report = cross_fitted_faithfulness(
        table, surrogate, settings, folds=FOLDS, fold_seed=3, study_cache=tmp_path
    )
    assert len(list(tmp_path.glob("cross-fit-*.npy"))) == 1  # the answers, kept
    cached = sorted(path.name for path in tmp_path.glob("study-*.npy"))
    assert len(cached) == 3 and sum("cross-fitted-answers" in name for name in cached) == 1
    answers_best = np.nanmin(answers.table.values[..., 0])
    for means in report.mean_best_surrogate.values():
        assert all(value >= answers_best - 1e-12 for value in means)
    assert len(report.kendall_tau) == 2 and len(report.noise_floor) == 2
    again = cross_fitted_faithfulness(
        table, surrogate, settings, folds=FOLDS, fold_seed=3, study_cache=tmp_path
    )
    assert again.mean_best_surrogate == report.mean_best_surrogate
