"""ASHA: stopping decisions, promotions against a brute-force reference, determinism."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from simulated_backend.schedulers import ASHA, RandomSearch, SearchSpace, Trial
from tests.simulated_backend.schedulers.scheduler_drivers import (
    RoundRobinDriver,
    grid_blackbox,
    mixed_configuration_space,
    result,
)

GRID = list(range(1, 28))  # rung levels 1, 3, 9 with eta = 3; max resource 27


def make_asha(**kwargs) -> ASHA:
    arguments = dict(
        search_space=SearchSpace(mixed_configuration_space()),
        metric="loss",
        mode="min",
        fidelity_values=GRID,
    )
    arguments.update(kwargs)
    return ASHA(**arguments)


def add_trials(scheduler, n: int) -> list[Trial]:
    trials = []
    for trial_id in range(n):
        suggestion = scheduler.suggest()
        trials.append(Trial(trial_id, suggestion.config, 0.0))
        scheduler.on_trial_add(trials[-1])
    return trials


def test_stopping_decisions_on_a_hand_made_sequence():
    asha = make_asha()
    assert asha.rung_levels == (1, 3, 9)
    trials = add_trials(asha, 6)
    values = [0.5, 0.6, 0.4, 0.45, 0.7, 0.5]
    decisions = [asha.on_trial_result(t, result(1, v)) for t, v in zip(trials, values)]
    # n results at the rung (itself included), b strictly better: continue iff 3 b <= n
    assert decisions == ["CONTINUE", "STOP", "CONTINUE", "CONTINUE", "STOP", "CONTINUE"]
    assert asha.on_trial_result(trials[0], result(2, 0.45)) == "CONTINUE"  # not a rung
    assert asha.on_trial_result(trials[0], result(3, 0.3)) == "CONTINUE"  # first at rung 3
    assert asha.on_trial_result(trials[2], result(2, 0.4)) == "CONTINUE"
    assert asha.on_trial_result(trials[2], result(3, 0.35)) == "STOP"  # b = 1, n = 2


def test_stopping_mode_max_mirrors_mode_min():
    values = np.random.default_rng(0).integers(0, 5, size=40) / 4
    decisions = {}
    for mode, sign in (("min", 1), ("max", -1)):
        asha = make_asha(mode=mode, metric="score")
        trials = add_trials(asha, len(values))
        decisions[mode] = [
            asha.on_trial_result(t, result(1, sign * v, "score")) for t, v in zip(trials, values)
        ]
    assert decisions["min"] == decisions["max"]
    assert "STOP" in decisions["min"] and "CONTINUE" in decisions["min"]


def test_stopping_rule_matches_brute_force_on_random_sequences():
    rng = np.random.default_rng(1)
    for eta in (2, 3, 4, 2.5):  # float eta: the inline decision's n_smallest path
        asha = make_asha(reduction_factor=eta, rung_levels=[1])
        trials = add_trials(asha, 200)
        seen = []
        for trial in trials:
            value = float(rng.integers(0, 8)) if rng.random() < 0.9 else math.nan
            seen.append(math.inf if math.isnan(value) else value)
            better = sum(1 for v in seen if v < seen[-1])
            expected = "CONTINUE" if better * eta <= len(seen) else "STOP"
            assert asha.on_trial_result(trial, result(1, value)) == expected


class ReferencePromotion:
    """Li et al. (2020), Algorithm 2, written naively: sort every rung on every call."""

    def __init__(self, levels, eta):
        self.levels, self.eta = list(levels), eta
        self.rungs = {level: [] for level in levels}  # (key, arrival, trial_id)
        self.promoted, self.paused_at, self.arrivals = set(), {}, 0

    def record(self, trial_id, level, value):
        key = math.inf if math.isnan(value) else value
        self.rungs[level].append((key, self.arrivals, trial_id))
        self.arrivals += 1
        self.paused_at[trial_id] = level

    def next_promotion(self):
        for level in reversed(self.levels):
            entries = sorted(self.rungs[level])
            top = entries[: math.floor(len(entries) / self.eta)]
            for _, _, trial_id in top:
                if (level, trial_id) not in self.promoted and self.paused_at.get(trial_id) == level:
                    self.promoted.add((level, trial_id))
                    del self.paused_at[trial_id]
                    return trial_id
        return None

    def fail(self, trial_id):
        self.paused_at.pop(trial_id, None)


@pytest.mark.parametrize("eta", [2, 3])
def test_promotion_matches_brute_force_reference_on_random_sequences(eta):
    grid = list(range(1, 33))
    for sequence_seed in range(25):
        rng = np.random.default_rng(sequence_seed)
        asha = make_asha(
            type="promotion", reduction_factor=eta, fidelity_values=grid, seed=sequence_seed
        )
        reference = ReferencePromotion(asha.rung_levels, eta)
        levels = (*asha.rung_levels, asha.max_fidelity)
        trials, next_level, running = [], {}, []
        for _ in range(400):
            if len(running) < 4 and rng.random() < 0.5:
                suggestion = asha.suggest()
                expected = reference.next_promotion()
                if expected is None:
                    assert suggestion.spawn_new_trial
                    trials.append(Trial(len(trials), suggestion.config, 0.0))
                    asha.on_trial_add(trials[-1])
                    trial_id = trials[-1].trial_id
                    next_level[trial_id] = 0
                else:
                    assert suggestion.resume_trial_id == expected
                    trial_id = expected
                running.append(trial_id)
            elif running:
                trial_id = running.pop(int(rng.integers(len(running))))
                if rng.random() < 0.03:
                    asha.on_trial_error(trials[trial_id])
                    reference.fail(trial_id)
                    continue
                level = levels[next_level[trial_id]]
                previous = levels[next_level[trial_id] - 1] if next_level[trial_id] else 0
                if level - previous > 1 and rng.random() < 0.3:  # a result between rungs
                    decision = asha.on_trial_result(trials[trial_id], result(level - 1, 0.0))
                    assert decision == "CONTINUE"
                value = float(rng.integers(0, 6)) if rng.random() < 0.95 else math.nan
                decision = asha.on_trial_result(trials[trial_id], result(level, value))
                if level == asha.max_fidelity:
                    assert decision == "STOP"
                    asha.on_trial_complete(trials[trial_id], result(level, value))
                else:
                    assert decision == "PAUSE"
                    reference.record(trial_id, level, value)
                    next_level[trial_id] += 1
        assert reference.promoted, "the sequence never promoted: the test would prove nothing"


def test_promotion_resumes_highest_rung_first_and_each_trial_once():
    asha = make_asha(type="promotion")
    trials = add_trials(asha, 9)
    for trial, value in zip(trials, [0.9, 0.1, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]):
        assert asha.on_trial_result(trial, result(1, value)) == "PAUSE"
    # 9 results at rung 1: the top 3 (trials 1, 8, 7) are promotable, best first
    assert asha.suggest().resume_trial_id == 1
    assert asha.suggest().resume_trial_id == 8
    for fidelity in (2, 3):
        decision = asha.on_trial_result(trials[1], result(fidelity, 0.05))
    assert decision == "PAUSE"  # trial 1 is alone at rung 3: floor(1/3) = 0, not promotable
    assert asha.suggest().resume_trial_id == 7
    assert asha.suggest().spawn_new_trial  # rung 1 has no promotable trial left


def test_resume_from_scratch_ignores_repeated_rung_results():
    asha = make_asha(type="promotion")
    trials = add_trials(asha, 3)
    for trial, value in zip(trials, [0.3, 0.2, 0.1]):
        asha.on_trial_result(trial, result(1, value))
    assert asha.suggest().resume_trial_id == 2
    # the engine restarted trial 2 from scratch: epoch 1 again, then 2, then rung 3
    assert asha.on_trial_result(trials[2], result(1, 0.1)) == "CONTINUE"
    assert asha.on_trial_result(trials[2], result(2, 0.1)) == "CONTINUE"
    assert asha.on_trial_result(trials[2], result(3, 0.1)) == "PAUSE"
    assert asha.suggest().spawn_new_trial  # the repeated result did not count at rung 1


def test_max_resource_below_the_last_fidelity_stops_trials_there():
    asha = make_asha(max_fidelity=9, rung_levels=[3])
    (trial,) = add_trials(asha, 1)
    decisions = [asha.on_trial_result(trial, result(f, 0.1)) for f in range(1, 10)]
    assert decisions == ["CONTINUE"] * 8 + ["STOP"]


def test_same_seed_same_trajectory_and_different_seed_differs():
    logs = []
    for seed in (3, 3, 4):
        asha = make_asha(type="promotion", seed=seed)
        logs.append(RoundRobinDriver(asha, GRID).run(600))
    assert logs[0] == logs[1]
    assert logs[0] != logs[2]


def test_mode_max_runs_the_same_trajectory_as_mode_min_on_negated_values():
    runs = []
    for mode, sign in (("min", 1.0), ("max", -1.0)):
        asha = make_asha(mode=mode, type="promotion", seed=5)
        runs.append(RoundRobinDriver(asha, GRID, sign=sign).run(500))
    assert runs[0] == runs[1]


def test_finite_space_exhausts_then_only_promotes():
    blackbox = grid_blackbox(n_configs=4, n_fidelities=9)
    asha = ASHA(
        SearchSpace.from_blackbox(blackbox),
        "loss",
        "min",
        list(range(1, 10)),
        type="promotion",
    )
    trials = add_trials(asha, 4)
    assert asha.exhausted
    for trial, value in zip(trials, [0.4, 0.3, 0.2, 0.1]):
        asha.on_trial_result(trial, result(1, value))
    assert asha.suggest().resume_trial_id == 3  # floor(4/3) = 1 promotable
    assert asha.suggest() is None
    assert {blackbox.config_index(t.config) for t in trials} == set(range(4))


def test_results_without_the_metric_or_from_unknown_trials_are_clear_errors():
    asha = make_asha()
    (trial,) = add_trials(asha, 1)
    with pytest.raises(ValueError, match=r"has no \['loss'\]"):
        asha.on_trial_result(trial, {"accuracy": 0.3, "fidelity": 1})
    with pytest.raises(ValueError, match="does not track"):
        asha.on_trial_result(Trial(99, {}, 0.0), result(1, 0.3))
    with pytest.raises(ValueError, match="never its next milestone 1"):
        asha.on_trial_result(trial, result(2, 0.3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": "median"}, "type must be 'stopping' or 'promotion'"),
        ({"mode": "minimize"}, "mode must be 'min' or 'max'"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"fidelity_values": "epoch"}, "schedulers no longer take the fidelity's name"),
        ({"reduction_factor": 1}, "reduction_factor must be a number >= 2"),
        ({"rung_levels": [2.5]}, "rung level 2.5 is not on the fidelity grid"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_asha(**kwargs)


def test_search_space_must_be_a_search_space():
    with pytest.raises(TypeError, match="SearchSpace.from_blackbox"):
        make_asha(search_space=mixed_configuration_space())


def test_points_to_evaluate_come_first_and_metadata_is_json():
    points = [{"x": 0.5, "lr": 0.01, "layers": 2, "act": "relu"}]
    asha = make_asha(points_to_evaluate=points, seed=1)
    assert asha.suggest().config == points[0]
    metadata = json.loads(json.dumps(asha.metadata()))
    assert metadata["scheduler_name"] == "ASHA"
    assert metadata["rung_levels"] == [1, 3, 9] and metadata["max_fidelity"] == 27
    assert metadata["points_to_evaluate"] == points and metadata["seed"] == 1
    with pytest.raises(ValueError, match="not valid in the search space"):
        make_asha(points_to_evaluate=[{"x": 2.0, "lr": 0.01, "layers": 2, "act": "relu"}])


def test_random_search_runs_every_trial_to_the_end_and_exhausts_a_grid():
    blackbox = grid_blackbox(n_configs=5)
    space = SearchSpace.from_blackbox(blackbox)
    first = blackbox.configuration(2)
    scheduler = RandomSearch(space, "loss", "min", seed=0, points_to_evaluate=[first])
    configs = []
    while (suggestion := scheduler.suggest()) is not None:
        configs.append(suggestion.config)
    assert configs[0] == first and len(configs) == 5 and scheduler.exhausted
    assert sorted(blackbox.config_index(c) for c in configs) == [0, 1, 2, 3, 4]
    trial = Trial(0, configs[0], 0.0)
    assert scheduler.on_trial_result(trial, result(1, 0.3)) == "CONTINUE"
    again = RandomSearch(space, "loss", "min", seed=0, points_to_evaluate=[first])
    assert [again.suggest().config for _ in range(5)] == configs
