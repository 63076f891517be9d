"""SearchSpace: deterministic sampling, candidates without replacement, encoding."""

from __future__ import annotations

import json
import math
import warnings

import ConfigSpace as CS
import numpy as np
import pandas as pd
import pytest

from simulated_backend.schedulers import SearchSpace
from tests.simulated_backend.schedulers.scheduler_drivers import (
    grid_blackbox,
    mixed_configuration_space,
)


@pytest.fixture(scope="module")
def xgboost_space(shared_data_dir) -> CS.ConfigurationSpace:
    """The real, conditional rbv2_xgboost space of YAHPO Gym."""
    path = shared_data_dir / "yahpo" / "rbv2_xgboost" / "config_space.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ConfigSpace.read_and_write import json as cs_json

        return cs_json.read(path.read_text())


def test_sampling_is_deterministic_given_the_rng_and_plain_python():
    space = SearchSpace(mixed_configuration_space())
    first = space.sample(np.random.default_rng(7), 5)
    again = space.sample(np.random.default_rng(7), 5)
    other = space.sample(np.random.default_rng(8), 5)
    assert first == again
    assert first != other
    for config in first:
        assert {type(v) for v in config.values()} <= {int, float, str}
        json.dumps(config)


def test_sampling_does_not_reseed_the_callers_configuration_space():
    configuration_space = mixed_configuration_space()
    configuration_space.seed(1)
    expected = configuration_space.sample_configuration()
    configuration_space.seed(1)
    SearchSpace(configuration_space).sample(np.random.default_rng(0), 3)
    assert configuration_space.sample_configuration() == expected


def test_conditional_space_samples_are_valid(xgboost_space):
    space = SearchSpace(xgboost_space)
    configs = space.sample(np.random.default_rng(3), 60)
    boosters = {c["booster"] for c in configs}
    assert boosters == {"gblinear", "gbtree", "dart"}
    for config in configs:
        CS.Configuration(xgboost_space, values=config)  # raises if invalid
        if config["booster"] == "gblinear":
            assert "eta" not in config and "rate_drop" not in config
        if config["booster"] == "gbtree":
            assert "eta" in config and "rate_drop" not in config


def test_encoding_of_conditional_space_marks_inactive_values_nan(xgboost_space):
    space = SearchSpace(xgboost_space)
    configs = space.sample(np.random.default_rng(4), 40)
    encoded = space.encode(configs)
    eta_column = space.hyperparameter_names.index("eta")
    for config, row in zip(configs, encoded):
        assert math.isnan(row[eta_column]) == ("eta" not in config)
    numeric = [i for i, d in enumerate(space.dimensions) if d.kind == "numeric"]
    values = encoded[:, numeric]
    assert np.nanmin(values) >= 0.0 and np.nanmax(values) <= 1.0


def test_encoding_numeric_log_and_categorical_and_ordinal():
    configuration_space = mixed_configuration_space()
    configuration_space.add(CS.OrdinalHyperparameter("width", [16, 32, 64]))
    space = SearchSpace(configuration_space)
    config = {"x": 0.25, "lr": 1e-3, "layers": 8, "act": "elu", "width": 32}
    row = dict(zip(space.hyperparameter_names, space.encode([config])[0]))
    assert row["x"] == pytest.approx(0.25)
    assert row["lr"] == pytest.approx(1 / 3)  # log10: -3 between -4 and -1
    assert row["layers"] == pytest.approx(1.0)
    assert row["act"] == 2.0  # the index among relu, tanh, elu
    assert row["width"] == pytest.approx(0.5)
    kinds = {d.name: (d.kind, d.cardinality) for d in space.dimensions}
    assert kinds["act"] == ("categorical", 3)
    assert kinds["width"] == ("ordinal", 3)
    assert kinds["x"] == ("numeric", 0)
    assert space.decode(space.encode([config])[0]) == pytest.approx(config)


def test_decode_snaps_integers_and_clips():
    space = SearchSpace(mixed_configuration_space())
    names = space.hyperparameter_names
    vector = np.array([{"x": 1.7, "lr": -0.2, "layers": 0.49, "act": 1.0}[n] for n in names])
    config = space.decode(vector)
    assert config["x"] == 1.0
    assert config["lr"] == pytest.approx(1e-4)
    assert config["layers"] == 4 and isinstance(config["layers"], int)
    assert config["act"] == "tanh"


