"""One evaluation on a worker: call the objective, check its output, dump the result.

Runs inside a Dask task. An objective that raises, or returns a non-finite value, is a
failure of that one combination: a ``.failed.json`` dump records the error and traceback
and the collection goes on. An output that breaks the contract (a declared metric missing,
a learning curve of the wrong length, a value that is not a number) is a bug in the
objective: :class:`ObjectiveContractError` stops the collection.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarking.tabulation.dump_files import read_json, write_json_atomically
from benchmarking.tabulation.errors import CorruptDumpFileError, ObjectiveContractError
from benchmarking.tabulation.task import PER_FIDELITY
from blackbox_repository.errors import SimtuneError

DUMP_FORMAT_VERSION = 1
STATUS_DONE = "done"
STATUS_FAILED = "failed"
STATUS_SKIPPED = "skipped"


@dataclass(frozen=True)
class EvaluationRequest:
    """Everything a worker needs for one evaluation (small and picklable)."""

    task_name: str
    spec_hash: str
    objective: Callable[..., Any]
    objective_kind: str
    config: dict[str, Any]
    config_hash: str
    config_index: int
    fidelities: tuple[float, ...]
    seed: int
    metric_names: tuple[str, ...]
    elapsed_time_key: str
    done_path: str
    failed_path: str
    logs_dir: str
    time_limit: float | None = None


@dataclass(frozen=True)
class EvaluationOutcome:
    """What a worker reports back to the collector."""

    status: str
    n_fidelity_results: int
    seconds: float
    error: str = ""


class NonFiniteMetricError(SimtuneError, ValueError):
    """A metric value that is NaN or infinite (recorded as a failure of the combination)."""


def _worker_log_path(logs_dir: str) -> Path:
    return Path(logs_dir) / f"worker-{socket.gethostname()}-{os.getpid()}.log"


def append_log(logs_dir: str, line: str) -> None:
    """Append one timestamped entry to this worker process's log file."""
    path = _worker_log_path(logs_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().isoformat(timespec="milliseconds")
    with open(path, "a") as stream:
        stream.write(f"{stamp} {line}\n")


def _describe(request: EvaluationRequest) -> str:
    fidelities = request.fidelities
    shown = fidelities[0] if len(fidelities) == 1 else f"{fidelities[0]}..{fidelities[-1]}"
    return (
        f"task={request.task_name} config={request.config_index} ({request.config_hash}) "
        f"fidelity={shown} seed={request.seed}"
    )


def _call_objective(request: EvaluationRequest) -> list[Mapping[str, Any]]:
    if request.objective_kind == PER_FIDELITY:
        output = request.objective(dict(request.config), request.fidelities[0], request.seed)
        return [output]
    output = request.objective(dict(request.config), request.fidelities, request.seed)
    if isinstance(output, Mapping) or not isinstance(output, Sequence):
        raise ObjectiveContractError(
            f"learning-curve objective of task {request.task_name!r} returned "
            f"{type(output).__name__}; it must return a list with one dict of metrics per "
            f"fidelity ({len(request.fidelities)} dicts)"
        )
    if len(output) != len(request.fidelities):
        raise ObjectiveContractError(
            f"learning-curve objective of task {request.task_name!r} returned {len(output)} "
            f"dicts for {len(request.fidelities)} fidelities ({_describe(request)}); return "
            "one dict per fidelity, in order"
        )
    return list(output)


def checked_metrics(
    request: EvaluationRequest, outputs: list[Mapping[str, Any]]
) -> list[dict[str, float]]:
    """The declared metrics of each output as floats; contract breaks and NaN are errors."""
    rows = []
    for fidelity, output in zip(request.fidelities, outputs):
        if not isinstance(output, Mapping):
            raise ObjectiveContractError(
                f"objective of task {request.task_name!r} returned {type(output).__name__} at "
                f"fidelity {fidelity}; return a dict of metrics"
            )
        missing = [name for name in request.metric_names if name not in output]
        if request.elapsed_time_key in missing:
            raise ObjectiveContractError(
                f"objective of task {request.task_name!r} returned no {request.elapsed_time_key!r} "
                f"at fidelity {fidelity} (it returned {sorted(output)}): return the cumulative "
                f"training seconds under {request.elapsed_time_key!r}, or name the key that "
                "holds them with elapsed_time_key="
            )
        if missing:
            raise ObjectiveContractError(
                f"objective of task {request.task_name!r} returned no {missing} at fidelity "
                f"{fidelity} (it returned {sorted(output)}); return every declared metric "
                f"{list(request.metric_names)} or declare fewer"
            )
        row = {}
        for name in request.metric_names:
            value = output[name]
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ObjectiveContractError(
                    f"objective of task {request.task_name!r} returned {name}={value!r} "
                    f"({type(value).__name__}) at fidelity {fidelity}; metrics must be numbers"
                )
            if not math.isfinite(value):
                raise NonFiniteMetricError(
                    f"non-finite {name}={value!r} at {request.task_name} fidelity {fidelity}"
                )
            row[name] = float(value)
        rows.append(row)
    return rows


def _dump_header(request: EvaluationRequest) -> dict[str, Any]:
    return {
        "format_version": DUMP_FORMAT_VERSION,
        "task": request.task_name,
        "spec_hash": request.spec_hash,
        "config_hash": request.config_hash,
        "config": request.config,
        "seed": request.seed,
        "fidelities": list(request.fidelities),
        "worker": f"{socket.gethostname()}-{os.getpid()}",
        "finished_at": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def record_failure(
    request: EvaluationRequest, error: str, error_traceback: str, seconds: float | None
) -> EvaluationOutcome:
    """Write the ``.failed.json`` dump and the worker log entry of a failed evaluation."""
    write_json_atomically(
        Path(request.failed_path),
        {
            **_dump_header(request),
            "status": STATUS_FAILED,
            "error": error,
            "traceback": error_traceback,
            "seconds": seconds,
        },
    )
    after = f" after {seconds:.3f}s" if seconds is not None else ""
    append_log(request.logs_dir, f"FAILED {_describe(request)}{after}: {error}\n{error_traceback}")
    return EvaluationOutcome(STATUS_FAILED, 0, seconds if seconds is not None else 0.0, error)


def done_dump_problem(path: Path, spec_hash: str, n_fidelities: int) -> str | None:
    """Why the "done" dump at ``path`` cannot be used (``None``: it is sound).

    A file that is not JSON, is of another status or study spec, or lacks metric rows is
    not done: its combination is evaluated again.
    """
    try:
        dump = read_json(path)
    except CorruptDumpFileError as error:
        return str(error)
    if dump.get("status") != STATUS_DONE or dump.get("spec_hash") != spec_hash:
        return f"{path} is not a finished evaluation of this task's spec"
    metrics = dump.get("metrics")
    if not isinstance(metrics, list) or len(metrics) != n_fidelities:
        return f"{path} holds no metric row per fidelity"
    return None


def evaluate_in_sandbox(request: EvaluationRequest) -> EvaluationOutcome:
    """:func:`run_evaluation` in this worker thread's sandbox process (see
    :mod:`benchmarking.tabulation.sandbox`), within ``request.time_limit``.

    An objective that ends its process, or runs past the time limit, is recorded as a
    failure of its combination; the worker lives on.
    """
    from benchmarking.tabulation.sandbox import (
        EvaluationTimedOut,
        SandboxProcessDied,
        sandbox_of_this_thread,
    )

    start = time.perf_counter()
    try:
        return sandbox_of_this_thread().call(run_evaluation, request, request.time_limit)
    except EvaluationTimedOut as error:
        return record_failure(request, f"TimeoutError: {error}", "", time.perf_counter() - start)
    except SandboxProcessDied as error:
        return record_failure(
            request, f"ProcessDied: {error}", "", seconds=time.perf_counter() - start
        )


def run_evaluation(request: EvaluationRequest) -> EvaluationOutcome:
    """Evaluate one combination and dump it; skipped if a sound dump already exists."""
    done = Path(request.done_path)
    if (
        done.exists()
        and done_dump_problem(done, request.spec_hash, len(request.fidelities)) is None
    ):  # another run finished it meanwhile
        return EvaluationOutcome(STATUS_SKIPPED, 0, 0.0)
    append_log(request.logs_dir, f"start {_describe(request)}")
    start = time.perf_counter()
    try:
        outputs = _call_objective(request)
        rows = checked_metrics(request, outputs)
    except ObjectiveContractError as error:
        append_log(request.logs_dir, f"CONTRACT ERROR {_describe(request)}: {error}")
        raise
    except Exception as error:  # the objective failed on this combination: record, go on
        seconds = time.perf_counter() - start
        return record_failure(
            request, f"{type(error).__name__}: {error}", traceback.format_exc(), seconds
        )
    seconds = time.perf_counter() - start
    write_json_atomically(
        Path(request.done_path),
        {**_dump_header(request), "status": STATUS_DONE, "seconds": seconds, "metrics": rows},
    )
    with contextlib.suppress(FileNotFoundError):  # a retried failure that now succeeded
        os.unlink(request.failed_path)
    append_log(request.logs_dir, f"done {_describe(request)} in {seconds:.3f}s")
    return EvaluationOutcome(STATUS_DONE, len(rows), seconds)
