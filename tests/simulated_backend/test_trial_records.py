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
    before = sum(type(obj) is Trial for obj in gc.get_objects())  # other tests' leftovers
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
    live = sum(type(obj) is Trial for obj in gc.get_objects()) - before
    assert live == kept  # nothing else holds a finished trial's record
    # ASHA's bookkeeping holds the trials that may still report, and nothing else
    for trial_id, status in enumerate(statuses):
        if status in (RUNNING, PAUSED):
            assert scheduler.bracket_of(trial_id) == 0
        elif status == STOPPED and asha_type == "stopping":
            with pytest.raises(KeyError):
                scheduler.bracket_of(trial_id)
