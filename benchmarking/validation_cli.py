"""``simtune validate``: compare simulated runs with real runs of the same schedulers."""

from __future__ import annotations

import argparse
import os


def _floats(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values or any(not value > 0 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


HELP = "compare the simulator with real worker processes replaying recorded runtimes"
DESCRIPTION = (
    "Run each method in the simulator and on real worker processes that sleep the "
    "benchmark's recorded runtimes (stretched so the median fidelity step takes "
    "--step-seconds simulated seconds, then scaled by --time-scale), and compare the "
    "order and times of their results."
)


def add_commands(subparsers) -> None:
    """Register ``validate`` on the ``simtune`` parser."""
    configure_validate_command(
        subparsers.add_parser("validate", help=HELP, description=DESCRIPTION)
    )


def configure_validate_command(parser: argparse.ArgumentParser) -> None:
    """Add the arguments and handler of ``simtune validate`` to its (created) parser."""
    parser.add_argument("--benchmark", default="sklearn-mlp-digits")
    parser.add_argument("--methods", default="RS,ASHA,HYPERBAND,BOHB")
    parser.add_argument("--n-workers", type=int, default=4)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.001,
        help="real seconds per simulated second (default 0.001: 1 simulated s = 1 ms)",
    )
    parser.add_argument(
        "--step-seconds",
        type=_floats,
        default=[100.0, 500.0, 2000.0],
        help="median simulated seconds per fidelity step, one setting each (default 100,500,2000)",
    )
    parser.add_argument(
        "--budget-steps",
        type=float,
        default=20.0,
        help="each run's budget in median steps (default 20)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--markdown", default=None, help="also write the table as Markdown to this file"
    )
    parser.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from benchmarking.validation import MARKDOWN_HEADER, validate

    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    if not methods:
        raise ValueError("--methods is empty; give e.g. RS,ASHA")
    print(
        f"validating {','.join(methods)} on {args.benchmark} with {args.n_workers} worker "
        f"processes, 1 simulated s = {args.time_scale * 1e3:g} ms; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    results = validate(
        args.benchmark,
        methods,
        args.n_workers,
        args.time_scale,
        args.step_seconds,
        args.budget_steps,
        args.seed,
        report=lambda line: print(line, flush=True),
    )
    if args.markdown:
        from pathlib import Path

        rows = "\n".join(result.markdown_row() for result in results)
        Path(args.markdown).write_text(
            f"{MARKDOWN_HEADER}\n{rows}\n\nload average at the end: {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} CPUs\n"
        )
    print(f"order match: {100 * min(r.order_match for r in results):.1f}%")
    return 0
