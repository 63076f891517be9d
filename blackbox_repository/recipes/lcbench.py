"""LCBench (Zimmer et al. 2021) from ``data_2k_lw.zip`` (or ``data_2k.zip``): one JSON file.

The archive holds ``data_2k_lw.json`` (``data_2k.json``), a JSON object
``{dataset: {config_id: {"config": {...}, "log": {tag: [value per epoch]}, "results": {...}}}}``
for 35 OpenML datasets x 2,000 configurations of an MLP trained with SGD. The searched
hyperparameters are the 7 sampled ones (the other ``config`` entries are constants);
the log holds 52 entries per run, numbered as epochs 1..52 as in Syne Tune and YAHPO Gym.

Objectives keep LCBench's tags and scales: ``val_accuracy`` (``Train/val_accuracy``, in
percent), ``val_cross_entropy``, ``val_balanced_accuracy``, ``test_accuracy``
(``Train/test_result``), ``test_cross_entropy``, ``test_balanced_accuracy`` and ``time``
(the log's cumulative seconds since the start of training, the elapsed time).

The JSON file is about 1 GB. Memory holds its text plus one dataset, never all 35: the
first conversion parses the file once and records where each dataset lies; later ones
read and parse only their dataset (see :func:`read_dataset_runs`).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ConfigSpace import ConfigurationSpace, UniformFloatHyperparameter, UniformIntegerHyperparameter

from blackbox_repository.atomic_files import write_json_atomically
from blackbox_repository.blackbox import Objective
from blackbox_repository.errors import ConversionError
from blackbox_repository.raw_files import unpacked_dir
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile, Recipe
from blackbox_repository.tabular import TabularBlackbox

logger = logging.getLogger(__name__)

FAMILY = "lcbench"
RAW_FILE = RawFile(
    path="lcbench/data_2k_lw.zip",
    # figshare "data_2k_lw.zip" (doi:10.6084/m9.figshare.11662422), as used by Syne Tune and
    # YAHPO Gym. No sha256 is published (figshare lists an md5, see docs/blackboxes/lcbench.md).
    url="https://figshare.com/ndownloader/files/21188598",
    sha256=None,
)
DATASETS = (
    "APSFailure", "Amazon_employee_access", "Australian", "Fashion-MNIST", "KDDCup09_appetency",
    "MiniBooNE", "adult", "airlines", "albert", "bank-marketing", "blood-transfusion-service-center",
    "car", "christine", "cnae-9", "connect-4", "covertype", "credit-g", "dionis", "fabert", "helena",
    "higgs", "jannis", "jasmine", "jungle_chess_2pcs_raw_endgame_complete", "kc1", "kr-vs-kp",
    "mfeat-factors", "nomao", "numerai28.6", "phoneme", "segment", "shuttle", "sylvine", "vehicle",
    "volkert",
)  # fmt: skip
# name -> (kind, lower, upper, log): the sampled hyperparameters as documented by LCBench
SEARCH_SPACE = {
    "batch_size": ("int", 16, 512, True),
    "learning_rate": ("float", 1e-4, 1e-1, True),
    "momentum": ("float", 0.1, 0.99, False),
    "weight_decay": ("float", 1e-5, 1e-1, False),
    "num_layers": ("int", 1, 5, False),
    "max_units": ("int", 64, 1024, True),
    "max_dropout": ("float", 0.0, 1.0, False),
}
# objective -> the LCBench log tag it is read from
LOG_TAGS = {
    "val_accuracy": "Train/val_accuracy",
    "val_cross_entropy": "Train/val_cross_entropy",
    "val_balanced_accuracy": "Train/val_balanced_accuracy",
    "test_accuracy": "Train/test_result",
    "test_cross_entropy": "Train/test_cross_entropy",
    "test_balanced_accuracy": "Train/test_balanced_accuracy",
    "time": "time",
}
OBJECTIVES = (
    Objective("val_accuracy", "max", "%"),
    Objective("val_cross_entropy", "min"),
    Objective("val_balanced_accuracy", "max"),
    Objective("test_accuracy", "max", "%"),
    Objective("test_cross_entropy", "min"),
    Objective("test_balanced_accuracy", "max"),
    Objective("time", "min", "s"),
)
_WHITESPACE = re.compile(r"\s*")


def blackbox_name(dataset: str) -> str:
    """``lcbench-<dataset>`` with LCBench's (OpenML) dataset names."""
    return f"{FAMILY}-{dataset}"


