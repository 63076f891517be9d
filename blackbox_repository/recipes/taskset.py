"""TaskSet: learning curves of 1,000 Adam configurations on 12 IMDB text-classification RNNs.

Raw format (DyHPO's copy of the TaskSet curves, one JSON file per task): a list of 1,000
records ``{"hp": {8 hyperparameters}, "train": {"loss": [51 floats]}, "valid": {...},
"test": {...}}``. Diverged runs hold bare ``NaN`` tokens; they stay NaN.

TaskSet records no runtimes. Elapsed time is an assumption: every one of the 51 recorded
steps costs the same :data:`SECONDS_PER_STEP` seconds, for every configuration, so elapsed
time at step ``k`` is ``k * SECONDS_PER_STEP``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from ConfigSpace import ConfigurationSpace, Float

from blackbox_repository.blackbox import Objective
from blackbox_repository.recipes._raw_parsing import (
    RecipeWithOwnFiles,
    check_configurations,
    conversion_error,
    float_list,
    github_raw_url,
    load_json,
)
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile
from blackbox_repository.tabular import TabularBlackbox

FAMILY = "taskset"
REPOSITORY = "machinelearningnuremberg/DyHPO"
COMMIT = "cfba15aecf21e8c312c45d053f1ab6426a9973ce"
REPOSITORY_FOLDER = "data/taskset"

SECONDS_PER_STEP = 60.0
"""Assumed cost of one recorded step (TaskSet has no runtimes; see the module docstring)."""

# blackbox name -> (TaskSet task name, sha256 of its JSON file at COMMIT)
TASKS: dict[str, tuple[str, str]] = {
    "taskset-imdb-lstm128-avg-bs64": (
        "FixedTextRNNClassification_imdb_patch128_LSTM128_avg_bs64",
        "5f5a332e45231a5639d43ff35ffac6bba28836593953a428dc0b508f8d4ea264",
    ),
    "taskset-imdb-lstm128-bs64": (
        "FixedTextRNNClassification_imdb_patch128_LSTM128_bs64",
        "c52d49dfb308cfca66c02f67f89aa880ccb9f04c38ace31e18db1e58898e8c03",
    ),
    "taskset-imdb-lstm128-embed128-bs64": (
        "FixedTextRNNClassification_imdb_patch128_LSTM128_embed128_bs64",
        "cf04eeed0cf4f4950666841756d9988d4d529c8aebd433c0303464cfec5a4e2d",
    ),
    "taskset-imdb-gru128-bs128": (
        "FixedTextRNNClassification_imdb_patch32_GRU128_bs128",
        "3f72bcc5688c429e8b204029afa8a115a1233d304808efbc6290fcc6d530551c",
    ),
    "taskset-imdb-gru64-avg-bs128": (
        "FixedTextRNNClassification_imdb_patch32_GRU64_avg_bs128",
        "d3650db950bf292d52972db69fe3bfd7d2588d68b7b40f5c496977e8ebab11bc",
    ),
    "taskset-imdb-irnn64-relu-avg-bs128": (
        "FixedTextRNNClassification_imdb_patch32_IRNN64_relu_avg_bs128",
        "5ae8c7fbea5f4fa5a63920767be50467bcf1647421d8b64595a5420fc1c4b7b2",
    ),
    "taskset-imdb-irnn64-relu-last-bs128": (
        "FixedTextRNNClassification_imdb_patch32_IRNN64_relu_last_bs128",
        "2e82adc0fed36722e6ef38e4a3ab54d77e8495ce7482f35389000e29da5ac010",
    ),
    "taskset-imdb-lstm128-e128-bs128": (
        "FixedTextRNNClassification_imdb_patch32_LSTM128_E128_bs128",
        "11891b4d02be630145f4ff6537bc77c2d83f517a448f1bd3c181fa67ebc59c07",
    ),
    "taskset-imdb-lstm128-bs128": (
        "FixedTextRNNClassification_imdb_patch32_LSTM128_bs128",
        "08a52b1102b6b010ece9fa5549b2b16b0e782aca3fbd8119b4c0447fa9d72558",
    ),
    "taskset-imdb-vrnn128-tanh-bs128": (
        "FixedTextRNNClassification_imdb_patch32_VRNN128_tanh_bs128",
        "838d8716451d0ce1626450739d68d3e26561f0b5891bd939e07a7bf2e438eb2b",
    ),
    "taskset-imdb-vrnn64-relu-avg-bs128": (
        "FixedTextRNNClassification_imdb_patch32_VRNN64_relu_avg_bs128",
        "e48a689597342aec59c60ed94f58cff5d874bff581642f7f6662fea874b1b1b1",
    ),
    "taskset-imdb-vrnn64-tanh-avg-bs128": (
        "FixedTextRNNClassification_imdb_patch32_VRNN64_tanh_avg_bs128",
        "b81762ce3cc0e56e0146853abc809189a3eff1c756cf7a9c4bdb1f64c79084c5",
    ),
}

HYPERPARAMETERS = (
    "learning_rate",
    "beta1",
    "beta2",
    "epsilon",
    "l1",
    "l2",
    "linear_decay",
    "exponential_decay",
)
SPLITS = ("train", "valid", "test")
OBJECTIVES = (
    Objective("train_loss", "min"),
    Objective("valid_loss", "min"),
    Objective("test_loss", "min"),
    Objective("elapsed_time", "min", "s"),
)


def raw_path(task: str) -> str:
    """Where the JSON of TaskSet ``task`` sits below the raw-data folder."""
    return f"{FAMILY}/{task}.json"


def search_space() -> ConfigurationSpace:
    """TaskSet's "adam8p" space, as the configurations were sampled.

    ``beta1`` and ``beta2`` were sampled as ``1 - x`` with ``x`` log-uniform in [1e-4, 1]
    and [1e-6, 1]; ConfigSpace cannot express that, so they are uniform floats over the
    same ranges here.
    """
    return ConfigurationSpace(
        name="taskset-adam8p",
        space=[
            Float("learning_rate", (1e-8, 10.0), log=True),
            Float("beta1", (0.0, 1.0 - 1e-4)),
            Float("beta2", (0.0, 1.0 - 1e-6)),
            Float("epsilon", (1e-10, 1e3), log=True),
            Float("l1", (1e-8, 10.0), log=True),
            Float("l2", (1e-8, 10.0), log=True),
            Float("linear_decay", (1e-7, 1e-4), log=True),
            Float("exponential_decay", (1e-6, 1e-3), log=True),
        ],
    )


def parse_taskset_json(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Configurations and losses ``(configs, steps, split)`` of one TaskSet JSON file."""
    records = load_json(path)
    if not isinstance(records, list) or not records:
        raise conversion_error(path, "expected a non-empty JSON list of runs")
    hyperparameters: dict[str, list[float]] = {name: [] for name in HYPERPARAMETERS}
    curves: list[list[list[float]]] = []
    n_steps = None
    for position, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("hp"), dict):
            raise conversion_error(path, f"run {position} has no 'hp' object")
        hp = record["hp"]
        if set(hp) != set(HYPERPARAMETERS):
            raise conversion_error(
                path,
                f"run {position} has hyperparameters {sorted(hp)}, expected {sorted(HYPERPARAMETERS)}",
            )
        for name in HYPERPARAMETERS:
            hyperparameters[name].append(
                float_list([hp[name]], path, f"run {position} hp {name}")[0]
            )
        run_curves = []
        for split in SPLITS:
            losses = record.get(split)
            if not isinstance(losses, dict) or "loss" not in losses:
                raise conversion_error(path, f"run {position} has no '{split}': {{'loss': [...]}}")
            curve = float_list(losses["loss"], path, f"run {position} {split} loss")
            if n_steps is None:
                n_steps = len(curve)
            if len(curve) != n_steps or n_steps == 0:
                raise conversion_error(
                    path,
                    f"run {position} {split} loss has {len(curve)} steps, expected {n_steps} like run 0",
                )
            run_curves.append(curve)
        curves.append(run_curves)
    configurations = pd.DataFrame(hyperparameters)
    # (configs, split, steps) -> (configs, steps, split)
    losses = np.asarray(curves, dtype=np.float64).transpose(0, 2, 1)
    return configurations, losses


