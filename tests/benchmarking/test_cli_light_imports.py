"""``simtune --help``, ``blackbox list`` and every command's ``--help`` import only what they
need: each runs in a fresh process, which then reports the heavy modules it holds. (Speed
itself is measured by ``benchmarks/cli_startup.py``, not here.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarking.cli import COMMANDS, build_parser, chosen_command
from tests.conftest import REPO_ROOT

HEAVY_MODULES = ("pandas", "pyarrow", "ConfigSpace", "scipy", "dask", "distributed", "matplotlib")
REPORT_HEAVY_MODULES = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: print('HEAVY=' + json.dumps(sorted("
    f"m for m in {HEAVY_MODULES!r} if m in sys.modules)), file=sys.stderr))\n"
    "from benchmarking.cli import main\n"
    "sys.exit(main())\n"
)


def heavy_modules_after(*arguments: str, cache_dir) -> tuple[list[str], str]:
    finished = subprocess.run(
        [sys.executable, "-c", REPORT_HEAVY_MODULES, *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, "SIMTUNE_CACHE_DIR": str(cache_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    report = [line for line in finished.stderr.splitlines() if line.startswith("HEAVY=")]
    return json.loads(report[-1].removeprefix("HEAVY=")), finished.stdout


@pytest.mark.parametrize(
    "arguments",
    [
        ("--help",),
        ("blackbox", "list"),
        ("blackbox", "info", "--help"),
        ("run", "--help"),
        ("plot", "--help"),
    ],
    ids=" ".join,
)
def test_help_and_list_import_no_heavy_module(arguments, tmp_path):
    heavy, out = heavy_modules_after(*arguments, cache_dir=tmp_path)
    assert heavy == []
    assert out  # it did answer
    if arguments == ("blackbox", "list"):
        assert "sklearn-mlp-digits" in out and out.splitlines()[-1].endswith(
            str(tmp_path / "blackboxes")
        )


def test_the_parser_of_one_command_loads_only_that_command():
    names = [command.name for command in COMMANDS]
    assert chosen_command(["--help"]) is None
    assert chosen_command(["blackbox", "list", "--family", "lcdb"]) == "blackbox"
    only_run = build_parser("run")
    assert only_run.parse_args(["run", "--seeds", "0-4", "--methods", "RS"]).seeds == "0-4"
    with pytest.raises(SystemExit):  # `blackbox` got no arguments: nothing of it was loaded
        only_run.parse_args(["blackbox", "list"])
    everything = build_parser()
    for name, arguments in (("blackbox", ["list"]), ("collect", ["out"]), ("plot", ["out"])):
        assert name in names
        assert callable(everything.parse_args([name, *arguments]).handler)