def test_candidates_are_drawn_without_replacement_until_exhausted():
    blackbox = grid_blackbox(n_configs=10)
    space = SearchSpace.from_blackbox(blackbox)
    assert space.is_finite and space.n_candidates == 10
    rng = np.random.default_rng(0)
    drawn = space.sample(rng, 4) + space.sample(rng, 4)
    assert space.n_remaining == 2 and not space.exhausted
    drawn += space.sample(rng, 5)  # only 2 left
    assert len(drawn) == 10 and space.exhausted
    assert space.sample(rng, 1) == []
    indices = {blackbox.config_index(c) for c in drawn}  # the engine can look them up
    assert indices == set(range(10))


def test_candidate_draws_are_deterministic_and_fresh_copies_are_independent():
    space = SearchSpace.from_blackbox(grid_blackbox(n_configs=12))
    order = space.fresh().sample(np.random.default_rng(5), 12)
    assert space.fresh().sample(np.random.default_rng(5), 12) == order
    assert space.fresh().sample(np.random.default_rng(6), 12) != order
    assert space.n_remaining == 12  # fresh copies never consume the original


def test_candidate_with_inactive_value_leaves_it_out():
    configuration_space = CS.ConfigurationSpace(space={"a": ["x", "y"], "b": (0.0, 1.0)})
    configuration_space.add(
        CS.EqualsCondition(configuration_space["b"], configuration_space["a"], "y")
    )
    candidates = pd.DataFrame({"a": ["x", "y"], "b": [np.nan, 0.5]})
    space = SearchSpace(configuration_space, candidates)
    assert space.candidate(0) == {"a": "x"}
    assert space.candidate(1) == {"a": "y", "b": 0.5}
    encoded = space.candidate_encodings()
    assert math.isnan(encoded[0, 1]) and encoded[1, 1] == 0.5


def test_peek_does_not_draw_and_take_does():
    space = SearchSpace.from_blackbox(grid_blackbox(n_configs=6))
    peeked = space.peek(np.random.default_rng(1), 4)
    assert len(set(peeked.tolist())) == 4 and space.n_remaining == 6
    space.take(int(peeked[0]))
    assert space.n_remaining == 5
    with pytest.raises(ValueError, match="already drawn"):
        space.take(int(peeked[0]))
    assert int(peeked[0]) not in space.peek(np.random.default_rng(2), 10).tolist()


def test_peek_at_does_not_draw_and_was_drawn_tells_what_take_drew():
    space = SearchSpace.from_blackbox(grid_blackbox(n_configs=6))
    peeked = space.peek_at([0.0, 0.5, 0.999])
    assert len(peeked) == 3 and space.n_remaining == 6
    assert not any(space.was_drawn(index) for index in range(6))
    space.take(peeked[0])
    assert space.was_drawn(peeked[0]) and space.n_remaining == 5
    assert peeked[0] not in space.peek_at(np.linspace(0, 0.999, 50).tolist())
    for index in range(6):
        if not space.was_drawn(index):
            space.take(index)
    assert space.peek_at([0.5]) == []


def test_encode_config_is_a_row_of_encode_for_numpy_and_inactive_values():
    space = SearchSpace(mixed_configuration_space())
    configs = space.sample(np.random.default_rng(3), 5)
    configs.append(
        {"x": np.float64(0.25), "lr": 0.01, "layers": np.int64(3), "act": np.str_("elu")}
    )
    configs.append({"x": 0.5, "lr": 0.001, "layers": 2})  # act inactive (left out)
    rows = np.array([space.encode_config(config) for config in configs])
    np.testing.assert_array_equal(rows, space.encode(configs))
    act = space.hyperparameter_names.index("act")
    assert math.isnan(rows[-1, act]) and rows[-2, act] == 2.0  # elu: the third choice
    with pytest.raises(ValueError, match="'gelu' of hyperparameter 'act' is not one of its"):
        space.encode_config({"x": 0.5, "lr": 0.01, "layers": 2, "act": "gelu"})


