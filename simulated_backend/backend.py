"""The simulator backend: N simulated workers replaying a blackbox's learning curves.

A trial started at simulated time ``t0`` reports its result at fidelity position ``k``
at ``t0 + elapsed[k] - elapsed[k0 - 1]``, where ``elapsed`` is the blackbox's cumulative
elapsed-time objective and ``k0`` the position it started (or resumed) from. Results are
produced lazily: only the next result of each running trial exists, as one entry of a
heap keyed by ``(time, trial_id)`` (each entry carries the trial's state along; it is
never compared, the key being unique); so events are processed in exact time order and ties
are broken by trial id (lower first). Real compute time never enters the clock.

Pausing keeps the trial's position; resuming from a checkpoint continues at the next
fidelity and charges only the remaining time, resuming from scratch replays every
fidelity from the first. Stopping or pausing frees the worker at once.

The backend follows :class:`~simulated_backend.backend_protocol.TrialBackend`. It never
moves its own clock: the :class:`~simulated_backend.callback.SimulatorCallback` does, when
the Tuner would wait, by jumping to the next pending result (:meth:`advance_clock`).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from blackbox_repository import Blackbox, TabularBlackbox
from blackbox_repository.blackbox import native, native_config
from simulated_backend.backend_protocol import (
    REPORT_CONTINUES,
    REPORT_LAST,
    REPORT_UNDECIDED,
    RunDescription,
    RunLedger,
    TrialReport,
)
from simulated_backend.result_references import TableResultLog
from simulated_backend.schedulers.protocol import check_metric_and_mode
from simulated_backend.schedulers.stopping_rule import StoppingRule
from simulated_backend.stopping_rule_replay import ReplayParts, replay_stopping_rule
from simulated_backend.table_rows import FlatRows, result_maker
from simulated_backend.trial_state import (
    BLOCK,
    BLOCK_START,
    CONFIG_INDEX,
    CURVE,
    OFFSET,
    POSITION,
    ROW,
    SEED_INDEX,
    TABLE_ROW,
    WORKER,
)

RESUME_MODES = ("checkpoint", "scratch")


class SimulatedClock:
    """Simulated seconds since the start of a run; only ever moved forward by the engine."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0.0


