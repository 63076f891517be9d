"""Results recorded by reference (the simulator's log of trial id, table row, time, worker)
give the same results files as reading the result dicts (issue 12: recording cost)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from engine_fixtures import ScriptedScheduler, random_tabular_blackbox

from blackbox_repository import TabularBlackbox
from simulated_backend import SimulatorBackend, StopCriterion, Tuner, TunerCallback
from simulated_backend.backend_protocol import FIDELITY_KEY, TIME_KEY
from simulated_backend.schedulers import ASHA, SearchSpace


class DictRecordedBackend(SimulatorBackend):
    """The same simulator, without a log: the Tuner records the result dicts."""

    def result_log(self):
        return None


class PolledPath(TunerCallback):
    """Acts while the Tuner waits: the Tuner polls ``next_results`` (the generic path)."""

    def on_tuning_sleep(self, tuner) -> None:
        pass


class InterruptAt(TunerCallback):
    """Ctrl-C after the ``at``-th result (raised where the Tuner has recorded it)."""

    def __init__(self, at: int) -> None:
        self.at, self.seen = at, 0

    def on_trial_result(self, trial, result, decision) -> None:
        self.seen += 1
        if self.seen == self.at:
            raise KeyboardInterrupt


def float_fidelity_blackbox() -> TabularBlackbox:
    base = random_tabular_blackbox(3, n_configs=30, n_fidelities=9, n_seeds=3)
    return TabularBlackbox(
        name="float-fidelity",
        configuration_space=base.configuration_space,
        configurations=base.configurations,
        fidelity_name="epoch",
        fidelity_values=np.linspace(0.25, 1.0, 9),
        seeds=base.seeds,
        objectives=base.objectives,
        elapsed_time_objective="time",
        values=np.asarray(base.values),
    )


def run(backend_class, blackbox, scheduler, results_dir, stop, callbacks=(), chunk_rows=37):
    backend = backend_class(blackbox, n_workers=4, seed=2)
    tuner = Tuner(
        scheduler,
        backend,
        stop,
        results_dir=results_dir,
        callbacks=list(callbacks),
        result_chunk_rows=chunk_rows,
    )
    return tuner


def written(results_dir) -> tuple[pd.DataFrame, list[int]]:
    file = pq.ParquetFile(results_dir / "results.parquet")
    sizes = [file.metadata.row_group(i).num_rows for i in range(file.num_row_groups)]
    return file.read().to_pandas(), sizes


@pytest.mark.parametrize("polled", [False, True])
@pytest.mark.parametrize("kind", ["scripted", "asha-float-fidelity"])
def test_results_by_reference_equal_results_read_from_dicts(tmp_path, kind, polled):
    """Pauses, resumes, stops, ties, three seeds, spilled chunks, a time budget that cuts
    a result off (the polled path reads it, then drops it): the files are the same."""
    blackbox = (
        random_tabular_blackbox(1, n_configs=60)
        if kind == "scripted"
        else float_fidelity_blackbox()
    )
    frames = {}
    for backend_class in (SimulatorBackend, DictRecordedBackend):
        if kind == "scripted":
            scheduler = ScriptedScheduler(60, stop_above=0.5)
        else:
            space = SearchSpace.from_blackbox(blackbox)
            scheduler = ASHA(space, "loss", "min", blackbox.fidelity_values, seed=1)
        folder = tmp_path / backend_class.__name__
        tuner = run(
            backend_class,
            blackbox,
            scheduler,
            folder,
            StopCriterion(max_wallclock_time=70.0),
            callbacks=[PolledPath()] if polled else [],
        )
        tuner.run()
        assert (tuner.recorder.log is not None) == (backend_class is SimulatorBackend)
        frames[backend_class] = written(folder)
    (by_reference, sizes), (from_dicts, dict_sizes) = frames.values()
    assert len(by_reference) > 3 * 37 and sizes == dict_sizes  # several spilled chunks
    pd.testing.assert_frame_equal(by_reference, from_dicts, check_exact=True)
    assert by_reference.dtypes.equals(from_dicts.dtypes)
    assert set(by_reference["decision"]) >= {"CONTINUE", "STOP", "COMPLETED"}


def test_log_gathers_the_rows_the_dicts_hold_also_after_a_resume_with_another_config():
    blackbox = random_tabular_blackbox(2, n_configs=10, n_fidelities=6, n_seeds=3)
    backend = SimulatorBackend(blackbox, n_workers=2, seed=0)
    backend.open("loss", "min")
    log = backend.result_log()
    results = []

    def drain() -> None:
        while backend.advance_clock() is not None:
            for trial_id, result, _ in backend.next_results():
                results.append((trial_id, result))

    backend.start_trial(0, {"x": 4})
    backend.start_trial(1, {"x": 7})
    while len(results) < 3 and backend.advance_clock() is not None:
        for trial_id, result, _ in backend.next_results():
            results.append((trial_id, result))
    paused = results[-1][0]
    backend.pause_trial(paused)
    backend.resume_trial(paused, {"x": 9})  # another config: another table row from now on
    drain()
    assert len(log) == len(results) == 12
    columns = log.take_columns(len(results))
    assert len(log) == 0
    assert columns["trial_id"].tolist() == [trial_id for trial_id, _ in results]
    for key in ("loss", "time", FIDELITY_KEY, TIME_KEY, "worker"):
        assert columns[key].tolist() == [result[key] for _, result in results], key
    assert {result["epoch"] for _, result in results} >= {1, 6}
    with pytest.raises(ValueError, match="1 results asked for, 0 logged"):
        log.take_columns(1)


def test_no_result_dict_is_held_and_ctrl_c_keeps_what_was_recorded(tmp_path):
    blackbox = random_tabular_blackbox(4, n_configs=40)
    held = []

    class Watch(TunerCallback):
        def on_tuning_start(self, tuner) -> None:
            self.recorder = tuner.recorder

        def on_trial_result(self, trial, result, decision) -> None:
            held.append((len(self.recorder.rows), len(self.recorder.codes)))

    stop = StopCriterion(max_num_results=150)
    run(SimulatorBackend, blackbox, ScriptedScheduler(40), tmp_path / "full", stop).run()
    full, _ = written(tmp_path / "full")
    tuner = run(
        SimulatorBackend,
        blackbox,
        ScriptedScheduler(40),
        tmp_path / "cut",
        stop,
        callbacks=[Watch(), InterruptAt(101)],
    )
    with pytest.raises(KeyboardInterrupt):
        tuner.run()
    assert max(rows for rows, _ in held) == 0  # the recorder never holds a result dict
    assert max(codes for _, codes in held) <= 37
    cut, sizes = written(tmp_path / "cut")
    assert sizes == [37, 37, 27]
    pd.testing.assert_frame_equal(cut, full.iloc[:101], check_exact=True)


def test_a_long_run_keeps_configs_only_of_trials_not_yet_on_disk(tmp_path):
    blackbox = random_tabular_blackbox(5, n_configs=200, n_fidelities=8)
    space = SearchSpace.from_blackbox(blackbox)
    scheduler = ASHA(space, "loss", "min", blackbox.fidelity_values, seed=3)
    backend = SimulatorBackend(blackbox, n_workers=4, seed=1)
    tuner = Tuner(
        scheduler,
        backend,
        StopCriterion(max_num_results=600),
        results_dir=tmp_path,
        result_chunk_rows=50,
    )
    tuner.run()
    ended = [t for t, status in enumerate(tuner.trial_status) if status >= 2]
    kept = [t for t, config in enumerate(tuner.trial_configs) if config is not None]
    assert len(ended) > 100 and len(kept) < len(ended) / 4  # the ended trials' configs went
    assert all(backend.configs[t] is None for t in ended)  # the backend keeps none of them
    table, _ = written(tmp_path)
    assert table["config_x"].notna().all()  # every result still names its config
    first = table.groupby("trial_id")["config_x"].first()
    assert first.nunique() > 100
