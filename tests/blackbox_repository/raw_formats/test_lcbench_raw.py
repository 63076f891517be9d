"""LCBench from a small ``data_2k_lw.zip`` in the published JSON format.

Like the original: a zip holding ``data_2k_lw.json``, an object
``{dataset: {"<config id>": {"config": {...}, "log": {tag: [52 values]}, "results": {...}}}}``
with LCBench's config entries (7 sampled, the rest constant), log tags and results.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import pytest

from blackbox_repository import ConversionError, load_blackbox
from blackbox_repository.recipes.lcbench import RAW_FILE, make_recipe, read_dataset_runs

DATASETS = {"adult": 126025, "Fashion-MNIST": 189908, "higgs": 167200}
N_CONFIGS = 5
N_EPOCHS = 52
SHORT_RUN = ("higgs", 3, 30)  # this run logged only 30 epochs


def sampled_config(d: int, i: int) -> dict:
    return {
        "batch_size": 16 + 31 * i + d,
        "learning_rate": 1e-4 * (i + 1) ** 2,
        "momentum": 0.1 + 0.15 * i,
        "weight_decay": 1e-5 + 0.01 * i,
        "num_layers": 1 + i % 5,
        "max_units": 64 + 100 * i,
        "max_dropout": 0.1 * i + d / 100,
    }


def val_accuracy(d: int, i: int, epoch: int) -> float:
    return 50.0 + d + i + 0.3 * epoch


def run(dataset: str, d: int, i: int) -> dict:
    n = SHORT_RUN[2] if (dataset, i) == SHORT_RUN[:2] else N_EPOCHS
    config = {
        "imputation_strategy": "mean", "learning_rate_scheduler": "cosine_annealing",
        "loss": "cross_entropy_weighted", "network": "shapedmlpnet", "normalization_strategy": "standardize",
        "optimizer": "sgd", "cosine_annealing_T_max": 50, "cosine_annealing_eta_min": 1e-08,
        "activation": "relu", "mlp_shape": "funnel", **sampled_config(d, i),
    }  # fmt: skip
    log = {
        "time": [2.5 * (e + 1) + i for e in range(n)],
        "epoch": list(range(1, n + 1)),
        "Train/loss": [1.0 - e / 100 for e in range(n)],
        "Train/train_accuracy": [60.0 + e / 2 for e in range(n)],
        "Train/val_accuracy": [val_accuracy(d, i, e) for e in range(n)],
        "Train/train_cross_entropy": [0.9 - e / 100 for e in range(n)],
        "Train/val_cross_entropy": [0.8 - e / 100 + i for e in range(n)],
        "Train/train_balanced_accuracy": [0.5 + e / 200 for e in range(n)],
        "Train/val_balanced_accuracy": [0.4 + e / 200 for e in range(n)],
        "Train/test_result": [45.0 + d + e / 2 for e in range(n)],
        "Train/test_cross_entropy": [1.5 - e / 100 for e in range(n)],
        "Train/test_balanced_accuracy": [0.3 + e / 200 for e in range(n)],
        "Train/lr": [0.01] * n,
    }
    if (dataset, i) == ("adult", 2):
        log["Train/val_cross_entropy"][7] = math.nan  # written as the NaN token
    results = {
        "model_parameters": 1000 + i, "final_train_accuracy": 70.0, "final_val_accuracy": log["Train/val_accuracy"][-1],
        "final_test_accuracy": 60.0, "OpenML_task_id": DATASETS[dataset], "test_split": 0.33, "budget": 50,
        "seed": 1, "instances": 1000.0, "classes": 2.0, "features": 14.0,
    }  # fmt: skip
    return {"config": config, "log": log, "results": results}


def write_lcbench_zip(folder: Path) -> Path:
    data = {
        dataset: {str(i): run(dataset, d, i) for i in range(N_CONFIGS)}
        for d, dataset in enumerate(DATASETS)
    }
    archive = folder / "data_2k_lw.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as packed:
        packed.writestr("data_2k_lw.json", json.dumps(data))
    return archive


@pytest.fixture(scope="module")
def lcbench_zip(tmp_path_factory) -> Path:
    return write_lcbench_zip(tmp_path_factory.mktemp("lcbench"))


def test_lcbench_zip_is_downloaded_unpacked_and_converted(
    raw_file_server, lcbench_zip, fresh_cache_dir, offline_raw_data
):
    recipe = make_recipe([raw_file_server.serve_file(RAW_FILE.path, lcbench_zip)])
    bb = load_blackbox(
        "lcbench-Fashion-MNIST",
        recipe=recipe,
        cache_dir=fresh_cache_dir,
        raw_data_dir=offline_raw_data,
    )
    d = list(DATASETS).index("Fashion-MNIST")
    assert bb.n_configurations == N_CONFIGS
    assert sorted(bb.hyperparameter_names) == sorted(sampled_config(0, 0))
    assert bb.fidelity_values.tolist() == list(range(1, N_EPOCHS + 1))
    for i in range(N_CONFIGS):
        assert bb.configuration(i) == pytest.approx(sampled_config(d, i))
        result = bb.lookup(sampled_config(d, i), fidelity=52)
        assert result["val_accuracy"] == pytest.approx(val_accuracy(d, i, 51), rel=1e-6)
        assert result["test_accuracy"] == pytest.approx(45.0 + d + 51 / 2, rel=1e-6)
        assert result["time"] == pytest.approx(2.5 * 52 + i, rel=1e-6)
    assert bb.objective("val_accuracy").mode == "max" and bb.elapsed_time_objective == "time"


def test_nan_tokens_and_short_runs_stay_nan(
    raw_file_server, lcbench_zip, fresh_cache_dir, offline_raw_data
):
    recipe = make_recipe([raw_file_server.serve_file(RAW_FILE.path, lcbench_zip)])
    adult = load_blackbox(
        "lcbench-adult", recipe=recipe, cache_dir=fresh_cache_dir, raw_data_dir=offline_raw_data
    )
    assert math.isnan(adult.lookup(sampled_config(0, 2), fidelity=8)["val_cross_entropy"])
    assert adult.lookup(sampled_config(0, 2), fidelity=9)["val_cross_entropy"] == pytest.approx(
        0.8 - 8 / 100 + 2
    )
    higgs = load_blackbox(
        "lcbench-higgs", recipe=recipe, cache_dir=fresh_cache_dir, raw_data_dir=offline_raw_data
    )
    dataset, i, n = SHORT_RUN
    curve = higgs.curve(sampled_config(2, i))
    assert not math.isnan(curve[n - 1, 0]) and all(math.isnan(v) for v in curve[n:, 0])
    assert raw_file_server.requests == ["/" + RAW_FILE.path]


def test_datasets_are_read_alone_after_one_full_pass(lcbench_zip, tmp_path):
    with zipfile.ZipFile(lcbench_zip) as packed:
        packed.extractall(tmp_path)
    path = tmp_path / "data_2k_lw.json"
    full = json.loads(path.read_text())
    offsets = tmp_path / ".data_2k_lw.json.offsets.json"
    assert json.dumps(read_dataset_runs(path, "higgs")) == json.dumps(full["higgs"])
    assert sorted(json.loads(offsets.read_text())["datasets"]) == sorted(DATASETS)
    for dataset in DATASETS:  # now from the recorded offsets
        assert json.dumps(read_dataset_runs(path, dataset)) == json.dumps(full[dataset])
    with pytest.raises(ConversionError, match="has no dataset 'credit-g'"):
        read_dataset_runs(path, "credit-g")
