"""NAS-Bench-201 (the NATS-Bench topology search space, ``NATS-tss-v1_0-3ffb9``).

NATS-Bench publishes the topology space in two torch-free forms; both are read:

* ``NATS-tss-v1_0-3ffb9-simple.tar`` (the default raw file, NATS-Bench's "fast mode"
  archive): a folder ``NATS-tss-v1_0-3ffb9-simple/`` with ``meta.pickle.pbz2``
  (``meta_archs``) and one ``<index:06d>.pickle.pbz2`` per architecture holding
  ``{"12": ..., "200": ...}``. It is converted one architecture at a time, so memory holds
  one architecture plus the result array.
* ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (the single file Syne Tune converts): one pickle of
  ``meta_archs`` and ``arch2infos[index]``; unpickling it needs well over 12 GB of memory.

Both are bz2-compressed pickles of plain Python data, read with an unpickler that allows
nothing else (the older ``NAS-Bench-201-v1_*.pth`` files need torch and are not supported).
``[index]["200"]`` is the state of NATS-Bench's ``ArchResults`` for the 200-epoch schedule:
``all_results[(dataset, seed)]`` are ``ResultsCount`` states with per-epoch
``train_acc1es``, ``train_times``, ``eval_acc1es``, ``eval_times`` (keys like
``"x-valid@17"``) and ``params``/``flop``/``latency``.

Objectives follow NATS-Bench's own API (``get_more_info``, ``simulate_train_eval``):
``valid_error`` is ``1 - accuracy/100`` on the validation split (``x-valid``; for CIFAR-10
the run trained on the train split, ``cifar10-valid``), ``test_error`` on the test split
(``x-test``; for CIFAR-10 ``ori-test`` of the run trained on train+valid), ``elapsed_time``
the cumulative training plus validation time of the run the validation curve comes from.
Missing runs, seeds and epochs stay NaN (Syne Tune imputes them; see
docs/blackboxes/nasbench201.md).
"""

from __future__ import annotations

import bz2
import functools
import logging
import math
import pickle
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ConfigSpace import CategoricalHyperparameter, ConfigurationSpace

from blackbox_repository.blackbox import Objective
from blackbox_repository.errors import ConversionError
from blackbox_repository.raw_files import archive_suffix, unpacked_dir
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile, Recipe
from blackbox_repository.tabular import TabularBlackbox

logger = logging.getLogger(__name__)

