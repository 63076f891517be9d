"""Settings of a wrapped-objective run: budgets, release rule and optimizer-time charging."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

OPTIMIZER_TIME_KINDS = ("none", "cpu", "fixed")


@dataclass(frozen=True, slots=True)
class OptimizerTime:
    """How the optimizer's own computing time between calls enters simulated time.

    - ``OptimizerTime.none()`` (the default): not at all; a call starts at the simulated time
      of the result the optimizer last received, so runs are reproducible.
    - ``OptimizerTime.cpu()``: the CPU time the optimizer's process (the host, without the
      coordinator's own thread) used since the previous call arrived; not reproducible.
    - ``OptimizerTime.fixed(seconds)``: a fixed cost per call.

    The optimizer is modelled as one sequential process: a charged call starts at
    ``max(time of the last result, start of the previous call) + cost``.
    """

    kind: str = "none"
    seconds_per_call: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in OPTIMIZER_TIME_KINDS:
            raise ValueError(
                f"OptimizerTime kind must be one of {OPTIMIZER_TIME_KINDS}, got {self.kind!r}"
            )
        if not (math.isfinite(self.seconds_per_call) and self.seconds_per_call >= 0):
            raise ValueError(
                f"seconds_per_call must be a finite number >= 0, got {self.seconds_per_call!r}"
            )

    @classmethod
    def none(cls) -> OptimizerTime:
        return cls("none")

    @classmethod
    def cpu(cls) -> OptimizerTime:
        return cls("cpu")

    @classmethod
    def fixed(cls, seconds: float) -> OptimizerTime:
        return cls("fixed", float(seconds))


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Budgets and release rule of the coordinator (see docs/wrapped-optimizers.md).

    Args:
        n_workers: number of parallel workers being simulated.
        max_evaluations: the run ends once this many calls returned.
        max_simulated_time: the run ends when the next call would return after this time.
        quiescence: real seconds without any new call after which the optimizer is taken
            to be waiting for a result, so the earliest pending call returns although fewer
            than ``n_workers`` calls are pending.
        worker_start_grace: while fewer than ``n_workers`` callers are connected, quiescence
            also waits this many real seconds after the last new connection (workers that
            are still starting must get their first calls in at time 0).
        idle_timeout: real seconds without any call at all (and none pending) after which
            the run ends: the optimizer stopped calling.
        synchronous: the optimizer waits for every pending call before it calls again (a
            synchronous batch): once the first call of a batch returns, the others follow
            in finish-time order without waiting for quiescence.
        continuation_by_config: a call without ``trial_key`` continues the latest
            evaluation of the same configuration.
        optimizer_time: see :class:`OptimizerTime`.
        host_pid: the optimizer's process, whose CPU time ``OptimizerTime.cpu()`` charges.
    """

    n_workers: int
    max_evaluations: int | None = None
    max_simulated_time: float | None = None
    quiescence: float = 0.5
    worker_start_grace: float = 5.0
    idle_timeout: float | None = 60.0
    synchronous: bool = False
    continuation_by_config: bool = False
    optimizer_time: OptimizerTime = OptimizerTime()
    host_pid: int = 0

    def __post_init__(self) -> None:
        if (
            isinstance(self.n_workers, bool)
            or not isinstance(self.n_workers, int)
            or self.n_workers < 1
        ):
            raise ValueError(f"n_workers must be an integer >= 1, got {self.n_workers!r}")
        if self.max_evaluations is not None and (
            isinstance(self.max_evaluations, bool)
            or not isinstance(self.max_evaluations, int)
            or self.max_evaluations < 1
        ):
            raise ValueError(
                f"max_evaluations must be an integer >= 1 or None, got {self.max_evaluations!r}"
            )
        if self.max_simulated_time is not None and not (
            isinstance(self.max_simulated_time, (int, float))
            and math.isfinite(self.max_simulated_time)
            and self.max_simulated_time > 0
        ):
            raise ValueError(
                "max_simulated_time must be a positive number of simulated seconds or None, "
                f"got {self.max_simulated_time!r}"
            )
        if not (isinstance(self.quiescence, (int, float)) and 0 < self.quiescence < math.inf):
            raise ValueError(
                f"quiescence must be a positive number of seconds, got {self.quiescence!r}"
            )
        if not (
            isinstance(self.worker_start_grace, (int, float))
            and 0 <= self.worker_start_grace < math.inf
        ):
            raise ValueError(
                "worker_start_grace must be a number of seconds >= 0, got "
                f"{self.worker_start_grace!r}"
            )
        if self.idle_timeout is not None and not (
            isinstance(self.idle_timeout, (int, float)) and self.idle_timeout > self.quiescence
        ):
            raise ValueError(
                "idle_timeout must be None or a number of seconds larger than quiescence, "
                f"got {self.idle_timeout!r}"
            )
        if not isinstance(self.optimizer_time, OptimizerTime):
            raise TypeError(
                f"optimizer_time must be an OptimizerTime, got {type(self.optimizer_time).__name__}"
            )
        if self.optimizer_time.kind == "cpu" and not os.path.exists("/proc/self/stat"):
            raise ValueError(
                "OptimizerTime.cpu() reads the optimizer's CPU time from /proc, which this "
                "system lacks; use OptimizerTime.fixed(seconds) or OptimizerTime.none()"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_workers": self.n_workers,
            "max_evaluations": self.max_evaluations,
            "max_simulated_time": self.max_simulated_time,
            "quiescence": self.quiescence,
            "worker_start_grace": self.worker_start_grace,
            "idle_timeout": self.idle_timeout,
            "synchronous": self.synchronous,
            "continuation_by_config": self.continuation_by_config,
            "optimizer_time": {
                "kind": self.optimizer_time.kind,
                "seconds_per_call": self.optimizer_time.seconds_per_call,
            },
        }
