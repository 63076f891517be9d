"""PD1 (Wang et al. 2021, HyperBO) from ``pd1.tar.gz``: JSON Lines of init2winit trials.

The archive holds ``pd1/pd1_{matched,unmatched}_phase{0,1}_results.jsonl.gz``; each line
is one trial (one optimizer configuration trained on one task) with ``dataset``,
``model``, ``hps.*`` hyperparameters, and per-evaluation arrays aligned with
``global_step`` (``valid/error_rate``, ``valid/ce_loss``, ``test/error_rate``,
``eval_time``, ...), ``null`` where nothing was measured.

As Syne Tune does, the phase-1 files (matched and unmatched) are used and a task is one
(dataset, model, activation, batch size), named
``<dataset>_<model>[_<activation>]_batch_size_<batch size>``; the 4 tuned
hyperparameters are the learning-rate schedule's initial value, power and decay-steps
factor and ``one_minus_momentum`` (HyperBO tunes ``1 - hps.opt_hparams.momentum`` on a log
scale; Syne Tune stores the momentum itself under that name, see docs/blackboxes/pd1.md).
The fidelity is the real ``global_step`` of each evaluation (Syne Tune numbers the
evaluations 1..L instead); ``elapsed_time`` is the cumulative sum of ``eval_time`` as in
Syne Tune. A configuration recorded twice in a task keeps its first trial (matched
before unmatched).
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ConfigSpace import ConfigurationSpace, UniformFloatHyperparameter

from blackbox_repository.blackbox import Objective
from blackbox_repository.errors import ConversionError
from blackbox_repository.raw_files import unpacked_dir
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile, Recipe
from blackbox_repository.tabular import TabularBlackbox

logger = logging.getLogger(__name__)

FAMILY = "pd1"
RAW_FILE = RawFile(
    path="pd1/pd1.tar.gz",
    # The release linked from google-research/hyperbo; no sha256 is published.
    url="https://storage.googleapis.com/gresearch/pint/pd1.tar.gz",
    sha256=None,
)
ARCHIVE_FOLDER = "pd1"
RESULT_FILES = ("pd1_matched_phase1_results.jsonl.gz", "pd1_unmatched_phase1_results.jsonl.gz")
# (dataset, model, activation or None, batch size) of the phase-1 tasks
TASKS = (
    ("cifar10", "wide_resnet", None, 256),
    ("cifar10", "wide_resnet", None, 2048),
    ("cifar100", "wide_resnet", None, 256),
    ("cifar100", "wide_resnet", None, 2048),
    ("fashion_mnist", "max_pooling_cnn", "relu", 256),
    ("fashion_mnist", "max_pooling_cnn", "relu", 2048),
    ("fashion_mnist", "max_pooling_cnn", "tanh", 256),
    ("fashion_mnist", "max_pooling_cnn", "tanh", 2048),
    ("fashion_mnist", "simple_cnn", None, 256),
    ("fashion_mnist", "simple_cnn", None, 2048),
    ("imagenet", "resnet", None, 256),
    ("imagenet", "resnet", None, 512),
    ("lm1b", "transformer", None, 2048),
    ("mnist", "max_pooling_cnn", "relu", 256),
    ("mnist", "max_pooling_cnn", "relu", 2048),
    ("mnist", "max_pooling_cnn", "tanh", 256),
    ("mnist", "max_pooling_cnn", "tanh", 2048),
    ("mnist", "simple_cnn", None, 256),
    ("mnist", "simple_cnn", None, 2048),
    ("svhn_no_extra", "wide_resnet", None, 256),
    ("svhn_no_extra", "wide_resnet", None, 1024),
    ("translate_wmt", "xformer_translate", None, 64),
    ("uniref50", "transformer", None, 128),
)
# hyperparameter -> (raw column, lower, upper, log) as in HyperBO's PD1 search space
SEARCH_SPACE = {
    "lr_initial_value": ("hps.lr_hparams.initial_value", 1e-5, 10.0, True),
    "lr_power": ("hps.lr_hparams.power", 0.1, 2.0, False),
    "lr_decay_steps_factor": ("hps.lr_hparams.decay_steps_factor", 0.01, 0.99, False),
    "one_minus_momentum": ("hps.opt_hparams.momentum", 1e-3, 1.0, True),
}
# objective -> raw per-evaluation column
CURVE_COLUMNS = {
    "valid_error_rate": "valid/error_rate",
    "valid_ce_loss": "valid/ce_loss",
    "test_error_rate": "test/error_rate",
}
OBJECTIVES = (
    Objective("valid_error_rate", "min"),
    Objective("valid_ce_loss", "min"),
    Objective("test_error_rate", "min"),
    Objective("elapsed_time", "min", "s"),
)


def task_name(dataset: str, model: str, activation: str | None, batch_size: int) -> str:
    """Syne Tune's PD1 task name, e.g. ``mnist_max_pooling_cnn_relu_batch_size_256``."""
    activation_part = f"_{activation}" if activation else ""
    return f"{dataset}_{model}{activation_part}_batch_size_{batch_size}"


