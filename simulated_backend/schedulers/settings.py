"""The settings of a scheduler, passed once as frozen records instead of argument chains.

Every scheduler gets a :class:`SchedulerSettings` (where configurations come from, what to
optimize, the seed); multi-fidelity schedulers also get a :class:`FidelitySettings` (the
fidelity grid, the minimum and maximum fidelity, ``eta``). The public classes (``ASHA``,
``Hyperband``, ...) take plain keyword arguments, build these records once and hand them to
the shared machinery (:mod:`~simulated_backend.schedulers.asynchronous_brackets`,
:mod:`~simulated_backend.schedulers.synchronous_brackets`); a factory that already holds
the records can call ``from_settings`` directly.

Example:
    >>> settings = SchedulerSettings(space, "valid_error", "min", seed=1)  # doctest: +SKIP
    >>> fidelity = FidelitySettings(range(1, 201), reduction_factor=3)  # doctest: +SKIP
    >>> ASHA.from_settings(settings, fidelity)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulated_backend.schedulers.protocol import check_metric_and_mode
from simulated_backend.schedulers.rung_levels import validate_fidelity_values
from simulated_backend.schedulers.scheduler_arguments import (
    check_search_space,
    check_seed,
    points_metadata,
)
from simulated_backend.schedulers.search_space import SearchSpace


@dataclass(frozen=True)
class SchedulerSettings:
    """What every scheduler needs.

    Args:
        search_space: where new configurations come from (schedulers draw from their own
            fresh copy; this one is never consumed).
        metric: the result key to optimize; mode: ``"min"`` or ``"max"``.
        seed: seeds every random choice; the same seed gives the same suggestions.
        points_to_evaluate: configurations started first, in order.
    """

    search_space: SearchSpace
    metric: str
    mode: str
    seed: int = 0
    points_to_evaluate: tuple[Mapping[str, Any], ...] | None = None

    def __post_init__(self) -> None:
        check_search_space(self.search_space)
        check_metric_and_mode(self.metric, self.mode)
        object.__setattr__(self, "seed", check_seed(self.seed))
        points = self.points_to_evaluate
        if points is not None:
            if isinstance(points, Mapping) or not isinstance(points, Sequence):
                raise ValueError(
                    "points_to_evaluate must be a list of configurations (dicts), got "
                    f"{type(points).__name__}"
                )
            object.__setattr__(self, "points_to_evaluate", tuple(points))

    def metadata(self) -> dict[str, Any]:
        """JSON-able fields (the search space summarized)."""
        return {
            "metric": self.metric,
            "mode": self.mode,
            "seed": self.seed,
            "points_to_evaluate": points_metadata(self.points_to_evaluate),
            "search_space": self.search_space.metadata(),
        }


@dataclass(frozen=True)
class FidelitySettings:
    """The fidelity settings of a multi-fidelity scheduler (validated, not yet resolved).

    Args:
        fidelity_values: the blackbox's sorted fidelity grid.
        min_fidelity: the smallest fidelity a trial runs to (ASHA's grace period, Hyperband's
            ``r``); default: the first grid value; snapped up to the grid.
        max_fidelity: trials stop there (Hyperband's ``R``); default: the last grid value;
            must be on the grid.
        reduction_factor: ``eta`` >= 2.
        rung_levels: explicit rung levels on the grid (asynchronous schedulers only).

    Results reach schedulers with the fidelity under the key ``"fidelity"``.
    """

    fidelity_values: tuple
    min_fidelity: Any = None
    max_fidelity: Any = None
    reduction_factor: Any = 3
    rung_levels: tuple | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fidelity_values", validate_fidelity_values(self.fidelity_values))
        if self.rung_levels is not None:
            if isinstance(self.rung_levels, (str, bytes)) or not isinstance(
                self.rung_levels, Sequence
            ):
                raise ValueError(
                    f"rung_levels must be a sequence of grid values, got {self.rung_levels!r}"
                )
            object.__setattr__(self, "rung_levels", tuple(self.rung_levels))
