"""SurrogateBlackbox on real tables: LCDB learning curves (a categorical space, 16 fidelities,
5 seeds) and TabRepo LightGBM results (numeric, log-scaled hyperparameters), both parsed
here from the raw files; exactness of k=1 on the grid, determinism, elapsed time, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression

from blackbox_repository import (
    ConfigNotFoundError,
    FidelityNotOnGridError,
    Objective,
    TabularBlackbox,
)
from blackbox_repository.surrogate import SurrogateBlackbox, enforce_elapsed_time, make_surrogate
from tests.blackbox_repository.conftest import make_conditional_blackbox

TABREPO_DATASET = 10090
TABREPO_HYPERPARAMETERS = (
    "learning_rate",
    "num_leaves",
    "feature_fraction",
    "min_data_in_leaf",
    "extra_trees",
)


def lcdb_table(shared_data_dir, elapsed_time_objective: str = "elapsed_time") -> TabularBlackbox:
    """Learners x 16 anchors x 5 outer seeds: valid accuracy, fit time and its cumulative sum."""
    rows = pd.read_csv(shared_data_dir / "lcdb/database-accuracy_openmlid_3.csv")
    rows = rows[rows["inner_seed"] == 0]
    learners = sorted(rows["learner"].unique())
    anchors = np.sort(rows["size_train"].unique())
    seeds = np.sort(rows["outer_seed"].unique())
    table = rows.set_index(["learner", "size_train", "outer_seed"]).sort_index()
    table = table.reindex(pd.MultiIndex.from_product([learners, anchors, seeds]))
    shape = (len(learners), len(anchors), len(seeds))
    accuracy = table["score_valid"].to_numpy(dtype=np.float64).reshape(shape)
    fit_time = table["traintime"].to_numpy(dtype=np.float64).reshape(shape)
    return TabularBlackbox(
        name="test-lcdb",
        configuration_space=ConfigurationSpace({"learner": Categorical("learner", learners)}),
        configurations=pd.DataFrame({"learner": learners}),
        fidelity_name="size_train",
        fidelity_values=anchors,
        seeds=seeds,
        objectives=[
            Objective("valid_accuracy", "max"),
            Objective("train_time", "min", "s"),
            Objective("elapsed_time", "min", "s"),
        ],
        elapsed_time_objective=elapsed_time_objective,
        values=np.stack([accuracy, fit_time, np.cumsum(fit_time, axis=1)], axis=-1),
    )


@pytest.fixture(scope="module")
def lcdb(shared_data_dir) -> TabularBlackbox:
    return lcdb_table(shared_data_dir)


def tabrepo_table(shared_data_dir) -> TabularBlackbox:
    """One dataset's LightGBM configurations that set all five hyperparameters; one fidelity."""
    folder = shared_data_dir / "tabrepo_lightgbm_2022"
    configs = json.loads((folder / "configs_lightgbm.json").read_text())
    results = pd.read_csv(folder / "results_ranked_by_dataset_valid.csv")
    results = results[results["dataset"] == TABREPO_DATASET]
    rows = []
    for framework, error, time_train in results[
        ["framework", "metric_error", "time_train_s"]
    ].itertuples(index=False):
        hyperparameters = configs[framework]["hyperparameters"]
        if all(name in hyperparameters for name in TABREPO_HYPERPARAMETERS):
            rows.append(
                {
                    **{n: hyperparameters[n] for n in TABREPO_HYPERPARAMETERS},
                    "error": error,
                    "time": time_train,
                }
            )
    frame = pd.DataFrame(rows)
    space = ConfigurationSpace(
        {
            "learning_rate": Float("learning_rate", (5e-3, 0.1), log=True),
            "num_leaves": Integer("num_leaves", (16, 255), log=True),
            "feature_fraction": Float("feature_fraction", (0.4, 1.0)),
            "min_data_in_leaf": Integer("min_data_in_leaf", (2, 60), log=True),
            "extra_trees": Categorical("extra_trees", [False, True]),
        }
    )
    return TabularBlackbox(
        name="test-tabrepo",
        configuration_space=space,
        configurations=frame[list(TABREPO_HYPERPARAMETERS)],
        fidelity_name="epoch",
        fidelity_values=[1],
        seeds=[0],
        objectives=[Objective("error", "min"), Objective("time", "min", "s")],
        elapsed_time_objective="time",
        values=frame[["error", "time"]].to_numpy()[:, None, None, :],
    )