def blackbox_name(task: str) -> str:
    return f"{FAMILY}-{task}"


@dataclass(frozen=True)
class Trial:
    """One PD1 trial of a task: its 4 hyperparameters and per-evaluation curves."""

    hyperparameters: tuple[float, ...]
    global_steps: tuple[int, ...]
    curves: dict[str, np.ndarray]  # objective name -> values aligned with global_steps


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _series(record: dict, column: str, length: int) -> np.ndarray:
    values = [_number(v) for v in (record.get(column) or ())][:length]
    return np.array(values + [math.nan] * (length - len(values)), dtype=np.float64)


def _trial(record: dict, source: Path) -> Trial:
    raw = []
    for name, (column, *_) in SEARCH_SPACE.items():
        value = record.get(column)
        if value is None:
            raise ConversionError(f"{source}: trial {record.get('trial_dir')!r} has no {column}")
        raw.append(1.0 - float(value) if name == "one_minus_momentum" else float(value))
    steps = record.get("global_step") or ()
    first = {}
    for position, step in enumerate(steps):
        if step is not None:  # an evaluation without a step cannot be placed on the grid
            first.setdefault(int(step), position)  # a re-evaluated step keeps its first value
    positions = np.array(list(first.values()), dtype=np.int64)
    curves = {o: _series(record, c, len(steps))[positions] for o, c in CURVE_COLUMNS.items()}
    curves["elapsed_time"] = np.cumsum(_series(record, "eval_time", len(steps)))[positions]
    return Trial(tuple(raw), tuple(first), curves)


def _task_of(record: dict) -> str:
    batch_size = record.get("hps.batch_size")
    if isinstance(batch_size, float) and batch_size.is_integer():
        batch_size = int(batch_size)
    return task_name(
        record.get("dataset"), record.get("model"), record.get("hps.activation_fn"), batch_size
    )


def read_task_trials(folder: Path, task: str) -> Iterator[Trial]:
    """The trials of ``task`` in the phase-1 files below ``folder``, matched ones first."""
    for file_name in RESULT_FILES:
        path = folder / file_name
        if not path.exists():
            raise ConversionError(f"{path} is missing: the PD1 archive does not hold {file_name}")
        try:
            with gzip.open(path, "rt") as lines:
                for line in lines:
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    if _task_of(record) == task:
                        yield _trial(record, path)
        except (OSError, EOFError, json.JSONDecodeError) as error:
            raise ConversionError(f"{path} is not gzipped JSON Lines: {error}") from error


def _hyperparameter(name: str, values: np.ndarray) -> UniformFloatHyperparameter:
    _, lower, upper, log = SEARCH_SPACE[name]
    low, high = float(np.min(values)), float(np.max(values))
    if low < lower or high > upper:
        logger.warning(
            "PD1 %s has values in [%s, %s], outside HyperBO's [%s, %s]",
            name,
            low,
            high,
            lower,
            upper,
        )
        lower, upper = min(lower, low), max(upper, high)
    if log and lower <= 0:
        raise ConversionError(
            f"PD1 {name} has a value {lower} <= 0 and cannot be searched on a log scale"
        )
    return UniformFloatHyperparameter(name, lower, upper, log=log)


