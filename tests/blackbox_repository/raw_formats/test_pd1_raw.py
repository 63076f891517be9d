"""PD1 from a small ``pd1.tar.gz`` in the published JSON Lines format.

Like the original archive: a top folder ``pd1/`` with the four gzipped JSON Lines files
(matched/unmatched x phase 0/1) plus README and LICENSE; each line is one trial with the
task columns, ``hps.*`` values and per-evaluation arrays aligned with ``global_step``,
``null`` where nothing was measured, including diverged trials.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import tarfile
from pathlib import Path

import numpy as np
import pytest

from blackbox_repository import load_blackbox
from blackbox_repository.recipes.pd1 import RAW_FILE, make_recipe

STEPS = [1000, 2000, 3000, 4000]


def trial(
    dataset,
    model,
    batch_size,
    activation,
    lr,
    momentum,
    *,
    steps=STEPS,
    status="done",
    test=True,
    seed=0,
):
    n = len(steps)
    error = [0.9 - 0.1 * k - lr for k in range(n)]
    return {
        "dataset": dataset, "model": model, "hparams": {}, "model_shape": [], "status": status,
        "trial_dir": f"/trials/{dataset}/{model}/{batch_size}/{lr}/{momentum}/{seed}",
        "study_group": f"{dataset},{model},{batch_size}",
        "hps.batch_size": batch_size, "hps.activation_fn": activation, "hps.optimizer": "nesterov",
        "hps.lr_hparams.initial_value": lr, "hps.lr_hparams.power": 1.5, "hps.lr_hparams.decay_steps_factor": 0.5,
        "hps.lr_hparams.schedule": "polynomial", "hps.lr_hparams.end_factor": 0.01,
        "hps.opt_hparams.momentum": momentum, "hps.rng_seed": seed,
        "epoch": [k + 1 for k in range(n)], "global_step": list(steps),
        "eval_time": [10.0 + k for k in range(n)], "steps_per_sec": [5.0] * n, "preemption_count": [0] * n,
        "learning_rate": [lr] * n, "train_cost": [1.0] * n,
        "train/ce_loss": [2.0 - 0.1 * k for k in range(n)], "train/error_rate": [0.5] * n,
        "valid/ce_loss": [1.5 - 0.1 * k for k in range(n)], "valid/error_rate": error,
        "test/ce_loss": [1.6] * n if test else None, "test/error_rate": [e + 0.01 for e in error] if test else None,
        "best_valid/error_rate": min(error), "best_valid/error_rate_index": n - 1,
    }  # fmt: skip


MNIST = ("mnist", "max_pooling_cnn", 256, "relu")
IMAGENET = ("imagenet", "resnet", 512, None)
MATCHED_PHASE1 = [
    trial(*MNIST, 0.01, 0.9, test=False),
    trial(*MNIST, 0.1, 0.99, test=False),
    trial("mnist", "max_pooling_cnn", 256, "tanh", 0.05, 0.5),  # another task
    trial(*IMAGENET, 0.2, 0.9),
    # diverged: stopped after two evaluations, the second one unmeasured
    {
        **trial(*IMAGENET, 5.0, 0.999, steps=STEPS[:2], status="diverged"),
        "valid/error_rate": [0.95, None],
    },
]
UNMATCHED_PHASE1 = [
    trial(*MNIST, 0.01, 0.9, test=False, seed=1),  # the same configuration again: dropped
    trial(*MNIST, 0.003, 0.0, steps=[1000, 2000, 2500, 3000], test=False),  # evaluated off the grid
]
PHASE0 = [trial("imagenet", "resnet", 1024, None, 0.3, 0.9)]


def write_pd1_archive(folder: Path) -> Path:
    files = {
        "pd1_matched_phase1_results.jsonl.gz": MATCHED_PHASE1,
        "pd1_unmatched_phase1_results.jsonl.gz": UNMATCHED_PHASE1,
        "pd1_matched_phase0_results.jsonl.gz": PHASE0,
        "pd1_unmatched_phase0_results.jsonl.gz": PHASE0,
    }
    archive = folder / "pd1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, records in files.items():
            body = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())
            _add(tar, f"pd1/{name}", body)
        _add(tar, "pd1/README.txt", b"PD1 Neural Net Tuning Dataset\n")
        _add(tar, "pd1/LICENSE", b"CC-BY 4.0\n")
    return archive


def _add(tar: tarfile.TarFile, name: str, body: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(body)
    tar.addfile(info, io.BytesIO(body))


@pytest.fixture(scope="module")
def pd1_archive(tmp_path_factory) -> Path:
    return write_pd1_archive(tmp_path_factory.mktemp("pd1"))


def config(lr: float, momentum: float) -> dict:
    return {
        "lr_initial_value": lr,
        "lr_power": 1.5,
        "lr_decay_steps_factor": 0.5,
        "one_minus_momentum": 1.0 - momentum,
    }


def test_pd1_task_with_activation_is_converted_on_the_global_step_grid(
    raw_file_server, pd1_archive, fresh_cache_dir, offline_raw_data
):
    recipe = make_recipe([raw_file_server.serve_file(RAW_FILE.path, pd1_archive)])
    name = "pd1-mnist_max_pooling_cnn_relu_batch_size_256"
    bb = load_blackbox(
        name, recipe=recipe, cache_dir=fresh_cache_dir, raw_data_dir=offline_raw_data
    )
    assert bb.n_configurations == 3  # 4 trials of the task, one repeated configuration
    assert bb.fidelity_name == "global_step"
    assert bb.fidelity_values.tolist() == [1000, 2000, 2500, 3000, 4000]
    result = bb.lookup(config(0.1, 0.99), fidelity=3000)
    assert result["valid_error_rate"] == pytest.approx(0.9 - 0.2 - 0.1, rel=1e-6)
    assert result["valid_ce_loss"] == pytest.approx(1.3, rel=1e-6)
    assert result["elapsed_time"] == pytest.approx(10 + 11 + 12)  # cumulative eval_time
    assert math.isnan(result["test_error_rate"])  # this task has no test split
    assert math.isnan(bb.lookup(config(0.1, 0.99), fidelity=2500)["valid_error_rate"])
    off_grid = bb.lookup(config(0.003, 0.0), fidelity=2500)
    assert off_grid["valid_error_rate"] == pytest.approx(0.9 - 0.2 - 0.003, rel=1e-6)
    assert math.isnan(bb.lookup(config(0.003, 0.0), fidelity=4000)["valid_error_rate"])
    assert bb.configuration_space["one_minus_momentum"].log


def test_pd1_diverged_trials_keep_what_was_measured(
    raw_file_server, pd1_archive, fresh_cache_dir, offline_raw_data
):
    recipe = make_recipe([raw_file_server.serve_file(RAW_FILE.path, pd1_archive)])
    bb = load_blackbox(
        "pd1-imagenet_resnet_batch_size_512",
        recipe=recipe,
        cache_dir=fresh_cache_dir,
        raw_data_dir=offline_raw_data,
    )
    assert bb.n_configurations == 2 and bb.fidelity_values.tolist() == STEPS
    curve = bb.curve(config(5.0, 0.999))
    valid = bb.objective_index("valid_error_rate")
    assert curve[0, valid] == pytest.approx(0.95) and np.isnan(curve[1:, valid]).all()
    assert curve[1, bb.objective_index("valid_ce_loss")] == pytest.approx(1.4)
    finished = bb.lookup(config(0.2, 0.9), fidelity=4000)
    assert finished["test_error_rate"] == pytest.approx(0.9 - 0.3 - 0.2 + 0.01, rel=1e-6)
    assert raw_file_server.requests == ["/" + RAW_FILE.path]
