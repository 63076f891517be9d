"""Asynchronous Hyperband: bracket probabilities, per-bracket rungs, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulated_backend.schedulers import AsynchronousHyperband, SearchSpace, Trial
from tests.simulated_backend.schedulers.scheduler_drivers import (
    RoundRobinDriver,
    mixed_configuration_space,
    result,
)

GRID = list(range(1, 82))  # rung levels 1, 3, 9, 27; max 81; five brackets


def make(**kwargs) -> AsynchronousHyperband:
    arguments = dict(
        search_space=SearchSpace(mixed_configuration_space()),
        metric="loss",
        mode="min",
        fidelity_values=GRID,
    )
    arguments.update(kwargs)
    return AsynchronousHyperband(**arguments)


def add_trials(scheduler, n: int) -> list[Trial]:
    trials = []
    for trial_id in range(n):
        trial = Trial(trial_id, scheduler.suggest().config, 0.0)
        scheduler.on_trial_add(trial)
        trials.append(trial)
    return trials


def test_bracket_probabilities_are_proportional_to_hyperband_bracket_sizes():
    ahb = make()
    assert ahb.num_brackets == 5
    s_max, eta = 4, 3
    sizes = np.array([(s_max + 1) / (s + 1) * eta**s for s in range(s_max, -1, -1)])
    assert ahb.bracket_probabilities == pytest.approx(sizes / sizes.sum())


def test_brackets_are_drawn_with_those_probabilities():
    ahb = make(seed=11)
    trials = add_trials(ahb, 4000)
    counts = np.bincount([ahb.bracket_of(t.trial_id) for t in trials], minlength=5)
    assert counts / counts.sum() == pytest.approx(ahb.bracket_probabilities, abs=0.025)


def test_bracket_b_pauses_first_at_rung_level_b_and_the_last_runs_to_the_end():
    ahb = make(type="promotion", seed=0)
    trials = add_trials(ahb, 300)
    first_decision = {}
    for trial in trials:
        bracket = ahb.bracket_of(trial.trial_id)
        if bracket in first_decision:
            continue
        for epoch in GRID:
            decision = ahb.on_trial_result(trial, result(epoch, 0.5))
            if decision != "CONTINUE":
                first_decision[bracket] = (epoch, decision)
                break
    assert first_decision == {
        0: (1, "PAUSE"),
        1: (3, "PAUSE"),
        2: (9, "PAUSE"),
        3: (27, "PAUSE"),
        4: (81, "STOP"),
    }


def test_rungs_are_kept_per_bracket():
    ahb = make(type="promotion", num_brackets=2, seed=3)
    trials = add_trials(ahb, 200)
    in_bracket = {b: [t for t in trials if ahb.bracket_of(t.trial_id) == b] for b in (0, 1)}
    # bracket 1 pauses three trials at epoch 3 with the best values seen anywhere ...
    for trial in in_bracket[1][:3]:
        for epoch in (1, 2):
            ahb.on_trial_result(trial, result(epoch, 0.0))
        assert ahb.on_trial_result(trial, result(3, 0.0)) == "PAUSE"
    # ... which bracket 0 never promotes: its rung at 3 is empty
    for trial in in_bracket[0][:3]:
        assert ahb.on_trial_result(trial, result(1, 0.5)) == "PAUSE"
    suggestions = [ahb.suggest() for _ in range(40)]
    resumed = {s.resume_trial_id for s in suggestions if not s.spawn_new_trial}
    assert resumed == {in_bracket[1][0].trial_id, in_bracket[0][0].trial_id}


def test_same_seed_same_trajectory_and_types():
    for scheduler_type in ("stopping", "promotion"):
        logs = [
            RoundRobinDriver(make(type=scheduler_type, seed=s), GRID).run(1500) for s in (1, 1, 2)
        ]
        assert logs[0] == logs[1] and logs[0] != logs[2]


def test_num_brackets_must_fit_the_rung_levels_and_metadata_is_json():
    with pytest.raises(ValueError, match="num_brackets must be an integer from 1 to 5"):
        make(num_brackets=6)
    metadata = json.loads(json.dumps(make(num_brackets=3).metadata()))
    assert metadata["scheduler_name"] == "AsynchronousHyperband"
    assert metadata["num_brackets"] == 3 and metadata["rung_levels"] == [1, 3, 9, 27]
