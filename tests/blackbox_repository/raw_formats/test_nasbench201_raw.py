"""NAS-Bench-201 from small files in the two published NATS-Bench forms, served over HTTP.

For 8 architectures instead of 15,625, with NATS-Bench's ``ArchResults``/``ResultsCount``
states (OrderedDict curves, ``"x-valid@e"`` keys, the runs cifar10-valid, cifar10, cifar100
and ImageNet16-120 with seeds 777/888/999), bz2-compressed pickles (protocol 4) as written by
NATS-Bench's ``pickle_save``:

* ``NATS-tss-v1_0-3ffb9-simple.tar``: ``NATS-tss-v1_0-3ffb9-simple/meta.pickle.pbz2`` and
  ``<index:06d>.pickle.pbz2`` holding ``{"12": ..., "200": ...}`` per architecture;
* ``NATS-tss-v1_0-3ffb9.pickle.pbz2``: ``meta_archs`` and ``arch2infos[index]`` in one file.
"""

from __future__ import annotations

import bz2
import datetime
import functools
import hashlib
import logging
import math
import pickle
import tarfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from blackbox_repository import ConversionError, load_blackbox
from blackbox_repository.recipes import RawFile
from blackbox_repository.recipes.nasbench201 import EDGES, SIMPLE_ARCHIVE, SINGLE_FILE, make_recipe

ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|none~0|+|skip_connect~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|",
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|",
    "|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|none~0|skip_connect~1|nor_conv_1x1~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|skip_connect~0|+|none~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|none~2|",
]
EVAL_SPLITS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
SPLIT_OFFSET = {"x-valid": 0.0, "x-test": 1.0, "ori-test": 2.0}
DATASET_OFFSET = {"cifar10-valid": 0.0, "cifar10": 3.0, "cifar100": 10.0, "ImageNet16-120": 20.0}
MISSING_SEED = (3, 999)  # architecture 3 was trained with two seeds only
MISSING_EPOCH = (5, 777, 150)  # architecture 5, seed 777: no x-valid result at epoch index 150


def accuracy(index: int, dataset: str, split: str, seed: int, epoch: int) -> float:
    """The accuracy in percent written for (architecture, run, split, seed, epoch index)."""
    return (
        30.0
        + DATASET_OFFSET[dataset]
        + SPLIT_OFFSET[split]
        + index
        + (seed - 777) / 1000
        + 0.1 * epoch
    )


def train_accuracy(index: int, dataset: str, seed: int, epoch: int) -> float:
    return 40.0 + DATASET_OFFSET[dataset] + index + (seed - 777) / 1000 + 0.05 * epoch


def train_time(index: int, dataset: str, epoch: int) -> float:
    return 10.0 + index + DATASET_OFFSET[dataset] + (epoch % 3) * 0.5


def eval_time(index: int, split: str) -> float:
    return 1.0 + index / 10 + SPLIT_OFFSET[split]


def results_count(index: int, dataset: str, seed: int, epochs: int) -> dict:
    """The state of NATS-Bench's ResultsCount for one run."""
    splits = EVAL_SPLITS[dataset]
    acc, times, losses = {}, {}, {}
    for split in splits:
        for e in range(epochs):
            if (
                (index, seed, e) == MISSING_EPOCH
                and dataset == "cifar10-valid"
                and split == "x-valid"
            ):
                continue
            acc[f"{split}@{e}"] = accuracy(index, dataset, split, seed, e)
            times[f"{split}@{e}"] = eval_time(index, split)
            losses[f"{split}@{e}"] = 2.0 - e / epochs
    return {
        "name": dataset,
        "net_state_dict": None,
        "train_acc1es": OrderedDict(
            (e, train_accuracy(index, dataset, seed, e)) for e in range(epochs)
        ),
        "train_acc5es": OrderedDict((e, 99.0) for e in range(epochs)),
        "train_losses": OrderedDict((e, 1.0 - e / (2 * epochs)) for e in range(epochs)),
        "train_times": OrderedDict((e, train_time(index, dataset, e)) for e in range(epochs)),
        "arch_config": {
            "name": "infer.tiny",
            "C": 16,
            "N": 5,
            "arch_str": ARCHS[index],
            "class_num": 10,
        },
        "params": 0.1 + index / 100,
        "flop": 10.0 + index,
        "seed": seed,
        "epochs": epochs,
        "latency": [0.01 + index / 1000, 0.01 + index / 1000],
        "eval_names": list(splits),
        "eval_acc1es": acc,
        "eval_times": times,
        "eval_losses": losses,
    }


