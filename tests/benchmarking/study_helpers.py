"""What the study tests share: small real benchmarks, short budgets, file fingerprints."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

from benchmarking.benchmark_definitions import BenchmarkDefinition, benchmark_definition

# two real tabular benchmarks that convert in well under a second, with settings that make a
# run take a few hundredths of a second (xgboost-mnist cut at 5,600 training samples)
SHORT_SETTINGS = {
    "xgboost-mnist": {"max_wallclock_time": 300.0, "max_fidelity": 5600},
    "taskset-imdb-gru128-bs128": {"max_wallclock_time": 20_000.0},
}


def short_benchmarks() -> list[BenchmarkDefinition]:
    return [
        benchmark_definition(name).with_overrides(**settings)
        for name, settings in SHORT_SETTINGS.items()
    ]


def folder_fingerprint(folder: Path) -> dict[str, tuple[int, int, str]]:
    """file name -> (inode, mtime in ns, sha256): any rewrite of a file changes it."""
    fingerprint = {}
    for path in sorted(folder.iterdir()):
        stat = os.stat(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        fingerprint[path.name] = (stat.st_ino, stat.st_mtime_ns, digest)
    return fingerprint


def completed_task_folders(out: Path) -> list[Path]:
    """Task folders with a metadata.json of status completed."""
    found = []
    for metadata in sorted(out.glob("runs/*/*/seed-*/metadata.json")):
        if '"status": "completed"' in metadata.read_text():
            found.append(metadata.parent)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
