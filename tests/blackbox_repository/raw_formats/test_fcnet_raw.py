"""FCNet from a small ``fcnet_tabular_benchmarks.tar.gz`` in the published HDF5 format.

Like the original archive: a top folder ``fcnet_tabular_benchmarks/`` with one HDF5 file
per dataset, one group per configuration named ``json.dumps(config, sort_keys=True)``,
holding ``valid_loss``/``valid_mse``/``train_loss``/``train_mse`` (4 x 100 float64) and
``runtime``/``n_params``/``final_test_error`` (4 float64).
"""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path

import h5py  # the extra "fcnet"
import numpy as np
import pytest

from blackbox_repository import ConversionError, load_blackbox
from blackbox_repository.recipes.fcnet import DATASETS, RAW_FILE, make_recipe

CONFIGS = [
    {"activation_fn_1": "relu", "activation_fn_2": "tanh", "batch_size": 8, "dropout_1": 0.0, "dropout_2": 0.3,
     "init_lr": 0.0005, "lr_schedule": "cosine", "n_units_1": 16, "n_units_2": 512},
    {"activation_fn_1": "tanh", "activation_fn_2": "tanh", "batch_size": 64, "dropout_1": 0.6, "dropout_2": 0.0,
     "init_lr": 0.1, "lr_schedule": "const", "n_units_1": 512, "n_units_2": 16},
    {"activation_fn_1": "relu", "activation_fn_2": "relu", "batch_size": 32, "dropout_1": 0.3, "dropout_2": 0.6,
     "init_lr": 0.005, "lr_schedule": "cosine", "n_units_1": 128, "n_units_2": 64},
    {"activation_fn_1": "tanh", "activation_fn_2": "relu", "batch_size": 16, "dropout_1": 0.0, "dropout_2": 0.0,
     "init_lr": 0.05, "lr_schedule": "const", "n_units_1": 32, "n_units_2": 256},
]  # fmt: skip
NAN_AT = (2, 1, 40)  # config 2, seed 1, epoch index 40: valid_mse is NaN in the raw file


def valid_mse(dataset_index: int, config_index: int) -> np.ndarray:
    seeds = np.arange(4)[:, None]
    epochs = np.arange(100)[None, :]
    curve = 1.0 + dataset_index + config_index / 10 + seeds / 100 - epochs / 1000
    if config_index == NAN_AT[0]:
        curve[NAN_AT[1], NAN_AT[2]] = np.nan
    return curve


def write_fcnet_archive(folder: Path) -> Path:
    data_dir = folder / "fcnet_tabular_benchmarks"
    data_dir.mkdir(parents=True)
    for d, dataset in enumerate(DATASETS):
        with h5py.File(data_dir / f"fcnet_{dataset}_data.hdf5", "w") as file:
            for c, config in enumerate(CONFIGS):
                group = file.create_group(json.dumps(config, sort_keys=True))
                group["valid_mse"] = valid_mse(d, c)
                group["valid_loss"] = valid_mse(d, c)
                group["train_mse"] = valid_mse(d, c) / 2
                group["train_loss"] = valid_mse(d, c) / 2
                group["runtime"] = np.array([100.0, 110.0, 120.0, 130.0]) + c
                group["n_params"] = np.full(4, 1000.0 * (c + 1))
                group["final_test_error"] = np.array([0.1, 0.2, 0.3, 0.4]) + d
    archive = folder / "fcnet_tabular_benchmarks.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(data_dir, arcname="fcnet_tabular_benchmarks")
    return archive


@pytest.fixture(scope="module")
def fcnet_archive(tmp_path_factory) -> Path:
    return write_fcnet_archive(tmp_path_factory.mktemp("fcnet"))


def test_fcnet_archive_is_downloaded_unpacked_and_converted(
    raw_file_server, fcnet_archive, fresh_cache_dir, offline_raw_data
):
    raw_file = raw_file_server.serve_file(RAW_FILE.path, fcnet_archive)
    recipe = make_recipe([raw_file])
    bb = load_blackbox(
        "fcnet-naval_propulsion",
        recipe=recipe,
        cache_dir=fresh_cache_dir,
        raw_data_dir=offline_raw_data,
    )
    assert bb.n_configurations == len(CONFIGS)
    assert bb.fidelity_values.tolist() == list(range(1, 101)) and bb.seeds.tolist() == [0, 1, 2, 3]
    d = DATASETS.index("naval_propulsion")
    for c, config in enumerate(CONFIGS):
        result = bb.lookup(config, fidelity=25, seed=3)
        assert result["valid_mse"] == pytest.approx(valid_mse(d, c)[3, 24], rel=1e-6)
        assert result["train_mse"] == pytest.approx(valid_mse(d, c)[3, 24] / 2, rel=1e-6)
        assert result["final_test_error"] == pytest.approx(0.4 + d, rel=1e-6)
        assert result["n_params"] == 1000.0 * (c + 1)
        # the original interpolates the total runtime linearly over the 100 epochs
        assert result["elapsed_time"] == pytest.approx((130.0 + c) * 25 / 100, rel=1e-6)
    assert math.isnan(
        bb.lookup(CONFIGS[NAN_AT[0]], fidelity=NAN_AT[2] + 1, seed=NAN_AT[1])["valid_mse"]
    )
    unpacked = (
        fresh_cache_dir / "raw" / "fcnet" / "fcnet_tabular_benchmarks" / "fcnet_tabular_benchmarks"
    )
    assert sorted(p.name for p in unpacked.iterdir()) == sorted(
        f"fcnet_{x}_data.hdf5" for x in DATASETS
    )


def test_second_dataset_reuses_the_unpacked_archive(
    raw_file_server, fcnet_archive, fresh_cache_dir, offline_raw_data
):
    recipe = make_recipe([raw_file_server.serve_file(RAW_FILE.path, fcnet_archive)])
    for name in ("fcnet-protein_structure", "fcnet-slice_localization"):
        bb = load_blackbox(
            name, recipe=recipe, cache_dir=fresh_cache_dir, raw_data_dir=offline_raw_data
        )
    assert raw_file_server.requests == ["/" + RAW_FILE.path]
    d = DATASETS.index("slice_localization")
    assert bb.lookup(CONFIGS[1], fidelity=100, seed=0)["valid_mse"] == pytest.approx(
        valid_mse(d, 1)[0, 99]
    )


def test_a_configuration_outside_the_fcnet_grid_is_a_conversion_error(
    raw_file_server, tmp_path, fresh_cache_dir, offline_raw_data
):
    data_dir = tmp_path / "fcnet_tabular_benchmarks"
    data_dir.mkdir()
    with h5py.File(data_dir / "fcnet_naval_propulsion_data.hdf5", "w") as file:
        file.create_group(json.dumps({**CONFIGS[0], "n_units_1": 17}, sort_keys=True))
    archive = tmp_path / "fcnet.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(data_dir, arcname="fcnet_tabular_benchmarks")
    recipe = make_recipe([raw_file_server.serve_file(RAW_FILE.path, archive)])
    with pytest.raises(ConversionError, match="n_units_1=17"):
        load_blackbox(
            "fcnet-naval_propulsion",
            recipe=recipe,
            cache_dir=fresh_cache_dir,
            raw_data_dir=offline_raw_data,
        )
    assert not (fresh_cache_dir / "blackboxes" / "fcnet-naval_propulsion").exists()
