"""The ``simtune`` command line: ``simtune blackbox ...``, ``run``, ``collect``, ``plot``, ``validate``.

Each command's arguments and handler live next to the code it drives. This module only
knows each command's name, one-line help and where its arguments are defined
(:data:`COMMANDS`), and imports that module only when the command is the one being run: so
``simtune --help`` imports nothing of simtune but this file, and ``simtune blackbox list``
nothing but the blackbox CLI (``benchmarks/cli_startup.py`` measures it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from blackbox_repository.errors import SimtuneError


@dataclass(frozen=True)
class Command:
    """A ``simtune`` subcommand: its help, and ``module:function`` that adds its arguments
    (and a ``handler`` default) to the parser created for it."""

    name: str
    help: str
    description: str
    configure: str

    def load_configure(self) -> Callable[[argparse.ArgumentParser], None]:
        module_name, _, function_name = self.configure.partition(":")
        return getattr(importlib.import_module(module_name), function_name)


COMMANDS: tuple[Command, ...] = (
    Command(
        "blackbox",
        "list, inspect, convert, upload and download benchmarks",
        "Manage the blackbox repository: the local cache and S3 mirrors.",
        "blackbox_repository.cli:configure_blackbox_command",
    ),
    Command(
        "run",
        "run a study: methods x benchmarks x seeds (resumes what is done)",
        "Run every (method, benchmark, seed) task into --out; a re-run skips finished tasks.",
        "benchmarking.study_cli:configure_run_command",
    ),
    Command(
        "collect",
        "collate a study's results into one Parquet dataset",
        "Gather every finished task of OUT into OUT/collated (partitioned by benchmark and method).",
        "benchmarking.study_cli:configure_collect_command",
    ),
    Command(
        "plot",
        "plot a study: best-so-far per benchmark, average rank, final table",
        "Write figures (PNG and PDF) and the final table (Markdown, LaTeX) into OUT/plots.",
        "benchmarking.study_cli:configure_plot_command",
    ),
    Command(
        "methods",
        "list every method: built-in, alias, extra, entry point",
        "List the method names `simtune run --methods` accepts. Besides these, any "
        "'package.module:factory' reference names a method of your own.",
        "benchmarking.methods_cli:configure_methods_command",
    ),
    Command(
        "validate",
        "compare the simulator with real worker processes replaying recorded runtimes",
        "Run each method in the simulator and on real worker processes that sleep the "
        "benchmark's recorded runtimes (stretched so the median fidelity step takes "
        "--step-seconds simulated seconds, then scaled by --time-scale), and compare the "
        "order and times of their results.",
        "benchmarking.validation_cli:configure_validate_command",
    ),
    Command(
        "surrogate",
        "train, tune, score and check surrogate benchmarks of tables",
        "fit: tune one ONNX model per objective of a tabular blackbox on the real backend and "
        "install NAME-surrogate; evaluate: test-set scores; faithfulness: method rankings on "
        "table and surrogate.",
        "benchmarking.surrogates.cli:configure_surrogate_command",
    ),
)


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (its first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``simtune`` parser; only ``command``'s arguments are loaded (all if None).

    Every other command is listed with its help but gets no arguments, so building the
    parser for one command imports no other command's module.
    """
    parser = argparse.ArgumentParser(
        prog="simtune", description="Benchmark multi-fidelity HPO in simulated time."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for entry in COMMANDS:
        subparser = subparsers.add_parser(
            entry.name, help=entry.help, description=entry.description
        )
        if command is None or entry.name == command:
            entry.load_configure()(subparser)
    return parser


def error_message(error: SimtuneError) -> str:
    """The one line printed for ``error`` (a KeyError subclass would quote its message)."""
    message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return " ".join(message.split("\n"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``simtune`` console script; returns the exit code."""

    argv = list(sys.argv[1:] if argv is None else argv)
    command = chosen_command(argv)
    parser = build_parser(command if command is not None else "")
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except SimtuneError as error:  # raised on purpose: the message says what to do
        print(f"simtune: error: {error_message(error)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(
            "interrupted; finished work is kept, run the same command again to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