def arch_results(index: int, epochs: int) -> dict:
    """The state of NATS-Bench's ArchResults for one architecture and schedule."""
    all_results, dataset_seed = {}, {}
    for dataset in EVAL_SPLITS:
        seeds = [s for s in (777, 888, 999) if (index, s) != MISSING_SEED]
        dataset_seed[dataset] = seeds
        for seed in seeds:
            all_results[(dataset, seed)] = results_count(index, dataset, seed, epochs)
    return {
        "arch_index": index,
        "arch_str": ARCHS[index],
        "all_results": all_results,
        "dataset_seed": dataset_seed,
        "clear_net_done": True,
    }


def pickle_save(data, path: Path) -> None:
    """NATS-Bench's ``pickle_save``: a bz2-compressed pickle, protocol 4."""
    with bz2.BZ2File(path, "wb") as stream:
        pickle.dump(data, stream, protocol=4)


@functools.cache
def all_results(index: int) -> dict:
    return {"12": arch_results(index, 12), "200": arch_results(index, 200)}


def write_single_file(folder: Path) -> Path:
    path = folder / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    data = {
        "meta_archs": list(ARCHS),
        "arch2infos": {i: all_results(i) for i in range(len(ARCHS))},
        "evaluated_indexes": set(range(len(ARCHS))),
        "total_archs": len(ARCHS),
    }
    pickle_save(data, path)
    return path


def write_simple_archive(folder: Path) -> Path:
    simple = folder / "NATS-tss-v1_0-3ffb9-simple"
    simple.mkdir()
    pickle_save({"meta_archs": list(ARCHS)}, simple / "meta.pickle.pbz2")
    for i in range(len(ARCHS)):
        pickle_save(all_results(i), simple / f"{i:06d}.pickle.pbz2")
    archive = folder / "NATS-tss-v1_0-3ffb9-simple.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(simple, arcname=simple.name)
    return archive


@pytest.fixture(scope="module")
def nats_files(tmp_path_factory) -> dict[str, Path]:
    """The two published forms, keyed by their RawFile path."""
    folder = tmp_path_factory.mktemp("nats")
    return {
        SINGLE_FILE.path: write_single_file(folder),
        SIMPLE_ARCHIVE.path: write_simple_archive(folder),
    }


def served_recipe(server, nats_files, raw_file_path=SIMPLE_ARCHIVE.path):
    url = server.serve(raw_file_path, nats_files[raw_file_path].read_bytes())
    return make_recipe([RawFile(path=raw_file_path, url=url, sha256=None)])


@pytest.mark.parametrize("raw_file_path", [SIMPLE_ARCHIVE.path, SINGLE_FILE.path])
def test_cifar10_is_downloaded_trusted_on_first_use_and_converted(
    raw_file_server, nats_files, fresh_cache_dir, offline_raw_data, caplog, raw_file_path
):
    recipe = served_recipe(raw_file_server, nats_files, raw_file_path)
    with caplog.at_level(logging.WARNING):
        bb = load_blackbox(
            "nasbench201-cifar10",
            recipe=recipe,
            cache_dir=fresh_cache_dir,
            raw_data_dir=offline_raw_data,
        )
    record = fresh_cache_dir / "raw" / f"{raw_file_path}.sha256"
    assert (
        record.read_text().split()[0]
        == hashlib.sha256(nats_files[raw_file_path].read_bytes()).hexdigest()
    )
    assert "no published sha256" in caplog.text
    assert bb.n_configurations == len(ARCHS)
    assert bb.fidelity_values.tolist() == list(range(1, 201))
    assert bb.seeds.tolist() == [777, 888, 999]
    assert bb.configuration(4) == dict(
        zip(
            EDGES,
            [
                "nor_conv_1x1",
                "avg_pool_3x3",
                "nor_conv_3x3",
                "none",
                "skip_connect",
                "nor_conv_1x1",
            ],
        )
    )

    result = bb.lookup(bb.configuration(2), fidelity=10, seed=888)
    # validation from the run on the train split (cifar10-valid), test from train+valid (cifar10)
    assert result["valid_error"] == pytest.approx(
        1 - accuracy(2, "cifar10-valid", "x-valid", 888, 9) / 100, rel=1e-6
    )
    assert result["test_error"] == pytest.approx(
        1 - accuracy(2, "cifar10", "ori-test", 888, 9) / 100, rel=1e-6
    )
    assert result["train_error"] == pytest.approx(
        1 - train_accuracy(2, "cifar10-valid", 888, 9) / 100, rel=1e-6
    )
    expected_time = sum(
        train_time(2, "cifar10-valid", e) + eval_time(2, "x-valid") for e in range(10)
    )
    assert result["elapsed_time"] == pytest.approx(expected_time, rel=1e-6)
    assert result["params"] == pytest.approx(0.12, rel=1e-6)
    assert result["flops"] == pytest.approx(12.0)
    assert result["latency"] == pytest.approx(0.012, rel=1e-6)