@pytest.fixture(scope="module")
def tabrepo(shared_data_dir) -> TabularBlackbox:
    return tabrepo_table(shared_data_dir)


def grid_tensor(
    surrogate: SurrogateBlackbox, tabular: TabularBlackbox, config_index: int
) -> np.ndarray:
    curves = [
        surrogate.curve(tabular.configuration(config_index), s) for s in range(len(tabular.seeds))
    ]
    return np.stack([[c[f] for f in range(len(tabular.fidelity_values))] for c in curves], axis=1)


# ------------------------------------------------------------------ exactness on the grid
@pytest.mark.parametrize("table", ["lcdb", "tabrepo"])
def test_knn_with_one_neighbour_reproduces_every_recorded_value(table, request):
    tabular = request.getfixturevalue(table)
    assert tabular.n_configurations >= 18
    surrogate = make_surrogate(tabular, "knn", n_neighbors=1)
    for i in range(tabular.n_configurations):
        np.testing.assert_array_equal(grid_tensor(surrogate, tabular, i), tabular.values[i])


def test_knn_reproduces_a_conditional_grid_including_nan_and_inf():
    tabular = make_conditional_blackbox(np.float32)
    surrogate = make_surrogate(tabular)
    for i in range(tabular.n_configurations):
        np.testing.assert_array_equal(grid_tensor(surrogate, tabular, i), tabular.values[i])
    inactive = {"optimizer": "sgd", "layers": 2, "beta1": 0.9}
    with pytest.raises(ConfigNotFoundError, match="beta1"):
        surrogate.lookup(inactive, fidelity=1)


def test_lookup_curve_and_lookup_batch_agree(lcdb):
    surrogate = make_surrogate(lcdb, "knn", n_neighbors=3, weights="distance")
    rng = np.random.default_rng(0)
    configs = [lcdb.configuration(i) for i in rng.integers(0, lcdb.n_configurations, 60)]
    fidelities = lcdb.fidelity_values[rng.integers(0, len(lcdb.fidelity_values), 60)]
    seeds = lcdb.seeds[rng.integers(0, len(lcdb.seeds), 60)]
    batch = surrogate.lookup_batch(configs, fidelities, seeds)
    for row, config, fidelity, seed in zip(batch, configs, fidelities, seeds):
        single = surrogate.lookup(config, fidelity, seed)
        np.testing.assert_array_equal(row, list(single.values()))
        curve = surrogate.curve(config, lcdb.seed_index(seed))
        np.testing.assert_array_equal(curve[lcdb.fidelity_index(fidelity)], row)


# ------------------------------------------------------------------ off the grid
def test_knn_answers_an_off_grid_config_with_its_nearest_recorded_neighbour(tabrepo):
    surrogate = make_surrogate(tabrepo)
    query = {
        "learning_rate": 0.02,
        "num_leaves": 40,
        "feature_fraction": 0.7,
        "min_data_in_leaf": 7,
        "extra_trees": True,
    }

    def scaled(config):  # normalised, log where log-scaled; one category change counts as 1
        return np.array(
            [
                math.log(config["learning_rate"] / 5e-3) / math.log(0.1 / 5e-3),
                math.log(config["num_leaves"] / 16) / math.log(255 / 16),
                (config["feature_fraction"] - 0.4) / 0.6,
                math.log(config["min_data_in_leaf"] / 2) / math.log(60 / 2),
                float(config["extra_trees"]) / math.sqrt(2),
                (1.0 - float(config["extra_trees"])) / math.sqrt(2),
            ]
        )

    distances = [
        np.linalg.norm(scaled(tabrepo.configuration(i)) - scaled(query))
        for i in range(tabrepo.n_configurations)
    ]
    nearest = int(np.argmin(distances))
    assert min(distances) > 0  # really off the grid
    assert surrogate.lookup(query, 1) == tabrepo.lookup(tabrepo.configuration(nearest), 1)
    expected = np.mean([tabrepo.values[i, 0, 0] for i in np.argsort(distances)[:4]], axis=0)
    np.testing.assert_allclose(
        list(make_surrogate(tabrepo, n_neighbors=4).lookup(query, 1).values()), expected
    )


