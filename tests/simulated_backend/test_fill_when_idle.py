"""Free workers refilled inside the backend's generator (``reports_jumping_clock(fill=...)``):
the same runs, bit for bit, as the generic path, also when trials fail at their start and
when the scheduler runs out of work; and the refills really happen there."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox_repository import TabularBlackbox
from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import ASHA, SearchSpace
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox
from tests.simulated_backend.test_clock_jumping_reports import run_both


def blackbox_with_failing_starts(seed: int = 2, n_configs: int = 120) -> TabularBlackbox:
    """Every fifth configuration has no recorded time for its first step: it fails at start."""
    base = random_tabular_blackbox(seed, n_configs=n_configs, n_fidelities=9)
    values = np.array(base.values)
    values[::5, 0, :, :] = np.nan
    return TabularBlackbox(
        name=base.name,
        configuration_space=base.configuration_space,
        configurations=base.configurations,
        fidelity_name=base.fidelity_name,
        fidelity_values=base.fidelity_values,
        seeds=base.seeds,
        objectives=base.objectives,
        elapsed_time_objective=base.elapsed_time_objective,
        values=values,
    )


def asha_maker(blackbox: TabularBlackbox, seed: int = 4):
    space = SearchSpace.from_blackbox(blackbox)
    return lambda: ASHA(space, "loss", "min", blackbox.fidelity_values, seed=seed)


@pytest.mark.parametrize(
    "stop, reason",
    [
        (StopCriterion(max_num_trials_finished=45), "max_num_trials_finished"),
        (StopCriterion(max_wallclock_time=10_000), "the scheduler has nothing more to run"),
    ],
)
def test_failing_starts_and_exhaustion_agree_with_the_generic_path(stop, reason):
    blackbox = blackbox_with_failing_starts()
    fast = run_both(asha_maker(blackbox), blackbox, 4, stop)
    assert fast.metadata["stop_reason"] == reason
    assert len(fast.metadata["failed_trials"]) > 0  # trials failed at their start


def test_workers_are_refilled_inside_the_generator():
    blackbox = random_tabular_blackbox(9, n_configs=150, n_fidelities=9)
    backend = SimulatorBackend(blackbox, n_workers=4, seed=0)
    reports = backend.reports_jumping_clock
    nones = [0]

    def counted(*args):
        for report in reports(*args):
            nones[0] += report is None
            yield report

    backend.reports_jumping_clock = counted
    run = Tuner(asha_maker(blackbox)(), backend, StopCriterion(max_num_results=2_000)).run()
    n_trials = run.metadata["n_trials"]
    assert n_trials > 100
    # the Tuner hears None only when the run ends (every refill happened in the generator)
    assert nones[0] <= 1
