"""ASHA on a table: the one loop (``SimulatorBackend.run_stopping_rule``) against the
Tuner's layered loop (``Tuner(one_loop=False)``), its peer, in the same process.

The workload of ``simulator_throughput.py``'s section 3 (ASHA drawing the NAS-201-shaped
grid with replacement, 4 workers, the section's two per-result callbacks), run to
``--results`` results on each loop in alternated pairs; each run's CPU µs per result over
its second half (the steady state: about a quarter of the results start a trial), the
pair's ratio, and the ratio of the cheapest run of each loop. Both loops give the same results bit for bit (checked here on the first
pair). No target: the figure is reported (docs/performance.md, "Ninth session").

    python benchmarks/one_loop_throughput.py            # 4 pairs of 300,000 results, ~1 min
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator_workload import (  # noqa: E402
    FreshRunsBeside,
    WindowClock,
    nas201_shaped_blackbox,
    simtune_scheduler,
)

from simulated_backend import SimulatorBackend, StopCriterion, Tuner  # noqa: E402


def steady_state_cost(blackbox, n_results: int, one_loop: bool) -> tuple[float, str, object]:
    """CPU µs per result over results (n/2, n] of one run; the loop it took; its results."""
    clock = WindowClock(every=n_results // 2)
    tuner = Tuner(
        simtune_scheduler("asha", blackbox, 1, True),
        SimulatorBackend(blackbox, n_workers=4, seed=0),
        StopCriterion(max_num_results=n_results),
        callbacks=[clock, FreshRunsBeside(set(), None, blackbox, 4)],
        one_loop=one_loop,
    )
    run = tuner.run()
    cost = clock.window(n_results // 2, n_results)["cpu us/result"]
    return cost, tuner.engine_path, run.results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=300_000)
    parser.add_argument("--pairs", type=int, default=4)
    args = parser.parse_args(argv)
    blackbox = nas201_shaped_blackbox()
    print(
        f"ASHA, grid with replacement, 4 workers, {args.results:,} results per run; CPU µs per "
        f"result over results ({args.results // 2:,}, {args.results:,}], alternated pairs"
    )
    ratios, ones, layereds = [], [], []
    for pair in range(args.pairs):
        one, one_path, one_results = steady_state_cost(blackbox, args.results, True)
        layered, layered_path, layered_results = steady_state_cost(blackbox, args.results, False)
        if pair == 0 and not one_results.equals(layered_results):
            raise SystemExit(
                "the two loops gave different results: a bug, see test_stopping_rule_replay.py"
            )
        ratios.append(one / layered)
        ones.append(one)
        layereds.append(layered)
        print(
            f"   pair {pair + 1}: {one_path} {one:.2f}, {layered_path} {layered:.2f} "
            f"(one loop / layered = {one / layered:.2f})"
        )
    print(
        f"   one loop / layered loop: {min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} "
        "pairs (reported, no target; the same results bit for bit)"
    )
    print(
        f"   the cheapest run of each (the runs are identical; noise only adds): "
        f"{min(ones):.2f} / {min(layereds):.2f} = {min(ones) / min(layereds):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
