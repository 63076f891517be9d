"""``simtune methods``: every method name with where it comes from.

Listing imports no scheduler and no optional optimizer library (entries are references,
availability is checked with ``importlib.util.find_spec``).
"""

from __future__ import annotations

import argparse

HELP = "list every method: built-in, alias, extra, entry point"
DESCRIPTION = (
    "List the method names `simtune run --methods` accepts. Besides these, any "
    "'package.module:factory' reference names a method of your own."
)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``methods`` on the ``simtune`` parser."""
    configure_methods_command(subparsers.add_parser("methods", help=HELP, description=DESCRIPTION))


def configure_methods_command(listing: argparse.ArgumentParser) -> None:
    """Add the arguments and handler of ``simtune methods`` to its (created) parser."""
    listing.add_argument(
        "--available", action="store_true", help="only methods whose extra is installed"
    )
    listing.set_defaults(handler=methods_command)


def methods_command(args: argparse.Namespace) -> int:
    """Print the method table."""
    from benchmarking.baselines import method_listing

    rows = [row for row in method_listing() if row.available or not args.available]
    header = ("NAME", "SOURCE", "DESCRIPTION")
    table = [header, *((row.name, row.source, row.description) for row in rows)]
    widths = [max(len(line[k]) for line in table) for k in range(2)]
    for name, source, description in table:
        print(f"{name:<{widths[0]}}  {source:<{widths[1]}}  {description}".rstrip())
    print(
        f"{len(rows)} methods; also accepted: any 'package.module:factory' reference "
        "(see docs/plugins.md)"
    )
    return 0
