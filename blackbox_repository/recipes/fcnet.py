"""FCNet (Klein & Hutter 2019) from ``fcnet_tabular_benchmarks.tar.gz`` (HDF5 files).

The archive holds ``fcnet_tabular_benchmarks/fcnet_<dataset>_data.hdf5`` for four UCI
regression datasets. Each HDF5 file has one group per configuration, named by the
configuration as ``json.dumps(config, sort_keys=True)``, with datasets ``valid_mse``,
``train_mse`` (4 seeds x 100 epochs), ``runtime``, ``n_params`` and ``final_test_error``
(one value per seed). All 62,208 configurations of the grid are recorded.

Objectives follow the original ``tabular_benchmarks.FCNetBenchmark``: ``valid_mse`` per
epoch is the objective, ``elapsed_time`` after epoch ``e`` is ``runtime * e / 100`` (its
linear interpolation of the total training time), ``final_test_error`` and ``n_params``
are per seed, repeated over epochs. Reading HDF5 needs ``h5py`` (extra ``fcnet``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ConfigSpace import CategoricalHyperparameter, ConfigurationSpace, OrdinalHyperparameter

from blackbox_repository.blackbox import Objective
from blackbox_repository.errors import ConversionError
from blackbox_repository.raw_files import unpacked_dir
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile, Recipe
from blackbox_repository.tabular import TabularBlackbox

FAMILY = "fcnet"
RAW_FILE = RawFile(
    path="fcnet/fcnet_tabular_benchmarks.tar.gz",
    # The URL of the original release (automl/nas_benchmarks); no checksum is published.
    url="http://ml4aad.org/wp-content/uploads/2019/01/fcnet_tabular_benchmarks.tar.gz",
    sha256=None,
)
ARCHIVE_FOLDER = "fcnet_tabular_benchmarks"
DATASETS = (
    "protein_structure",
    "naval_propulsion",
    "parkinsons_telemonitoring",
    "slice_localization",
)
EPOCHS = 100
SEEDS = (0, 1, 2, 3)  # the four repetitions, in the order of the HDF5 rows
# The search space of tabular_benchmarks.FCNetBenchmark.get_configuration_space()
ORDINAL_VALUES = {
    "n_units_1": (16, 32, 64, 128, 256, 512),
    "n_units_2": (16, 32, 64, 128, 256, 512),
    "dropout_1": (0.0, 0.3, 0.6),
    "dropout_2": (0.0, 0.3, 0.6),
    "init_lr": (5 * 1e-4, 1e-3, 5 * 1e-3, 1e-2, 5 * 1e-2, 1e-1),
    "batch_size": (8, 16, 32, 64),
}
CATEGORICAL_VALUES = {
    "activation_fn_1": ("tanh", "relu"),
    "activation_fn_2": ("tanh", "relu"),
    "lr_schedule": ("cosine", "const"),
}
OBJECTIVES = (
    Objective("valid_mse", "min"),
    Objective("train_mse", "min"),
    Objective("final_test_error", "min"),
    Objective("n_params", "min"),
    Objective("elapsed_time", "min", "s"),
)
CURVES = ("valid_mse", "train_mse")  # (seeds, epochs) per configuration
PER_SEED = ("final_test_error", "n_params", "runtime")  # (seeds,) per configuration


def blackbox_name(dataset: str) -> str:
    """``fcnet-<dataset>`` with the original dataset names."""
    return f"{FAMILY}-{dataset}"


def configuration_space() -> ConfigurationSpace:
    space = ConfigurationSpace()
    space.add([OrdinalHyperparameter(n, list(v)) for n, v in ORDINAL_VALUES.items()])
    space.add([CategoricalHyperparameter(n, list(v)) for n, v in CATEGORICAL_VALUES.items()])
    return space


def _import_h5py():
    try:
        import h5py
    except ImportError:
        raise ConversionError(
            "the FCNet raw files are HDF5: install h5py (pip install 'simtune[fcnet]')"
        ) from None
    return h5py


def _configuration(key: str, path: Path) -> dict:
    try:
        config = json.loads(key)
    except json.JSONDecodeError:
        raise ConversionError(f"{path}: group {key!r} is not a JSON configuration") from None
    allowed = {**ORDINAL_VALUES, **CATEGORICAL_VALUES}
    if not isinstance(config, dict) or set(config) != set(allowed):
        raise ConversionError(f"{path}: group {key!r} does not name the 9 FCNet hyperparameters")
    for name, value in config.items():
        if value not in allowed[name]:
            raise ConversionError(
                f"{path}: group {key!r} has {name}={value!r}, not one of {allowed[name]}"
            )
    return config


def _read(
    h5py, group_id, group_name: str, name: str, shape: tuple[int, ...], path: Path
) -> np.ndarray:
    # h5py's low-level API: its high-level objects cost ~2 ms per configuration, this ~0.5 ms
    try:
        dataset = h5py.h5d.open(group_id, name.encode())
    except KeyError:
        raise ConversionError(f"{path}: group {group_name!r} has no dataset {name!r}") from None
    if dataset.shape != shape:
        raise ConversionError(
            f"{path}: {group_name}/{name} has shape {dataset.shape}, expected {shape}"
        )
    array = np.empty(shape, dtype=np.float64)
    dataset.read(h5py.h5s.ALL, h5py.h5s.ALL, array)
    return array


def read_fcnet_file(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Configurations and ``values[config, epoch, seed, objective]`` of one HDF5 file."""
    h5py = _import_h5py()
    n_seeds = len(SEEDS)
    curve, per_seed = (n_seeds, EPOCHS), (n_seeds,)
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ConversionError(f"{path} is not an HDF5 file: {error}") from error
    with file:
        keys = list(file.keys())
        configurations = pd.DataFrame([_configuration(k, path) for k in keys])
        values = np.empty((len(keys), EPOCHS, n_seeds, len(OBJECTIVES)), dtype=np.float32)
        epochs_fraction = np.arange(1, EPOCHS + 1, dtype=np.float64)[:, None] / EPOCHS
        for i, key in enumerate(keys):
            group = h5py.h5g.open(file.id, key.encode())
            values[i, :, :, 0] = _read(h5py, group, key, "valid_mse", curve, path).T
            values[i, :, :, 1] = _read(h5py, group, key, "train_mse", curve, path).T
            values[i, :, :, 2] = _read(h5py, group, key, "final_test_error", per_seed, path)
            values[i, :, :, 3] = _read(h5py, group, key, "n_params", per_seed, path)
            runtime = _read(h5py, group, key, "runtime", per_seed, path)
            values[i, :, :, 4] = epochs_fraction * runtime
    return configurations, values


