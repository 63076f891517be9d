"""What the launcher scripts share: arguments, one simulated run, and the printed summary.

Each ``launch_<method>.py`` is one line calling :func:`main` with its method name, so a
new method's launcher is a copy with another name.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def parse_arguments(method: str, argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=f"Run {method} on a simtune benchmark in simulated time."
    )
    parser.add_argument(
        "--benchmark",
        default="sklearn-mlp-digits",
        help="benchmark name (see `simtune blackbox list`)",
    )
    parser.add_argument(
        "--n-workers",
        type=int,
        default=None,
        help="parallel simulated workers (default: the benchmark's)",
    )
    parser.add_argument(
        "--max-wallclock-time",
        type=float,
        default=None,
        help="simulated seconds (default: the benchmark's)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results folder (default: results/<method>/<benchmark>/seed-<seed>)",
    )
    parser.add_argument(
        "--method-kwargs",
        type=json.loads,
        default={},
        help="JSON, e.g. '{\"reduction_factor\": 2}'",
    )
    return parser.parse_args(argv)


def main(method: str, argv: Sequence[str] | None = None) -> int:
    """Run ``method`` once and print the best configuration and where results are."""
    from benchmarking.cli import error_message
    from benchmarking.simulation import run_simulation
    from blackbox_repository.errors import SimtuneError

    args = parse_arguments(method, argv)
    out = args.out or Path("results") / method.lower() / args.benchmark / f"seed-{args.seed}"
    try:
        run = run_simulation(
            method,
            args.benchmark,
            seed=args.seed,
            n_workers=args.n_workers,
            max_wallclock_time=args.max_wallclock_time,
            results_dir=out,
            method_kwargs=args.method_kwargs,
            progress=sys.stdout.isatty(),
        )
    except SimtuneError as error:  # raised on purpose; any other error shows its traceback
        print(f"simtune: error: {error_message(error)}", file=sys.stderr)
        return 2
    best = run.best()
    metric = run.metadata["metric"]
    print(
        f"{method} on {args.benchmark}: {len(run.results)} results from {run.metadata['n_trials']} trials "
        f"in {run.metadata['end_time']:.0f} simulated seconds ({run.metadata['stop_reason']})"
    )
    print(
        f"best {metric} = {best[metric]:.6g} at {run.metadata['fidelity_name']}={best['fidelity']}, "
        f"trial {int(best['trial_id'])}, found at simulated time {best['simulated_time']:.1f}s"
    )
    print("best config:", json.dumps(run.best_config()))
    print(f"results written to {run.path}")
    return 0