def test_knn_mean_ignores_missing_values(lcdb):
    values = lcdb.values.copy()
    values[0, :, :, 0] = np.nan  # first learner's accuracy not recorded
    holed = TabularBlackbox(
        name="holed",
        configuration_space=lcdb.configuration_space,
        configurations=lcdb.configurations,
        fidelity_name=lcdb.fidelity_name,
        fidelity_values=lcdb.fidelity_values,
        seeds=lcdb.seeds,
        objectives=lcdb.objectives,
        elapsed_time_objective=lcdb.elapsed_time_objective,
        values=values,
    )
    surrogate = SurrogateBlackbox(holed, "knn", n_neighbors=lcdb.n_configurations)
    result = surrogate.lookup(lcdb.configuration(0), fidelity=128, seed=2)
    f = lcdb.fidelity_index(128)
    assert result["valid_accuracy"] == pytest.approx(np.mean(values[1:, f, 2, 0]))
    assert result["train_time"] == pytest.approx(np.mean(values[:, f, 2, 1]))
    assert math.isnan(make_surrogate(holed).lookup(lcdb.configuration(0), 128, 2)["valid_accuracy"])


# ------------------------------------------------------------------ random forest
def test_random_forest_is_deterministic_for_a_seed(tabrepo):
    rng = np.random.default_rng(3)
    queries = [dict(c) for c in tabrepo.configuration_space.sample_configuration(40)]
    fidelities = [1] * len(queries)
    first = make_surrogate(tabrepo, "random_forest", random_state=7).lookup_batch(
        queries, fidelities
    )
    again = make_surrogate(tabrepo, "random_forest", random_state=7).lookup_batch(
        queries, fidelities
    )
    other = make_surrogate(tabrepo, "random_forest", random_state=8).lookup_batch(
        queries, fidelities
    )
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    single = make_surrogate(tabrepo, "random_forest", random_state=7).lookup(
        queries[rng.integers(40)], 1
    )
    assert np.isfinite(list(single.values())).all()


def test_random_forest_predicts_what_its_scikit_learn_forest_predicts(lcdb):
    surrogate = make_surrogate(lcdb, "random_forest", n_estimators=8, random_state=1)
    forest = surrogate.model.estimator
    assert isinstance(forest, RandomForestRegressor) and forest.random_state == 1
    configs = [lcdb.configuration(i) for i in range(lcdb.n_configurations)]
    features = surrogate.encoder.encode_configs(configs)
    standardised = forest.predict(features) * surrogate.model.scale + surrogate.model.mean
    expected = standardised.reshape(len(configs), *lcdb.values.shape[1:])
    e = lcdb.elapsed_time_index
    expected[..., e] = enforce_elapsed_time(expected[..., e], axis=1)
    np.testing.assert_allclose(surrogate._predict(configs), expected, rtol=1e-12, atol=1e-15)


def test_a_user_regressor_is_cloned_and_seeded(tabrepo):
    user = RandomForestRegressor(n_estimators=4)
    surrogate = make_surrogate(tabrepo, user, random_state=5)
    assert surrogate.model.estimator is not user and surrogate.model.estimator.random_state == 5
    assert user.random_state is None and not hasattr(user, "estimators_")


# ------------------------------------------------------------------ elapsed time
def test_elapsed_time_is_the_running_maximum_of_a_decreasing_recorded_time(shared_data_dir):
    # LCDB fit times are per anchor and not monotone; used as elapsed time, the surrogate
    # answers their running maximum
    tabular = lcdb_table(shared_data_dir, elapsed_time_objective="train_time")
    recorded = tabular.values[..., 1]
    assert (np.diff(recorded, axis=1) < 0).any()
    surrogate = make_surrogate(tabular)
    for i in range(tabular.n_configurations):
        tensor = grid_tensor(surrogate, tabular, i)
        np.testing.assert_array_equal(tensor[..., 1], np.maximum.accumulate(recorded[i], axis=0))
        np.testing.assert_array_equal(tensor[..., 0], tabular.values[i, ..., 0])


def test_elapsed_time_of_a_user_regressor_is_non_negative_and_non_decreasing(shared_data_dir):
    tabular = lcdb_table(shared_data_dir, elapsed_time_objective="train_time")
    surrogate = make_surrogate(tabular, LinearRegression())
    configs = [tabular.configuration(i) for i in range(tabular.n_configurations)]
    raw = surrogate.model.predict(surrogate.encoder.encode_configs(configs))[..., 1]
    assert (np.diff(raw, axis=1) < 0).any()
    for i in range(tabular.n_configurations):
        elapsed = grid_tensor(surrogate, tabular, i)[..., 1]
        assert (elapsed >= 0).all() and (np.diff(elapsed, axis=0) >= 0).all()
        np.testing.assert_allclose(elapsed, np.maximum.accumulate(np.maximum(raw[i], 0), axis=0))


