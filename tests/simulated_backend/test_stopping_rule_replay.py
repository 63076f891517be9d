"""The one loop for a stopping rule (``SimulatorBackend.run_stopping_rule``) gives what the
layered loop gives, bit for bit: the results, the records of trials, what every callback
is shown, the scheduler's state after the run, and the written files. And the Tuner takes
it only where it applies."""

from __future__ import annotations

import random
from pathlib import Path

import ConfigSpace as CS
import numpy as np
import pandas as pd
import pytest

from blackbox_repository import Objective, TabularBlackbox
from simulated_backend import SimulatorBackend, StopCriterion, Tuner, TunerCallback
from simulated_backend.schedulers import ASHA, RandomSearcher, SearchSpace
from simulated_backend.schedulers.searchers import Candidate


def _table(
    seed: int, n_seeds: int = 2, with_nan: bool = False, mode: str = "min"
) -> TabularBlackbox:
    """Random curves with integer step times (ties are frequent); ``with_nan``: some
    configurations have no time for their first step (they fail at once), some curves end
    early (no time from some fidelity on) and some record a time below the one before
    (reported at once)."""
    rng = np.random.default_rng(seed)
    n_configs, n_fidelities = 80, 9
    values = np.empty((n_configs, n_fidelities, n_seeds, 2))
    values[..., 0] = rng.random((n_configs, n_fidelities, n_seeds))
    steps = rng.integers(1, 4, size=(n_configs, n_fidelities, n_seeds)).astype(float)
    values[..., 1] = np.cumsum(steps, axis=1)
    if with_nan:
        values[rng.choice(n_configs, 16, replace=False), 0, :, 1] = np.nan
        for config in rng.choice(n_configs, 12, replace=False):
            values[config, rng.integers(1, n_fidelities) :, :, 1] = np.nan
        for config in rng.choice(n_configs, 20, replace=False):
            position = rng.integers(1, n_fidelities)
            values[config, position, :, 1] = values[config, position - 1, :, 1] - 1.5
    return TabularBlackbox(
        name=f"replay-{seed}",
        configuration_space=CS.ConfigurationSpace(space={"x": (0, n_configs - 1)}),
        configurations=pd.DataFrame({"x": np.arange(n_configs)}),
        fidelity_name="epoch",
        fidelity_values=np.arange(1, n_fidelities + 1),
        seeds=np.arange(n_seeds),
        objectives=[Objective("score", mode), Objective("time", "min", "s")],
        elapsed_time_objective="time",
        values=values,
    )


