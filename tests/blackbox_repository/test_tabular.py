"""TabularBlackbox lookups on real LCDB learning curves: agreement of every access path and
clear errors for anything off the recorded grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from blackbox_repository import (
    ConfigNotFoundError,
    FidelityNotOnGridError,
    Objective,
    SeedNotFoundError,
    TabularBlackbox,
)
from tests.blackbox_repository.conftest import make_conditional_blackbox


def test_grid_matches_the_raw_rows(lcdb_blackbox, shared_data_dir):
    rows = pd.read_csv(shared_data_dir / "lcdb/database-accuracy_openmlid_3.csv")
    row = rows[
        (rows["learner"] == "SVC_rbf")
        & (rows["size_train"] == 512)
        & (rows["outer_seed"] == 3)
        & (rows["inner_seed"] == 0)
    ].iloc[0]
    result = lcdb_blackbox.lookup({"learner": "SVC_rbf"}, fidelity=512, seed=3)
    assert result["error_valid"] == 1.0 - row["score_valid"]
    assert result["error_test"] == 1.0 - row["score_test"]
    assert lcdb_blackbox.values.shape == (18, 16, 5, 3)


def test_lookup_lookup_batch_and_curve_agree(lcdb_blackbox):
    bb = lcdb_blackbox
    rng = np.random.default_rng(1)
    n = 200
    config_indices = rng.integers(0, bb.n_configurations, n)
    fidelity_indices = rng.integers(0, len(bb.fidelity_values), n)
    seed_indices = rng.integers(0, len(bb.seeds), n)

    batch = bb.lookup_batch(config_indices, fidelity_indices, seed_indices)

    assert batch.shape == (n, len(bb.objectives))
    for k in range(n):
        config = bb.configuration(config_indices[k])
        fidelity = bb.fidelity_values[fidelity_indices[k]]
        seed = bb.seeds[seed_indices[k]]
        scalar = bb.lookup(config, fidelity=fidelity, seed=seed)
        assert list(scalar) == list(bb.objective_names)
        np.testing.assert_array_equal(list(scalar.values()), batch[k])
        np.testing.assert_array_equal(
            bb.curve(config, seed_indices[k])[fidelity_indices[k]], batch[k]
        )
        np.testing.assert_array_equal(
            bb.lookup_index(config_indices[k], fidelity_indices[k], seed_indices[k]), batch[k]
        )


def test_seed_none_means_the_first_seed(lcdb_blackbox):
    config = lcdb_blackbox.configuration(4)
    assert lcdb_blackbox.lookup(config, 2048) == lcdb_blackbox.lookup(config, 2048, seed=0)


def test_elapsed_time_is_cumulative(lcdb_blackbox):
    elapsed = lcdb_blackbox.values[..., lcdb_blackbox.elapsed_time_index]
    assert (np.diff(elapsed, axis=1) >= 0).all()


def test_numpy_scalars_and_missing_inactive_values_find_the_row():
    bb = make_conditional_blackbox()
    assert (
        bb.config_index({"layers": np.int64(2), "optimizer": np.str_("sgd"), "momentum": 0.9}) == 1
    )
    assert bb.config_index({"layers": 3.0, "optimizer": "adam", "beta1": np.float64(0.9)}) == 2
    assert bb.config_index({"layers": 3, "optimizer": "adam", "beta1": 0.9, "momentum": None}) == 2


def test_nan_measurements_stay_nan():
    bb = make_conditional_blackbox()
    result = bb.lookup(bb.configuration(0), fidelity=2, seed=7)
    assert np.isnan(result["loss"]) and not np.isnan(result["accuracy"])


def test_off_grid_configuration_is_a_clear_error(lcdb_blackbox):
    with pytest.raises(
        ConfigNotFoundError, match="is not on the grid of tabular blackbox"
    ) as raised:
        lcdb_blackbox.lookup({"learner": "SVC_quantum"}, fidelity=16)
    assert "18 recorded configurations" in str(raised.value)
    assert isinstance(raised.value, KeyError)


def test_misspelled_hyperparameter_is_named(lcdb_blackbox):
    with pytest.raises(ConfigNotFoundError, match=r"unknown hyperparameters \['lerner'\]"):
        lcdb_blackbox.lookup({"lerner": "SVC_rbf"}, fidelity=16)


def test_off_grid_configuration_of_a_conditional_space_is_an_error():
    bb = make_conditional_blackbox()
    with pytest.raises(ConfigNotFoundError):
        bb.lookup({"layers": 1, "optimizer": "sgd", "momentum": 0.1}, fidelity=1)


def test_off_grid_fidelity_is_a_clear_error(lcdb_blackbox):
    with pytest.raises(
        FidelityNotOnGridError, match=r"size_train=100 is not on the grid"
    ) as raised:
        lcdb_blackbox.lookup({"learner": "SVC_rbf"}, fidelity=100)
    assert "16 values from 16 to 2588" in str(raised.value)


def test_unknown_seed_lists_the_known_ones(lcdb_blackbox):
    with pytest.raises(SeedNotFoundError, match=r"seed 42 .* its seeds are \[0, 1, 2, 3, 4\]"):
        lcdb_blackbox.lookup({"learner": "SVC_rbf"}, fidelity=16, seed=42)


def test_unknown_objective_lists_the_known_ones(lcdb_blackbox):
    with pytest.raises(KeyError) as raised:
        lcdb_blackbox.objective("error_vaild")
    message = str(raised.value)
    assert "['error_valid', 'error_test', 'elapsed_time']" in message
    assert "Did you mean 'error_valid'" in message


def test_describe_shows_space_fidelity_and_objectives(lcdb_blackbox):
    text = lcdb_blackbox.describe()
    assert "learner, Type: Categorical" in text
    assert "fidelity: size_train, 16 values: 16, 23, 32, 45, 64, ..., 2588" in text
    assert "elapsed_time [s]: min  (elapsed time)" in text
    assert "18 configurations x 16 fidelities x 5 seeds" in text


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda kw: kw.update(values=kw["values"][:, :-1]), "values has shape"),
        (lambda kw: kw.update(values=kw["values"].astype(np.int64)), "values must be floats"),
        (
            lambda kw: kw.update(
                configurations=kw["configurations"].rename(columns={"learner": "x"})
            ),
            "missing",
        ),
        (lambda kw: kw.update(fidelity_values=kw["fidelity_values"][::-1]), "strictly increasing"),
        (lambda kw: kw.update(seeds=[0, 0, 1, 2, 3]), "seeds must be non-empty and unique"),
        (
            lambda kw: kw.update(elapsed_time_objective="runtime"),
            "elapsed_time_objective 'runtime'",
        ),
    ],
)
def test_inconsistent_construction_is_refused(lcdb_blackbox, change, message):
    arguments = {
        "name": "bad",
        "configuration_space": lcdb_blackbox.configuration_space,
        "configurations": lcdb_blackbox.configurations,
        "fidelity_name": lcdb_blackbox.fidelity_name,
        "fidelity_values": lcdb_blackbox.fidelity_values,
        "seeds": lcdb_blackbox.seeds,
        "objectives": list(lcdb_blackbox.objectives),
        "elapsed_time_objective": "elapsed_time",
        "values": lcdb_blackbox.values,
    }
    change(arguments)
    with pytest.raises(ValueError, match=message):
        TabularBlackbox(**arguments)


def test_objective_mode_is_validated():
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        Objective("loss", "minimize")


def test_lookup_batch_follows_numpy_indexing_rules(lcdb_blackbox):
    bb = lcdb_blackbox
    np.testing.assert_array_equal(
        bb.lookup_batch(np.array([-1, 2]), np.array([0, -3]), 4), bb.values[[-1, 2], [0, -3], 4]
    )
    np.testing.assert_array_equal(bb.lookup_batch(3, 5, 1), bb.values[3, 5, 1])
    np.testing.assert_array_equal(
        bb.lookup_batch(np.array([[1], [2]]), np.array([0, 1, 2]), 0),
        bb.values[np.array([[1], [2]]), np.array([0, 1, 2]), 0],
    )
    with pytest.raises(IndexError):
        bb.lookup_batch(np.array([bb.n_configurations]), np.array([0]))
    with pytest.raises(IndexError):
        bb.lookup_batch(np.array([0, 1]), np.array([0, 1, 2]))
