"""LCDB recipe: learners x training-set sizes x seeds of OpenML dataset 3, checked against the CSV."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from blackbox_repository import (
    ChecksumMismatchError,
    ConfigNotFoundError,
    ConversionError,
    SeedNotFoundError,
    load_blackbox,
)
from blackbox_repository.recipes import find_recipe
from blackbox_repository.recipes.lcdb import RECIPES

NAME = "lcdb-openml3"
RAW_FILE = "lcdb/database-accuracy_openmlid_3.csv"
RECIPE = RECIPES[0]


@pytest.fixture
def lcdb(load_real_blackbox):
    return load_real_blackbox(NAME)


@pytest.fixture
def raw_rows(shared_data_dir):
    with open(shared_data_dir / RAW_FILE, newline="") as stream:
        return list(csv.DictReader(stream))


def test_lcdb_blackbox_has_learners_sizes_and_split_seeds(lcdb, raw_rows):
    learners = sorted({r["learner"] for r in raw_rows})
    sizes = sorted({int(r["size_train"]) for r in raw_rows})
    assert lcdb.values.shape == (len(learners), len(sizes), 125, 5) == (18, 16, 125, 5)
    assert lcdb.hyperparameter_names == ("learner",)
    assert lcdb.configurations["learner"].tolist() == learners
    assert lcdb.fidelity_name == "train_size"
    assert lcdb.fidelity_values.tolist() == sizes
    assert lcdb.seeds.tolist() == [100 * outer + inner for outer in range(5) for inner in range(25)]
    modes = {o.name: o.mode for o in lcdb.objectives}
    assert modes == {
        "train_accuracy": "max",
        "valid_accuracy": "max",
        "test_accuracy": "max",
        "train_time": "min",
        "elapsed_time": "min",
    }


@pytest.mark.parametrize("row_index", [0, 1234, 20_000, 35_999])
def test_lcdb_values_match_the_raw_rows(lcdb, raw_rows, row_index):
    row = raw_rows[row_index]
    seed = 100 * int(row["outer_seed"]) + int(row["inner_seed"])
    size = int(row["size_train"])
    result = lcdb.lookup({"learner": row["learner"]}, fidelity=size, seed=seed)
    assert result["train_accuracy"] == float(row["score_train"])
    assert result["valid_accuracy"] == float(row["score_valid"])
    assert result["test_accuracy"] == float(row["score_test"])
    assert result["train_time"] == float(row["traintime"])
    same_run = [
        r
        for r in raw_rows
        if r["learner"] == row["learner"]
        and r["outer_seed"] == row["outer_seed"]
        and r["inner_seed"] == row["inner_seed"]
        and int(r["size_train"]) <= size
    ]
    assert result["elapsed_time"] == pytest.approx(
        sum(float(r["traintime"]) for r in same_run), abs=1e-12
    )


def test_lcdb_name_is_provided_and_its_url_names_the_source_package():
    assert find_recipe(NAME) is RECIPE
    (raw_file,) = RECIPE.raw_files_for(NAME)
    assert raw_file.path == RAW_FILE
    assert raw_file.url.endswith("lcdb-0.1.0.tar.gz")


def test_lcdb_unknown_learner_and_seed_are_rejected(lcdb):
    with pytest.raises(ConfigNotFoundError):
        lcdb.lookup({"learner": "sklearn.svm.LinearSVC"}, fidelity=16)
    with pytest.raises(SeedNotFoundError):
        lcdb.lookup({"learner": "SVC_linear"}, fidelity=16, seed=25)


def test_lcdb_accepts_the_full_table_and_keeps_only_dataset_3(copy_raw_files, lcdb):
    raw_dir = copy_raw_files(RECIPE, NAME)
    path = raw_dir / RAW_FILE
    lines = path.read_text().splitlines()
    other_dataset = [line.replace("3,", "6,", 1) for line in lines[1:50]]
    path.write_text("\n".join([lines[0], *other_dataset, *lines[1:]]) + "\n")
    blackbox = RECIPE.convert(NAME, raw_dir)
    np.testing.assert_array_equal(blackbox.values, lcdb.values)


def test_lcdb_non_numeric_score_is_a_conversion_error(copy_raw_files):
    raw_dir = copy_raw_files(RECIPE, NAME)
    path = raw_dir / RAW_FILE
    lines = path.read_text().splitlines()
    fields = lines[7].split(",")
    fields[-1] = "high"
    lines[7] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConversionError, match="'score_test' holds a non-numeric value 'high'"):
        RECIPE.convert(NAME, raw_dir)


def test_lcdb_raw_file_with_a_changed_byte_fails_its_checksum(
    copy_raw_files, flip_one_byte, fresh_cache_dir
):
    raw_dir = copy_raw_files(RECIPE, NAME)
    flip_one_byte(raw_dir / RAW_FILE)
    with pytest.raises(ChecksumMismatchError):
        load_blackbox(NAME, raw_data_dir=raw_dir, cache_dir=fresh_cache_dir)
