"""The backend protocol on the simulator: conformance, the SimulatorCallback as the clock's
only mover, on_trial_remove on scheduler decisions, the canonical fidelity key, spilling."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from simulated_backend import SimulatorBackend, SimulatorCallback, StopCriterion, Tuner
from simulated_backend.backend_protocol import (
    REPORT_CONTINUES,
    REPORT_LAST,
    TrialBackend,
)
from tests.simulated_backend.engine_fixtures import ScriptedScheduler, random_tabular_blackbox


def test_simulator_backend_follows_the_protocol_step_by_step():
    backend = SimulatorBackend(random_tabular_blackbox(0, n_seeds=1), n_workers=2)
    assert isinstance(backend, TrialBackend)
    description = backend.open("loss", "min")
    assert description.objective_names == ("loss", "time")
    assert description.fidelity_name == "epoch" and description.fidelity_kind == "int"
    assert backend.num_free_workers == 2 and backend.current_time() == 0.0
    assert backend.start_trial(0, {"x": 3}) == {"x": 3}
    assert backend.num_free_workers == 1
    assert backend.next_results() == []  # nothing is due before the clock moves
    first = backend.advance_clock()
    assert backend.current_time() == first > 0
    [(trial_id, result, final)] = backend.next_results()
    assert (trial_id, final) == (0, REPORT_CONTINUES)
    assert result["fidelity"] == result["epoch"] == 1
    assert result["simulated_time"] == first and result["worker"] == 0
    backend.pause_trial(0)
    assert backend.num_free_workers == 2
    assert backend.advance_clock() is None  # a paused trial has no pending result
    assert backend.resume_trial(0) == {"x": 3}
    backend.advance_clock()
    [(_, result, _)] = backend.next_results()
    assert result["fidelity"] == 2  # resumed from its checkpoint: the next fidelity
    backend.stop_trial(0)
    assert backend.num_free_workers == 2
    backend.close()
    assert backend.metadata()["benchmark"] == "random-0"


def test_last_fidelity_is_reported_as_last_and_frees_the_worker():
    blackbox = random_tabular_blackbox(0, n_fidelities=2, n_seeds=1)
    backend = SimulatorBackend(blackbox, n_workers=1)
    backend.open("loss", "min")
    backend.start_trial(0, {"x": 0})
    finals = []
    while backend.advance_clock() is not None:
        finals += [final for _, _, final in backend.next_results()]
    assert finals == [REPORT_CONTINUES, REPORT_LAST]
    assert backend.num_free_workers == 1


def test_explicit_simulator_callback_is_the_clock_mechanism(tmp_path):
    blackbox = random_tabular_blackbox(5, integer_times=False)
    for name, callbacks in (("default", []), ("explicit", [SimulatorCallback()])):
        tuner = Tuner(
            ScriptedScheduler(40),
            SimulatorBackend(blackbox, n_workers=3, seed=1),
            StopCriterion(max_wallclock_time=50.0),
            results_dir=tmp_path / name,
            callbacks=callbacks,
        )
        assert sum(isinstance(c, SimulatorCallback) for c in tuner.callbacks) == 1
        run = tuner.run()
        assert run.metadata["end_time"] == 50.0
    assert (tmp_path / "default" / "results.parquet").read_bytes() == (
        tmp_path / "explicit" / "results.parquet"
    ).read_bytes()


def test_simulator_callback_refuses_a_backend_without_a_simulated_clock():
    class NotASimulator:
        backend = object()
        stop_criterion = StopCriterion(max_num_results=1)

    with pytest.raises(TypeError, match="Remove the callback"):
        SimulatorCallback().on_tuning_start(NotASimulator())


class RemovalCountingScheduler(ScriptedScheduler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.removed: list[int] = []
        self.decided: list[tuple[int, str]] = []

    def on_trial_result(self, trial, result):
        assert result["fidelity"] == result["epoch"]
        decision = super().on_trial_result(trial, result)
        if decision != "CONTINUE" and result["epoch"] < 8:
            self.decided.append((trial.trial_id, decision))
        return decision

    def on_trial_remove(self, trial):
        self.removed.append(trial.trial_id)


def test_on_trial_remove_follows_every_pause_and_stop():
    scheduler = RemovalCountingScheduler(40)
    run = Tuner(
        scheduler,
        SimulatorBackend(random_tabular_blackbox(1), n_workers=3),
        StopCriterion(max_wallclock_time=1e6),
    ).run()
    decisions = run.results.decision.astype(str)
    assert decisions.isin(["PAUSE", "STOP"]).sum() == len(scheduler.removed) > 0
    assert scheduler.removed == [trial_id for trial_id, _ in scheduler.decided]


def test_spilled_chunks_give_the_same_results(tmp_path):
    blackbox = random_tabular_blackbox(2)
    runs = {}
    for name, chunk_rows in (("memory", None), ("spilled", 7)):
        runs[name] = Tuner(
            ScriptedScheduler(40),
            SimulatorBackend(blackbox, n_workers=3),
            StopCriterion(max_wallclock_time=1e6),
            results_dir=tmp_path / name,
            result_chunk_rows=chunk_rows,
        ).run()
    memory, spilled = runs["memory"], runs["spilled"]
    assert len(memory.results) > 20
    assert pq.read_table(tmp_path / "spilled" / "results.parquet").equals(
        pq.read_table(tmp_path / "memory" / "results.parquet")
    )
    assert spilled.results.equals(memory.results)
    assert pq.ParquetFile(tmp_path / "spilled" / "results.parquet").num_row_groups > 1
    # the spill folder is gone
    assert sorted(p.name for p in (tmp_path / "spilled").iterdir()) == [
        "metadata.json",
        "results.parquet",
    ]
