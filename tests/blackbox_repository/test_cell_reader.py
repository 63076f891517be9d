"""Scalar lookups read cells with struct: the same floats as numpy, bit for bit, and the same errors.

``TabularBlackbox.lookup`` reads a cell through ``cell_reader`` (struct on a byte view of
``values``) where it can and through numpy indexing where it cannot; both must return,
for every cell, exactly the floats of ``values[c, f, s].tolist()``.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from blackbox_repository import (
    ConfigNotFoundError,
    FidelityNotOnGridError,
    SeedNotFoundError,
    TabularBlackbox,
    config_index,
    read_blackbox,
    write_blackbox,
)
from blackbox_repository import cell_reader as cell_reader_module
from blackbox_repository.cell_reader import RowsByTerms, cell_reader
from blackbox_repository.config_index import StoredConfigIndex, build_index_arrays
from blackbox_repository.entry_metadata import read_metadata
from blackbox_repository.file_format import common_arguments
from tests.blackbox_repository.conftest import make_conditional_blackbox


def _bits(values) -> list[bytes]:
    """Each float as its 8 bytes: NaN payloads, -0.0 and subnormals compare exactly."""
    return [struct.pack("<d", value) for value in values]


def _with_values(blackbox: TabularBlackbox, values: np.ndarray, folder: Path) -> TabularBlackbox:
    """The same blackbox over another array (another dtype, byte order or memory layout)."""
    metadata = read_metadata(write_blackbox(blackbox, folder))
    return TabularBlackbox(
        **common_arguments(metadata), configurations=blackbox.configurations, values=values
    )


def _assert_every_cell_matches_numpy(blackbox: TabularBlackbox) -> None:
    for c in range(blackbox.n_configurations):
        config = blackbox.configuration(c)  # inactive hyperparameters left out
        for f, fidelity in enumerate(blackbox.fidelity_values.tolist()):
            for s, seed in enumerate(blackbox.seeds.tolist()):
                result = blackbox.lookup(config, fidelity, seed)
                assert list(result) == list(blackbox.objective_names)
                expected = blackbox.values[c, f, s].tolist()
                assert _bits(result.values()) == _bits(expected), (c, f, s)
                assert all(type(value) is float for value in result.values())


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_lookup_returns_the_numpy_floats_bit_for_bit_in_memory(dtype):
    blackbox = make_conditional_blackbox(dtype)  # NaN, -0.0, inf and a subnormal included
    _assert_every_cell_matches_numpy(blackbox)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lookup_on_mapped_and_pickled_blackboxes_returns_the_numpy_floats(tmp_path, dtype):
    blackbox = make_conditional_blackbox(dtype)
    mapped = read_blackbox(write_blackbox(blackbox, tmp_path / "entry"))
    _assert_every_cell_matches_numpy(mapped)
    copy = pickle.loads(pickle.dumps(mapped))  # the struct reader is rebuilt, not pickled
    _assert_every_cell_matches_numpy(copy)
    config = blackbox.configuration(3)
    assert _bits(copy.lookup(config, 4, 11).values()) == _bits(blackbox.values[3, 2, 1].tolist())


def test_big_endian_and_non_contiguous_values_are_read_correctly(tmp_path):
    blackbox = make_conditional_blackbox(np.float32)
    big_endian = _with_values(blackbox, blackbox.values.astype(">f4"), tmp_path / "big")
    fortran = _with_values(blackbox, np.asfortranarray(blackbox.values), tmp_path / "fortran")
    assert cell_reader(big_endian.values, blackbox.objective_names) is not None
    assert cell_reader(fortran.values, blackbox.objective_names) is None  # numpy path
    for variant in (big_endian, fortran):
        _assert_every_cell_matches_numpy(variant)
        assert _bits(variant.lookup(blackbox.configuration(2), 8, 7).values()) == _bits(
            blackbox.values[2, 3, 0].tolist()
        )


def test_values_written_in_place_are_seen_by_later_lookups():
    blackbox = make_conditional_blackbox(np.float64)
    config = blackbox.configuration(2)
    blackbox.values[2, 4:, 0, 1] = np.nan  # as tests of the engine do: a run cut short
    assert np.isnan(blackbox.lookup(config, 16, 7)["accuracy"])


@pytest.mark.parametrize("mapped", [False, True])
def test_other_spellings_and_bad_arguments_of_a_lookup(tmp_path, mapped):
    blackbox = make_conditional_blackbox(np.float32)
    if mapped:
        blackbox = read_blackbox(write_blackbox(blackbox, tmp_path / "entry"))
    expected = blackbox.lookup(blackbox.configuration(4), 8, 7)
    config = {"layers": np.int64(2), "optimizer": np.str_("adam"), "beta1": np.float64(0.5)}
    for fidelity, seed in ((8, 7), (8.0, None), (np.float32(8), np.int64(7)), (np.int64(8), 7)):
        assert _bits(blackbox.lookup(config, fidelity, seed).values()) == _bits(expected.values())
    assert blackbox.lookup({**config, "momentum": float("nan")}, 8) == expected  # inactive NaN
    with pytest.raises(FidelityNotOnGridError, match="epoch=3 is not on the grid"):
        blackbox.lookup(config, 3, 7)
    with pytest.raises(SeedNotFoundError, match=r"seed 5 is not recorded.*\[7, 11\]"):
        blackbox.lookup(config, 8, 5)
    for off_grid in (
        {**config, "beta1": 0.51},  # a value not recorded
        {**config, "beta1": [0.5]},  # unhashable
        {"layers": 2, "optimizer": "adam"},  # an active hyperparameter left out
    ):
        with pytest.raises(ConfigNotFoundError, match="is not on the grid"):
            blackbox.lookup(off_grid, 8, 7)


def _with_stored_index(blackbox: TabularBlackbox, folder: Path) -> tuple[TabularBlackbox, object]:
    """The same blackbox found through a StoredConfigIndex we hold (to inspect its memo)."""
    columns, arrays = build_index_arrays(blackbox.configurations)
    index = StoredConfigIndex(columns, arrays["codes"], arrays["keys"], arrays["rows"])
    metadata = read_metadata(write_blackbox(blackbox, folder))
    indexed = TabularBlackbox(
        **common_arguments(metadata),
        configurations=blackbox.configurations,
        values=blackbox.values,
        stored_index=index,
    )
    return indexed, index


@pytest.mark.parametrize("rows", ["one group", "groups", "lone hyperparameters", "memo"])
def test_the_generated_lookup_finds_rows_by_dense_terms_or_by_memo(tmp_path, monkeypatch, rows):
    dense = rows != "memo"
    if not dense:  # a table too large for the grid: the hashed search and the memo
        monkeypatch.setattr(config_index, "DENSE_TABLE_MIN", 0)
        monkeypatch.setattr(config_index, "DENSE_TABLE_PER_ROW", 0)
    if rows == "groups":  # sums kept at most 8: a group of two and two lone hyperparameters
        monkeypatch.setattr(cell_reader_module, "CACHED_INT_LIMIT", 8)
    if rows == "lone hyperparameters":
        monkeypatch.setattr(cell_reader_module, "CACHED_INT_LIMIT", 1)
    blackbox = make_conditional_blackbox(np.float64)
    indexed, index = _with_stored_index(blackbox, tmp_path / "entry")
    assert index.searches_a_dense_table is dense
    lookup = indexed.lookup  # bound before the first lookup, as a hot loop would
    for _ in range(2):  # first meetings, then repeats
        for c in range(blackbox.n_configurations):
            config = blackbox.configuration(c)  # inactive hyperparameters left out
            expected = blackbox.values[c, 3, 1].tolist()
            assert _bits(lookup(config, 8, 11).values()) == _bits(expected)
            assert _bits(TabularBlackbox.lookup(indexed, config, 8, 11).values()) == _bits(expected)
    # the dense path keeps no per-config memo entry; the hashed one memoizes each config
    assert len(index.rows_by_values) == (0 if dense else blackbox.n_configurations)
    with pytest.raises(ConfigNotFoundError, match="is not on the grid"):
        lookup({"layers": 4, "optimizer": "sgd", "momentum": 0.9}, 8, 11)
    nan_spelled = {"layers": 2, "optimizer": "adam", "beta1": 0.5, "momentum": float("nan")}
    assert _bits(lookup(nan_spelled, 8).values()) == _bits(blackbox.values[4, 3, 0].tolist())


@pytest.mark.parametrize("limit, group_sizes", [(256, (4,)), (8, (2, 1, 1)), (1, (1, 1, 1, 1))])
def test_rows_by_terms_sums_each_group_into_cached_ints_and_finds_every_row(
    monkeypatch, limit, group_sizes
):
    monkeypatch.setattr(cell_reader_module, "CACHED_INT_LIMIT", limit)
    blackbox = make_conditional_blackbox(np.float32)
    columns, arrays = build_index_arrays(blackbox.configurations)
    index = StoredConfigIndex(columns, arrays["codes"], arrays["keys"], arrays["rows"])
    digits, grid = index.dense_grid()
    assert grid.shape == (4, 2, 4, 4)  # layers, optimizer, beta1 and momentum (+ inactive)
    rows = RowsByTerms.from_grid(index.names, digits, grid, row_stride=10)
    assert rows.group_sizes == group_sizes
    assert rows.optional == {"beta1", "momentum"}
    found = []
    for row in range(blackbox.n_configurations):
        config = blackbox.configuration(row)
        number, start = 0, 0
        for size, scale in zip(rows.group_sizes, rows.scales):
            group = range(start, start + size)
            group_sum = sum(rows.terms[j][config.get(rows.names[j])] for j in group)
            if size > 1:
                assert group_sum <= limit  # a cached int: no allocation
            number += scale[group_sum] if scale is not None else group_sum
            start += size
        found.append(rows.offsets[number])
    assert found == [10 * row for row in range(blackbox.n_configurations)]
    assert list(rows.offsets).count(-1) == grid.size - blackbox.n_configurations == 122


def test_an_in_memory_lookup_bound_early_sees_the_rows_found_later():
    blackbox = make_conditional_blackbox(np.float32)
    lookup = blackbox.lookup  # before the first lookup builds the dict of every row
    for c in range(blackbox.n_configurations):
        config = blackbox.configuration(c)
        for _ in range(2):  # the second call is answered by the generated function itself
            assert _bits(lookup(config, 2, 7).values()) == _bits(blackbox.values[c, 1, 0].tolist())
    copy = pickle.loads(pickle.dumps(blackbox))  # its generated lookup is rebuilt, not pickled
    assert copy.lookup(blackbox.configuration(5), 16, 11) == blackbox.lookup(
        blackbox.configuration(5), 16, 11
    )


def test_a_lookup_through_numpy_takes_the_default_seed(tmp_path):
    blackbox = make_conditional_blackbox(np.float32)
    fortran = _with_values(blackbox, np.asfortranarray(blackbox.values), tmp_path / "fortran")
    config = blackbox.configuration(1)
    assert _bits(fortran.lookup(config, 4).values()) == _bits(blackbox.values[1, 2, 0].tolist())


class DoubledBlackbox(TabularBlackbox):
    """A subclass that overrides ``lookup`` (module level: pickled by the test)."""

    def lookup(self, config, fidelity, seed=None):
        answer = super().lookup(config, fidelity, seed)
        return {name: 2 * value for name, value in answer.items()}


def test_a_subclass_that_overrides_lookup_is_not_shadowed_by_the_generated_one():
    blackbox = make_conditional_blackbox(np.float32)
    doubled = DoubledBlackbox.__new__(DoubledBlackbox)
    doubled.__setstate__(blackbox.__getstate__())
    config = blackbox.configuration(3)
    plain = blackbox.lookup(config, 2, 7)
    assert doubled.lookup(config, 2, 7) == {name: 2 * value for name, value in plain.items()}
    copy = pickle.loads(pickle.dumps(doubled))
    assert copy.lookup(config, 2, 7) == doubled.lookup(config, 2, 7)
