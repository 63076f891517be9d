"""Resident memory a long run holds per recorded result (section 4 of ``simulator_throughput.py``).

The run (ASHA drawing grid configurations with replacement, 4 workers, on the
NAS-Bench-201-shaped blackbox of ``simulator_workload.py``) runs in a fresh Python process,
so that nothing an earlier measurement allocated (and freed into the allocator's pools, or
counted in the peak) hides or inflates its growth. The process builds the blackbox, makes a
short warm-up run (every module loaded, Arrow's memory pool and numpy's caches warm),
collects garbage, reads its resident set size (``VmRSS`` in ``/proc/self/status``), then
runs for ``n_results`` results and reads ``VmRSS`` again every ``every`` results and when
the run ends, before the results table is built (the table is the run's output, not state
the run holds). It reports the growth at the end and its least-squares slope over the
samples, in bytes per result and in MB per million results.

    python benchmarks/run_memory.py 1000000     # prints the figures as JSON
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def resident_bytes() -> int:
    """This process's resident set size now (Linux ``/proc``; 0 elsewhere)."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def measure_here(n_results: int, every: int) -> dict[str, float]:
    """Run and sample in this process (call it in a fresh one: see the module docstring)."""
    import gc

    import numpy as np
    from simulator_workload import nas201_shaped_blackbox, simtune_scheduler

    from simulated_backend import SimulatorBackend, StopCriterion, Tuner, TunerCallback

    class Sampler(TunerCallback):
        def __init__(self) -> None:
            self.count = 0
            self.samples: list[tuple[int, int]] = []

        def on_trial_result(self, trial, result, decision) -> None:
            self.count += 1
            if self.count % every == 0:
                self.samples.append((self.count, resident_bytes()))

        def on_tuning_end(self, tuner) -> None:  # before the results table is built
            if not self.samples or self.samples[-1][0] != self.count:
                self.samples.append((self.count, resident_bytes()))

    blackbox = nas201_shaped_blackbox()

    def run(n: int, callbacks=()) -> None:
        Tuner(
            simtune_scheduler("asha", blackbox, 1, with_replacement=True),
            SimulatorBackend(blackbox, n_workers=4, seed=0),
            StopCriterion(max_num_results=n),
            callbacks=list(callbacks),
        ).run()

    run(20_000)  # warm-up: modules, Arrow's pool, a spilled chunk's worth of code paths
    gc.collect()
    at_start = resident_bytes()
    sampler = Sampler()
    run(n_results, [sampler])
    counts = np.array([0] + [count for count, _ in sampler.samples], dtype=float)
    grown = np.array([0] + [rss - at_start for _, rss in sampler.samples], dtype=float)
    slope = float(np.polyfit(counts, grown, 1)[0]) if len(counts) > 2 else grown[-1] / counts[-1]
    return {
        "results": int(counts[-1]),
        "rss_at_start_mb": at_start / 2**20,
        "grown_mb": grown[-1] / 2**20,
        "bytes_per_result": grown[-1] / max(counts[-1], 1),
        "slope_bytes_per_result": slope,
        "peak_grown_mb": grown.max() / 2**20,
    }


def measure_in_fresh_process(n_results: int, every: int = 100_000) -> dict[str, float]:
    """:func:`measure_here` in a new Python process (same interpreter and ``PYTHONPATH``)."""
    output = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(n_results), str(every)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    step = int(sys.argv[2]) if len(sys.argv) > 2 else max(n // 10, 1)
    print(json.dumps(measure_here(n, step)))
