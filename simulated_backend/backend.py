"""The simulator backend: N simulated workers replaying a blackbox's learning curves.

A trial started at simulated time ``t0`` reports its result at fidelity position ``k``
at ``t0 + elapsed[k] - elapsed[k0 - 1]``, where ``elapsed`` is the blackbox's cumulative
elapsed-time objective and ``k0`` the position it started (or resumed) from. Results are
produced lazily: only the next result of each running trial exists, as one entry of a
heap keyed by ``(time, trial_id)``; so events are processed in exact time order and ties
are broken by trial id (lower first). Real compute time never enters the clock.

Pausing keeps the trial's position; resuming from a checkpoint continues at the next
fidelity and charges only the remaining time, resuming from scratch replays every
fidelity from the first. Stopping or pausing frees the worker at once.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from blackbox_repository import Blackbox, TabularBlackbox
from blackbox_repository.blackbox import native, native_config

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
        self._is_tabular = isinstance(blackbox, TabularBlackbox)
        self.clock = SimulatedClock()
        self.reset()

    def reset(self) -> None:
        """Forget every trial; the clock goes back to 0."""
        self.clock.now = 0.0
        self._rng = np.random.default_rng(self.seed)
        self._config_index_checked = False
        self._events: list[tuple[float, int]] = []
        self._free_workers = list(range(self.n_workers))
        heapq.heapify(self._free_workers)
        # per-trial state, indexed by trial id (ids are 0, 1, 2, ... in start order)
        self.configs: list[dict[str, Any]] = []
        self.config_indices: list[int] = []
        self.seed_indices: list[int] = []
        self.workers: list[int] = []
        self._curves: list[Any] = []
        self._offsets: list[float] = []
        self._next_position: list[int] = []
        self._pending_rows: list[list[float] | None] = []
        self._pending_times: list[float] = []

    # ---------------------------------------------------------------- workers and trials
    @property
    def num_free_workers(self) -> int:
        return len(self._free_workers)

    @property
    def num_running(self) -> int:
        return len(self._events)

    def _curve_for(self, config: Mapping[str, Any], seed_index: int) -> tuple[Any, int]:
        if isinstance(self.blackbox, TabularBlackbox):
            index = self.blackbox.config_index(config)
            return self.blackbox.curve_by_index(index, seed_index), index
        return self.blackbox.curve(config, seed_index), -1

    def start_trial(
        self, trial_id: int, config: Mapping[str, Any], config_index: int | None = None
    ) -> bool:
        """Start a new trial on the lowest free worker; ``False`` if its first step has no data.

        ``config_index``: the config's row in a tabular blackbox's grid, if the scheduler
        knows it (see ``TrialSuggestion.config_index``): ``config`` is then taken as is
        (plain Python values) and not looked up; the first such start of a run is checked.
        """
        if trial_id != len(self.configs):
            raise ValueError(
                f"trial ids must be 0, 1, 2, ... in start order; got {trial_id}, expected {len(self.configs)}"
            )
        if self._fixed_seed_index is not None:
            seed_index = self._fixed_seed_index
        elif self._n_seeds == 1:
            seed_index = 0
        else:
            seed_index = int(self._rng.integers(self._n_seeds))
        if config_index is not None and self._is_tabular:
            if not self._config_index_checked:
                self._check_config_index(config, config_index)
            curve = self.blackbox.curve_by_index(config_index, seed_index)
        else:
            config = native_config(config)
            curve, config_index = self._curve_for(config, seed_index)
        worker = heapq.heappop(self._free_workers)
        self.configs.append(config)
        self.config_indices.append(config_index)
        self.seed_indices.append(seed_index)
        self.workers.append(worker)
        self._curves.append(curve)
        self._offsets.append(self.clock.now)
        self._next_position.append(0)
        self._pending_rows.append(None)
        self._pending_times.append(0.0)
        return self.schedule_next(trial_id)

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

    def resume_trial(self, trial_id: int, config: Mapping[str, Any] | None = None) -> bool:
        """Resume a paused trial on the lowest free worker (optionally with a new config)."""
        if config is not None:
            config = native_config(config)
            curve, config_index = self._curve_for(config, self.seed_indices[trial_id])
            self.configs[trial_id] = config
            self.config_indices[trial_id] = config_index
            self._curves[trial_id] = curve
        self.workers[trial_id] = heapq.heappop(self._free_workers)
        position = self._next_position[trial_id]
        if self.resume_from == "scratch" or position == 0:
            self._next_position[trial_id] = 0
            self._offsets[trial_id] = self.clock.now
        else:
            done = float(self._curves[trial_id][position - 1][self.elapsed_index])
            self._offsets[trial_id] = self.clock.now - done
        return self.schedule_next(trial_id)

    def schedule_next(self, trial_id: int) -> bool:
        """Put the trial's next result on the event heap; ``False`` if its time is missing (NaN)."""
        if not self.prepare_next(trial_id):
            return False
        self.push_prepared(trial_id)
        return True

    def prepare_next(self, trial_id: int) -> bool:
        """Compute the trial's next result and its report time; ``False`` if there is none.

        There is none after the max fidelity, or when the blackbox has no elapsed time (NaN)
        for the next fidelity: the recorded run ended there.
        """
        position = self._next_position[trial_id]
        if position > self.last_fidelity_index:
            return False
        row = self._curves[trial_id][position].tolist()
        time = self._offsets[trial_id] + row[self.elapsed_index]
        if math.isnan(time):
            return False
        if time < self.clock.now:  # a decreasing recorded time never moves the clock backwards
            time = self.clock.now
        self._pending_rows[trial_id] = row
        self._pending_times[trial_id] = time
        return True

    def push_prepared(self, trial_id: int) -> None:
        """Start waiting for the result computed by :meth:`prepare_next`."""
        heapq.heappush(self._events, (self._pending_times[trial_id], trial_id))

    def next_event_time(self) -> float | None:
        """Simulated time of the earliest pending result, or ``None`` if nothing runs."""
        return self._events[0][0] if self._events else None

    def pop_event(self) -> tuple[float, int, int, list[float]]:
        """Remove the earliest result: ``(time, trial_id, fidelity_position, objective_values)``.

        The caller (the simulator callback) has already moved the clock to ``time``.
        """
        time, trial_id = heapq.heappop(self._events)
        position = self._next_position[trial_id]
        self._next_position[trial_id] = position + 1
        row = self._pending_rows[trial_id]
        self._pending_rows[trial_id] = None
        return time, trial_id, position, row

    def release_worker(self, trial_id: int) -> None:
        """The trial stopped, paused, completed or failed: its worker is free at once."""
        heapq.heappush(self._free_workers, self.workers[trial_id])

    def drop_running(self) -> list[int]:
        """End of run: forget the pending results of running trials; returns their ids."""
        running = sorted(trial_id for _, trial_id in self._events)
        self._events.clear()
        return running

    def metadata(self) -> dict[str, Any]:
        return {
            "backend": type(self).__name__,
            "n_workers": self.n_workers,
            "resume_from": self.resume_from,
            "blackbox_seed": self.blackbox_seed,
            "tie_breaking": "events at equal simulated time are processed in increasing trial id",
        }
