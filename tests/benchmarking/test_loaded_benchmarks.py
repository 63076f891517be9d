"""Benchmarks prepared once per worker (LoadedBenchmarks), owned by the executors' workers,
with runs that stay bit for bit what a fresh process gives."""

from __future__ import annotations

import dataclasses
import os

import pandas as pd
import pytest

from benchmarking.executors import InProcessExecutor
from benchmarking.loaded_benchmarks import LoadedBenchmarks, this_workers_benchmarks
from benchmarking.simulation import run_simulation
from tests.benchmarking.study_helpers import short_benchmarks


@pytest.mark.usefixtures("shared_data_dir")
def test_a_benchmark_is_loaded_once_and_each_cut_prepared_once():
    xgboost = short_benchmarks()[0]
    loaded = LoadedBenchmarks()
    first = loaded.prepared(xgboost)
    assert loaded.prepared(xgboost.with_overrides(n_workers=2)) is first  # same data
    assert loaded.n_loads == 1 and len(loaded) == 1
    uncut = dataclasses.replace(xgboost, max_fidelity=None)
    whole = loaded.prepared(uncut)
    assert whole is not first and loaded.n_loads == 1  # another cut of the same blackbox
    assert max(first.blackbox.fidelity_values) == 5600
    assert max(whole.blackbox.fidelity_values) > 5600
    assert first.search_space.n_candidates == first.blackbox.configurations.shape[0]


@pytest.mark.usefixtures("shared_data_dir")
def test_the_least_recently_used_benchmark_is_dropped_beyond_max_entries():
    xgboost, taskset = short_benchmarks()
    loaded = LoadedBenchmarks(max_entries=1)
    loaded.prepared(xgboost)
    loaded.prepared(taskset)
    assert len(loaded) == 1
    loaded.prepared(xgboost)
    assert loaded.n_loads == 3  # xgboost was dropped and read again
    with pytest.raises(ValueError, match="max_entries must be an integer >= 1, got 0"):
        LoadedBenchmarks(max_entries=0)


@pytest.mark.usefixtures("shared_data_dir")
def test_runs_sharing_a_prepared_benchmark_equal_fresh_runs_bit_for_bit():
    xgboost = short_benchmarks()[0]
    loaded = LoadedBenchmarks()
    shared = [
        run_simulation(method, xgboost, seed=seed, loaded_benchmarks=loaded).results
        for method, seed in (("RS", 0), ("ASHA", 1), ("RS", 0), ("ASHA", 1))
    ]
    assert loaded.n_loads == 1
    # the shared search space hands each run its own draws: order and reuse change nothing
    pd.testing.assert_frame_equal(shared[0], shared[2])
    pd.testing.assert_frame_equal(shared[1], shared[3])
    pd.testing.assert_frame_equal(shared[1], run_simulation("ASHA", xgboost, seed=1).results)
    assert loaded.prepared(xgboost).search_space.n_remaining == 1000  # never drawn from


@pytest.mark.usefixtures("shared_data_dir")
def test_the_in_process_executor_keeps_its_benchmarks_in_its_own_context():
    outside = this_workers_benchmarks()
    assert this_workers_benchmarks() is not outside  # outside a worker nothing is kept

    def task(benchmark):
        loaded = this_workers_benchmarks()
        loaded.prepared(benchmark)
        return loaded, loaded.n_loads, os.getpid()

    executor = InProcessExecutor()
    outcomes = list(executor.map_unordered(task, short_benchmarks() * 2))
    assert [error for _, _, error in outcomes] == [None] * 4
    kept, loads, pids = zip(*(result for _, result, _ in outcomes))
    assert all(k is kept[0] for k in kept) and loads == (1, 2, 2, 2)
    assert set(pids) == {os.getpid()}
    assert this_workers_benchmarks() is not kept[0]  # the caller's context never sees it
