"""What one call of the wrapped objective measures, and how much simulated time it costs.

A :class:`BlackboxEvaluator` answers a call from a tabular or surrogate blackbox (in the
coordinator); a :class:`FunctionObjective` runs a user function that returns its metrics and
its own runtime (in the caller's process). Both produce a :class:`Measurement` whose
``cumulative_runtime`` is the simulated time of training from scratch up to that fidelity.
:class:`ContinuationLedger` turns measurements into charged time: a call that continues an
earlier evaluation of the same trial at a higher fidelity is charged only the difference.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from blackbox_repository import Blackbox, TabularBlackbox
from blackbox_repository.blackbox import native, native_config
from simulated_backend.schedulers.ask_tell_adapter import ConfigTranslator
from simulated_backend.schedulers.ask_tell_grid import GridConfigs
from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.wrapped_objective.errors import WrappedObjectiveError


@dataclass(frozen=True, slots=True)
class Measurement:
    """The answer to one call, before it is placed in simulated time."""

    config: dict[str, Any]
    fidelity: Any
    objectives: dict[str, float]
    cumulative_runtime: float


class BlackboxEvaluator:
    """Looks up ``(config, fidelity)`` on a blackbox, for one recorded seed.

    Configurations off a tabular grid are snapped to the nearest recorded one (as
    :class:`~simulated_backend.schedulers.ask_tell_adapter.AskTellScheduler` does); a fidelity
    between grid values is rounded up to the next recorded fidelity; ``None`` means the
    maximum fidelity.
    """

    def __init__(self, blackbox: Blackbox, blackbox_seed: int | None = None) -> None:
        self.blackbox = blackbox
        self.seed_index = blackbox.seed_index(blackbox_seed)
        self.blackbox_seed = native(blackbox.seeds[self.seed_index])
        self.objective_names = list(blackbox.objective_names)
        self.fidelity_name = blackbox.fidelity_name
        self.fidelity_values = [native(v) for v in blackbox.fidelity_values]
        self._positions = {value: k for k, value in enumerate(self.fidelity_values)}
        self._sorted_fidelities = sorted(self._positions)
        self._elapsed_index = blackbox.elapsed_time_index
        self._tabular = isinstance(blackbox, TabularBlackbox)
        self._translate = ConfigTranslator(SearchSpace.from_blackbox(blackbox))
        self._on_grid = GridConfigs(blackbox, self._translate) if self._tabular else None
        # a plain TabularBlackbox: read its table directly (one numpy indexing per call
        # instead of a curve and a row of it); a subclass may answer curves its own way
        plain_table = type(blackbox).curve_by_index is TabularBlackbox.curve_by_index
        self._table = blackbox.values if self._tabular and plain_table else None

    def fidelity_position(self, fidelity: Any) -> int:
        """Position on the fidelity grid of a requested fidelity (rounded up to the grid)."""
        if fidelity is None:
            return len(self.fidelity_values) - 1
        position = self._positions.get(fidelity)
        if position is not None:
            return position
        try:
            value = float(fidelity)
        except (TypeError, ValueError):
            value = math.nan
        if math.isnan(value):
            raise WrappedObjectiveError(
                f"fidelity {fidelity!r} is not a number; pass a value of "
                f"{self.fidelity_name!r} between {self._sorted_fidelities[0]} and "
                f"{self._sorted_fidelities[-1]}, or None for the maximum"
            )
        index = bisect.bisect_left(self._sorted_fidelities, value)
        if index == len(self._sorted_fidelities):
            raise WrappedObjectiveError(
                f"fidelity {fidelity!r} is above the largest recorded {self.fidelity_name!r} "
                f"({self._sorted_fidelities[-1]}) of blackbox {self.blackbox.name!r}"
            )
        return self._positions[self._sorted_fidelities[index]]

    def measure(self, config: Mapping[str, Any], fidelity: Any) -> Measurement:
        return Measurement(*self.answer(config, fidelity))

    def answer(
        self, config: Mapping[str, Any], fidelity: Any
    ) -> tuple[dict[str, Any], Any, dict[str, float], float]:
        """:meth:`measure` as a plain tuple ``(config, fidelity, objectives, runtime)``.

        The coordinator answers every call with it: a tuple costs a fraction of a frozen
        dataclass to build, and this is on the path of every evaluation.
        """
        position = self._positions.get(fidelity)
        if position is None:
            position = self.fidelity_position(fidelity)
        if self._table is not None:  # one cell row of the table, as Python floats
            index, config = self._on_grid.index_and_config(config)
            row = self._table[index, position, self.seed_index].tolist()
        else:
            if self._tabular:
                index, config = self._on_grid.index_and_config(config)
                curve = self.blackbox.curve_by_index(index, self.seed_index)
            else:
                config = self._translate(config)
                curve = self.blackbox.curve(config, self.seed_index)
            row = np.asarray(curve[position], dtype=float).tolist()  # Python floats
        runtime = row[self._elapsed_index]
        if runtime != runtime:  # NaN
            raise WrappedObjectiveError(
                f"blackbox {self.blackbox.name!r} has no elapsed time for {config} at "
                f"{self.fidelity_name}={self.fidelity_values[position]}: the recorded run ended earlier"
            )
        return config, self.fidelity_values[position], dict(zip(self.objective_names, row)), runtime

    def metadata(self) -> dict[str, Any]:
        return {
            "benchmark": self.blackbox.name,
            "blackbox_kind": self.blackbox.kind,
            "fidelity_name": self.fidelity_name,
            "blackbox_seed": self.blackbox_seed,
        }


class FunctionObjective:
    """A user function ``function(config, fidelity) -> dict`` that reports its own runtime.

    The returned dict holds the metrics and, under ``runtime_key``, the simulated seconds of
    training from scratch up to ``fidelity``. It runs in the caller's process, so it must be
    picklable (a module-level function) for process pools and Dask.

    Example:
        >>> def train(config, fidelity):  # doctest: +SKIP
        ...     return {"loss": (config["x"] - 1) ** 2 / fidelity, "runtime": 10.0 * fidelity}
        >>> FunctionObjective(train, runtime_key="runtime", name="quadratic")  # doctest: +SKIP
    """

    def __init__(
        self,
        function: Callable[[dict[str, Any], Any], Mapping[str, Any]],
        runtime_key: str = "runtime",
        name: str = "user-function",
        fidelity_name: str = "fidelity",
    ) -> None:
        if not callable(function):
            raise TypeError(f"function must be callable, got {type(function).__name__}")
        self.function = function
        self.runtime_key = runtime_key
        self.name = name
        self.fidelity_name = fidelity_name

    def measure(self, config: Mapping[str, Any], fidelity: Any) -> Measurement:
        config = native_config(config)
        answer = self.function(config, fidelity)
        if not isinstance(answer, Mapping) or self.runtime_key not in answer:
            raise WrappedObjectiveError(
                f"the objective function must return a dict with the runtime under "
                f"{self.runtime_key!r}; it returned {answer!r}"
            )
        runtime = float(answer[self.runtime_key])
        if not math.isfinite(runtime) or runtime < 0:
            raise WrappedObjectiveError(
                f"the objective function returned runtime {runtime!r}; it must be a finite "
                "number of simulated seconds >= 0"
            )
        objectives = {
            str(k): float(v)
            for k, v in answer.items()
            if k != self.runtime_key and isinstance(native(v), (int, float))
        }
        return Measurement(config, native(fidelity), objectives, runtime)

    def metadata(self) -> dict[str, Any]:
        return {
            "benchmark": self.name,
            "blackbox_kind": "function",
            "fidelity_name": self.fidelity_name,
            "runtime_key": self.runtime_key,
        }


@dataclass(slots=True)
class _TrialProgress:
    fidelity: Any
    cumulative_runtime: float
    running: bool


class ContinuationLedger:
    """Trial ids and charged runtimes, with continuation of earlier evaluations.

    A call carries an optional ``trial_key`` (any hashable, e.g. a config id). With
    ``by_config=True`` a call without a key is keyed by its configuration. A keyed call
    continues the key's last evaluation when that evaluation has finished and the new
    fidelity is higher: it keeps the trial id and is charged only the remaining runtime.
    Any other call is a new trial (ids 0, 1, 2, ... in arrival order) charged in full.
    Only keyed trials are followed (an unkeyed one can never be continued).
    """

    def __init__(self, by_config: bool = False) -> None:
        self.by_config = by_config
        self._n_trials = 0
        self._trial_of_key: dict[Hashable, int] = {}
        self._progress: dict[int, _TrialProgress] = {}  # of keyed trials

    @property
    def n_trials(self) -> int:
        return self._n_trials

    def begin(
        self,
        trial_key: Hashable | None,
        config: Mapping[str, Any],
        fidelity: Any,
        cumulative_runtime: float,
    ) -> tuple[int, float, bool]:
        """``(trial_id, charged_runtime, is_continuation)`` of a call that starts now."""
        if trial_key is None and self.by_config:
            trial_key = tuple(sorted(config.items()))
        trial_id = self._n_trials
        if trial_key is None:  # the common case: a new trial, charged in full
            self._n_trials = trial_id + 1
            return trial_id, max(0.0, cumulative_runtime), False
        earlier = self._trial_of_key.get(trial_key)
        if earlier is not None:
            progress = self._progress[earlier]
            if not progress.running and _higher(fidelity, progress.fidelity):
                charged = max(0.0, cumulative_runtime - progress.cumulative_runtime)
                progress.running = True
                return earlier, charged, True
        self._n_trials = trial_id + 1
        self._progress[trial_id] = _TrialProgress(None, 0.0, True)
        self._trial_of_key[trial_key] = trial_id
        return trial_id, max(0.0, cumulative_runtime), False

    def finish(self, trial_id: int, fidelity: Any, cumulative_runtime: float) -> None:
        """The call of ``trial_id`` returned: later calls may continue from its fidelity."""
        progress = self._progress.get(trial_id)
        if progress is not None:
            progress.fidelity = fidelity
            progress.cumulative_runtime = cumulative_runtime
            progress.running = False


def _higher(fidelity: Any, previous: Any) -> bool:
    try:
        return previous is not None and fidelity > previous
    except TypeError:
        return False
