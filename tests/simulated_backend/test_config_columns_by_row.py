"""A chunk's config columns taken by row from Arrow arrays of the grid's columns (a batch
whose trials are all grid rows and cover a good part of the grid) equal the columns
converted trial by trial: same values, same types, also for a column with missing values
(converted per batch, as before) and across spilled chunks."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import RandomSearcher
from tests.simulated_backend.test_grid_row_trials import (
    _asha,
    _ConfigSearcher,
    conditional_blackbox,
)


@pytest.mark.parametrize("chunk_rows", [None, 450])
def test_config_columns_taken_by_grid_row_equal_those_of_config_dicts(tmp_path, chunk_rows):
    blackbox = conditional_blackbox(n_configs=60)  # a: str, b: float with nulls, c: int
    runs, tuners = [], []
    for searcher_class in (RandomSearcher, _ConfigSearcher):
        tuner = Tuner(
            _asha(blackbox, searcher_class, seed=7),
            SimulatorBackend(blackbox, n_workers=4, seed=3),
            StopCriterion(max_num_results=900),
            results_dir=tmp_path / searcher_class.__name__,
            result_chunk_rows=chunk_rows,
        )
        runs.append(tuner.run())
        tuners.append(tuner)
    by_row, with_configs = (pq.read_table(run.path / "results.parquet") for run in runs)
    # the by-row run took its columns from the grid's arrays (uniform columns a and c)
    grid_columns = tuners[0].recorder._grid_columns
    names = tuners[0].scheduler.grid_configs.names
    assert grid_columns is not None
    assert {name: c is not None for name, c in zip(names, grid_columns)} == {
        "a": True,
        "b": False,  # missing values: converted per batch
        "c": True,
    }
    assert tuners[1].recorder._grid_columns is None  # config dicts: converted per trial
    assert by_row.schema == with_configs.schema
    assert str(by_row.schema.field("config_c").type) == "int64"
    frame = by_row.to_pandas()
    assert frame["config_b"].isna().any() and frame["config_b"].notna().any()
    pd.testing.assert_frame_equal(frame, with_configs.to_pandas())
