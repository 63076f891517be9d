"""CLI start-up: how long ``simtune --help``, ``blackbox list`` and each command's ``--help``
take, as a ratio to ``python -c "import numpy"`` measured in the same run.

    python benchmarks/cli_startup.py [--repeats 7]

Each command runs as a fresh process, exactly as the ``simtune`` console script does
(``from benchmarking.cli import main``), ``--repeats`` times, alternating with the numpy
peer so that both see the same machine load; the medians are compared. Target: every
command within 3x of importing numpy. It also lists the heavy modules (pandas, pyarrow,
ConfigSpace, scipy, Dask, matplotlib) each command imported: there should be none.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 3.0
HEAVY_MODULES = ("pandas", "pyarrow", "ConfigSpace", "scipy", "dask", "distributed", "matplotlib")
COMMANDS = (
    ("--help",),
    ("blackbox", "list"),
    ("methods",),
    ("blackbox", "--help"),
    ("blackbox", "info", "--help"),
    ("run", "--help"),
    ("collect", "--help"),
    ("plot", "--help"),
)
PEER = ("-c", "import numpy")
# What the console script runs, plus a report of the heavy modules imported, on stderr.
SIMTUNE = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: print('HEAVY=' + json.dumps(sorted("
    "m for m in {heavy!r} if m in sys.modules)), file=sys.stderr))\n"
    "from benchmarking.cli import main\n"
    "sys.exit(main())\n"
)


def run_once(arguments: tuple[str, ...], env: dict[str, str]) -> tuple[float, str]:
    """Seconds for one fresh ``python arguments`` process, and its stderr."""
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, *arguments], env=env, cwd=REPO_ROOT, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    return elapsed, finished.stdout + finished.stderr if finished.returncode else finished.stderr


def available_commands() -> list[tuple[str, ...]]:
    """The commands of :data:`COMMANDS` this version of simtune has (``methods`` is new)."""
    from benchmarking.cli import COMMANDS as SIMTUNE_COMMANDS

    names = {command.name for command in SIMTUNE_COMMANDS}
    return [c for c in COMMANDS if c[0].startswith("-") or c[0] in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache_dir:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
            ),
            "SIMTUNE_CACHE_DIR": cache_dir,
        }
        script = SIMTUNE.format(heavy=HEAVY_MODULES)
        commands = available_commands()
        peer_times: list[float] = []
        times: dict[tuple[str, ...], list[float]] = {c: [] for c in commands}
        heavy: dict[tuple[str, ...], str] = {}
        for _ in range(args.repeats):
            for command in commands:
                peer_times.append(run_once(PEER, env)[0])
                elapsed, stderr = run_once(("-c", script, *command), env)
                times[command].append(elapsed)
                heavy[command] = next(
                    (
                        line[len("HEAVY=") :]
                        for line in stderr.splitlines()
                        if line.startswith("HEAVY=")
                    ),
                    f"(no report; stderr: {stderr.strip()[-200:]})",
                )
    peer = statistics.median(peer_times)
    print(
        f"peer: python -c 'import numpy': median {peer * 1000:.0f} ms over {len(peer_times)} runs"
    )
    print(
        f"target: each command <= {TARGET_RATIO:.0f}x the peer, importing none of {', '.join(HEAVY_MODULES)}"
    )
    all_met = True
    for command, samples in times.items():
        median = statistics.median(samples)
        ratio = median / peer
        met = ratio <= TARGET_RATIO and heavy[command] == json.dumps([])
        all_met &= met
        print(
            f"simtune {' '.join(command):<22} {median * 1000:6.0f} ms  {ratio:4.2f}x numpy  "
            f"heavy imports: {heavy[command]:<10} {'met' if met else 'MISSED'}"
        )
    print(f"overall: {'met' if all_met else 'MISSED'}")


if __name__ == "__main__":
    main()