def _offsets_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.offsets.json")


def _scan_top_level(path: Path, key: str) -> tuple[Any, dict[str, list[int]], bool]:
    """One pass over the whole file: the value of ``key``, every entry's span, is it ASCII."""
    text = path.read_text()
    decoder = json.JSONDecoder()
    position = _WHITESPACE.match(text, 0).end()
    if text[position : position + 1] != "{":
        raise ConversionError(f"{path} is not a JSON object")
    position += 1
    wanted, spans = None, {}
    try:
        while True:
            position = _WHITESPACE.match(text, position).end()
            if text[position : position + 1] == "}":
                break
            name, position = decoder.raw_decode(text, position)
            position = _WHITESPACE.match(text, position).end()
            if text[position : position + 1] != ":":
                raise ConversionError(
                    f"{path}: expected ':' after key {name!r} at offset {position}"
                )
            start = _WHITESPACE.match(text, position + 1).end()
            value, position = decoder.raw_decode(text, start)
            spans[name] = [start, position]
            if name == key:
                wanted = value
            position = _WHITESPACE.match(text, position).end()
            if text[position : position + 1] == ",":
                position += 1
    except json.JSONDecodeError as error:
        raise ConversionError(f"{path} is not valid JSON: {error}") from error
    return wanted, spans, text.isascii()


