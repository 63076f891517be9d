"""The ``simtune`` command line: ``simtune blackbox ...``, ``run``, ``collect``, ``plot``, ``validate``.

Each group of subcommands lives next to the code it drives and registers itself here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from blackbox_repository.errors import SimtuneError

# (module, function adding subcommands to an argparse subparsers object)
COMMAND_GROUPS = (
    "blackbox_repository.cli:add_commands",
    "benchmarking.study_cli:add_commands",
    "benchmarking.methods_cli:add_commands",
    "benchmarking.validation_cli:add_commands",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="simtune", description="Benchmark multi-fidelity HPO in simulated time."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for reference in COMMAND_GROUPS:
        module_name, _, function_name = reference.partition(":")
        getattr(importlib.import_module(module_name), function_name)(subparsers)
    return parser


def error_message(error: SimtuneError) -> str:
    """The one line printed for ``error`` (a KeyError subclass would quote its message)."""
    message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return " ".join(message.split("\n"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``simtune`` console script; returns the exit code."""
    parser = build_parser()
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
