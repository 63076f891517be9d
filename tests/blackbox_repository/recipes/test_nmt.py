"""NMT HPO recipe: NMTHPO tables plus NMTLC perplexity curves, checked against the raw files."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from blackbox_repository import (
    ChecksumMismatchError,
    ConfigNotFoundError,
    ConversionError,
    load_blackbox,
)
from blackbox_repository.recipes import find_recipe
from blackbox_repository.recipes.nmt import RECIPES, SECONDS_PER_CHECKPOINT

PAIR = "sw-en"
NAME = f"nmt-{PAIR}"
RECIPE = RECIPES[0]
HYPERPARAMETERS = (
    "bpe_symbols",
    "num_layers",
    "num_embed",
    "transformer_feed_forward_num_hidden",
    "transformer_attention_heads",
    "initial_learning_rate",
)


class _NoGlobalsUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"{module}.{name}")


def _raw_lines(path):
    return [[float(field) for field in line.split()] for line in path.read_text().splitlines()]


@pytest.fixture
def nmt(load_real_blackbox):
    return load_real_blackbox(NAME)


@pytest.fixture
def raw_pair(shared_data_dir):
    folder = shared_data_dir / "hpo_nmt" / "datasets"
    return _raw_lines(folder / f"{PAIR}.hyps"), _raw_lines(folder / f"{PAIR}.evals")


@pytest.fixture
def raw_curves(shared_data_dir):
    with open(shared_data_dir / "hpo_nmt" / "lc_datasets" / "nmtlc.pkl", "rb") as stream:
        runs = _NoGlobalsUnpickler(stream).load()
    return [r for r in runs if r["dataset_name"] == "material-sw-en"]


def _config(hyps_line):
    config = dict(zip(HYPERPARAMETERS, hyps_line))
    return {k: (v if k == "initial_learning_rate" else int(v)) for k, v in config.items()}


def test_nmt_blackbox_has_checkpoints_and_objectives_with_modes(nmt, raw_pair):
    hyps, evals = raw_pair
    longest = max(int(e[3]) for e in evals) // 2000
    assert nmt.values.shape == (len(hyps), longest, 1, 7) == (767, 133, 1, 7)
    assert nmt.fidelity_name == "checkpoint"
    assert nmt.fidelity_values.tolist() == list(range(1, longest + 1))
    modes = {o.name: o.mode for o in nmt.objectives}
    assert modes["dev_bleu"] == "max"
    assert modes["dev_perplexity"] == modes["dev_decode_time"] == modes["elapsed_time"] == "min"
    assert nmt.configuration_space["bpe_symbols"].sequence == (1000, 2000, 4000, 8000, 16000, 32000)


@pytest.mark.parametrize("line", [0, 1, 200, 766])
def test_nmt_values_match_the_raw_tables_and_curves(nmt, raw_pair, raw_curves, line):
    hyps, evals = raw_pair
    config = _config(hyps[line])
    bleu, decode_time, best_perplexity, updates, _, n_parameters = evals[line]
    last = int(updates) // 2000
    final = nmt.lookup(config, fidelity=last)
    assert final["dev_bleu"] == bleu
    assert final["dev_decode_time"] == decode_time
    assert final["best_dev_perplexity"] == best_perplexity
    assert final["num_parameters"] == n_parameters
    assert final["elapsed_time"] == last * SECONDS_PER_CHECKPOINT
    (curve,) = [
        r["perplexity_curve"]
        for r in raw_curves
        if r["hyperparams"]["bpe"] * 1000 == config["bpe_symbols"]
        and r["hyperparams"]["num_layers"] == config["num_layers"]
        and r["hyperparams"]["model_size"] == config["num_embed"]
        and r["hyperparams"]["ff_num_hidden"] == config["transformer_feed_forward_num_hidden"]
        and r["hyperparams"]["initial_lr"] == config["initial_learning_rate"]
        and abs(r["perplexity_optimal"] - best_perplexity) < 5e-6
    ]
    recorded = nmt.curve(config)[:last, nmt.objective_index("dev_perplexity")]
    assert recorded.tolist() == curve
    if last > 1:
        assert math.isnan(nmt.lookup(config, fidelity=1)["dev_bleu"])  # final model only
    if last < nmt.max_fidelity:
        after = nmt.lookup(config, fidelity=last + 1)
        assert all(math.isnan(v) for v in after.values()), (
            "no values after the run's last checkpoint"
        )


def test_every_nmt_pair_converts_and_most_configs_have_curves(shared_data_dir):
    assert RECIPE.names == (
        "nmt-zh-en",
        "nmt-ru-en",
        "nmt-ja-en",
        "nmt-en-ja",
        "nmt-sw-en",
        "nmt-so-en",
    )
    n_configs = 0
    for name in RECIPE.names:
        assert find_recipe(name) is RECIPE
        assert {f.path.rsplit("/", 1)[-1] for f in RECIPE.raw_files_for(name)} == {
            f"{name[4:]}.hyps",
            f"{name[4:]}.evals",
            "nmtlc.pkl",
        }
        blackbox = RECIPE.convert(name, shared_data_dir)
        perplexity = blackbox.values[:, :, 0, blackbox.objective_index("dev_perplexity")]
        with_curve = int((~np.isnan(perplexity[:, 0])).sum())
        if name in ("nmt-ru-en", "nmt-ja-en", "nmt-sw-en", "nmt-so-en"):
            assert with_curve == blackbox.n_configurations
        else:
            assert 0 < with_curve < blackbox.n_configurations
        n_configs += blackbox.n_configurations
    assert n_configs == 1983


def test_nmt_config_off_the_grid_is_rejected(nmt, raw_pair):
    config = _config(raw_pair[0][0])
    config["bpe_symbols"] = 3000
    with pytest.raises(ConfigNotFoundError):
        nmt.lookup(config, fidelity=1)


def test_nmt_evals_with_a_missing_field_are_a_conversion_error(copy_raw_files):
    raw_dir = copy_raw_files(RECIPE, NAME)
    path = raw_dir / "hpo_nmt" / "datasets" / f"{PAIR}.evals"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(" ".join(line.split()[:5]) for line in lines) + "\n")
    with pytest.raises(ConversionError, match="5 fields, expected 6"):
        RECIPE.convert(NAME, raw_dir)


def test_nmt_curves_pickle_with_a_global_is_refused(copy_raw_files):
    raw_dir = copy_raw_files(RECIPE, NAME)
    (raw_dir / "hpo_nmt" / "lc_datasets" / "nmtlc.pkl").write_bytes(pickle.dumps([np.float64(1.0)]))
    with pytest.raises(ConversionError, match="refusing to load global"):
        RECIPE.convert(NAME, raw_dir)


def test_nmt_raw_file_with_a_changed_byte_fails_its_checksum(
    copy_raw_files, flip_one_byte, fresh_cache_dir
):
    raw_dir = copy_raw_files(RECIPE, NAME)
    flip_one_byte(raw_dir / "hpo_nmt" / "datasets" / f"{PAIR}.hyps", position=10)
    with pytest.raises(ChecksumMismatchError):
        load_blackbox(NAME, raw_data_dir=raw_dir, cache_dir=fresh_cache_dir)
