"""BOHB's cost per result as its observations grow (section 3 of ``simulator_throughput.py``).

Windows ``(n/2, n]`` of one 16-worker BOHB run, measured in ``repeats`` (5) identical runs
(the trajectory is the same every time; load on a shared machine only adds). Two figures
per window:

- ``cpu us/result``: the window of the cheapest of the runs, taken whole (the statistic of
  the sessions before the eighth). Under load it favours short windows: the first window
  is 2,500 results, about 15 ms of CPU, and one of 5 runs usually passes it undisturbed;
  the last is 40,000 results, about 250 ms, and rarely does.
- ``slice floor us/result``: the window's 250-result slices (about 1.5 ms of CPU each),
  each the cheapest of the runs, summed. The runs are identical, so a slice's cheapest
  copy is the run's own cost with the host's interruptions left out at the same grain in
  every window; whatever the run itself does in a slice (a refit, a spill, a collection
  that every run makes there) is in every copy and stays in the floor. The floor takes
  ``processes`` (5) more runs, each in a new process, one at a time: on the development
  machine a process sometimes runs one phase of every one of its runs about 1.4x slower
  (the same point in all 5, fresh runs measured there too), which no repeat inside that
  process can take out.

Beside them, each window shows the two lumps of engine work that fall in it and that are
not BOHB's model: full (generation 2) garbage collections, whose cost grows with the whole
heap (about 40 ms on a quiet machine), and chunks of results the result recorder spills to
disk (one per 65,536 results, about 25 ms).
"""

from __future__ import annotations

import gc
from typing import Any

import numpy as np
import pandas as pd
from simulator_workload import WindowClock, in_new_processes, nas201_shaped_blackbox

from simulated_backend import TunerCallback
from simulated_backend.result_recorder import CHUNK_ROWS

SLICE = 250  # results between two marks of the run's clock


def slice_cpu(clock: WindowClock) -> np.ndarray:
    """CPU seconds of each ``clock.every``-result slice of a run (slice ``i``: results
    ``(i * every, (i + 1) * every]``; slice 0 from the first mark, so it holds nothing)."""
    counts = sorted(clock.marks)
    cpu = np.array([clock.marks[count][1] for count in counts])
    return np.diff(cpu, prepend=cpu[0])


class FullCollections(TunerCallback):
    """The result counts (read from the run's :class:`WindowClock`) at which a full garbage
    collection started during the run; the garbage collector's hook is set for the run only."""

    def __init__(self) -> None:
        self.clock: WindowClock | None = None
        self.at: list[int] = []

    def watching(self, clock: WindowClock) -> list[TunerCallback]:
        """This callback, counting results with ``clock`` (``long_run_windows``'s ``callbacks``)."""
        self.clock = clock
        return [self]

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            self.at.append(self.clock.count)

    def on_tuning_start(self, tuner) -> None:
        gc.callbacks.append(self._on_collection)

    def on_tuning_end(self, tuner) -> None:
        gc.callbacks.remove(self._on_collection)

    def in_window(self, start: int, end: int) -> int:
        """Full collections that started after result ``start`` and up to result ``end``."""
        return sum(start < count <= end for count in self.at)


def spills_in_window(start: int, end: int, chunk_rows: int = CHUNK_ROWS) -> int:
    """Chunks of results the recorder spills in ``(start, end]`` (one every ``chunk_rows``)."""
    return end // chunk_rows - start // chunk_rows


def slices_of_a_fresh_process(n_results: int, sizes) -> np.ndarray:
    """:func:`slice_cpu` of one BOHB long run in this process, on a blackbox built here (run
    in a spawned process by :func:`bohb_long_runs`)."""
    from long_runs import long_run_windows

    watcher = FullCollections()
    long_run_windows(
        nas201_shaped_blackbox(), "bohb", n_results, 16, SLICE, sizes, callbacks=watcher.watching
    )
    return slice_cpu(watcher.clock)


def bohb_long_runs(
    long_run_windows, blackbox, n_results: int, sizes, repeats: int = 5, processes: int = 5
):
    """BOHB's windows (16 workers): per window the cheapest of ``repeats`` identical runs
    in this process, and the slice floor over those and ``processes`` more, each in a new
    process (see the module docstring); with the full collections (in the cheapest run)
    and spills that fell in it.

    ``long_run_windows(blackbox, kind, n_results, n_workers, every, sizes, callbacks)``
    measures one run (``long_runs.long_run_windows``, which the new processes use);
    ``callbacks`` maps the run's :class:`WindowClock` to extra callbacks.
    """
    runs, slices = [], []
    for _ in range(repeats):
        watcher = FullCollections()
        measured, windows = long_run_windows(
            blackbox, "bohb", n_results, 16, SLICE, sizes, callbacks=watcher.watching
        )
        windows["full GCs"] = [watcher.in_window(n // 2, n) for n in windows["results"]]
        runs.append((measured, windows.set_index("results")))
        slices.append(slice_cpu(watcher.clock))
    tables = [windows for _, windows in runs]
    cpu = pd.concat([table["cpu us/result"] for table in tables], axis=1)
    best = tables[0].copy()
    best["cpu us/result"] = cpu.min(axis=1)
    slices += in_new_processes(processes, slices_of_a_fresh_process, n_results, sizes)
    floor = np.min(slices, axis=0)  # per slice: the cheapest of the identical runs
    best["slice floor us/result"] = [
        1e6 * floor[n // 2 // SLICE : n // SLICE].sum() / (n - n // 2) for n in best.index
    ]
    best["full GCs"] = [  # in the run that gave the window its figure
        tables[run]["full GCs"].loc[n] for n, run in zip(cpu.index, cpu.to_numpy().argmin(axis=1))
    ]
    best["spills"] = [spills_in_window(n // 2, n) for n in best.index]
    best["fresh run us/result"] = pd.concat(
        [table["fresh run us/result"] for table in tables], axis=1
    ).min(axis=1)
    best["results/s"] = pd.concat([table["results/s"] for table in tables], axis=1).max(axis=1)
    best["window / fresh"] = best["cpu us/result"] / best["fresh run us/result"]
    fastest = min((measured for measured, _ in runs), key=lambda measured: measured.seconds)
    best = best.reset_index()
    columns = list(best.columns)
    columns.remove("slice floor us/result")
    columns.insert(columns.index("cpu us/result") + 1, "slice floor us/result")
    return fastest, best[columns]
