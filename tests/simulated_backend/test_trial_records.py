"""What a run keeps per trial: the Tuner holds the Trial of running and paused trials only,
and ASHA forgets a trial when it leaves (long runs keep nothing the GC walks per trial)."""

from __future__ import annotations

import gc

import pytest

from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import ASHA, SearchSpace, Trial
from simulated_backend.tuner import COMPLETED, FAILED, PAUSED, RUNNING, STOPPED
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox


@pytest.mark.parametrize("asha_type", ["stopping", "promotion"])
def test_finished_trials_leave_no_trial_record(asha_type):
    blackbox = random_tabular_blackbox(3, n_configs=60, n_fidelities=9)
    scheduler = ASHA(
        SearchSpace.from_blackbox(blackbox),
        "loss",
        "min",
        blackbox.fidelity_values,
        reduction_factor=3,
        type=asha_type,
        seed=1,
    )
    gc.collect()
    before = sum(isinstance(obj, Trial) for obj in gc.get_objects())  # other tests' leftovers
    tuner = Tuner(
        scheduler,
        SimulatorBackend(blackbox, n_workers=4, seed=0),
        StopCriterion(max_num_results=150),
    )
    tuner.run()
    statuses = tuner.trial_status
    assert {STOPPED, COMPLETED} & set(statuses) or PAUSED in statuses
    for trial_id, status in enumerate(statuses):
        trial = tuner.trials[trial_id]
        if status in (STOPPED, COMPLETED, FAILED):
            assert trial is None
        else:
            assert status in (RUNNING, PAUSED) and trial.trial_id == trial_id
    kept = sum(trial is not None for trial in tuner.trials)
    assert kept < len(statuses)
    gc.collect()
    live = sum(isinstance(obj, Trial) for obj in gc.get_objects()) - before
    assert live == kept  # nothing else holds a finished trial's record
    # ASHA's bookkeeping holds the trials that may still report, and nothing else
    for trial_id, status in enumerate(statuses):
        if status in (RUNNING, PAUSED):
            assert scheduler.bracket_of(trial_id) == 0
        elif status == STOPPED and asha_type == "stopping":
            with pytest.raises(KeyError):
                scheduler.bracket_of(trial_id)


class _ClockAtAdd(ASHA):
    """ASHA that notes, at each trial's on_trial_add, its creation time and the backend's clock."""

    def __init__(self, *args, backend: SimulatorBackend, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.backend = backend
        self.seen: list[tuple[float, float]] = []

    def on_trial_add(self, trial: Trial) -> None:
        self.seen.append((trial.creation_time, self.backend.current_time()))
        super().on_trial_add(trial)


def test_creation_time_is_the_simulated_clock_at_the_start():
    """The Tuner reads a simulated clock once per filling of free workers: every trial's
    creation time is still exactly the clock at its start, and the clock moves between fills."""
    blackbox = random_tabular_blackbox(5, n_configs=80, n_fidelities=9)
    backend = SimulatorBackend(blackbox, n_workers=3, seed=0)
    scheduler = _ClockAtAdd(
        SearchSpace.from_blackbox(blackbox),
        "loss",
        "min",
        blackbox.fidelity_values,
        reduction_factor=3,
        seed=2,
        backend=backend,
    )
    Tuner(scheduler, backend, StopCriterion(max_num_results=200)).run()
    assert len(scheduler.seen) > 10
    assert all(created == clock for created, clock in scheduler.seen)
    assert len({created for created, _ in scheduler.seen}) > 5  # starts at many times