def test_enforce_elapsed_time_keeps_nan_and_carries_a_start():
    elapsed = np.array([-1.0, 2.0, np.nan, 1.0, 3.0])
    np.testing.assert_array_equal(enforce_elapsed_time(elapsed), [0.0, 2.0, np.nan, 2.0, 3.0])
    np.testing.assert_array_equal(
        enforce_elapsed_time(elapsed, start=2.5), [2.5, 2.5, np.nan, 2.5, 3.0]
    )


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {
                "learning_rate": 0.01,
                "num_leaves": 32,
                "feature_fraction": 0.5,
                "min_data_in_leaf": 5,
                "extra_trees": True,
                "depth": 3,
            },
            "'depth' is not a hyperparameter",
        ),
        (
            {
                "learning_rate": 0.5,
                "num_leaves": 32,
                "feature_fraction": 0.5,
                "min_data_in_leaf": 5,
                "extra_trees": True,
            },
            r"learning_rate=0.5 is outside \[0.005, 0.1\]",
        ),
        (
            {
                "learning_rate": 0.01,
                "num_leaves": 32.5,
                "feature_fraction": 0.5,
                "min_data_in_leaf": 5,
                "extra_trees": True,
            },
            "num_leaves=32.5 is not an integer",
        ),
        (
            {
                "learning_rate": 0.01,
                "num_leaves": 32,
                "feature_fraction": 0.5,
                "min_data_in_leaf": 5,
                "extra_trees": "yes",
            },
            "extra_trees='yes' is not one of the choices",
        ),
        (
            {
                "learning_rate": 0.01,
                "num_leaves": 32,
                "feature_fraction": "0.5",
                "min_data_in_leaf": 5,
                "extra_trees": True,
            },
            "feature_fraction='0.5' is not a number",
        ),
        (
            {"learning_rate": 0.01, "num_leaves": 32, "feature_fraction": 0.5, "extra_trees": True},
            r"\['min_data_in_leaf'\] have no value",
        ),
        (
            {
                "learning_rate": 0.01,
                "num_leaves": 32,
                "feature_fraction": 0.5,
                "min_data_in_leaf": 5,
                "extra_trees": True,
                "epoch": 1,
            },
            "it is the fidelity",
        ),
    ],
)
def test_configs_outside_the_space_are_rejected_with_the_reason(tabrepo, config, message):
    surrogate = make_surrogate(tabrepo)
    with pytest.raises(ConfigNotFoundError, match=message):
        surrogate.lookup(config, 1)
    with pytest.raises(ConfigNotFoundError, match=message):
        surrogate.curve(config)
    with pytest.raises(ConfigNotFoundError, match=message):
        surrogate.lookup_batch([config], [1])


def test_a_batch_checks_every_config_even_when_an_equal_one_passed(tabrepo):
    surrogate = make_surrogate(tabrepo)
    good = tabrepo.configuration(0)
    assert good["extra_trees"] in (True, False)
    one = {**good, "extra_trees": int(good["extra_trees"])}  # 1 == True, but not a choice
    with pytest.raises(ConfigNotFoundError, match="extra_trees=[01] is not one of the choices"):
        surrogate.lookup_batch([good, good, one], [1, 1, 1])


def test_fidelity_off_the_grid_and_bad_model_arguments_are_rejected(lcdb, tabrepo):
    surrogate = make_surrogate(lcdb)
    with pytest.raises(FidelityNotOnGridError, match="size_train=100"):
        surrogate.lookup(lcdb.configuration(0), 100)
    with pytest.raises(ValueError, match="unknown surrogate model 'svm'"):
        make_surrogate(lcdb, "svm")
    with pytest.raises(ValueError, match="takes n_neighbors and weights"):
        make_surrogate(lcdb, "knn", k=3)
    with pytest.raises(ValueError, match="n_neighbors=19 exceeds the 18"):
        make_surrogate(lcdb, "knn", n_neighbors=19)
    with pytest.raises(ValueError, match="apply to named models only"):
        make_surrogate(lcdb, LinearRegression(), fit_intercept=False)
    with pytest.raises(TypeError, match="fitted on a TabularBlackbox"):
        make_surrogate(make_surrogate(tabrepo))