def convert_fcnet(name: str, raw_dir: Path, *, raw_file: RawFile = RAW_FILE) -> TabularBlackbox:
    """Build ``fcnet-<dataset>`` from the unpacked FCNet archive below ``raw_dir``."""
    dataset = name.removeprefix(f"{FAMILY}-")
    if dataset not in DATASETS:
        raise ValueError(
            f"unknown FCNet blackbox {name!r}; known: {[blackbox_name(d) for d in DATASETS]}"
        )
    path = unpacked_dir(Path(raw_dir), raw_file) / ARCHIVE_FOLDER / f"fcnet_{dataset}_data.hdf5"
    if not path.exists():
        raise ConversionError(
            f"{path} is missing: the archive {raw_file.path} does not hold the FCNet files"
        )
    configurations, values = read_fcnet_file(path)
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
            f"FCNet on {dataset}: 2-layer MLP, {len(configurations)} configurations x {EPOCHS} "
            f"epochs x {len(SEEDS)} seeds; elapsed_time = runtime * epoch / {EPOCHS} as in the original"
        ),
    )


def make_recipe(raw_files: Sequence[RawFile] | None = None) -> Recipe:
    """The FCNet recipe; ``raw_files`` replaces the published archive (tests, mirrors)."""
    raw_files = tuple(raw_files) if raw_files is not None else (RAW_FILE,)
    if len(raw_files) != 1:
        raise ValueError(f"FCNet has one raw file ({RAW_FILE.path}), got {len(raw_files)}")
    return Recipe(
        family=FAMILY,
        benchmark_defaults=(
            BenchmarkDefaults(
                metric="valid_mse",
                mode="min",
                elapsed_time_objective="elapsed_time",
                fidelity_name="epoch",
                max_wallclock_time=1_200.0,
            ),
        ),
        names=tuple(blackbox_name(d) for d in DATASETS),
        raw_files=raw_files,
        convert=functools.partial(convert_fcnet, raw_file=raw_files[0]),
        description="FCNet tabular benchmarks: a 2-layer MLP on 4 UCI regression datasets",
        license="as published with automl/nas_benchmarks (BSD-3-Clause code)",
        citation=(
            "Klein, A. and Hutter, F. Tabular benchmarks for joint architecture and "
            "hyperparameter optimization. arXiv:1905.04970, 2019."
        ),
        extras=("fcnet",),
    )


RECIPES = [make_recipe()]
