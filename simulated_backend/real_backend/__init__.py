"""Real trials on real workers, driven by the same Tuner as the simulator.

- :class:`RealBackend`: a user's training function, one call per fidelity step, with a
  checkpoint folder per trial (:mod:`~simulated_backend.real_backend.backend`).
- Runners with submit/collect semantics: :class:`SerialRunner`, :class:`ProcessRunner`,
  :class:`DaskRunner`; :func:`make_runner` builds one by name.
- :class:`StepLimits`: per-call wall-time and memory limits, enforced in the worker.

See ``docs/backends.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from simulated_backend.real_backend.backend import RealBackend
from simulated_backend.real_backend.process_runner import ProcessRunner
from simulated_backend.real_backend.runners import Runner, RunnerError, SerialRunner
from simulated_backend.real_backend.trial_step import (
    CRASHED,
    MEMORY_OUT,
    STATUSES,
    SUCCESS,
    TIMEOUT,
    StepLimits,
    StepOutcome,
    StepTask,
)

RUNNER_KINDS = ("serial", "processes", "dask")


def make_runner(
    kind: str,
    objective: Callable[..., Mapping[str, float]],
    n_workers: int = 1,
    shared: Mapping[str, Any] | None = None,
    dask_address: str | None = None,
) -> Runner:
    """A runner by name: ``serial``, ``processes`` or ``dask`` (a LocalCluster, or the
    scheduler at ``dask_address``)."""
    if kind == "serial":
        if n_workers != 1:
            raise ValueError(f"the serial runner has exactly one worker, got n_workers={n_workers}")
        return SerialRunner(objective, shared)
    if kind == "processes":
        return ProcessRunner(objective, n_workers, shared)
    if kind == "dask":
        from simulated_backend.real_backend.dask_runner import DaskRunner

        return DaskRunner(objective, n_workers, shared, address=dask_address)
    raise ValueError(f"runner must be one of {RUNNER_KINDS}, got {kind!r}")


__all__ = [
    "CRASHED",
    "MEMORY_OUT",
    "RUNNER_KINDS",
    "STATUSES",
    "SUCCESS",
    "TIMEOUT",
    "ProcessRunner",
    "RealBackend",
    "Runner",
    "RunnerError",
    "SerialRunner",
    "StepLimits",
    "StepOutcome",
    "StepTask",
    "make_runner",
]
