"""Run names: how independently started processes find a coordinator on this machine.

The host writes ``<runs_dir>/<run_name>.json`` (address, family and authentication key, mode
0600, written to a temporary file and renamed) when the run opens and deletes it when the
run closes. A caller reads it once to connect; coordination itself goes over the socket.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulated_backend.wrapped_objective.errors import CoordinatorUnavailable

RUN_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class RunAddress:
    """Where a coordinator listens: ``family`` is ``"AF_UNIX"`` or ``"AF_INET"``."""

    address: Any
    family: str
    authkey: bytes

    def __reduce__(self) -> tuple:
        # pickled with every task a process pool sends: the constructor call is the cheapest
        return RunAddress, (self.address, self.family, self.authkey)


def default_runs_dir() -> Path:
    """``$SIMTUNE_RUNS_DIR``, else a per-user folder in the temporary directory."""
    configured = os.environ.get("SIMTUNE_RUNS_DIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"simtune-runs-{os.getuid()}"


def check_run_name(run_name: str) -> str:
    if not isinstance(run_name, str) or not RUN_NAME_PATTERN.match(run_name):
        raise ValueError(
            f"run_name must be 1-100 letters, digits, '.', '_' or '-' (starting with a letter "
            f"or digit), got {run_name!r}"
        )
    return run_name


def run_file(run_name: str, runs_dir: Path | str | None) -> Path:
    return Path(runs_dir or default_runs_dir()) / f"{check_run_name(run_name)}.json"


def write_run_address(
    run_name: str, runs_dir: Path | str | None, address: RunAddress, function_objective: Any
) -> Path:
    """Publish the address; fails if a run of that name is open already."""
    path = run_file(run_name, runs_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        raise FileExistsError(
            f"a run named {run_name!r} is already open ({path}); close it, pick another "
            "run_name, or delete the file if its host process is gone"
        )
    record = {
        "family": address.family,
        "address": list(address.address) if address.family == "AF_INET" else address.address,
        "authkey": address.authkey.hex(),
        "host_pid": os.getpid(),
        "function_objective": pickle.dumps(function_objective).hex()
        if function_objective is not None
        else None,
    }
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as stream:
            json.dump(record, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_run_address(run_name: str, runs_dir: Path | str | None) -> tuple[RunAddress, Any]:
    path = run_file(run_name, runs_dir)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise CoordinatorUnavailable(
            f"no open run named {run_name!r} (no {path}); open it first with "
            "SimulationCoordinator(..., run_name=...) in the host process, and pass the same "
            "runs_dir (or SIMTUNE_RUNS_DIR) in every process"
        ) from None
    family = record["family"]
    address = tuple(record["address"]) if family == "AF_INET" else record["address"]
    function_objective = (
        pickle.loads(bytes.fromhex(record["function_objective"]))
        if record.get("function_objective")
        else None
    )
    return RunAddress(address, family, bytes.fromhex(record["authkey"])), function_objective