def convert_pd1(name: str, raw_dir: Path, *, raw_file: RawFile = RAW_FILE) -> TabularBlackbox:
    """Build ``pd1-<task>`` from the unpacked PD1 archive below ``raw_dir``."""
    task = name.removeprefix(f"{FAMILY}-")
    if task not in {task_name(*t) for t in TASKS}:
        raise ValueError(
            f"unknown PD1 blackbox {name!r}; known: {sorted(blackbox_name(task_name(*t)) for t in TASKS)}"
        )
    trials, duplicates = {}, 0
    for trial in read_task_trials(unpacked_dir(Path(raw_dir), raw_file) / ARCHIVE_FOLDER, task):
        if trial.hyperparameters in trials:
            duplicates += 1
        else:
            trials[trial.hyperparameters] = trial
    if not trials:
        raise ConversionError(f"the PD1 phase-1 files hold no trial of task {task!r}")
    steps = np.array(sorted({s for t in trials.values() for s in t.global_steps}), dtype=np.int64)
    if len(steps) == 0:
        raise ConversionError(f"no trial of PD1 task {task!r} has an evaluation with a global_step")
    values = np.full((len(trials), len(steps), 1, len(OBJECTIVES)), np.nan, dtype=np.float32)
    for i, trial in enumerate(trials.values()):
        columns = np.searchsorted(steps, np.array(trial.global_steps, dtype=np.int64))
        for k, objective in enumerate(OBJECTIVES):
            values[i, columns, 0, k] = trial.curves[objective.name]
    hyperparameters = np.array(list(trials), dtype=np.float64)
    configurations = pd.DataFrame(hyperparameters, columns=list(SEARCH_SPACE))
    space = ConfigurationSpace()
    space.add([_hyperparameter(h, configurations[h].to_numpy()) for h in SEARCH_SPACE])
    return TabularBlackbox(
        name=name,
        configuration_space=space,
        configurations=configurations,
        fidelity_name="global_step",
        fidelity_values=steps,
        seeds=[0],
        objectives=OBJECTIVES,
        elapsed_time_objective="elapsed_time",
        values=values,
        description=(
            f"PD1 task {task}: {len(trials)} optimizer configurations (phase 1, matched and "
            f"unmatched; {duplicates} repeated configurations dropped) x {len(steps)} evaluation "
            "steps; elapsed_time is the cumulative eval_time as in Syne Tune"
        ),
    )


def make_recipe(raw_files: Sequence[RawFile] | None = None) -> Recipe:
    """The PD1 recipe; ``raw_files`` replaces the published archive (tests, mirrors)."""
    raw_files = tuple(raw_files) if raw_files is not None else (RAW_FILE,)
    if len(raw_files) != 1:
        raise ValueError(f"PD1 has one raw file ({RAW_FILE.path}), got {len(raw_files)}")
    return Recipe(
        family=FAMILY,
        benchmark_defaults=(
            BenchmarkDefaults(
                metric="valid_error_rate",
                mode="min",
                elapsed_time_objective="elapsed_time",
                fidelity_name="global_step",
                max_wallclock_time=None,
                max_num_results=5000,
            ),
        ),
        names=tuple(blackbox_name(task_name(*t)) for t in TASKS),
        raw_files=raw_files,
        convert=functools.partial(convert_pd1, raw_file=raw_files[0]),
        description="PD1: learning-rate schedule and momentum tuning of 23 deep-learning tasks",
        license="CC-BY-4.0",
        citation=(
            "Wang, Z., Dahl, G. E., Swersky, K., Lee, C., Mariet, Z., Nado, Z., Gilmer, J., "
            "Snoek, J. and Ghahramani, Z. Pre-trained Gaussian processes for Bayesian "
            "optimization. arXiv:2109.08215, 2021."
        ),
    )


RECIPES = [make_recipe()]
