"""The stored configuration index finds every row, by dense table or by hash, and nothing else.

Grids that fill much of the product of their levels are searched through a dense table;
sparse samples of large spaces through hashes and a binary search. Both must give the row
of every configuration (also spelled with numpy scalars or NaN for an inactive value) and
None for every configuration off the grid.
"""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pandas as pd
import pytest

from blackbox_repository.config_index import StoredConfigIndex, build_index_arrays


def _index(configurations: pd.DataFrame) -> StoredConfigIndex:
    columns, arrays = build_index_arrays(configurations)
    return StoredConfigIndex(columns, arrays["codes"], arrays["keys"], arrays["rows"])


def _full_grid() -> pd.DataFrame:
    """Every combination of 3 x 4 x 2 levels, one column conditional (NaN when depth is 1)."""
    rows = list(itertools.product(["a", "b", "c"], [1, 2, 3, 4], [0.5, 0.25]))
    frame = pd.DataFrame(rows, columns=["op", "depth", "rate"])
    frame.loc[frame["depth"] == 1, "rate"] = np.nan
    return frame.drop_duplicates(ignore_index=True)


def _sparse_sample() -> pd.DataFrame:
    """200 random points of a space with 10^12 cells: far too sparse for a dense table."""
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "lr": rng.uniform(1e-4, 1e-1, 200),
            "momentum": rng.uniform(0.0, 0.99, 200),
            "width": rng.integers(1, 10**4, 200),
            "kind": rng.choice(["x", "y"], 200),
        }
    )


def _configs(frame: pd.DataFrame) -> list[dict]:
    """Plain dicts, inactive values left out."""
    return [
        {k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
        for row in frame.to_dict("records")
    ]


def _numpy_spelled(config: dict, frame: pd.DataFrame) -> dict:
    return {k: (np.str_(v) if isinstance(v, str) else np.float64(v)) for k, v in config.items()}


def _nan_spelled(config: dict, frame: pd.DataFrame) -> dict:
    return {name: np.nan for name in frame.columns} | config  # inactive values as NaN


@pytest.mark.parametrize(("make", "dense"), [(_full_grid, True), (_sparse_sample, False)])
@pytest.mark.parametrize("table_first", [False, True])
def test_every_row_is_found_and_nothing_off_the_grid(make, dense, table_first):
    """``table_first``: the dense table (where there is one) is built before the first
    search; otherwise the first searches go by hash, as after every load."""
    frame = make()
    configs = _configs(frame)
    for spell in (lambda config, frame: config, _numpy_spelled, _nan_spelled):
        index = _index(frame)  # a fresh index each time: answers come from a search
        if table_first:
            assert index.searches_a_dense_table is dense
        assert [index.find(spell(c, frame)) for c in configs] == list(range(len(configs)))
    first = configs[0]
    numeric = next(k for k, v in first.items() if not isinstance(v, str))
    for off_grid in (
        first | {numeric: first[numeric] + 0.125},  # a value never recorded
        first | {"kind" if "kind" in first else "op": "zzz"},  # an unknown category
        {k: v for k, v in first.items() if k != numeric},  # an active value left out
        first | {numeric: [first[numeric]]},  # unhashable
    ):
        assert index.find(off_grid) is None
    copy = pickle.loads(pickle.dumps(index))
    assert [copy.find(config) for config in configs] == list(range(len(configs)))


def test_rows_found_before_and_after_the_dense_table_is_built_agree():
    frame = _full_grid()
    index = _index(frame)
    configs = _configs(frame)
    assert [index.find(c) for c in configs] == list(range(len(configs)))  # 24 < 32 searches
    assert index.searches_a_dense_table
    assert [index.find(_nan_spelled(c, frame)) for c in configs] == list(range(len(configs)))


def test_a_combination_left_out_of_a_dense_grid_is_not_found():
    frame = _full_grid()
    missing = frame.iloc[5].to_dict()
    index = _index(frame.drop(index=5).reset_index(drop=True))
    assert index.searches_a_dense_table
    assert index.find({k: v for k, v in missing.items() if v == v}) is None


def test_repeated_configurations_give_the_first_row_as_before():
    frame = pd.concat([_full_grid(), _full_grid().iloc[[3]]], ignore_index=True)
    index = _index(frame)
    assert not index.searches_a_dense_table  # the hashed search keeps its answer
    assert index.find(_configs(frame)[-1]) == 3