def test_from_blackbox_restrict_to_grid_false_samples_the_configuration_space():
    blackbox = grid_blackbox()
    space = SearchSpace.from_blackbox(blackbox, restrict_to_grid=False)
    assert not space.is_finite and space.n_candidates is None
    assert len(space.sample(np.random.default_rng(0), 3)) == 3


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="ConfigurationSpace"):
        SearchSpace({"x": (0.0, 1.0)})
    with pytest.raises(ValueError, match="missing \\['act', 'layers', 'lr'\\]"):
        SearchSpace(mixed_configuration_space(), pd.DataFrame({"x": [0.1]}))
    space = SearchSpace.from_blackbox(grid_blackbox())
    with pytest.raises(ValueError, match="not one of the 30 candidates"):
        space.index_of({"x": 0.123456789, "act": "relu"})
    with pytest.raises(ValueError, match="not one of its choices"):
        SearchSpace(mixed_configuration_space()).encode(
            [{"x": 0.1, "lr": 0.01, "layers": 2, "act": "sigmoid"}]
        )
    with pytest.raises(
        ValueError, match=r"value 1.5 of hyperparameter 'x' is outside its range \[0.0, 1.0\]"
    ):
        SearchSpace(mixed_configuration_space()).encode(
            [{"x": 1.5, "lr": 0.01, "layers": 2, "act": "elu"}]
        )
    with pytest.raises(ValueError, match="no finite list of candidates"):
        SearchSpace(mixed_configuration_space()).peek(np.random.default_rng(0), 1)
    with pytest.raises(ValueError, match="non-negative integer"):
        space.sample(np.random.default_rng(0), -1)


def test_from_blackbox_of_a_surrogate_samples_its_configuration_space():
    from blackbox_repository.surrogate import make_surrogate

    surrogate = make_surrogate(grid_blackbox(), "knn")
    space = SearchSpace.from_blackbox(surrogate)
    assert not space.is_finite
    assert all(0.0 <= c["x"] <= 1.0 for c in space.sample(np.random.default_rng(0), 5))
    with pytest.raises(ValueError, match="restrict_to_grid=True needs a tabular blackbox"):
        SearchSpace.from_blackbox(surrogate, restrict_to_grid=True)


def test_encode_config_without_numeric_hyperparameters_matches_encode_value():
    # categorical, ordinal and constant only: the one-lookup path; inactive, numpy and
    # foreign values fall back to encode_value (same floats, same errors)
    configuration_space = CS.ConfigurationSpace(space={"op": ["none", "conv", "pool"]})
    configuration_space.add(CS.OrdinalHyperparameter("width", [8, 16, 32]))
    configuration_space.add(CS.Constant("bias", "yes"))
    space = SearchSpace(configuration_space)
    configs = [
        {"op": "pool", "width": 32, "bias": "yes"},
        {"op": "conv", "width": 8},  # bias inactive (left out)
        {"op": np.str_("none"), "width": np.int64(16), "bias": "yes"},
    ]
    rows = np.array([space.encode_config(config) for config in configs])
    np.testing.assert_array_equal(rows, space.encode(configs))
    encoded = dict(zip(space.hyperparameter_names, rows[0].tolist()))
    assert encoded == {"op": 2.0, "width": 1.0, "bias": 0.0}  # ordinal: 32 is 2 / (3 - 1)
    assert math.isnan(rows[1, space.hyperparameter_names.index("bias")])
    with pytest.raises(ValueError, match="'gelu' of hyperparameter 'op' is not one of its"):
        space.encode_config({"op": "gelu", "width": 8, "bias": "yes"})


@pytest.mark.parametrize("n_configs", [7, 300])
def test_draw_indices_in_one_call_equals_draw_index_one_at_a_time(n_configs):
    space = SearchSpace.from_blackbox(grid_blackbox(n_configs=n_configs))
    batched, one_by_one = space.fresh(), space.fresh()
    batched.take(3)
    one_by_one.take(3)
    rng = np.random.default_rng(n_configs)
    while not batched.exhausted:
        uniforms = rng.random(int(rng.integers(1, 40))).tolist()
        uniforms[0] = math.nextafter(1.0, 0.0)  # the largest uniform below 1: the last position
        drawn = batched.draw_indices(uniforms)
        # draw_indices takes uniforms from the end and returns the last drawn first
        expected = []
        for uniform in reversed(uniforms):
            index = one_by_one.draw_index(uniform)
            if index is None:
                break
            expected.append(index)
        assert drawn == expected[::-1]
        assert batched.n_remaining == one_by_one.n_remaining
        assert all(batched.was_drawn(index) for index in drawn)
    assert batched.draw_indices([0.5]) == [] and one_by_one.draw_index(0.5) is None
    with pytest.raises(ValueError, match="already drawn"):
        batched.take(3)
