"""BOHB's windows of section 3 (benchmarks/bohb_windows.py): the slice floor of each window
is the sum of its 250-result slices, each the cheapest of the identical runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def scripts():
    """The two scripts, imported from benchmarks/ (sys.path and the environment, which
    simulator_throughput extends on import, restored afterwards)."""
    path, environment = list(sys.path), dict(os.environ)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bohb_windows
        import simulator_throughput

        yield bohb_windows, simulator_throughput
    finally:
        sys.path[:] = path
        os.environ.clear()
        os.environ.update(environment)


def test_slices_of_a_clock_are_the_cpu_between_its_marks(scripts):
    bohb_windows, _ = scripts
    clock = bohb_windows.WindowClock(every=250)
    clock.marks = {250: (0.0, 1.0, 0), 500: (0.0, 1.5, 0), 750: (0.0, 1.75, 0)}
    # slice i holds results (i * 250, (i + 1) * 250]; slice 0 (before the first mark) is 0
    assert bohb_windows.slice_cpu(clock).tolist() == [0.0, 0.5, 0.25]


def test_slice_floor_is_the_window_itself_for_one_run_and_never_above_the_cheapest(scripts):
    bohb_windows, throughput = scripts
    blackbox = throughput.nas201_shaped_blackbox()
    sizes = (1_000, 2_000)
    _, one = bohb_windows.bohb_long_runs(
        throughput.long_run_windows, blackbox, 2_000, sizes, repeats=1, processes=0
    )
    assert one["slice floor us/result"].to_numpy() == pytest.approx(
        one["cpu us/result"].to_numpy(), rel=1e-9
    )
    # two runs here and one in a new (spawned) process
    _, three = bohb_windows.bohb_long_runs(
        throughput.long_run_windows, blackbox, 2_000, sizes, repeats=2, processes=1
    )
    assert list(three["results"]) == list(sizes)
    assert (three["slice floor us/result"] <= three["cpu us/result"] * (1 + 1e-9)).all()
    assert (three["slice floor us/result"] > 0).all()