def convert_taskset(name: str, raw_dir: Path) -> TabularBlackbox:
    """Build the blackbox ``name`` from its TaskSet JSON file below ``raw_dir``."""
    task, _ = TASKS[name]
    path = Path(raw_dir) / raw_path(task)
    configurations, losses = parse_taskset_json(path)
    space = search_space()
    check_configurations(configurations, space, path)
    n_configs, n_steps, _ = losses.shape
    steps = np.arange(1, n_steps + 1)
    values = np.empty((n_configs, n_steps, 1, len(OBJECTIVES)), dtype=np.float64)
    values[:, :, 0, : len(SPLITS)] = losses
    values[:, :, 0, len(SPLITS)] = steps * SECONDS_PER_STEP
    n_nan = int(np.isnan(losses[:, :, 1]).sum())
    return TabularBlackbox(
        name=name,
        configuration_space=space,
        configurations=configurations,
        fidelity_name="step",
        fidelity_values=steps,
        seeds=[0],
        objectives=OBJECTIVES,
        elapsed_time_objective="elapsed_time",
        values=values,
        description=(
            f"TaskSet task {task}: {n_configs} Adam configurations x {n_steps} recorded steps of "
            f"train/valid/test loss, one seed. {n_nan} valid losses are NaN in the original file "
            "(diverged runs) and stay NaN. TaskSet has no runtimes: elapsed time ASSUMES a constant "
            f"{SECONDS_PER_STEP:g} s per step for every configuration."
        ),
    )


def _raw_file(task: str, sha256: str) -> RawFile:
    return RawFile(
        path=raw_path(task),
        url=github_raw_url(REPOSITORY, COMMIT, f"{REPOSITORY_FOLDER}/{task}.json"),
        sha256=sha256,
    )


RECIPES = [
    RecipeWithOwnFiles(
        family=FAMILY,
        benchmark_defaults=(
            BenchmarkDefaults(
                metric="valid_loss",
                mode="min",
                elapsed_time_objective="elapsed_time",
                fidelity_name="step",
                max_wallclock_time=43_200.0,
            ),
        ),
        names=tuple(TASKS),
        raw_files=tuple(_raw_file(task, sha256) for task, sha256 in TASKS.values()),
        convert=convert_taskset,
        description=(
            "TaskSet learning curves of 12 IMDB RNN tasks (1,000 Adam configurations, 51 steps, "
            "one seed), as published with DyHPO. Elapsed time is an assumed constant per step."
        ),
        license="Apache-2.0",
        citation=(
            "Metz, Maheswaranathan, Sun, Freeman, Poole, Sohl-Dickstein: Using a thousand "
            "optimization tasks to learn hyperparameter search strategies, arXiv:2002.11887, 2020. "
            "Wistuba, Kadra, Grabocka: Supervising the Multi-Fidelity Race of Hyperparameter "
            "Configurations (DyHPO), NeurIPS 2022."
        ),
        files_by_name=tuple((name, (raw_path(task),)) for name, (task, _) in TASKS.items()),
    )
]
