"""Search spaces, tabular blackboxes and a tiny deterministic driver for scheduler tests.

The driver plays the engine's part with synthetic results: ``n_workers`` workers, trials
report every fidelity of the grid in increasing order, one result per step round-robin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ConfigSpace as CS
import numpy as np
import pandas as pd

from blackbox_repository import Objective, TabularBlackbox
from simulated_backend.schedulers import Trial, TrialScheduler


def mixed_configuration_space() -> CS.ConfigurationSpace:
    """A float, a log-scaled float, an integer and a categorical hyperparameter."""
    return CS.ConfigurationSpace(
        space={
            "x": (0.0, 1.0),
            "lr": CS.Float("lr", (1e-4, 1e-1), log=True),
            "layers": (1, 8),
            "act": ["relu", "tanh", "elu"],
        }
    )


def quadratic_loss(config: dict[str, Any], fidelity: float) -> float:
    """Smaller near x = 0.3 with act = 'tanh'; improves with the fidelity."""
    penalty = 0.0 if config.get("act", "tanh") == "tanh" else 0.2
    return (config["x"] - 0.3) ** 2 + penalty + 1.0 / fidelity


def grid_blackbox(n_configs: int = 30, n_fidelities: int = 9, seed: int = 0) -> TabularBlackbox:
    """A tabular blackbox over a grid of x values with a conditional categorical column."""
    rng = np.random.default_rng(seed)
    space = CS.ConfigurationSpace(space={"x": (0.0, 1.0), "act": ["relu", "tanh"]})
    x = np.round(rng.random(n_configs), 6)
    act = np.where(np.arange(n_configs) % 2 == 0, "relu", "tanh")
    configurations = pd.DataFrame({"x": x, "act": act})
    fidelities = np.arange(1, n_fidelities + 1)
    values = np.empty((n_configs, n_fidelities, 1, 2))
    for i in range(n_configs):
        config = {"x": x[i], "act": act[i]}
        values[i, :, 0, 0] = [quadratic_loss(config, f) for f in fidelities]
    values[..., 1] = np.cumsum(np.ones((n_configs, n_fidelities, 1)), axis=1)
    return TabularBlackbox(
        name="grid-test",
        configuration_space=space,
        configurations=configurations,
        fidelity_name="epoch",
        fidelity_values=fidelities,
        seeds=[0],
        objectives=[Objective("loss", "min"), Objective("time", "min", "s")],
        elapsed_time_objective="time",
        values=values,
    )


def result(epoch: float, value: float, metric: str = "loss") -> dict[str, Any]:
    return {metric: value, "fidelity": epoch, "simulated_time": 0.0}


class RoundRobinDriver:
    """Runs a scheduler on synthetic results; records every suggestion and decision."""

    def __init__(
        self,
        scheduler: TrialScheduler,
        fidelity_values,
        loss: Callable[[dict[str, Any], float], float] = quadratic_loss,
        n_workers: int = 4,
        metric: str = "loss",
        sign: float = 1.0,
    ) -> None:
        self.scheduler = scheduler
        self.grid = list(fidelity_values)
        self.loss = loss
        self.n_workers = n_workers
        self.metric = metric
        self.sign = sign
        self.trials: list[Trial] = []
        self.position: list[int] = []
        self.running: list[int] = []
        self.log: list[tuple] = []

    def run(self, max_results: int) -> list[tuple]:
        n_results = 0
        while n_results < max_results:
            while len(self.running) < self.n_workers:
                suggestion = self.scheduler.suggest()
                if suggestion is None:
                    break
                if suggestion.spawn_new_trial:
                    trial_id = len(self.trials)
                    self.trials.append(Trial(trial_id, dict(suggestion.config), 0.0))
                    self.position.append(0)
                    self.scheduler.on_trial_add(self.trials[-1])
                    self.log.append(("start", trial_id, tuple(sorted(suggestion.config.items()))))
                else:
                    trial_id = suggestion.resume_trial_id
                    self.log.append(("resume", trial_id))
                self.running.append(trial_id)
            if not self.running:
                break
            trial_id = self.running.pop(0)
            trial = self.trials[trial_id]
            fidelity = self.grid[self.position[trial_id]]
            self.position[trial_id] += 1
            value = self.sign * self.loss(trial.config, fidelity)
            decision = self.scheduler.on_trial_result(trial, result(fidelity, value, self.metric))
            n_results += 1
            self.log.append(("result", trial_id, fidelity, decision))
            if self.position[trial_id] == len(self.grid):
                self.scheduler.on_trial_complete(trial, result(fidelity, value, self.metric))
            elif decision == "CONTINUE":
                self.running.append(trial_id)
        return self.log
