"""Small blackboxes and scripted schedulers for engine tests."""

from __future__ import annotations

from typing import Any

import ConfigSpace as CS
import numpy as np
import pandas as pd

from blackbox_repository import Blackbox, Objective, TabularBlackbox
from simulated_backend.schedulers import TrialScheduler, TrialSuggestion


def random_tabular_blackbox(
    seed: int,
    n_configs: int = 40,
    n_fidelities: int = 8,
    n_seeds: int = 2,
    integer_times: bool = True,
) -> TabularBlackbox:
    """Random curves; integer step times make simultaneous events (ties) frequent."""
    rng = np.random.default_rng(seed)
    space = CS.ConfigurationSpace(space={"x": (0, n_configs - 1)})
    configurations = pd.DataFrame({"x": np.arange(n_configs)})
    values = np.empty((n_configs, n_fidelities, n_seeds, 2))
    values[..., 0] = rng.random((n_configs, n_fidelities, n_seeds))
    steps = rng.integers(1, 4, size=(n_configs, n_fidelities, n_seeds)).astype(float)
    if not integer_times:
        steps += rng.random(steps.shape)
    values[..., 1] = np.cumsum(steps, axis=1)
    return TabularBlackbox(
        name=f"random-{seed}",
        configuration_space=space,
        configurations=configurations,
        fidelity_name="epoch",
        fidelity_values=np.arange(1, n_fidelities + 1),
        seeds=np.arange(n_seeds),
        objectives=[Objective("loss", "min"), Objective("time", "min", "s")],
        elapsed_time_objective="time",
        values=values,
    )


class ScriptedScheduler(TrialScheduler):
    """Deterministic decisions that exercise continue, stop, pause and resume.

    Suggests paused trials first (oldest first), else configs x = 0, 1, 2, ... in order.
    Stops a trial whose loss > stop_above at epoch 3; pauses trials with id % 3 == 0 at
    epoch 2 (once each).
    """

    def __init__(self, n_configs: int, stop_above: float = 0.7, pause: bool = True) -> None:
        super().__init__("loss", "min")
        self.n_configs = n_configs
        self.stop_above = stop_above
        self.pause = pause
        self.next_config = 0
        self.paused: list[int] = []
        self.was_paused: set[int] = set()
        self.log: list[tuple[str, int, Any]] = []

    def suggest(self) -> TrialSuggestion | None:
        if self.paused:
            trial_id = self.paused.pop(0)
            self.log.append(("resume", trial_id, None))
            return TrialSuggestion.resume(trial_id)
        if self.next_config >= self.n_configs:
            return None
        self.next_config += 1
        return TrialSuggestion.start({"x": self.next_config - 1})

    def on_trial_result(self, trial, result) -> str:
        self.log.append(("result", trial.trial_id, (result["epoch"], result["simulated_time"])))
        if result["epoch"] == 3 and result["loss"] > self.stop_above:
            return "STOP"
        if (
            self.pause
            and result["epoch"] == 2
            and trial.trial_id % 3 == 0
            and trial.trial_id not in self.was_paused
        ):
            self.was_paused.add(trial.trial_id)
            self.paused.append(trial.trial_id)
            return "PAUSE"
        return "CONTINUE"


class FormulaBlackbox(Blackbox):
    """A non-tabular blackbox whose curves count how many rows were computed (laziness)."""

    kind = "formula"

    def __init__(self, n_fidelities: int = 50) -> None:
        super().__init__(
            name="formula",
            configuration_space=CS.ConfigurationSpace(space={"lr": (0.001, 1.0)}),
            fidelity_name="epoch",
            fidelity_values=np.arange(1, n_fidelities + 1),
            seeds=[0],
            objectives=[Objective("loss", "min"), Objective("time", "min", "s")],
            elapsed_time_objective="time",
        )
        self.rows_computed = 0

    def lookup(self, config, fidelity, seed=None):
        row = self._row(config["lr"], self.fidelity_index(fidelity))
        return dict(zip(self.objective_names, row.tolist()))

    def _row(self, lr: float, position: int) -> np.ndarray:
        self.rows_computed += 1
        return np.array([lr / (position + 1), 10.0 * (position + 1)])

    def curve(self, config, seed_index: int = 0):
        blackbox, lr = self, config["lr"]

        class Curve:
            def __getitem__(self, position: int) -> np.ndarray:
                return blackbox._row(lr, position)

        return Curve()