def test_missing_seeds_and_epochs_stay_nan(
    raw_file_server, nats_files, fresh_cache_dir, offline_raw_data
):
    recipe = served_recipe(raw_file_server, nats_files)
    bb = load_blackbox(
        "nasbench201-cifar10",
        recipe=recipe,
        cache_dir=fresh_cache_dir,
        raw_data_dir=offline_raw_data,
    )
    arch, seed = MISSING_SEED
    assert np.isnan(bb.curve_by_index(arch, bb.seed_index(seed))).all()
    arch, seed, epoch = MISSING_EPOCH
    curve = bb.curve_by_index(arch, bb.seed_index(seed))
    valid, elapsed = bb.objective_index("valid_error"), bb.objective_index("elapsed_time")
    assert math.isnan(curve[epoch, valid]) and not math.isnan(curve[epoch - 1, valid])
    # elapsed time includes the validation time of every epoch, so it is unknown from there on
    assert np.isnan(curve[epoch:, elapsed]).all() and not np.isnan(curve[:epoch, elapsed]).any()
    assert not math.isnan(curve[epoch + 1, valid])


def test_cifar100_uses_its_own_validation_and_test_splits_and_reuses_the_download(
    raw_file_server, nats_files, fresh_cache_dir, offline_raw_data
):
    recipe = served_recipe(raw_file_server, nats_files)
    for name in ("nasbench201-cifar100", "nasbench201-ImageNet16-120"):
        load_blackbox(name, recipe=recipe, cache_dir=fresh_cache_dir, raw_data_dir=offline_raw_data)
    assert raw_file_server.requests == ["/" + SIMPLE_ARCHIVE.path]
    bb = load_blackbox("nasbench201-cifar100", recipe=recipe, cache_dir=fresh_cache_dir)
    result = bb.lookup(bb.configuration(7), fidelity=200, seed=999)
    assert result["valid_error"] == pytest.approx(
        1 - accuracy(7, "cifar100", "x-valid", 999, 199) / 100, rel=1e-6
    )
    assert result["test_error"] == pytest.approx(
        1 - accuracy(7, "cifar100", "x-test", 999, 199) / 100, rel=1e-6
    )


def test_pickles_with_code_or_tensors_are_refused(
    raw_file_server, tmp_path, fresh_cache_dir, offline_raw_data
):
    path = tmp_path / "evil.pbz2"
    with bz2.BZ2File(path, "wb") as stream:
        pickle.dump(
            {"meta_archs": [], "arch2infos": {}, "when": datetime.date(2020, 8, 31)},
            stream,
            protocol=4,
        )
    url = raw_file_server.serve(SINGLE_FILE.path, path.read_bytes())
    recipe = make_recipe([RawFile(path=SINGLE_FILE.path, url=url, sha256=None)])
    with pytest.raises(ConversionError, match="datetime.date"):
        load_blackbox(
            "nasbench201-cifar10",
            recipe=recipe,
            cache_dir=fresh_cache_dir,
            raw_data_dir=offline_raw_data,
        )
    assert not (fresh_cache_dir / "blackboxes" / "nasbench201-cifar10").exists()


def test_an_architecture_without_file_in_the_archive_stays_nan(
    raw_file_server, nats_files, tmp_path, fresh_cache_dir, offline_raw_data, caplog
):
    with tarfile.open(nats_files[SIMPLE_ARCHIVE.path]) as tar:
        members = [m for m in tar.getmembers() if not m.name.endswith("000006.pickle.pbz2")]
        trimmed = tmp_path / "trimmed.tar"
        with tarfile.open(trimmed, "w") as out:
            for member in members:
                out.addfile(member, tar.extractfile(member) if member.isfile() else None)
    recipe = served_recipe(raw_file_server, {SIMPLE_ARCHIVE.path: trimmed})
    with caplog.at_level(logging.WARNING, logger="blackbox_repository.recipes.nasbench201"):
        bb = load_blackbox(
            "nasbench201-ImageNet16-120",
            recipe=recipe,
            cache_dir=fresh_cache_dir,
            raw_data_dir=offline_raw_data,
        )
    assert np.isnan(bb.values[6]).all() and not np.isnan(bb.values[7]).all()
    assert "no file for 1 architectures (e.g. [6])" in caplog.text
