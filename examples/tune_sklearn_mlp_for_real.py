"""Tune the scikit-learn MLP on digits for real: ASHA on 2 worker processes.

The same network, data split and metrics as the embedded benchmark ``sklearn-mlp-digits``
(which is this problem tabulated), trained one epoch per call from a checkpoint per
trial. The run is written as a study task, so the usual commands work on it:

    python examples/tune_sklearn_mlp_for_real.py --out real-results --max-wallclock-time 60
    simtune collect real-results && simtune plot real-results

See docs/tune-tabulate-simulate.md for the way from tuning for real to tabulating and
simulating the same problem.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="ASHA", help="a method name (RS, ASHA, BOHB, ...)")
    parser.add_argument("--n-workers", type=int, default=2, help="worker processes")
    parser.add_argument("--runner", default="processes", choices=("serial", "processes", "dask"))
    parser.add_argument("--max-wallclock-time", type=float, default=60.0, help="real seconds")
    parser.add_argument(
        "--max-results", type=int, default=None, help="stop after this many results"
    )
    parser.add_argument("--max-epochs", type=int, default=30, help="the largest fidelity")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("real-results"))
    parser.add_argument(
        "--n-samples", type=int, default=None, help="use a stratified subset of digits"
    )
    parser.add_argument(
        "--step-time-limit", type=float, default=120.0, help="real seconds per training call"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from benchmarking.real_tuning import MLP_OBJECTIVES, mlp_epoch_step, tune_for_real
    from benchmarking.tabulation.sklearn_objectives import load_split, mlp_search_space
    from simulated_backend.real_backend import StepLimits

    args = parse_arguments(argv)
    run = tune_for_real(
        args.method,
        mlp_epoch_step,
        mlp_search_space(),
        list(range(1, args.max_epochs + 1)),
        MLP_OBJECTIVES,
        "valid_error",
        "min",
        out=args.out,
        benchmark="sklearn-mlp-digits-real",
        seed=args.seed,
        n_workers=args.n_workers,
        runner=args.runner,
        max_wallclock_time=args.max_wallclock_time,
        max_num_results=args.max_results,
        shared={"split": load_split("digits", args.n_samples), "seed": args.seed},
        limits=StepLimits(wall_time=args.step_time_limit),
        reference_benchmark="sklearn-mlp-digits",  # the same problem, tabulated: regret
    )
    if run.results[run.metadata["metric"]].notna().sum() == 0:
        print(f"no result within {args.max_wallclock_time} s; give a larger --max-wallclock-time")
        return 1
    best = run.best()
    print(
        f"{args.method} for real: {len(run.results)} results from {run.metadata['n_trials']} "
        f"trials in {run.metadata['end_time']:.0f} s ({run.metadata['stop_reason']}); best "
        f"valid_error {best['valid_error']:.4f} at epoch {best['fidelity']}; results in {run.path}"
    )
    print(f"next: simtune collect {args.out} && simtune plot {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
