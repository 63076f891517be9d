"""The backend reads a tabular blackbox's rows from the table's bytes (trial starts, first
blocks): the same floats as numpy's rows, for one seed (contiguous rows) and several."""

from __future__ import annotations

import numpy as np
import pytest

from simulated_backend.table_rows import FlatRows


@pytest.mark.parametrize("n_seeds", [1, 3])
def test_rows_read_from_the_table_bytes_equal_numpy_rows(n_seeds):
    rng = np.random.default_rng(n_seeds)
    values = rng.standard_normal((7, 9, n_seeds, 3))
    values[2, 4, 0, 1] = np.nan  # a missing value is read as NaN, like numpy
    rows = FlatRows.of(values)
    assert rows is not None
    for config in range(7):
        for seed in range(n_seeds):
            first = rows.unpack_row(
                rows.table_bytes, config * rows.config_bytes + seed * rows.row_bytes
            )
            np.testing.assert_array_equal(first, values[config, 0, seed])
            for position in range(9):
                for size in (1, 2, 4, 16, 32):
                    expected = values[config, position : position + size, seed].tolist()
                    block = rows.block(config, position, size, seed)
                    assert len(block) == len(expected)
                    np.testing.assert_array_equal(np.array(block), np.array(expected))
                    assert all(type(row) is tuple for row in block)


def test_tables_that_are_not_contiguous_float64_are_read_by_numpy():
    values = np.zeros((4, 5, 2, 2))
    assert FlatRows.of(values.astype(np.float32)) is None
    assert FlatRows.of(np.asfortranarray(values)) is None
    assert FlatRows.of(values[:, ::2]) is None
    assert FlatRows.of(None) is None
