"""Run Syne Tune's own simulator on a simtune blackbox, and record what both tuners did.

Imported only by tests marked ``syne_tune`` (Syne Tune is imported inside the functions).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from blackbox_repository import TabularBlackbox
from simulated_backend import TunerCallback

# Syne Tune's SimulatorConfig defaults: a result reaches the tuner 0.05 s after the worker
# reports it, a trial starts 0.05 s after the tuner asked, a trial completes 0.05 s after
# its last report.
SYNE_TUNE_DELAY_START = 0.05
SYNE_TUNE_DELAY_RESULT = 0.05
SYNE_TUNE_DELAY_COMPLETE = 0.05
SYNE_TUNE_SLEEP = 5.0  # Syne Tune's default tuner sleep time: its simulated clock step
DATETIME_RESOLUTION = 1e-6  # Syne Tune records trial creation times as datetimes (µs)


def to_syne_tune_blackbox(blackbox: TabularBlackbox) -> Any:
    """The same table as a Syne Tune ``BlackboxTabular`` (configs x seeds x fidelities x objectives)."""
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
    from syne_tune.config_space import randint

    from simulated_backend.schedulers.syne_tune_adapter import syne_tune_config_space

    fidelities = blackbox.fidelity_values
    return BlackboxTabular(
        hyperparameters=blackbox.configurations,
        configuration_space=syne_tune_config_space(blackbox),
        fidelity_space={blackbox.fidelity_name: randint(int(fidelities[0]), int(fidelities[-1]))},
        objectives_evaluations=np.ascontiguousarray(blackbox.values.transpose(0, 2, 1, 3)),
        fidelity_values=fidelities,
        objectives_names=list(blackbox.objective_names),
    )


def shuffled_grid_configs(blackbox: TabularBlackbox, seed: int) -> list[dict[str, Any]]:
    """Every recorded configuration once, in a random order: the shared sequence of configs."""
    order = np.random.default_rng(seed).permutation(blackbox.n_configurations)
    return [blackbox.configuration(int(i)) for i in order]


@dataclass(frozen=True)
class SyneTuneRun:
    """What Syne Tune's simulator did: results in processing order and trial start times."""

    results: pd.DataFrame  # trial_id, objectives, fidelity, st_tuner_time, st_decision
    start_times: dict[int, float]  # simulated seconds at which each trial was created
    real_seconds: float


def run_syne_tune_simulation(
    scheduler: Any,
    blackbox: TabularBlackbox,
    n_workers: int,
    max_wallclock_time: float,
    tuner_sleep_time: float = SYNE_TUNE_SLEEP,
) -> SyneTuneRun:
    """Syne Tune's Tuner + UserBlackboxBackend + SimulatorCallback, as its docs set them up."""
    from syne_tune import StoppingCriterion
    from syne_tune import Tuner as SyneTuneTuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend

    backend = UserBlackboxBackend(
        blackbox=to_syne_tune_blackbox(blackbox),
        elapsed_time_attr=blackbox.elapsed_time_objective,
        seed=0,  # the blackbox seed; otherwise drawn from numpy's global generator
        tuner_sleep_time=tuner_sleep_time,
    )
    callback = SimulatorCallback()
    tuner = SyneTuneTuner(
        trial_backend=backend,
        scheduler=scheduler,
        stop_criterion=StoppingCriterion(max_wallclock_time=max_wallclock_time),
        n_workers=n_workers,
        sleep_time=0,
        callbacks=[callback],
        save_tuner=False,
        results_update_interval=1e9,
        print_update_interval=1e9,
    )
    started = time.perf_counter()
    tuner.run()
    real_seconds = time.perf_counter() - started
    origin = backend.time_keeper.start_time_stamp
    start_times = {
        trial_id: (trial.creation_time - origin).total_seconds()
        for trial_id, trial in backend._trial_dict.items()
    }
    return SyneTuneRun(callback.dataframe(), start_times, real_seconds)


class DecisionRecorder(TunerCallback):
    """Records the scheduler's own decision for every result of a simtune run."""

    def __init__(self) -> None:
        self.decisions: list[tuple[int, Any, str]] = []
        self.fidelity_name = ""

    def on_tuning_start(self, tuner) -> None:
        self.fidelity_name = tuner.backend.blackbox.fidelity_name

    def on_trial_result(self, trial, result, decision) -> None:
        self.decisions.append((trial.trial_id, result[self.fidelity_name], decision))


def rung_inputs(
    results: list[tuple[int, Any, float]], rung_levels: list[Any]
) -> dict[tuple[int, Any], tuple[Any, frozenset]]:
    """For each result that ASHA records at a rung: the rung and what was recorded there before.

    ``results`` are ``(trial_id, fidelity, metric)`` in the order a tuner processed them;
    ``rung_levels`` are the scheduler's milestones. Mirrors the rule of Syne Tune's ASHA
    bracket: a result is recorded at the highest milestone it reached at which its trial has
    no entry yet. Returns ``{(trial_id, fidelity): (milestone, frozenset of (trial_id,
    metric) recorded at that milestone before)}``; ASHA's decision on that result is a
    function of exactly these.
    """
    recorded: dict[Any, dict[int, float]] = {level: {} for level in rung_levels}
    levels = sorted(rung_levels, reverse=True)
    inputs = {}
    for trial_id, fidelity, metric in results:
        for level in levels:
            if fidelity < level or trial_id in recorded[level]:
                continue
            inputs[(trial_id, fidelity)] = (level, frozenset(recorded[level].items()))
            recorded[level][trial_id] = metric
            break
    return inputs


def trial_depths(starts: dict[int, float], ends: dict[int, float]) -> dict[int, int]:
    """Hand-off depth of each trial: 0 if no trial ended before it started, else 1 + the
    largest depth of the trials that ended at or before its start.

    Each hand-off (a trial ends, a waiting trial starts on the freed worker) can be delayed
    by Syne Tune's clock by at most one tuner sleep step plus its start/complete delays.
    """
    depths: dict[int, int] = {}
    for trial_id in sorted(starts, key=lambda t: (starts[t], t)):
        earlier = [depths[j] for j in depths if ends[j] <= starts[trial_id]]
        depths[trial_id] = 1 + max(earlier) if earlier else 0
    return depths
