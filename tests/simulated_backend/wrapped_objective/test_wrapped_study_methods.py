"""An ask/tell optimizer registered as a study method and run by the Tuner."""

from __future__ import annotations

import random

import pytest

from benchmarking.baselines import MethodContext, MethodRegistry
from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.wrapped_objective.study_methods import ask_tell_method
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox


class SeededRandomSearch:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.told = 0

    def ask(self):
        return None, {"x": self.rng.randrange(40)}

    def tell(self, handle, value, state):
        self.told += 1


def test_registered_ask_tell_method_runs_reproducibly_in_a_study_registry():
    blackbox = random_tabular_blackbox(5)
    registry = MethodRegistry(entry_point_group=None)
    registry.register("SEEDED-RS")(
        ask_tell_method(lambda context: SeededRandomSearch(context.seed))
    )
    context = MethodContext.from_blackbox(blackbox, "loss", "min", seed=3, n_workers=2)
    runs = []
    for _ in range(2):
        scheduler = registry.make("seeded-rs", context)
        runs.append(
            Tuner(
                scheduler,
                SimulatorBackend(blackbox, n_workers=2),
                StopCriterion(max_num_results=30),
            ).run()
        )
    assert len(runs[0].results) == 30
    assert runs[0].results.equals(runs[1].results)


def test_factory_rejects_objects_without_ask_and_tell():
    blackbox = random_tabular_blackbox(5)
    context = MethodContext.from_blackbox(blackbox, "loss", "min", seed=0, n_workers=1)
    with pytest.raises(TypeError, match="no ask\\(\\) and tell\\(\\) methods"):
        ask_tell_method(lambda context: object())(context)
