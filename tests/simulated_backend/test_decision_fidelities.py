"""Results at fidelities where the scheduler does not decide pass it by (no result dict,
no call), and everything recorded stays the same: ``TrialScheduler.decision_fidelities``,
``SimulatorBackend.reports_jumping_clock(decision_fidelities=...)`` and the Tuner."""

from __future__ import annotations

import pandas as pd
import pytest

from simulated_backend import SimulatorBackend, StopCriterion, Tuner, TunerCallback
from simulated_backend.backend_protocol import REPORT_LAST, REPORT_UNDECIDED
from simulated_backend.schedulers import ASHA, BOHB, Hyperband, RandomSearch, SearchSpace, Trial
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox

BLACKBOX = random_tabular_blackbox(5, n_configs=60, n_fidelities=9, n_seeds=2)
FIDELITIES = list(range(1, 10))


def make(kind: str, seed: int = 0):
    space = SearchSpace.from_blackbox(BLACKBOX)
    if kind == "asha":
        return ASHA(space, "loss", "min", FIDELITIES, reduction_factor=2, seed=seed)
    if kind == "asha-promotion":
        return ASHA(space, "loss", "min", FIDELITIES, type="promotion", seed=seed)
    if kind == "random_search":
        return RandomSearch(space, "loss", "min", seed=seed)
    if kind == "hyperband":
        return Hyperband(space, "loss", "min", FIDELITIES, seed=seed)
    return BOHB(space, "loss", "min", FIDELITIES, seed=seed, min_points_in_model=3)


class SeesEveryResult(TunerCallback):
    """A callback that reads results: the Tuner then shows the scheduler every result."""

    def __init__(self) -> None:
        self.fidelities: list[int] = []

    def on_trial_result(self, trial, result, decision) -> None:
        self.fidelities.append(result["fidelity"])


class CountingCalls:
    """Wraps a scheduler's on_trial_result as an instance attribute; counts what it sees."""

    def __init__(self, scheduler) -> None:
        self.seen: list[int] = []
        inner = scheduler.on_trial_result

        def on_trial_result(trial, result):
            self.seen.append(result["fidelity"])
            return inner(trial, result)

        scheduler.on_trial_result = on_trial_result


def counting_undecided(backend: SimulatorBackend) -> list[int]:
    """Counts the undecided reports of the backend's generator (wrapped on the instance)."""
    count = [0]
    reports = backend.reports_jumping_clock

    def counted(*args):
        for report in reports(*args):
            if report is not None and report[2] == REPORT_UNDECIDED:
                count[0] += report[0]  # results passed over
            yield report

    backend.reports_jumping_clock = counted
    return count


@pytest.mark.parametrize(
    "kind", ["asha", "asha-promotion", "hyperband", "hyperband-scratch", "bohb", "random_search"]
)
@pytest.mark.parametrize(
    "stop", [StopCriterion(max_wallclock_time=120), StopCriterion(max_num_results=150)]
)
def test_passing_results_by_records_exactly_what_showing_every_result_records(kind, stop, tmp_path):
    runs = []
    for callbacks in ([], [SeesEveryResult()]):
        resume_from = "scratch" if kind.endswith("-scratch") else "checkpoint"
        backend = SimulatorBackend(BLACKBOX, n_workers=6, seed=1, resume_from=resume_from)
        undecided = counting_undecided(backend)
        tuner = Tuner(
            make(kind.removesuffix("-scratch")),
            backend,
            stop,
            callbacks=callbacks,
            results_dir=tmp_path / f"{kind}-{len(callbacks)}",
            result_chunk_rows=40,  # several spilled chunks
            one_loop=False,  # the generator's path (ASHA would run in one loop otherwise)
        )
        run = tuner.run()
        runs.append((run, pd.read_parquet(run.path / "results.parquet"), undecided[0]))
    (passed, passed_file, n_passed), (shown, shown_file, n_shown) = runs
    assert len(passed_file) > 100
    assert n_passed > len(passed_file) / 4 and n_shown == 0
    pd.testing.assert_frame_equal(passed_file, shown_file)
    assert passed.metadata["stop_reason"] == shown.metadata["stop_reason"]
    assert passed.metadata["end_time"] == shown.metadata["end_time"]


def drive(decision_fidelities):
    """Every report of the backend's generator, a fresh ASHA deciding on the shown ones."""
    scheduler = make("asha")
    backend = SimulatorBackend(BLACKBOX, n_workers=4, seed=2)
    backend.open("loss", "min")
    backend.result_log()  # results by reference: undecided reports need no dict
    reports = []
    for report in backend.reports_jumping_clock(200, decision_fidelities):
        if report is None:
            while backend.num_free_workers and not scheduler.exhausted:
                config, _, config_index = scheduler.suggest()
                trial_id = len(backend.configs)
                backend.start_trial(trial_id, config, config_index)
                scheduler.on_trial_add(Trial(trial_id, config, 0.0))
            continue
        reports.append(report)
        trial_id, result, final = report
        if final != REPORT_UNDECIDED:
            decision = scheduler.on_trial_result(Trial(trial_id, {}, 0.0), result)
            if final != REPORT_LAST and decision == "STOP":
                backend.stop_trial(trial_id)
    return reports


def test_the_backend_passes_over_continuing_results_off_the_decision_fidelities():
    levels = make("asha").decision_fidelities()
    assert levels == frozenset({1, 2, 4, 8, 9})
    passed, shown = drive(levels), drive(None)
    assert len(passed) == len(shown) > 100
    n_undecided = 0
    for (trial_id, result, final), (shown_id, shown_result, shown_final) in zip(passed, shown):
        if final == REPORT_UNDECIDED:
            n_undecided += 1
            assert (trial_id, result) == (1, None)  # one result passed over (room: 1)
            assert shown_final != REPORT_LAST and shown_result["fidelity"] not in levels
        else:
            assert (trial_id, result, final) == (shown_id, shown_result, shown_final)
            assert final == REPORT_LAST or result["fidelity"] in levels
    assert n_undecided > len(passed) / 4


def test_a_replaced_on_trial_result_sees_every_result():
    scheduler = make("asha")
    counter = CountingCalls(scheduler)
    assert scheduler.decision_fidelities() is None
    run = Tuner(
        scheduler,
        SimulatorBackend(BLACKBOX, n_workers=4, seed=0),
        StopCriterion(max_num_results=200),
    ).run()
    assert len(counter.seen) == len(run.results) > 100

    class Logging(Hyperband):
        def on_trial_result(self, trial, result):
            return super().on_trial_result(trial, result)

    assert (
        Logging(
            SearchSpace.from_blackbox(BLACKBOX), "loss", "min", FIDELITIES
        ).decision_fidelities()
        is None
    )
    bohb = make("bohb")
    CountingCalls(bohb)
    assert bohb.decision_fidelities() is None


def test_a_decision_fidelity_off_the_grid_shows_every_result():
    backend = SimulatorBackend(BLACKBOX, n_workers=2, seed=0)
    assert backend._undecided_positions(frozenset({1, 3})) == [False, True, False] + [True] * 6
    assert backend._undecided_positions(frozenset({1, 3, 10})) is None
    assert backend._undecided_positions(None) is None
