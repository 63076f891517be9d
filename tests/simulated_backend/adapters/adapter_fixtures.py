"""Small blackboxes and a scripted ask/tell optimizer for the adapter tests."""

from __future__ import annotations

from typing import Any

import ConfigSpace as CS
import numpy as np
import pandas as pd

from blackbox_repository import Objective, TabularBlackbox


def random_grid_blackbox(seed: int = 0, n_configs: int = 60, n_epochs: int = 6) -> TabularBlackbox:
    """A tabular blackbox whose configurations are random (not a Cartesian product).

    Hyperparameters: ``lr`` (float, log scale), ``units`` (integer) and ``act`` (categorical).
    """
    rng = np.random.default_rng(seed)
    space = CS.ConfigurationSpace(
        space={
            "lr": CS.Float("lr", (1e-4, 1.0), log=True),
            "units": CS.Integer("units", (8, 256)),
            "act": CS.Categorical("act", ["relu", "tanh"]),
        }
    )
    configurations = pd.DataFrame(
        {
            "lr": np.exp(rng.uniform(np.log(1e-4), 0.0, n_configs)),
            "units": rng.integers(8, 257, n_configs),
            "act": rng.choice(["relu", "tanh"], n_configs),
        }
    )
    values = np.empty((n_configs, n_epochs, 1, 2))
    values[:, :, 0, 0] = rng.random((n_configs, n_epochs))
    values[:, :, 0, 1] = np.cumsum(rng.uniform(1.0, 5.0, (n_configs, n_epochs)), axis=1)
    return TabularBlackbox(
        name=f"random-grid-{seed}",
        configuration_space=space,
        configurations=configurations,
        fidelity_name="epoch",
        fidelity_values=np.arange(1, n_epochs + 1),
        seeds=[0],
        objectives=[Objective("loss", "min"), Objective("time", "min", "s")],
        elapsed_time_objective="time",
        values=values,
    )


class ListOptimizer:
    """An ask/tell optimizer that proposes configs from a list and records every tell."""

    def __init__(self, configs: list[dict[str, Any]]) -> None:
        self.configs = configs
        self.n_asked = 0
        self.told: dict[int, tuple[float | None, str]] = {}
        self.tell_count = 0

    def ask(self) -> tuple[int, dict[str, Any]]:
        handle = self.n_asked
        self.n_asked += 1
        return handle, self.configs[handle % len(self.configs)]

    def tell(self, handle: int, value: float | None, state: str) -> None:
        self.tell_count += 1
        self.told[handle] = (value, state)
