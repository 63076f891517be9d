"""The embedded default benchmark: packaged, loadable offline, and what its docs say."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from benchmarking.tabulation.make_default_benchmark import (
    DEFAULT_EPOCHS,
    DEFAULT_N_CONFIGURATIONS,
    DEFAULT_SEEDS,
    EMBEDDED_BENCHMARKS,
    embedded_task,
)
from benchmarking.tabulation.sklearn_objectives import mlp_learning_curve
from blackbox_repository import TabularBlackbox, blackbox_names, load_blackbox
from blackbox_repository.recipes import find_recipe
from blackbox_repository.recipes.embedded import DEFAULT_BLACKBOX, EMBEDDED_NAMES

METRICS = ("valid_error", "valid_logloss", "train_error", "test_error", "elapsed_time")


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> TabularBlackbox:
    """The default benchmark loaded into an empty cache with no raw-data folder."""
    cache_dir = tmp_path_factory.mktemp("fresh-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SIMTUNE_RAW_DATA_DIR", raising=False)
        blackbox = load_blackbox(DEFAULT_BLACKBOX, cache_dir=cache_dir)
    assert (cache_dir / "blackboxes" / DEFAULT_BLACKBOX / "metadata.json").exists()
    return blackbox


def test_default_benchmark_is_registered_and_needs_no_raw_files():
    assert DEFAULT_BLACKBOX == "sklearn-mlp-digits"
    assert set(EMBEDDED_NAMES) <= set(blackbox_names())
    assert find_recipe(DEFAULT_BLACKBOX).raw_files == ()


def test_default_benchmark_loads_on_a_clean_cache(fresh_cache_dir):
    blackbox = load_blackbox("sklearn-mlp-digits", cache_dir=fresh_cache_dir)
    assert isinstance(blackbox, TabularBlackbox)
    assert blackbox.name == "sklearn-mlp-digits"
    assert blackbox.values.shape == (
        DEFAULT_N_CONFIGURATIONS,
        DEFAULT_EPOCHS,
        len(DEFAULT_SEEDS),
        5,
    )


def test_default_benchmark_has_the_documented_shape(digits):
    assert digits.fidelity_name == "epoch"
    assert digits.fidelity_values.tolist() == list(range(1, DEFAULT_EPOCHS + 1))
    assert digits.seeds.tolist() == list(DEFAULT_SEEDS)
    assert digits.objective_names == METRICS
    assert digits.elapsed_time_objective == "elapsed_time"
    assert all(digits.objective(name).mode == "min" for name in METRICS)
    assert set(digits.hyperparameter_names) == {
        "n_layers",
        "n_units",
        "learning_rate_init",
        "alpha",
        "batch_size",
        "activation",
        "solver",
        "momentum",
    }
    assert not np.isnan(digits.values).any()


def test_default_benchmark_values_are_plausible_measurements(digits):
    errors = digits.values[..., :4][..., [0, 2, 3]]
    assert ((errors >= 0) & (errors <= 1)).all()
    elapsed = digits.values[..., digits.elapsed_time_index]
    assert (elapsed > 0).all() and (np.diff(elapsed, axis=1) > 0).all()
    final_valid_error = digits.values[:, -1, :, 0]
    assert final_valid_error.min() < 0.05  # a good MLP classifies held-out digits well
    assert np.median(final_valid_error) < 0.2


def test_default_benchmark_configurations_are_the_documented_sample(digits):
    task = embedded_task(EMBEDDED_BENCHMARKS[DEFAULT_BLACKBOX])
    recorded = [digits.configuration(i) for i in range(digits.n_configurations)]
    assert recorded == list(task.configurations)


def test_default_benchmark_curves_are_reproduced_by_retraining(digits):
    config = digits.configuration(0)
    with threadpool_limits(1):  # the collection ran single-threaded workers
        curve = mlp_learning_curve(config, epochs=range(1, 6), seed=int(digits.seeds[1]))
    recorded = digits.values[0, :5, 1]
    retrained = np.array([[epoch[name] for name in METRICS[:4]] for epoch in curve])
    np.testing.assert_allclose(retrained, recorded[:, :4], rtol=1e-9, atol=1e-12)


def test_make_default_benchmark_writes_a_loadable_entry_and_resumes(tmp_path, capsys):
    from benchmarking.tabulation.make_default_benchmark import main
    from blackbox_repository import read_blackbox

    arguments = ["--dump-dir", str(tmp_path / "dumps"), "--output-dir", str(tmp_path / "out")]
    arguments += ["--n-configurations", "3", "--epochs", "2", "--seeds", "0", "--n-workers", "1"]
    assert main(arguments) == 0
    entry = tmp_path / "out" / DEFAULT_BLACKBOX
    blackbox = read_blackbox(entry)
    assert blackbox.values.shape == (3, 2, 1, 5)
    assert "3 evaluated now" in blackbox.description
    assert main(arguments) == 2  # an existing entry is kept unless --force
    assert "pass --force" in capsys.readouterr().err
    assert main([*arguments, "--force"]) == 0  # every dump is reused: nothing re-evaluated
    assert "3 already done" in read_blackbox(entry).description
    np.testing.assert_array_equal(read_blackbox(entry).values, blackbox.values)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [DEFAULT_BLACKBOX]
