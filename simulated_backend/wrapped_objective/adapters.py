"""Calling conventions of optimizers that run their own workers, around a WrappedObjective.

They are small picklable classes defined here (not in user scripts) so that process pools,
Dask workers and independently started processes can import them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulated_backend.wrapped_objective.client import WrappedObjective


class SmacTarget:
    """SMAC3's target function ``train(config, seed, budget) -> cost`` over a wrapped objective.

    ``budget`` is the fidelity (SMAC's multi-fidelity intensifiers pass floats; the wrapper
    rounds them up to the blackbox's next recorded fidelity). With ``continue_trials=True``
    a configuration evaluated again at a higher budget is a continuation (SMAC's
    Hyperband re-runs configurations with more budget), charged only the remaining time.

    Example:
        >>> facade = MultiFidelityFacade(scenario, SmacTarget(run.objective, "loss"),  # doctest: +SKIP
        ...                              intensifier=Hyperband(scenario), dask_client=client)
    """

    def __init__(
        self, objective: WrappedObjective, metric: str, continue_trials: bool = False
    ) -> None:
        self.objective = objective
        self.metric = metric
        self.continue_trials = continue_trials

    def __call__(
        self, config: Mapping[str, Any], seed: int = 0, budget: float | None = None
    ) -> float:
        values = dict(config)
        key = tuple(sorted(values.items())) if self.continue_trials else None
        return float(self.objective(values, budget, trial_key=key)[self.metric])


class FidelityObjective:
    """``objective(config, fidelity) -> value of metric``: for optimizers that want a number."""

    def __init__(self, objective: WrappedObjective, metric: str) -> None:
        self.objective = objective
        self.metric = metric

    def __call__(self, config: Mapping[str, Any], fidelity: Any = None) -> float:
        return float(self.objective(dict(config), fidelity)[self.metric])
