"""A whole simulated run of a stopping rule on a table, in one loop.

:meth:`SimulatorBackend.run_stopping_rule <simulated_backend.backend.SimulatorBackend.run_stopping_rule>`
lends its state (:class:`ReplayParts`) to :func:`replay_stopping_rule`, which does what
three layers do together on the layered path: the Tuner's loop (records, callbacks, stop
criteria; :class:`~simulated_backend.backend_protocol.RunLedger`), the scheduler's
``suggest``, ``on_trial_add`` and ``on_trial_result`` (its
:class:`~simulated_backend.schedulers.stopping_rule.StoppingRule`) and the backend's
``start_trial_at_row``, ``stop_trial`` and ``reports_jumping_clock``. Every step is taken
in the same order, on the same objects, with the same random draws: the results, the
records, the scheduler's and the backend's state and every callback's arguments are the
same as on the layered path, bit for bit (tests/simulated_backend/test_stopping_rule_replay.py
compares both on many settings). What goes is a trial's Python calls between the layers
(8 frames and a generator switch per trial) and the result dicts nothing reads.

Rare events take the layered code itself: a trial whose config comes from
``next_candidate`` (a point to evaluate) starts by ``start_trial``, a completed trial
goes to the scheduler's ``on_trial_complete``, a failed one to ``on_trial_error``.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulated_backend.backend_protocol import (
    COMPLETED,
    RUNNING,
    STOPPED,
    RunLedger,
)
from simulated_backend.schedulers.protocol import GridTrial, SchedulerDecision, Trial
from simulated_backend.schedulers.stopping_rule import StoppingRule, missed_milestone
from simulated_backend.stop_criterion import TuningStatus
from simulated_backend.table_rows import FlatRows
from simulated_backend.trial_state import (
    BLOCK,
    BLOCK_START,
    OFFSET,
    POSITION,
    ROW,
    TABLE_ROW,
    WORKER,
)

CONTINUE, STOP = SchedulerDecision.CONTINUE, SchedulerDecision.STOP
new_object = object.__new__


@dataclass(frozen=True, eq=False)
class ReplayParts:
    """The simulator's state a one-loop run works on, in place (lent by the backend).

    ``backend`` is asked only through its public attributes and methods:
    ``num_free_workers`` (kept up to date), ``start_trial`` (a trial with a config) and
    ``start_trial_at_row`` (a row outside the table, which it rejects).
    """

    backend: Any
    events: list[Any]
    states: list[Any]
    configs: list[Any]
    free_workers: list[int]
    clock: Any
    rows: FlatRows
    fidelity_values: list[Any]
    objective_names: tuple[str, ...]
    elapsed_index: int
    n_seeds: int
    config_rows: int
    same_seed_index: int | None
    draw_seed_index: Callable[[], int]
    log_entries: list[Any]
    result_of: Callable[[Any, Any, float, int], dict[str, Any]]
    read_block: Callable[[list[Any], int], Any]


def replay_stopping_rule(  # noqa: C901 - the hot loop is kept in one place on purpose
    parts: ReplayParts, rule: StoppingRule, run: RunLedger
) -> str:
    """Run until a budget of ``run`` is reached or nothing runs; the stop reason."""
    backend, clock = parts.backend, parts.clock
    events, states, configs, free = parts.events, parts.states, parts.configs, parts.free_workers
    rows = parts.rows
    unpack_row, table_bytes, n_configs = rows.unpack_row, rows.table_bytes, rows.n_configs
    config_bytes, row_bytes, position_bytes = rows.config_bytes, rows.row_bytes, rows.position_bytes
    two_rows = rows.n_positions > 1
    fidelity_values = parts.fidelity_values
    last_position = len(fidelity_values) - 1
    elapsed_index, n_seeds, config_rows = parts.elapsed_index, parts.n_seeds, parts.config_rows
    same_seed_index, draw_seed_index = parts.same_seed_index, parts.draw_seed_index
    log, result_of, read_block = parts.log_entries.extend, parts.result_of, parts.read_block
    heappush, heappop, heappushpop, insort = (
        heapq.heappush,
        heapq.heappop,
        heapq.heappushpop,
        bisect.insort,
    )

    trials, trial_status, trial_configs = run.trials, run.trial_status, run.trial_configs
    record_code, compact, current = run.record_code, run.compact, run.current
    code_continue, code_stop, code_completed = run.decision_codes
    callbacks = list(run.result_callbacks)
    on_remove, on_complete, fail_trial = run.on_remove, run.on_complete, run.fail_trial
    limit, max_results = run.limit, run.max_results
    max_started, max_finished = run.max_started, run.max_finished
    target, predicate = run.target, run.predicate

    metric, minimize = rule.metric, rule.minimize
    metric_index = parts.objective_names.index(metric)
    next_milestone, steps, first_milestone = rule.next_milestone, rule.steps, rule.first_milestone
    next_row, observe, grid = rule.next_row, rule.observe, rule.grid

    track_best = target is not None or predicate is not None
    best = math.inf if minimize else -math.inf
    make_results = bool(callbacks) or track_best  # else no result dict is read
    next_compaction = run.next_compaction
    n_results = n_finished = 0
    n_running = 0
    row_checked = False  # the run's first trial on a row starts with its config (checked)
    n_free = backend.num_free_workers
    continuing = None  # the entry of the trial continued by the decision on its last result
    told = False  # free workers were given work since the last result: the clock jumps now
    tell = False  # give free workers work before anything else (nothing is due now)
    now = clock.now
    while True:
        if tell:
            # the Tuner's "nothing due" branch: free workers get work, then the clock jumps
            tell, told = False, True
            if n_free and len(trials) < max_started:
                failed = 0
                while n_free:
                    trial_id = len(trials)
                    if trial_id >= max_started:
                        break
                    row = next_row()
                    current[0] = trial_id
                    if row is None or not row_checked or not 0 <= row < n_configs:
                        # a candidate that is not a drawn row, the run's first row (checked
                        # against its config) or a row outside the table: the layered path
                        backend.num_free_workers = n_free  # (the starts made inline so far)
                        started = _start_other(
                            backend, rule, run, row, trial_id, now, not row_checked
                        )
                        row_checked = row_checked or row is not None
                        n_free = backend.num_free_workers
                        if started is None:  # nothing more to start now
                            break
                        if started:
                            n_running += 1
                        else:
                            failed += 1
                        continue
                    trial = new_object(GridTrial)  # its config built only if something reads it
                    trial.trial_id = trial_id
                    trial.creation_time = now
                    trial.config_index = row
                    trial.grid = grid
                    trials.append(trial)
                    trial_status.append(RUNNING)
                    trial_configs.append(row)
                    next_milestone[trial_id] = first_milestone  # on_trial_add
                    # start_trial_at_row: its first result read now, the row after it as
                    # its first block
                    seed_index = same_seed_index
                    if seed_index is None:
                        seed_index = draw_seed_index()
                    offset = row * config_bytes + seed_index * row_bytes
                    first = unpack_row(table_bytes, offset)
                    block = (
                        [first, unpack_row(table_bytes, offset + position_bytes)]
                        if two_rows
                        else [first]
                    )
                    time = now + first[elapsed_index]
                    if time != time:  # no recorded time for the first step: it fails
                        configs.append(None)
                        states.append(None)
                        failed += fail_trial(trial_id)
                        continue
                    worker = -free.pop()
                    n_free -= 1
                    state = [
                        None,
                        row,
                        seed_index,
                        worker,
                        now,
                        0,
                        first,
                        block,
                        0,
                        row * config_rows + seed_index,
                    ]
                    configs.append(row)
                    states.append(state)
                    if time < now:  # a negative recorded time never moves the clock back
                        time = now
                    heappush(events, (time, trial_id, state))
                    n_running += 1
                backend.num_free_workers = n_free
                n_finished += failed
                if n_finished >= max_finished:
                    return "max_num_trials_finished"
            if not n_running:
                return (
                    "max_num_trials_started reached and every trial ended"
                    if len(trials) >= max_started
                    else "the scheduler has nothing more to run"
                )
        # the next result in event order (ties: the lower trial id)
        if continuing is not None:
            time, trial_id, state = heappushpop(events, continuing)
            continuing = None
        elif events:
            if not told and n_free and events[0][0] > now:
                tell = True  # a worker is free and nothing is due
                continue
            time, trial_id, state = heappop(events)
        elif told or not n_free:
            return "max_wallclock_time"  # nothing runs (the layered loop's end)
        else:
            tell = True
            continue
        if time > now:  # not due yet
            if not told and n_free:
                heappush(events, (time, trial_id, state))
                tell = True
                continue
            if time > limit:
                heappush(events, (time, trial_id, state))
                if limit > now:
                    clock.now = limit
                return "max_wallclock_time"
            clock.now = now = time
        told = False
        # the report, and the trial's next result computed one step ahead
        position = state[POSITION]
        worker = state[WORKER]
        reported = state[ROW]
        log((trial_id, state[TABLE_ROW] + position * n_seeds, time, worker))
        state[POSITION] = position + 1
        last = True
        if position < last_position:
            block = state[BLOCK]
            k = position + 1 - state[BLOCK_START]
            ahead = block[k] if k < len(block) else read_block(state, position + 1)
            next_time = state[OFFSET] + ahead[elapsed_index]
            if next_time == next_time:  # else NaN: the recorded curve ends here
                if next_time < now:  # a decreasing recorded time: reported "now"
                    next_time = now
                state[ROW] = ahead
                continuing = (next_time, trial_id, state)
                last = False
        if last:  # its worker is free at once
            insort(free, -worker)
            n_free += 1
            backend.num_free_workers = n_free
            state[WORKER] = -1
            states[trial_id] = None
            configs[trial_id] = None
        current[0] = trial_id
        trial = trials[trial_id]
        fidelity = fidelity_values[position]
        result: Any = result_of(reported, fidelity, time, worker) if make_results else None
        # the rule's decision (the scheduler's on_trial_result)
        milestone = next_milestone[trial_id]
        if fidelity < milestone:
            decision = CONTINUE
        elif fidelity != milestone:
            raise missed_milestone(trial_id, fidelity, milestone)
        else:
            value = reported[metric_index]
            if observe is not None:
                observe(trial, milestone, value)
            decide, following = steps[milestone]
            if decide is None:  # the max fidelity
                del next_milestone[trial_id]
                decision = STOP
            elif decide(math.inf if value != value else value if minimize else -value):
                next_milestone[trial_id] = following
                decision = CONTINUE
            else:
                del next_milestone[trial_id]
                decision = STOP
        # the decision applied (the Tuner's loop)
        if not last:
            if decision is CONTINUE:
                code = code_continue
            else:  # stopped: backend.stop_trial
                code = code_stop
                trial_status[trial_id] = STOPPED
                trials[trial_id] = None
                n_running -= 1
                continuing = None
                if free:
                    insort(free, -worker)
                else:  # (the common case: every other worker busy)
                    free.append(-worker)
                n_free += 1
                backend.num_free_workers = n_free
                state[WORKER] = -1
                states[trial_id] = None
                configs[trial_id] = None
                if on_remove is not None:
                    on_remove(trial)
                n_finished += 1
        else:
            code = code_completed
            trial_status[trial_id] = COMPLETED
            trials[trial_id] = None
            n_running -= 1
            on_complete(
                trial, result_of(reported, fidelity, time, worker) if result is None else result
            )
            n_finished += 1
        record_code(code)
        n_results += 1
        if n_results == next_compaction:
            next_compaction = compact()
        for callback in callbacks:
            callback(trial, result, decision)
        # the stop criteria
        if n_results >= max_results:
            return "max_num_results"
        if n_finished >= max_finished:
            return "max_num_trials_finished"
        if track_best:
            value = result[metric]
            if (value < best) if minimize else (value > best):
                best = value
            if target is not None and ((best <= target) if minimize else (best >= target)):
                return "target_metric_value"
            if predicate is not None and predicate(
                TuningStatus(
                    result["simulated_time"], len(trials), n_finished, n_results, float(best)
                )
            ):
                return "predicate"


def _start_other(
    backend: Any,
    rule: StoppingRule,
    run: RunLedger,
    row: int | None,
    trial_id: int,
    now: float,
    first_row: bool,
) -> bool | None:
    """Start a trial the layered way: on ``row`` (the run's first row, checked against its
    config, or a row outside the table), or on ``rule.next_candidate()`` when ``row`` is
    ``None``. Whether it runs (False: it failed at its start); ``None``: nothing to start."""
    trials, trial_status, trial_configs = run.trials, run.trial_status, run.trial_configs
    if row is not None:
        trial: Trial = GridTrial.at_row(trial_id, row, rule.grid, now)
        config_index: int | None = row
        trial_configs.append(row)
    else:
        candidate = rule.next_candidate()
        if candidate is None:
            return None
        config, config_index = candidate
        if type(config) is not dict:
            config = dict(config)
        trial = Trial(trial_id, config, now)
        trial_configs.append(config)
    trials.append(trial)
    trial_status.append(RUNNING)
    rule.next_milestone[trial_id] = rule.first_milestone  # on_trial_add
    if row is not None and not first_row:
        started = backend.start_trial_at_row(trial_id, row)
    else:
        config = trial.config
        run_config = (
            backend.start_trial(trial_id, config)
            if config_index is None
            else backend.start_trial(trial_id, config, config_index)
        )
        started = run_config is not None
        if started and run_config is not config:  # the backend's plain-value copy
            trial.config = run_config
            trial_configs[trial_id] = run_config
    if not started:
        run.fail_trial(trial_id)
    return started
