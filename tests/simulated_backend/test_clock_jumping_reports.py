"""The Tuner's fast path (``SimulatorBackend.reports_jumping_clock``) and the protocol's
generic path (``next_results`` polled, ``SimulatorCallback.on_tuning_sleep`` between polls)
give the same results, decisions and stop reasons, bit for bit."""

from __future__ import annotations

import pandas as pd
import pytest

from simulated_backend import (
    SimulatorBackend,
    SimulatorCallback,
    StopCriterion,
    Tuner,
    TunerCallback,
)
from simulated_backend.schedulers import ASHA, Hyperband, SearchSpace
from tests.simulated_backend.engine_fixtures import ScriptedScheduler, random_tabular_blackbox


class CountingSleeps(TunerCallback):
    """A second callback acting on sleeps: the Tuner then takes the generic path."""

    def __init__(self) -> None:
        self.sleeps = 0

    def on_tuning_sleep(self, tuner) -> None:
        self.sleeps += 1


def run_both(make_scheduler, blackbox, n_workers, stop, resume_from="checkpoint"):
    """The generator's path (``one_loop=False``), the generic path, and the Tuner's default
    (the one loop, for a scheduler giving a stopping rule) agree."""
    runs = []
    for generic, one_loop in ((False, False), (True, True), (False, True)):
        counter = CountingSleeps()
        callbacks = [SimulatorCallback()] + ([counter] if generic else [])
        tuner = Tuner(
            make_scheduler(),
            SimulatorBackend(blackbox, n_workers=n_workers, seed=3, resume_from=resume_from),
            stop,
            callbacks=callbacks,
            one_loop=one_loop,
        )
        runs.append((tuner.run(), counter.sleeps))
    (fast, fast_sleeps), (generic, generic_sleeps), (default, _) = runs
    assert fast_sleeps == 0 and generic_sleeps > 0  # each run took the path meant
    for other in (generic, default):
        pd.testing.assert_frame_equal(fast.results, other.results, check_exact=True)
        for key in ("stop_reason", "end_time", "n_results", "n_trials", "failed_trials"):
            assert fast.metadata[key] == other.metadata[key], key
    return fast


@pytest.mark.parametrize("n_workers", [1, 4, 16])
@pytest.mark.parametrize("resume_from", ["checkpoint", "scratch"])
def test_scripted_pauses_resumes_and_stops_agree(n_workers, resume_from):
    blackbox = random_tabular_blackbox(7, n_configs=60)  # integer times: many ties
    fast = run_both(
        lambda: ScriptedScheduler(60),
        blackbox,
        n_workers,
        StopCriterion(max_wallclock_time=80),
        resume_from,
    )
    assert set(fast.results["decision"]) >= {"CONTINUE", "PAUSE", "STOP", "COMPLETED"}


@pytest.mark.parametrize(
    "stop",
    [
        StopCriterion(max_wallclock_time=150),
        StopCriterion(max_num_results=500),
        StopCriterion(max_num_trials_started=40),
        StopCriterion(max_num_trials_finished=30),
    ],
)
def test_asha_and_hyperband_agree_under_every_budget(stop):
    blackbox = random_tabular_blackbox(11, n_configs=200, n_fidelities=27, integer_times=False)
    space = SearchSpace.from_blackbox(blackbox)
    fidelities = blackbox.fidelity_values
    for make in (
        lambda: ASHA(space, "loss", "min", fidelities, seed=1),
        lambda: Hyperband(space, "loss", "min", fidelities, seed=1),
    ):
        fast = run_both(make, blackbox, 4, stop)
        assert len(fast.results) > 0


def test_the_run_ends_at_the_budget_with_the_clock_on_it():
    blackbox = random_tabular_blackbox(5, n_configs=100)
    fast = run_both(
        lambda: ScriptedScheduler(100), blackbox, 3, StopCriterion(max_wallclock_time=37.5)
    )
    assert fast.metadata["stop_reason"] == "max_wallclock_time"
    assert fast.metadata["end_time"] == 37.5
    assert fast.results["simulated_time"].max() <= 37.5
