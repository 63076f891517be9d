"""When a simulated run stops: budgets on simulated time, trials, results, or a target."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TuningStatus:
    """Counters of a run, passed to a user ``predicate``."""

    simulated_time: float
    num_trials_started: int
    num_trials_finished: int
    num_results: int
    best_metric_value: float


@dataclass(frozen=True)
class StopCriterion:
    """Stop a run at the first budget reached; at least one must be set.

    Args:
        max_wallclock_time: simulated seconds; results reported later are not recorded.
        max_num_trials_started: no trial is started after this many; running trials go on.
        max_num_trials_finished: stop once this many trials completed, were stopped or failed.
        max_num_results: stop once this many results were recorded.
        target_metric_value: stop once a result reaches it (``<=`` for min, ``>=`` for max).
        predicate: ``predicate(TuningStatus) -> bool``, checked after every result (slower).
    """

    max_wallclock_time: float | None = None
    max_num_trials_started: int | None = None
    max_num_trials_finished: int | None = None
    max_num_results: int | None = None
    target_metric_value: float | None = None
    predicate: Callable[[TuningStatus], bool] | None = None

    def __post_init__(self) -> None:
        if all(v is None for v in asdict(self).values()):
            raise ValueError(
                "StopCriterion needs at least one budget: max_wallclock_time, max_num_trials_started, "
                "max_num_trials_finished, max_num_results, target_metric_value or predicate"
            )
        if self.max_wallclock_time is not None and not (
            isinstance(self.max_wallclock_time, (int, float))
            and math.isfinite(self.max_wallclock_time)
            and self.max_wallclock_time > 0
        ):
            raise ValueError(
                f"max_wallclock_time must be a positive number of simulated seconds, got {self.max_wallclock_time!r}"
            )
        for name in ("max_num_trials_started", "max_num_trials_finished", "max_num_results"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.target_metric_value is not None and not math.isfinite(self.target_metric_value):
            raise ValueError(
                f"target_metric_value must be finite, got {self.target_metric_value!r}"
            )
        if self.predicate is not None and not callable(self.predicate):
            raise ValueError(f"predicate must be callable, got {self.predicate!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description for results metadata."""
        described = {k: v for k, v in asdict(self).items() if k != "predicate"}
        described["predicate"] = (
            getattr(self.predicate, "__qualname__", None) if self.predicate else None
        )
        return described
