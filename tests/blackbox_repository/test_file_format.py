"""The on-disk format: exact round trips, the documented layout, and clear errors on bad entries."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from ConfigSpace import Configuration

from blackbox_repository import (
    ChecksumMismatchError,
    CorruptBlackboxError,
    Objective,
    TabularBlackbox,
    read_blackbox,
    write_blackbox,
)
from blackbox_repository.entry_metadata import METADATA_CHECKSUM_FIELD, metadata_checksum
from blackbox_repository.file_format import (
    CONFIGURATIONS_FILE,
    FORMAT_VERSION,
    METADATA_FILE,
    OBJECTIVES_FILE,
    sha256_file,
)
from tests.blackbox_repository.conftest import make_conditional_blackbox


@pytest.fixture
def written(tmp_path):
    """A float32 conditional blackbox written to disk: (blackbox, entry folder)."""
    blackbox = make_conditional_blackbox(np.float32)
    return blackbox, write_blackbox(blackbox, tmp_path / "entry")


def _edit_metadata(entry, change) -> None:
    """Edit and re-sign the metadata (as a buggy writer would), so the other checks run."""
    path = entry / METADATA_FILE
    metadata = json.loads(path.read_text())
    change(metadata)
    metadata[METADATA_CHECKSUM_FIELD] = metadata_checksum(metadata)
    path.write_text(json.dumps(metadata))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_exact(tmp_path, dtype):
    blackbox = make_conditional_blackbox(dtype)
    read = read_blackbox(write_blackbox(blackbox, tmp_path / "entry"))

    assert read.values.dtype == np.dtype(dtype)
    assert read.values.shape == blackbox.values.shape
    assert read.values.tobytes() == blackbox.values.tobytes()  # NaN, -0.0, inf, subnormal
    assert np.isnan(read.values[0, 1, 0, 0]) and np.isnan(read.values[1, :, 1, 1]).all()
    assert np.signbit(read.values[2, 0, 0, 0])


def test_round_trip_keeps_metadata(written):
    blackbox, entry = written
    read = read_blackbox(entry)

    assert read.name == blackbox.name
    assert read.description == blackbox.description
    assert read.configuration_space == blackbox.configuration_space
    assert read.fidelity_name == "epoch"
    np.testing.assert_array_equal(read.fidelity_values, blackbox.fidelity_values)
    assert read.seeds.tolist() == [7, 11]
    assert read.objectives == blackbox.objectives
    assert read.objective("elapsed_time") == Objective("elapsed_time", "min", unit="s")
    assert read.elapsed_time_objective == "elapsed_time"


def test_inactive_hyperparameters_stay_inactive(written):
    blackbox, entry = written
    read = read_blackbox(entry)

    assert read.configuration(0) == {"layers": 1, "optimizer": "sgd", "momentum": 0.0}
    assert read.configuration(2) == {"layers": 3, "optimizer": "adam", "beta1": 0.9}
    for index in range(read.n_configurations):
        config = read.configuration(index)
        as_configspace = Configuration(read.configuration_space, values=config)
        expected = blackbox.values[index, 2, 1]
        np.testing.assert_array_equal(read.curve(as_configspace, seed_index=1)[2], expected)
        assert read.config_index(config) == index


def test_layout_matches_the_documented_format(written):
    blackbox, entry = written
    assert sorted(p.name for p in entry.iterdir()) == sorted(
        [METADATA_FILE, CONFIGURATIONS_FILE, OBJECTIVES_FILE]
    )
    metadata = json.loads((entry / METADATA_FILE).read_text())
    assert metadata["format_version"] == FORMAT_VERSION
    assert metadata["kind"] == "tabular"
    assert metadata["values_dtype"] == "float32"
    for file_name in (CONFIGURATIONS_FILE, OBJECTIVES_FILE):
        recorded = metadata["files"][file_name]
        assert recorded["sha256"] == sha256_file(entry / file_name)
        assert recorded["bytes"] == (entry / file_name).stat().st_size

    table = pq.read_table(entry / OBJECTIVES_FILE)
    assert table.column_names == [
        "config_index",
        "fidelity",
        "seed",
        "loss",
        "accuracy",
        "elapsed_time",
    ]
    rows = table.to_pandas()
    n_configs, n_fidelities, n_seeds, _ = blackbox.values.shape
    row = 2 * n_fidelities * n_seeds + 3 * n_seeds + 1  # config 2, fidelity index 3, seed 11
    assert (rows["config_index"][row], rows["fidelity"][row], rows["seed"][row]) == (2, 8, 11)
    assert rows["loss"][row] == blackbox.values[2, 3, 1, 0]


def test_write_refuses_a_folder_that_holds_an_entry(written):
    blackbox, entry = written
    with pytest.raises(FileExistsError, match="already holds a blackbox entry"):
        write_blackbox(blackbox, entry)


def test_objective_named_like_an_index_column_is_refused(tmp_path, lcdb_blackbox):
    clashing = TabularBlackbox(
        name="clash",
        configuration_space=lcdb_blackbox.configuration_space,
        configurations=lcdb_blackbox.configurations,
        fidelity_name=lcdb_blackbox.fidelity_name,
        fidelity_values=lcdb_blackbox.fidelity_values,
        seeds=lcdb_blackbox.seeds,
        objectives=[
            Objective("seed", "min"),
            Objective("error_test", "min"),
            Objective("t", "min"),
        ],
        elapsed_time_objective="t",
        values=lcdb_blackbox.values,
    )
    with pytest.raises(ValueError, match=r"\['seed'\] clash with the index columns"):
        write_blackbox(clashing, tmp_path / "entry")


def test_missing_metadata_is_named(written):
    _, entry = written
    (entry / METADATA_FILE).unlink()
    with pytest.raises(CorruptBlackboxError, match=f"{METADATA_FILE} is missing"):
        read_blackbox(entry)


def test_invalid_metadata_json_is_named(written):
    _, entry = written
    (entry / METADATA_FILE).write_text('{"format_version": 1, "kind": ')
    with pytest.raises(CorruptBlackboxError, match=f"{METADATA_FILE} is not valid JSON"):
        read_blackbox(entry)


def test_metadata_without_required_fields_is_named(written):
    _, entry = written
    _edit_metadata(entry, lambda metadata: metadata.pop("files"))
    with pytest.raises(CorruptBlackboxError, match=r"lacks the fields \['files'\]"):
        read_blackbox(entry)


def test_unsupported_format_version_says_what_to_do(written):
    _, entry = written
    _edit_metadata(entry, lambda metadata: metadata.update(format_version=99))
    with pytest.raises(CorruptBlackboxError, match="format version 99.*convert NAME --force"):
        read_blackbox(entry)


def test_unknown_kind_is_named(written):
    _, entry = written
    _edit_metadata(entry, lambda metadata: metadata.update(kind="hologram"))
    with pytest.raises(CorruptBlackboxError, match="unknown kind 'hologram'"):
        read_blackbox(entry)


def test_modified_data_file_is_a_checksum_mismatch_naming_it(written):
    _, entry = written
    path = entry / OBJECTIVES_FILE
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))

    with pytest.raises(ChecksumMismatchError) as raised:
        read_blackbox(entry)
    assert raised.value.path == str(path)
    assert str(path) in str(raised.value)


def test_truncated_data_file_is_named_even_without_checksums(written):
    _, entry = written
    path = entry / OBJECTIVES_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    with pytest.raises(CorruptBlackboxError, match=f"{path} has .* bytes, expected"):
        read_blackbox(entry)
    # deriving the memory-mapped values checks the Parquet files even when reads do not
    with pytest.raises(CorruptBlackboxError, match=f"{path} has .* bytes, expected"):
        read_blackbox(entry, verify=False)


def test_missing_data_file_is_named(written):
    _, entry = written
    (entry / CONFIGURATIONS_FILE).unlink()
    with pytest.raises(CorruptBlackboxError, match=f"{CONFIGURATIONS_FILE} is missing"):
        read_blackbox(entry)


def test_row_count_that_disagrees_with_metadata_is_named(written):
    _, entry = written
    _edit_metadata(entry, lambda metadata: metadata.update(n_configurations=5))
    with pytest.raises(CorruptBlackboxError, match=r"has 60 rows, expected 5 x 5 x 2"):
        read_blackbox(entry)