FAMILY = "nasbench201"
SIMPLE_ARCHIVE = RawFile(
    path="nasbench201/NATS-tss-v1_0-3ffb9-simple.tar",
    # NATS-Bench's Google Drive file (linked from D-X-Y/NATS-Bench); no checksum is published.
    url=(
        "https://drive.usercontent.google.com/download"
        "?id=17_saCsj_krKjlCBLOJEpNtzPXArMCqxU&export=download&confirm=t"
    ),
    sha256=None,
)
SINGLE_FILE = RawFile(
    path="nasbench201/NATS-tss-v1_0-3ffb9.pickle.pbz2",
    # NATS-Bench's Google Drive file, as downloaded by Syne Tune; no checksum is published.
    url=(
        "https://drive.usercontent.google.com/download"
        "?id=1vzyK0UVH2D3fTpa1_dSWnp1gvGpAxRul&export=download&confirm=t"
    ),
    sha256=None,
)
RAW_FILE = SIMPLE_ARCHIVE
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
SEEDS = (777, 888, 999)
EPOCHS = 200
SCHEDULE = "200"  # NATS-Bench's key of the 200-epoch training schedule
OPERATIONS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# Cell edges "to<-from" in the order they appear in an architecture string
# "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|" (Syne Tune calls them hp_x0 ... hp_x5).
EDGES = ("1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2")
# blackbox dataset -> (NATS run, eval split) of the validation curve and of the test curve
VALIDATION_RUN = {
    "cifar10": ("cifar10-valid", "x-valid"),
    "cifar100": ("cifar100", "x-valid"),
    "ImageNet16-120": ("ImageNet16-120", "x-valid"),
}
TEST_RUN = {
    "cifar10": ("cifar10", "ori-test"),
    "cifar100": ("cifar100", "x-test"),
    "ImageNet16-120": ("ImageNet16-120", "x-test"),
}
OBJECTIVES = (
    Objective("valid_error", "min"),
    Objective("test_error", "min"),
    Objective("train_error", "min"),
    Objective("elapsed_time", "min", "s"),
    Objective("params", "min", "M"),
    Objective("flops", "min", "MFLOPs"),
    Objective("latency", "min", "s"),
)
# Only plain data may be unpickled; anything else (torch tensors, code) is refused.
ALLOWED_PICKLE_GLOBALS = {
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


def blackbox_name(dataset: str) -> str:
    """``nasbench201-<dataset>`` with NATS-Bench's dataset spelling."""
    return f"{FAMILY}-{dataset}"


class _PlainDataUnpickler(pickle.Unpickler):
    def __init__(self, stream, path: Path) -> None:
        super().__init__(stream)
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise ConversionError(
            f"{self.path} holds a pickled {module}.{name}; only plain Python data is read from "
            "NATS-Bench files. Use NATS-tss-v1_0-3ffb9.pickle.pbz2 (the torch .pth files of "
            "NAS-Bench-201 are not supported)"
        )


def load_nats_pickle(path: Path) -> Any:
    """Unpickle a NATS-Bench ``.pickle.pbz2`` file, allowing plain Python data only."""
    try:
        with bz2.open(path, "rb") as stream:
            return _PlainDataUnpickler(stream, path).load()
    except FileNotFoundError:
        raise ConversionError(f"{path} is missing; the NATS-Bench files are incomplete") from None
    except (OSError, EOFError, pickle.UnpicklingError) as error:
        raise ConversionError(
            f"{path} is not a bz2-compressed NATS-Bench pickle: {error}"
        ) from error


def _require_keys(data: Any, keys: Sequence[str], path: Path) -> dict:
    missing = [k for k in keys if not isinstance(data, dict) or k not in data]
    if missing:
        raise ConversionError(
            f"{path} lacks the NATS-Bench keys {missing}; is it NATS-tss-v1_0-3ffb9?"
        )
    return data


def read_architectures(
    raw_dir: Path, raw_file: RawFile
) -> tuple[list[str], Iterator[Mapping | None]]:
    """The architecture strings and, lazily, each one's 200-epoch results (None if absent).

    Reads the per-architecture archive one file at a time, or the single file at once.
    """
    if archive_suffix(raw_file.path) is None:
        path = Path(raw_dir) / raw_file.path
        data = _require_keys(load_nats_pickle(path), ("meta_archs", "arch2infos"), path)
        results = (
            (data["arch2infos"].get(i) or {}).get(SCHEDULE) for i in range(len(data["meta_archs"]))
        )
        return list(data["meta_archs"]), results
    unpacked = unpacked_dir(Path(raw_dir), raw_file)
    folder = unpacked / unpacked.name  # the archive holds one folder named like itself
    meta_path = folder / "meta.pickle.pbz2"
    meta_archs = list(
        _require_keys(load_nats_pickle(meta_path), ("meta_archs",), meta_path)["meta_archs"]
    )

    def results() -> Iterator[Mapping | None]:
        missing = []
        for index in range(len(meta_archs)):
            path = folder / f"{index:06d}.pickle.pbz2"
            if not path.exists():
                path = folder / f"{index}.pickle.pbz2"  # NATS-Bench accepts both names
            if not path.exists():
                missing.append(index)
                yield None
                continue
            yield (load_nats_pickle(path) or {}).get(SCHEDULE)
        if missing:
            logger.warning(
                "%s has no file for %d architectures (e.g. %s); their values stay NaN",
                raw_file.path,
                len(missing),
                missing[:5],
            )

    return meta_archs, results()


def architecture_operations(arch_str: str) -> list[str]:
    """The 6 edge operations of ``"|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"`` in ``EDGES`` order."""
    operations = []
    for node, node_str in enumerate(arch_str.split("+"), start=1):
        inputs = [x for x in node_str.split("|") if x]
        if [x.partition("~")[2] for x in inputs] != [str(i) for i in range(node)]:
            raise ConversionError(f"architecture string {arch_str!r} is not a NAS-Bench-201 cell")
        operations.extend(x.partition("~")[0] for x in inputs)
    unknown = sorted(set(operations) - set(OPERATIONS))
    if len(operations) != len(EDGES) or unknown:
        raise ConversionError(
            f"architecture string {arch_str!r} is not a NAS-Bench-201 cell (operations {unknown} "
            f"unknown, expected {len(EDGES)} edges of {list(OPERATIONS)})"
        )
    return operations


def configuration_space() -> ConfigurationSpace:
    space = ConfigurationSpace()
    space.add([CategoricalHyperparameter(edge, list(OPERATIONS)) for edge in EDGES])
    return space


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _per_epoch(values: Mapping, keys: Sequence) -> np.ndarray:
    return np.array([_number(values.get(k)) for k in keys], dtype=np.float64)


def _error(accuracies: Mapping, keys: Sequence) -> np.ndarray:
    return 1.0 - _per_epoch(accuracies, keys) / 100.0


def _latency(run: Mapping) -> float:
    latency = run.get("latency")
    if not latency:
        return math.nan
    mean = float(np.mean(latency))
    return mean if mean > 0 else math.nan  # NATS-Bench writes -1 for "not measured"


def _fill_validation_run(row: np.ndarray, run: Mapping, eval_split: str) -> None:
    """Objectives of one (architecture, seed) that come from the validation run."""
    epochs = range(EPOCHS)
    eval_keys = [f"{eval_split}@{e}" for e in epochs]
    row[:, 0] = _error(run.get("eval_acc1es") or {}, eval_keys)
    row[:, 2] = _error(run.get("train_acc1es") or {}, epochs)
    epoch_time = _per_epoch(run.get("train_times") or {}, epochs) + _per_epoch(
        run.get("eval_times") or {}, eval_keys
    )
    row[:, 3] = np.cumsum(epoch_time)
    row[:, 4] = _number(run.get("params"))
    row[:, 5] = _number(run.get("flop"))
    row[:, 6] = _latency(run)


def convert_nasbench201(
    name: str, raw_dir: Path, *, raw_file: RawFile = RAW_FILE
) -> TabularBlackbox:
    """Build ``nasbench201-<dataset>`` from the NATS-Bench topology files below ``raw_dir``."""
    dataset = name.removeprefix(f"{FAMILY}-")
    if dataset not in DATASETS:
        raise ValueError(
            f"unknown NAS-Bench-201 blackbox {name!r}; known: {[blackbox_name(d) for d in DATASETS]}"
        )
    meta_archs, architecture_results = read_architectures(Path(raw_dir), raw_file)
    configurations = pd.DataFrame(
        [architecture_operations(a) for a in meta_archs], columns=list(EDGES), dtype=object
    )
    valid_dataset, valid_split = VALIDATION_RUN[dataset]
    test_dataset, test_split = TEST_RUN[dataset]
    test_keys = [f"{test_split}@{e}" for e in range(EPOCHS)]
    # float32 like the other tabular blackboxes; curves are computed in float64 first
    values = np.full(
        (len(meta_archs), EPOCHS, len(SEEDS), len(OBJECTIVES)), np.nan, dtype=np.float32
    )
    for index, results in enumerate(architecture_results):
        if results is None:
            continue
        if results.get("arch_str", meta_archs[index]) != meta_archs[index]:
            raise ConversionError(
                f"architecture {index} is {meta_archs[index]!r} in meta_archs but "
                f"{results['arch_str']!r} in its results; the NATS-Bench files are inconsistent"
            )
        runs = results.get("all_results") or {}
        for s, seed in enumerate(SEEDS):
            if (run := runs.get((valid_dataset, seed))) is not None:
                _fill_validation_run(values[index, :, s], run, valid_split)
            if (run := runs.get((test_dataset, seed))) is not None:
                values[index, :, s, 1] = _error(run.get("eval_acc1es") or {}, test_keys)
    return TabularBlackbox(
        name=name,
        configuration_space=configuration_space(),
        configurations=configurations,
        fidelity_name="epoch",
        fidelity_values=np.arange(1, EPOCHS + 1),
        seeds=list(SEEDS),
        objectives=OBJECTIVES,
        elapsed_time_objective="elapsed_time",
        values=values,
        description=(
            f"NAS-Bench-201 / NATS-Bench topology space on {dataset}: {len(meta_archs)} cells "
            f"(row = NATS architecture index) x {EPOCHS} epochs x seeds {list(SEEDS)}; "
            f"valid_error on {valid_dataset}/{valid_split}, test_error on {test_dataset}/{test_split}"
        ),
    )


def make_recipe(raw_files: Sequence[RawFile] | None = None) -> Recipe:
    """The NAS-Bench-201 recipe; ``raw_files`` replaces the published file (tests, mirrors).

    Pass ``[SINGLE_FILE]`` to convert from ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` instead of the
    per-architecture archive (same values, far more memory).
    """
    raw_files = tuple(raw_files) if raw_files is not None else (RAW_FILE,)
    if len(raw_files) != 1:
        raise ValueError(
            f"NAS-Bench-201 has one raw file ({SIMPLE_ARCHIVE.path} or {SINGLE_FILE.path}), got {len(raw_files)}"
        )
    return Recipe(
        family=FAMILY,
        benchmark_defaults=(
            BenchmarkDefaults(
                metric="valid_error",
                mode="min",
                elapsed_time_objective="elapsed_time",
                fidelity_name="epoch",
                max_wallclock_time=72_000.0,
            ),
        ),
        names=tuple(blackbox_name(d) for d in DATASETS),
        raw_files=raw_files,
        convert=functools.partial(convert_nasbench201, raw_file=raw_files[0]),
        description="NAS-Bench-201 cell search on CIFAR-10, CIFAR-100 and ImageNet16-120 (NATS-Bench tss)",
        license="MIT (NATS-Bench code); data as published by the NATS-Bench authors",
        citation=(
            "Dong, X. and Yang, Y. NAS-Bench-201: Extending the scope of reproducible neural "
            "architecture search. ICLR 2020. Dong, X. et al. NATS-Bench: Benchmarking NAS "
            "algorithms for architecture topology and size. IEEE TPAMI 2021."
        ),
    )


RECIPES = [make_recipe()]