class SimulatorBackend:
    """Runs trials on ``n_workers`` simulated workers over ``blackbox``.

    Args:
        blackbox: a tabular or surrogate blackbox.
        n_workers: number of parallel simulated workers (>= 1).
        seed: seeds the choice of the blackbox seed of each trial.
        resume_from: ``"checkpoint"`` (continue after the paused fidelity, only the remaining
            time is charged) or ``"scratch"`` (a resumed trial trains again from the start).
        blackbox_seed: use this recorded seed for every trial instead of a random one.
    """

    def __init__(
        self,
        blackbox: Blackbox,
        n_workers: int = 1,
        seed: int = 0,
        resume_from: str = "checkpoint",
        blackbox_seed: int | None = None,
    ) -> None:
        if (
            isinstance(n_workers, bool)
            or not isinstance(n_workers, (int, np.integer))
            or n_workers < 1
        ):
            raise ValueError(f"n_workers must be an integer >= 1, got {n_workers!r}")
        if resume_from not in RESUME_MODES:
            raise ValueError(f"resume_from must be one of {RESUME_MODES}, got {resume_from!r}")
        self.blackbox = blackbox
        self.n_workers = int(n_workers)
        self.seed = int(seed)
        self.resume_from = resume_from
        self.blackbox_seed = blackbox_seed
        self._fixed_seed_index = (
            None if blackbox_seed is None else blackbox.seed_index(blackbox_seed)
        )
        self.fidelity_values = [native(v) for v in blackbox.fidelity_values]
        self.last_fidelity_index = len(self.fidelity_values) - 1
        self.elapsed_index = blackbox.elapsed_time_index
        self._n_seeds = len(blackbox.seeds)
        # the seed every trial replays, or None: each trial draws one
        self._same_seed_index = (
            self._fixed_seed_index
            if self._fixed_seed_index is not None
            else 0
            if self._n_seeds == 1
            else None
        )
        # a tabular blackbox's table, read row by row (a plain ndarray view: no subclass
        # overhead per read); None for other blackboxes, which give a curve per trial
        self._values = (
            np.asarray(blackbox.values) if isinstance(blackbox, TabularBlackbox) else None
        )
        self._rows = FlatRows.of(self._values)
        # rows of one configuration in the table's flat rows (fidelities x seeds)
        self._config_rows = len(self.fidelity_values) * self._n_seeds
        self._result_of = result_maker(tuple(blackbox.objective_names), blackbox.fidelity_name)
        self.clock = SimulatedClock()
        self.reset()

    # ---------------------------------------------------------------- the protocol
    def open(self, metric: str, mode: str) -> RunDescription:
        """Forget every trial; check ``metric`` and ``mode`` against the blackbox's objectives."""
        check_metric_and_mode(metric, mode, self.blackbox)
        self.reset()
        return RunDescription(
            objective_names=tuple(self.blackbox.objective_names),
            fidelity_name=self.blackbox.fidelity_name,
            hyperparameter_names=tuple(self.blackbox.hyperparameter_names),
            fidelity_kind="int" if isinstance(self.fidelity_values[0], int) else "float",
        )

    def result_log(self) -> TableResultLog | None:
        """Log every result reported from now until the next :meth:`open` by reference
        (:class:`~simulated_backend.result_references.TableResultLog`: trial id, table row,
        time, worker); ``None`` if the blackbox is not a C-contiguous float64 table."""
        if self._rows is None:
            return None
        self._log = TableResultLog(
            self._values, self.fidelity_values, tuple(self.blackbox.objective_names)
        )
        return self._log

    def reset(self) -> None:
        """Forget every trial; the clock goes back to 0."""
        self.clock.now = 0.0
        self._rng = np.random.default_rng(self.seed)
        self._config_index_checked = False
        # pending results: (time, trial_id, the trial's state)
        self._events: list[tuple[float, int, list[Any]]] = []
        # free workers, the lowest last (taken by pop(), given back by insort): negated ids
        self._free_workers = [-worker for worker in range(self.n_workers - 1, -1, -1)]
        self.num_free_workers = self.n_workers  # an attribute: read once per result
        # the pending-result entry of the trial whose next result waits for the decision on
        # its last one (pushed when the next result is asked for, unless it was paused or
        # stopped)
        self._continuing: tuple[float, int, list[Any]] | None = None
        # the log of this run's results by reference (result_log), None: not kept
        self._log: TableResultLog | None = None
        # indexed by trial id (ids are 0, 1, 2, ... in start order): the config as run (its
        # grid row, an int, for a trial started by start_trial_at_row) and the state of every
        # trial that may still run (both None once stopped, completed or failed: the Tuner
        # keeps the configs it records)
        self.configs: list[dict[str, Any] | int | None] = []
        self._states: list[list[Any] | None] = []

    @property
    def num_running(self) -> int:
        """Trials with a pending result."""
        return len(self._events) + (self._continuing is not None)

    def current_time(self) -> float:
        """Simulated seconds since the start of the run."""
        return self.clock.now

    def _curve_for(self, config: Mapping[str, Any], seed_index: int) -> tuple[Any, int]:
        """``(curve, config_index)``: the curve is ``None`` for a tabular blackbox (its rows
        are read from its table by ``config_index``)."""
        if self._values is not None:
            return None, self.blackbox.config_index(config)
        return self.blackbox.curve(config, seed_index), -1

    def start_trial(
        self, trial_id: int, config: Mapping[str, Any], config_index: int | None = None
    ) -> dict[str, Any] | None:
        """Start a new trial on the lowest free worker.

        Returns the config as run (plain values), or ``None`` if its first step has no
        recorded time: the trial failed at once and its worker is free again.

        ``config_index``: the config's row in a tabular blackbox's grid, if the scheduler
        knows it (``TrialSuggestion.config_index``; the Tuner passes it to backends whose
        ``start_trial`` takes it): ``config`` is then taken as is (plain values, as drawn
        from the grid) and not looked up; the first such start of a run is checked.
        """
        configs = self.configs
        if trial_id != len(configs):
            raise ValueError(
                f"trial ids must be 0, 1, 2, ... in start order; got {trial_id}, expected {len(configs)}"
            )
        if config_index is not None and self._values is not None:
            if not self._config_index_checked:
                self._check_config_index(config, config_index)
            if not self.start_trial_at_row(trial_id, config_index):
                return None
            configs[trial_id] = config
            return config
        if self._continuing is not None:
            self._push_continuing()
        seed_index = self._same_seed_index
        if seed_index is None:
            seed_index = int(self._rng.integers(self._n_seeds))
        config = native_config(config)
        curve, config_index = self._curve_for(config, seed_index)
        table_row = config_index * self._config_rows + seed_index
        state = [curve, config_index, seed_index, -1, self.clock.now, 0, None, (), 0, table_row]
        if curve is not None:
            state[ROW] = row = curve[0].tolist()
        else:
            row = self._read_block(state, 0)
            state[ROW] = row
        configs.append(config)
        self._states.append(state)
        now = state[OFFSET]
        time = now + row[self.elapsed_index]
        if time != time:  # no recorded time for the first step: the trial fails at once
            self._states[trial_id] = None
            configs[trial_id] = None
            return None
        if time < now:  # a negative recorded time never moves the clock backwards
            time = now
        state[WORKER] = -self._free_workers.pop()
        self.num_free_workers -= 1
        heapq.heappush(self._events, (time, trial_id, state))
        return config

    @property
    def replays_grid_rows(self) -> bool:
        """Whether trials can start by their grid row alone (:meth:`start_trial_at_row`): the
        blackbox is tabular."""
        return self._values is not None

    def start_trial_at_row(self, trial_id: int, config_index: int) -> bool:
        """Start a new trial on row ``config_index`` of the tabular blackbox's grid, its config
        not given (the caller keeps the row; ``configs[trial_id]`` is then the row, an int):
        the path of :meth:`start_trial` with a ``config_index``, without the config.

        Returns False if its first step has no recorded time: the trial failed at once and
        its worker is free again. The row is trusted (:meth:`start_trial` checks a row
        against its config once per run).
        """
        configs = self.configs
        if trial_id != len(configs):
            raise ValueError(
                f"trial ids must be 0, 1, 2, ... in start order; got {trial_id}, expected {len(configs)}"
            )
        events = self._events
        entry = self._continuing
        if entry is not None:  # _push_continuing, inlined
            self._continuing = None
            heapq.heappush(events, entry)
        seed_index = self._same_seed_index
        if seed_index is None:
            seed_index = int(self._rng.integers(self._n_seeds))
        # the first result, read here (this is _prepare_next at position 0, inlined), with
        # the row after it as the trial's first block: its first report then continues it
        # without a read (a block of rows of its own: one Python call and a list fewer)
        rows = self._rows
        if rows is not None and 0 <= config_index < rows.n_configs:
            offset = config_index * rows.config_bytes + seed_index * rows.row_bytes
            unpack_row, table_bytes = rows.unpack_row, rows.table_bytes
            row = unpack_row(table_bytes, offset)
            block = (
                [row, unpack_row(table_bytes, offset + rows.position_bytes)]
                if rows.n_positions > 1
                else [row]
            )
            start = 0  # the position of the block's first row
        elif self._values is not None:
            row = self._values[config_index, 0, seed_index].tolist()
            block, start = (), 1
        else:
            raise ValueError(
                f"start_trial_at_row needs a tabular blackbox; {self.blackbox.name!r} is not "
                "one: start trials with their config (start_trial)"
            )
        now = self.clock.now
        time = now + row[self.elapsed_index]
        if time != time:  # no recorded time for the first step: the trial fails at once
            configs.append(None)
            self._states.append(None)
            return False
        table_row = config_index * self._config_rows + seed_index
        worker = -self._free_workers.pop()
        self.num_free_workers -= 1
        state = [None, config_index, seed_index, worker, now, 0, row, block, start, table_row]
        configs.append(config_index)
        self._states.append(state)
        if time < now:  # a negative recorded time never moves the clock backwards
            time = now
        heapq.heappush(events, (time, trial_id, state))
        return True

    @property
    def runs_stopping_rules(self) -> bool:
        """Whether :meth:`run_stopping_rule` can run now: the blackbox is a C-contiguous
        float64 table and this run logs its results by reference (:meth:`result_log`)."""
        return self._rows is not None and self._log is not None

    def run_stopping_rule(self, rule: StoppingRule, ledger: RunLedger) -> str:
        """A whole run of a scheduler's stopping rule in one loop; its stop reason.

        What the Tuner's loop, the scheduler and :meth:`reports_jumping_clock` do together,
        in the same order with the same results (see
        :class:`~simulated_backend.backend_protocol.StoppingRuleBackend` and
        :mod:`simulated_backend.stopping_rule_replay`); called by the Tuner at the start of
        a run, after :meth:`open` and :meth:`result_log`.
        """
        if not self.runs_stopping_rules:
            raise ValueError(
                "run_stopping_rule needs a tabular blackbox (C-contiguous float64) and a log "
                "of results by reference: call result_log() after open()"
            )
        rows, n_seeds, rng = self._rows, self._n_seeds, self._rng
        parts = ReplayParts(
            backend=self,
            events=self._events,
            states=self._states,
            configs=self.configs,
            free_workers=self._free_workers,
            clock=self.clock,
            rows=rows,
            fidelity_values=self.fidelity_values,
            objective_names=tuple(self.blackbox.objective_names),
            elapsed_index=self.elapsed_index,
            n_seeds=n_seeds,
            config_rows=self._config_rows,
            same_seed_index=self._same_seed_index,
            draw_seed_index=lambda: int(rng.integers(n_seeds)),
            log_entries=self._log.entries,
            result_of=self._result_of,
            read_block=self._read_block,
        )
        return replay_stopping_rule(parts, rule, ledger)

    def _check_config_index(self, config: Mapping[str, Any], config_index: int) -> None:
        actual = self.blackbox.config_index(config)
        if actual != config_index:
            raise ValueError(
                f"the scheduler gave config_index={config_index} for configuration "
                f"{dict(config)}, which is row {actual} of blackbox {self.blackbox.name!r}: its "
                "search space was built from another blackbox; build it with "
                "SearchSpace.from_blackbox(the benchmark's blackbox)"
            )
        self._config_index_checked = True

    def resume_trial(
        self, trial_id: int, config: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Resume a paused trial on the lowest free worker (optionally with a new config)."""
        if self._continuing is not None:
            self._push_continuing()
        state = self._states[trial_id]
        if state is None or state[WORKER] >= 0:
            raise ValueError(
                f"trial {trial_id} cannot be resumed: it is "
                f"{'running' if state is not None else 'stopped, completed or failed'}, not paused"
            )
        if config is not None:
            config = native_config(config)
            state[CURVE], state[CONFIG_INDEX] = self._curve_for(config, state[SEED_INDEX])
            state[TABLE_ROW] = state[CONFIG_INDEX] * self._config_rows + state[SEED_INDEX]
            state[BLOCK] = ()
            self.configs[trial_id] = config
        state[WORKER] = -self._free_workers.pop()
        self.num_free_workers -= 1
        position = state[POSITION]
        if self.resume_from == "scratch" or position == 0:
            state[POSITION] = 0
            state[OFFSET] = self.clock.now
        else:
            done = self._row(state, position - 1)[self.elapsed_index]
            state[OFFSET] = self.clock.now - done
        time = self._prepare_next(state)
        if time is not None:
            heapq.heappush(self._events, (time, trial_id, state))
            return self.configs[trial_id]
        self._end_run_of(trial_id)
        self._states[trial_id] = None
        self.configs[trial_id] = None
        return None

    def pause_trial(self, trial_id: int) -> None:
        """Paused at its last report: the worker is free at once; the position is kept.

        A tabular trial's block of rows is dropped (read again if it resumes): most paused
        trials of synchronous brackets never resume, and their blocks (lists, which the
        garbage collector tracks) made full collections of long runs walk them.
        """
        self._end_run_of(trial_id)
        state = self._states[trial_id]
        if state is not None and state[CURVE] is None:
            state[BLOCK] = ()

    def stop_trial(self, trial_id: int) -> None:
        """Stopped at its last report: the worker is free at once."""
        # _end_run_of, inlined (most trials of a long run end here)
        continuing = self._continuing
        if continuing is not None and continuing[1] == trial_id:
            self._continuing = None
        states = self._states
        state = states[trial_id]
        if state is not None and state[WORKER] >= 0:
            free = self._free_workers
            if free:
                bisect.insort(free, -state[WORKER])
            else:  # (the common case: every other worker busy)
                free.append(-state[WORKER])
            self.num_free_workers += 1
            state[WORKER] = -1
        states[trial_id] = None  # a stopped trial never reports again
        self.configs[trial_id] = None

    def _end_run_of(self, trial_id: int) -> None:
        continuing = self._continuing
        if continuing is not None and continuing[1] == trial_id:
            self._continuing = None
        state = self._states[trial_id]
        if state is not None and state[WORKER] >= 0:
            bisect.insort(self._free_workers, -state[WORKER])
            self.num_free_workers += 1
            state[WORKER] = -1

    def _push_continuing(self) -> None:
        """The trial reported last was neither paused nor stopped: wait for its next result."""
        entry = self._continuing
        if entry is not None:
            self._continuing = None
            heapq.heappush(self._events, entry)

    def next_results(self, timeout: float = 0.0) -> list[TrialReport]:
        """The earliest pending result if it is due at the current simulated time, else ``[]``.

        One result per call (ties by trial id), so that a trial continued by the decision
        on this result competes for the next position with the results already pending.
        The clock is never moved here; ``timeout`` is ignored (nobody waits in simulation).
        """
        events = self._events
        entry = self._continuing
        if entry is not None:
            self._continuing = None
            heapq.heappush(events, entry)
        if not events or events[0][0] > self.clock.now:
            return []
        time, trial_id, state = heapq.heappop(events)
        result = self._result_of(
            state[ROW], self.fidelity_values[state[POSITION]], time, state[WORKER]
        )
        if self._log is not None:
            self._log.entries.extend(
                (
                    trial_id,
                    state[TABLE_ROW] + state[POSITION] * self._n_seeds,
                    time,
                    state[WORKER],
                )
            )
        # the trial's next result; it completes at the max fidelity, or where its recorded
        # curve ends (NaN time)
        state[POSITION] += 1
        time = self._prepare_next(state)
        if time is not None:
            self._continuing = (time, trial_id, state)
            return [(trial_id, result, REPORT_CONTINUES)]
        self._end_run_of(trial_id)
        self._states[trial_id] = None  # a completed trial never reports again
        self.configs[trial_id] = None
        return [(trial_id, result, REPORT_LAST)]

    def reports_jumping_clock(
        self,
        limit: float = math.inf,
        decision_fidelities: frozenset[Any] | None = None,
        room: list[int] | None = None,
    ) -> Iterator[TrialReport | None]:
        """Every result in event order, the clock jumped to each (the Tuner's fast path).

        What :meth:`next_results` and :meth:`advance_clock` give together when the
        :class:`~simulated_backend.callback.SimulatorCallback` is the only thing that moves
        the clock, in one generator whose locals hold the run's state (see
        :class:`~simulated_backend.backend_protocol.ClockJumpingBackend`). It yields a
        report when one is due at the current time; ``None`` when none is and a worker is
        free (the caller starts work, then the clock jumps to the next result); it ends when
        the next result lies beyond ``limit`` (the clock then stands at ``limit``) or nothing
        runs. Trials started, paused, resumed or stopped between reports are taken into
        account, exactly as between calls of :meth:`next_results`.

        ``decision_fidelities`` (the scheduler's, see
        :class:`~simulated_backend.backend_protocol.ClockJumpingBackend`): with a log of
        results by reference (:meth:`result_log`), a result at another fidelity from which
        the trial continues is passed over without a result dict, and their number is
        yielded as ``(n, None, REPORT_UNDECIDED)`` before anything else is yielded, at the
        end, and when ``n`` reaches ``room[0]`` (the caller's one-item list, read at each
        such result: how many it can take before it must count them; default 1). Every
        trial reports every fidelity of the grid in order, so the scheduler sees each of its
        decision fidelities; if one of them is not on the grid, every result is yielded as
        usual.
        """
        events, states, clock, configs = self._events, self._states, self.clock, self.configs
        result_of, fidelity_values = self._result_of, self.fidelity_values
        last_position, elapsed_index = self.last_fidelity_index, self.elapsed_index
        heappush, heappop, heappushpop = heapq.heappush, heapq.heappop, heapq.heappushpop
        # the run's log of results by reference (result_log), if it keeps one
        log = None if self._log is None else self._log.entries.extend
        n_seeds = self._n_seeds
        # per fidelity position: True where the scheduler does not decide (no result dict)
        undecided = self._undecided_positions(decision_fidelities) if log is not None else None
        room = [1] if room is None else room
        passed = 0  # results passed over since the last report yielded
        # the caller was told (None) that nothing is due and a worker is free: the clock
        # jumps now, whether it started something or not
        told = False
        tell = False  # tell the caller so (once the results passed over are reported)
        while True:
            if tell:
                tell, told = False, True
                if passed:
                    yield (passed, None, REPORT_UNDECIDED)
                    passed = 0
                yield None
            entry = self._continuing
            if entry is not None:  # continued by the decision on its last result
                self._continuing = None
                time, trial_id, state = heappushpop(events, entry)
            elif events:
                if not told and self.num_free_workers and events[0][0] > clock.now:
                    # a worker is free and nothing is due (a trial just ended): the caller
                    # starts work first (as below, without popping and pushing the entry)
                    tell = True
                    continue
                time, trial_id, state = heappop(events)
            elif told or not self.num_free_workers:
                if passed:
                    yield (passed, None, REPORT_UNDECIDED)
                return  # nothing runs
            else:
                tell = True
                continue
            now = clock.now
            if time > now:  # not due yet
                if not told and self.num_free_workers:
                    heappush(events, (time, trial_id, state))
                    tell = True
                    continue
                if time > limit:
                    heappush(events, (time, trial_id, state))
                    if limit > now:
                        clock.now = limit
                    if passed:
                        yield (passed, None, REPORT_UNDECIDED)
                    return
                clock.now = now = time
            told = False
            # the report (as in next_results, inlined: this is the hot path)
            position = state[POSITION]
            worker = state[WORKER]
            reported = state[ROW]
            if log is not None:
                log((trial_id, state[TABLE_ROW] + position * n_seeds, time, worker))
            state[POSITION] = position + 1
            if position < last_position:
                block = state[BLOCK]
                k = position + 1 - state[BLOCK_START]
                if k < len(block):
                    row = block[k]
                elif state[CURVE] is not None:
                    row = state[CURVE][position + 1].tolist()
                else:
                    row = self._read_block(state, position + 1)
                next_time = state[OFFSET] + row[elapsed_index]
                if next_time == next_time:  # else NaN: the recorded curve ends here
                    if next_time < now:  # a decreasing recorded time: reported "now"
                        next_time = now
                    state[ROW] = row
                    self._continuing = (next_time, trial_id, state)
                    if undecided is not None and undecided[position]:
                        passed += 1
                        if passed >= room[0]:
                            yield (passed, None, REPORT_UNDECIDED)
                            passed = 0
                        continue
                    if passed:
                        yield (passed, None, REPORT_UNDECIDED)
                        passed = 0
                    yield (
                        trial_id,
                        result_of(reported, fidelity_values[position], time, worker),
                        REPORT_CONTINUES,
                    )
                    continue
            if passed:
                yield (passed, None, REPORT_UNDECIDED)
                passed = 0
            self._end_run_of(trial_id)
            states[trial_id] = None  # a completed trial never reports again
            configs[trial_id] = None
            yield (
                trial_id,
                result_of(reported, fidelity_values[position], time, worker),
                REPORT_LAST,
            )

    def _undecided_positions(self, decision_fidelities: frozenset[Any] | None) -> list[bool] | None:
        """Per fidelity position, whether the scheduler does not decide there; ``None`` (it
        is shown every result) without decision fidelities or if one is not on the grid."""
        if decision_fidelities is None:
            return None
        grid = set(self.fidelity_values)
        if not all(fidelity in grid for fidelity in decision_fidelities):
            return None
        return [fidelity not in decision_fidelities for fidelity in self.fidelity_values]

    def advance_clock(self, limit: float = math.inf) -> float | None:
        """Jump the clock to the next pending result, but not past ``limit``.

        Returns the time of the next pending result (``None`` if nothing runs). Called by
        the :class:`~simulated_backend.callback.SimulatorCallback` when the Tuner would wait.
        """
        if self._continuing is not None:
            self._push_continuing()
        events = self._events
        if not events:
            return None
        time = events[0][0]
        clock = self.clock
        target = time if time < limit else limit
        if target > clock.now:
            clock.now = target
        return time

    def close(self) -> None:
        """End of run: forget the pending results of running trials."""
        self._continuing = None
        self._events.clear()

    # ---------------------------------------------------------------- lazy results
    def _row(self, state: list[Any], position: int) -> list[float]:
        """The trial's recorded objectives at fidelity ``position``, as plain floats."""
        if state[CURVE] is not None:
            return state[CURVE][position].tolist()
        k = position - state[BLOCK_START]
        if 0 <= k < len(state[BLOCK]):
            return state[BLOCK][k]
        return self._read_block(state, position)

    def _read_block(self, state: list[Any], position: int) -> list[float]:
        """Read the next block of a tabular trial's curve from ``position``; its first row."""
        size = 2 * len(state[BLOCK]) or 2
        rows = self._rows
        if rows is not None and (rows.contiguous_rows or size <= rows.MAX_STRIDED_BLOCK):
            block = rows.block(state[CONFIG_INDEX], position, size, state[SEED_INDEX])
        else:
            block = self._values[
                state[CONFIG_INDEX], position : position + size, state[SEED_INDEX]
            ].tolist()
        state[BLOCK] = block
        state[BLOCK_START] = position
        return block[0]

    def _prepare_next(self, state: list[Any]) -> float | None:
        """Compute the trial's next result; its report time, ``None`` if there is none.

        There is none after the max fidelity, or when the blackbox has no elapsed time (NaN)
        for the next fidelity: the recorded run ended there.
        """
        position = state[POSITION]
        if position > self.last_fidelity_index:
            return None
        if state[CURVE] is not None:
            row = state[CURVE][position].tolist()
        elif 0 <= position - state[BLOCK_START] < len(state[BLOCK]):
            row = state[BLOCK][position - state[BLOCK_START]]
        else:
            row = self._read_block(state, position)
        time = state[OFFSET] + row[self.elapsed_index]
        if time != time:  # NaN: no recorded time
            return None
        now = self.clock.now
        if time < now:  # a decreasing recorded time never moves the clock backwards
            time = now
        state[ROW] = row
        return time

    def metadata(self) -> dict[str, Any]:
        return {
            "benchmark": self.blackbox.name,
            "blackbox_kind": self.blackbox.kind,
            "fidelity_name": self.blackbox.fidelity_name,
            "seed": self.seed,
            "backend": type(self).__name__,
            "n_workers": self.n_workers,
            "resume_from": self.resume_from,
            "blackbox_seed": self.blackbox_seed,
            "tie_breaking": "events at equal simulated time are processed in increasing trial id",
        }