class _RowsWithReplacement:
    """A searcher drawing grid rows with replacement that records what it observes."""

    def __init__(self, space: SearchSpace, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.n = space.n_candidates
        self.grid_configs = space.grid_configs()
        self._config_of = space.candidate_config_function()
        self.observed: list[tuple[int, int, float]] = []

    exhausted = False

    def next_grid_row(self) -> int:
        return int(self.rng.integers(self.n))

    def next_config_and_index(self) -> tuple[dict, int]:
        row = self.next_grid_row()
        return self._config_of(row), row

    def next_candidate(self) -> Candidate:
        return Candidate(*self.next_config_and_index())

    def on_observation(self, trial, level, value) -> None:
        self.observed.append((trial.trial_id, level, value))

    def metadata(self) -> dict:
        return {"searcher": "rows-with-replacement"}


class _Seen(TunerCallback):
    """Every result as a callback sees it: trial, decision, the result dict, and the
    Tuner's counts at that moment."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def on_tuning_start(self, tuner) -> None:
        self.tuner = tuner

    def on_tuning_end(self, tuner) -> None:
        self.chunks_at_end = tuner.recorder.n_spilled_chunks

    def on_trial_result(self, trial, result, decision) -> None:
        tuner = self.tuner
        self.seen.append(
            (
                trial.trial_id,
                trial.creation_time,
                decision,
                tuple(result.items()),
                len(tuner.trials),
                tuner.backend.num_free_workers,
                tuner.backend.current_time(),
            )
        )


def _run(one_loop: bool, blackbox, searcher: str, stop, workers, callbacks, tmp=None, chunk=None):
    space = SearchSpace.from_blackbox(blackbox)
    mode = blackbox.objective("score").mode
    if searcher == "with-replacement":
        searcher_object = _RowsWithReplacement(space, 4)
    elif searcher == "points":
        searcher_object = RandomSearcher(
            space, np.random.default_rng(4), points_to_evaluate=[{"x": 3}, {"x": 70}]
        )
    else:
        searcher_object = RandomSearcher(space, np.random.default_rng(4))
    scheduler = ASHA(
        space, "score", mode, blackbox.fidelity_values, reduction_factor=3, searcher=searcher_object
    )
    seen = _Seen() if callbacks else None
    tuner = Tuner(
        scheduler,
        SimulatorBackend(blackbox, n_workers=workers, seed=2),
        stop,
        callbacks=[seen] if seen else [],
        one_loop=one_loop,
        results_dir=tmp,
        result_chunk_rows=chunk,
    )
    run = tuner.run()
    return tuner, run, scheduler, seen


SETTINGS = [
    # (blackbox seed, seeds, NaN times, mode, searcher, stop, workers, callbacks)
    (0, 2, False, "min", "random", StopCriterion(max_num_results=600), 4, True),
    (1, 1, False, "max", "with-replacement", StopCriterion(max_num_results=3000), 3, True),
    (2, 2, True, "min", "with-replacement", StopCriterion(max_wallclock_time=400.0), 8, True),
    (3, 2, True, "min", "random", StopCriterion(max_wallclock_time=1e6), 5, False),
    (4, 1, False, "min", "points", StopCriterion(max_num_trials_started=50), 2, True),
    (5, 2, True, "max", "with-replacement", StopCriterion(max_num_trials_finished=90), 6, False),
    (6, 2, False, "min", "with-replacement", StopCriterion(target_metric_value=0.002), 4, True),
    (
        7,
        2,
        True,
        "min",
        "points",
        StopCriterion(predicate=lambda status: status.num_trials_finished >= 40),
        3,
        False,
    ),
    (8, 1, False, "max", "random", StopCriterion(max_num_results=2000), 1, False),
    # every configuration drawn (no replacement) while workers are free: callbacks see the
    # same free workers after the searcher ran out
    (436, 1, False, "min", "random", StopCriterion(max_num_results=198), 16, True),
]


@pytest.mark.parametrize("setting", SETTINGS, ids=[f"table{s[0]}" for s in SETTINGS])
def test_one_loop_equals_the_layered_loop(setting):
    seed, n_seeds, with_nan, mode, searcher, stop, workers, callbacks = setting
    blackbox = _table(seed, n_seeds, with_nan, mode)
    one = _run(True, blackbox, searcher, stop, workers, callbacks)
    layered = _run(False, blackbox, searcher, stop, workers, callbacks)
    (tuner_a, run_a, scheduler_a, seen_a), (tuner_b, run_b, scheduler_b, seen_b) = one, layered
    assert (tuner_a.engine_path, tuner_b.engine_path) == ("one loop", "layered")
    assert len(run_a.results) > 20
    pd.testing.assert_frame_equal(run_a.results, run_b.results)
    drop = ("versions",)
    assert {k: v for k, v in run_a.metadata.items() if k not in drop} == {
        k: v for k, v in run_b.metadata.items() if k not in drop
    }
    assert tuner_a.stop_reason == tuner_b.stop_reason
    assert tuner_a.trial_status == tuner_b.trial_status
    assert tuner_a.trial_configs == tuner_b.trial_configs
    assert tuner_a.failed_trials == tuner_b.failed_trials
    assert [t is None for t in tuner_a.trials] == [t is None for t in tuner_b.trials]
    if with_nan:
        assert tuner_a.failed_trials, "the NaN table makes some trials fail at their start"
    if callbacks:
        assert seen_a.seen == seen_b.seen
    # the scheduler is left as its own methods leave it: the same next suggestion, the same
    # trials still tracked, the same observations
    assert scheduler_a.suggest() == scheduler_b.suggest()
    assert _tracked(scheduler_a, tuner_a) == _tracked(scheduler_b, tuner_b)
    if searcher == "with-replacement":
        assert scheduler_a.searcher.observed == scheduler_b.searcher.observed
        assert scheduler_a.searcher.observed


def _random_settings(n: int, seed: int = 20261129) -> list[tuple]:
    """``n`` settings drawn at random (fixed seed): a differential test over what the fixed
    settings above do not combine (900 such settings gave no difference; before a fix, 14
    differed in the free workers a callback saw after the searcher ran out)."""
    rng = random.Random(seed)
    settings = []
    for _ in range(n):
        mode = rng.choice(["min", "max"])
        budgets = {
            "results": StopCriterion(max_num_results=rng.randrange(1, 3000)),
            "time": StopCriterion(max_wallclock_time=rng.uniform(0.5, 500), max_num_results=20_000),
            "started": StopCriterion(max_num_trials_started=rng.randrange(1, 200)),
            "finished": StopCriterion(max_num_trials_finished=rng.randrange(1, 200)),
            "target": StopCriterion(
                target_metric_value=rng.uniform(0, 0.05) if mode == "min" else rng.uniform(0.95, 1),
                max_num_results=5000,
            ),
        }
        settings.append(
            (
                rng.randrange(1000),
                rng.choice([1, 2, 3]),
                rng.random() < 0.5,
                mode,
                rng.choice(["random", "with-replacement", "points"]),
                budgets[rng.choice(list(budgets))],
                rng.choice([1, 2, 3, 5, 8, 16]),
                rng.random() < 0.5,
            )
        )
    return settings


@pytest.mark.parametrize("setting", _random_settings(24))
def test_one_loop_equals_the_layered_loop_on_random_settings(setting):
    seed, n_seeds, with_nan, mode, searcher, stop, workers, callbacks = setting
    blackbox = _table(seed, n_seeds, with_nan, mode)
    (tuner_a, run_a, scheduler_a, seen_a) = _run(True, blackbox, searcher, stop, workers, callbacks)
    (tuner_b, run_b, scheduler_b, seen_b) = _run(
        False, blackbox, searcher, stop, workers, callbacks
    )
    assert tuner_a.engine_path == "one loop"
    pd.testing.assert_frame_equal(run_a.results, run_b.results)
    assert (tuner_a.stop_reason, tuner_a.trial_status, tuner_a.failed_trials) == (
        tuner_b.stop_reason,
        tuner_b.trial_status,
        tuner_b.failed_trials,
    )
    assert tuner_a.backend.current_time() == tuner_b.backend.current_time()
    if callbacks:
        assert seen_a.seen == seen_b.seen
    assert scheduler_a.suggest() == scheduler_b.suggest()


def _tracked(scheduler: ASHA, tuner: Tuner) -> list[bool]:
    """Per trial of the run, whether the scheduler still tracks it (running trials only:
    stopped, completed and failed ones were forgotten)."""
    tracked = []
    for trial_id in range(len(tuner.trials)):
        try:
            tracked.append(scheduler.bracket_of(trial_id) == 0)
        except KeyError:
            tracked.append(False)
    return tracked


def test_one_loop_spills_and_writes_the_same_files(tmp_path: Path):
    blackbox = _table(11, 2, True, "min")
    stop = StopCriterion(max_num_results=5000)
    spilled = []
    for name, one_loop in (("one", True), ("layered", False)):
        *_, seen = _run(
            one_loop, blackbox, "with-replacement", stop, 4, True, tmp_path / name, chunk=700
        )
        spilled.append(seen.chunks_at_end)
    assert spilled[0] == spilled[1] == 7  # memory stays bounded on both paths alike
    one = pd.read_parquet(tmp_path / "one" / "results.parquet")
    layered = pd.read_parquet(tmp_path / "layered" / "results.parquet")
    assert len(one) == 5000
    pd.testing.assert_frame_equal(one, layered)


class _OwnDecisions(ASHA):
    """A subclass that sees every result itself: the rule no longer stands for it."""

    def on_trial_result(self, trial, result):
        self.results_seen = getattr(self, "results_seen", 0) + 1
        return super().on_trial_result(trial, result)


class _CountsRemovals(ASHA):
    """A subclass told of every trial it stopped (the rule still stands for it)."""

    def on_trial_remove(self, trial):
        self.removed = [*getattr(self, "removed", []), trial.trial_id]


def test_the_one_loop_tells_the_scheduler_of_removals():
    blackbox = _table(14, 2, True)
    space = SearchSpace.from_blackbox(blackbox)
    removed, paths = [], []
    for one_loop in (True, False):
        scheduler = _CountsRemovals(space, "score", "min", blackbox.fidelity_values)
        tuner = Tuner(
            scheduler,
            SimulatorBackend(blackbox, n_workers=4),
            StopCriterion(max_num_results=800),
            one_loop=one_loop,
        )
        tuner.run()
        removed.append(scheduler.removed)
        paths.append(tuner.engine_path)
    assert paths == ["one loop", "layered"]
    assert removed[0] == removed[1]
    assert len(removed[0]) > 20


def test_the_tuner_takes_the_one_loop_only_where_it_applies():
    blackbox = _table(12, 1)
    space = SearchSpace.from_blackbox(blackbox)
    fidelities = blackbox.fidelity_values
    stop = StopCriterion(max_num_results=300)

    def path(scheduler, **tuner_options) -> str:
        tuner = Tuner(scheduler, SimulatorBackend(blackbox, n_workers=3), stop, **tuner_options)
        tuner.run()
        return tuner.engine_path

    assert path(ASHA(space, "score", "min", fidelities)) == "one loop"
    assert path(ASHA(space, "score", "min", fidelities), one_loop=False) == "layered"
    assert path(ASHA(space, "score", "min", fidelities, type="promotion")) == "layered"
    own = _OwnDecisions(space, "score", "min", fidelities)
    assert path(own) == "layered"
    assert own.results_seen > 0  # the subclass saw the results
    patched = ASHA(space, "score", "min", fidelities)
    patched.on_trial_add = lambda trial: None  # replaced on the instance
    assert patched.stopping_rule() is None


def test_run_stopping_rule_says_what_it_needs():
    blackbox = _table(13, 1)
    scheduler = ASHA(SearchSpace.from_blackbox(blackbox), "score", "min", blackbox.fidelity_values)
    backend = SimulatorBackend(blackbox, n_workers=2)
    backend.open("score", "min")
    assert not backend.runs_stopping_rules  # no log of results by reference yet
    with pytest.raises(ValueError, match="result_log"):
        backend.run_stopping_rule(scheduler.stopping_rule(), None)