def read_dataset_runs(path: Path, dataset: str) -> Any:
    """``json.load(path)[dataset]`` without holding the other datasets in memory.

    The first call parses the whole file once and records where each dataset's value lies
    (``.<file>.offsets.json`` next to it, when the file is ASCII so that character and byte
    offsets agree); later calls read and parse only that dataset's bytes.
    """
    size = path.stat().st_size
    try:
        index = json.loads(_offsets_path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        index = None
    if index is not None and index.get("size") == size:
        span = index["datasets"].get(dataset)
        if span is None:
            raise ConversionError(
                f"{path} has no dataset {dataset!r}; it has {sorted(index['datasets'])}"
            )
        with open(path, "rb") as stream:
            stream.seek(span[0])
            chunk = stream.read(span[1] - span[0])
        try:
            return json.loads(chunk)
        except json.JSONDecodeError as error:
            raise ConversionError(
                f"{path}: dataset {dataset!r} is not valid JSON: {error}"
            ) from error
    value, spans, is_ascii = _scan_top_level(path, dataset)
    if is_ascii:
        write_json_atomically(_offsets_path(path), {"size": size, "datasets": spans})
    if dataset not in spans:
        raise ConversionError(f"{path} has no dataset {dataset!r}; it has {sorted(spans)}")
    return value


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _hyperparameter(name: str, values: pd.Series):
    kind, lower, upper, log = SEARCH_SPACE[name]
    low, high = values.min(), values.max()
    if low < lower or high > upper:
        logger.warning(
            "LCBench %s has values in [%s, %s], outside the documented [%s, %s]",
            name,
            low,
            high,
            lower,
            upper,
        )
        lower, upper = min(lower, low), max(upper, high)
    if kind == "int":
        return UniformIntegerHyperparameter(name, int(lower), int(upper), log=log)
    return UniformFloatHyperparameter(name, float(lower), float(upper), log=log)


def convert_runs(name: str, runs: dict[str, Any], source: Path) -> TabularBlackbox:
    """Build the blackbox of one dataset from its ``{config_id: run}`` mapping."""
    config_ids = sorted(runs, key=int)
    try:
        configurations = pd.DataFrame(
            [{h: runs[i]["config"][h] for h in SEARCH_SPACE} for i in config_ids]
        )
        logs = [runs[i]["log"] for i in config_ids]
    except KeyError as error:
        raise ConversionError(
            f"{source}: a run of {name} lacks {error}; is this LCBench data?"
        ) from None
    for column, (kind, *_) in SEARCH_SPACE.items():
        configurations[column] = configurations[column].astype(
            np.int64 if kind == "int" else np.float64
        )
    duplicated = configurations.duplicated(keep=False).to_numpy()
    if duplicated.any():
        ids = [config_ids[i] for i in np.flatnonzero(duplicated)[:4]]
        raise ConversionError(
            f"{source}: runs {ids} of {name} have the same configuration; lookups would be ambiguous"
        )
    n_epochs = max(len(log.get(tag) or ()) for log in logs for tag in LOG_TAGS.values())
    values = np.full((len(logs), n_epochs, 1, len(OBJECTIVES)), np.nan, dtype=np.float32)
    for i, log in enumerate(logs):
        for k, objective in enumerate(OBJECTIVES):
            curve = [_number(v) for v in log.get(LOG_TAGS[objective.name]) or ()]
            values[i, : len(curve), 0, k] = curve
    space = ConfigurationSpace()
    space.add([_hyperparameter(h, configurations[h]) for h in SEARCH_SPACE])
    return TabularBlackbox(
        name=name,
        configuration_space=space,
        configurations=configurations,
        fidelity_name="epoch",
        fidelity_values=np.arange(1, n_epochs + 1),
        seeds=[0],
        objectives=OBJECTIVES,
        elapsed_time_objective="time",
        values=values,
        description=(
            f"LCBench {name.removeprefix(FAMILY + '-')}: {len(logs)} MLP configurations x "
            f"{n_epochs} logged epochs, one seed; accuracies in percent as in LCBench"
        ),
    )


def convert_lcbench(name: str, raw_dir: Path, *, raw_file: RawFile = RAW_FILE) -> TabularBlackbox:
    """Build ``lcbench-<dataset>`` from the unpacked LCBench archive below ``raw_dir``."""
    dataset = name.removeprefix(f"{FAMILY}-")
    if dataset not in DATASETS:
        raise ValueError(
            f"unknown LCBench blackbox {name!r}; known: {[blackbox_name(d) for d in DATASETS]}"
        )
    folder = unpacked_dir(Path(raw_dir), raw_file)
    path = folder / f"{folder.name}.json"
    if not path.exists():
        found = sorted(p.name for p in folder.glob("*.json"))
        raise ConversionError(f"{path} is missing from {raw_file.path}; the archive holds {found}")
    return convert_runs(name, read_dataset_runs(path, dataset), path)


def make_recipe(raw_files: Sequence[RawFile] | None = None) -> Recipe:
    """The LCBench recipe; ``raw_files`` replaces the published archive (tests, mirrors)."""
    raw_files = tuple(raw_files) if raw_files is not None else (RAW_FILE,)
    if len(raw_files) != 1:
        raise ValueError(f"LCBench has one raw file ({RAW_FILE.path}), got {len(raw_files)}")
    return Recipe(
        family=FAMILY,
        benchmark_defaults=(
            BenchmarkDefaults(
                metric="val_accuracy",
                mode="max",
                elapsed_time_objective="time",
                fidelity_name="epoch",
                max_wallclock_time=7_200.0,
            ),
        ),
        names=tuple(blackbox_name(d) for d in DATASETS),
        raw_files=raw_files,
        convert=functools.partial(convert_lcbench, raw_file=raw_files[0]),
        description="LCBench: learning curves of 2,000 MLP configurations on 35 OpenML datasets",
        license="Apache-2.0 (figshare data_2k_lw.zip)",
        citation=(
            "Zimmer, L., Lindauer, M. and Hutter, F. Auto-PyTorch Tabular: Multi-fidelity "
            "metalearning for efficient and robust AutoDL. IEEE TPAMI 43(9), 2021."
        ),
    )


RECIPES = [make_recipe()]
