"""The backend protocol: everything the :class:`~simulated_backend.tuner.Tuner` asks of a backend.

A backend runs trials on workers and reports their results; the Tuner decides what runs.
The same Tuner drives the :class:`~simulated_backend.backend.SimulatorBackend` (recorded
learning curves, simulated time) and the real backends of
:mod:`simulated_backend.real_backend` (a user's training function on worker processes or
a Dask cluster, real time). See ``docs/backends.md``.

The Tuner calls, and nothing else:

=============================== ==========================================================
``open(metric, mode)``          once per run: forget earlier trials, check the metric and
                                mode, and describe the results (a :class:`RunDescription`)
``start_trial(id, config)``     run a new trial on a free worker
``resume_trial(id, config)``    run a paused trial again on a free worker (from its
                                checkpoint: the next fidelity)
``pause_trial(id)``             the scheduler paused it: its worker is free at once
``stop_trial(id)``              the scheduler stopped it: its worker is free at once
``next_results(timeout)``       the results reported so far, oldest first; a real backend
                                waits up to ``timeout`` real seconds for one
``num_free_workers``            how many trials can start now
``current_time()``              seconds since the run started (simulated or real)
``metadata()``                  JSON-able description recorded with the results
``close()``                     end of run: drop running trials, free the workers
=============================== ==========================================================

Each result is a :data:`TrialReport` ``(trial_id, result, final)``. ``result`` is the dict
handed to the scheduler: every objective, the fidelity under the canonical key
``"fidelity"`` (and, until every scheduler reads that key, also under the backend's own
fidelity name), the report time under ``"simulated_time"`` (seconds since the run
started, whatever the backend's clock), the ``"worker"``, and the backend's extra columns
(:attr:`RunDescription.extra_columns`). ``final`` says what the result means for the
trial:

- :data:`REPORT_CONTINUES`: the trial is still running; the scheduler's decision applies
  (continue, pause, stop).
- :data:`REPORT_LAST`: the trial reached its last fidelity and is complete, whatever the
  scheduler answers.
- :data:`REPORT_FAILED`: the trial failed at this step (crashed, timed out, ran out of
  memory); the result is recorded but not shown to ``on_trial_result``; the scheduler
  hears ``on_trial_error`` and the worker is free.
- :data:`REPORT_UNDECIDED`: only from :meth:`ClockJumpingBackend.reports_jumping_clock`
  when asked to pass over fidelities at which the scheduler does not decide: the report is
  ``(n, None, REPORT_UNDECIDED)``, ``n`` results (in report order, right before the next
  report) at which trials continued past a fidelity that is not one of them. The backend's
  :class:`ResultLog` holds those results; each is recorded as CONTINUE.

The decision takes effect at the report: the worker of a paused or stopped trial is free
when ``pause_trial``/``stop_trial`` return.

A backend with a simulated clock may also follow :class:`ClockJumpingBackend`: one
generator that hands out the results and jumps the clock between them. The Tuner uses it
when the :class:`~simulated_backend.callback.SimulatorCallback` is the only callback that
acts while the Tuner waits; otherwise (and for every other backend) it polls
``next_results`` and calls the callbacks' ``on_tuning_sleep`` in between, which gives the
same results in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

REPORT_CONTINUES, REPORT_LAST, REPORT_FAILED, REPORT_UNDECIDED = 0, 1, 2, 3

TrialReport = tuple[int, dict[str, Any], int]
"""``(trial_id, result, final)``: one reported result (see the module docstring)."""

TIME_KEY = "simulated_time"
"""Key of the report time in every result dict and column name in the results file."""

FIDELITY_KEY = "fidelity"
"""The canonical key of the fidelity value in every result dict (and results column)."""


@dataclass(frozen=True)
class RunDescription:
    """What a backend's results hold, answered by :meth:`TrialBackend.open`.

    Args:
        objective_names: result keys recorded as float columns, in this order.
        fidelity_name: the benchmark's own name of the fidelity (e.g. ``"epoch"``).
        hyperparameter_names: config keys recorded as ``config_<name>`` columns, in order.
        extra_columns: further result keys recorded per result with their type
            (``"float"``, ``"int"`` or ``"str"``), e.g. a real backend's status and times.
            Every result carries every objective and extra column (NaN or ``None`` when
            there is no value).
        fidelity_kind: ``"int"`` or ``"float"``: the type of the fidelity values.
    """

    objective_names: tuple[str, ...]
    fidelity_name: str
    hyperparameter_names: tuple[str, ...]
    extra_columns: tuple[tuple[str, str], ...] = ()
    fidelity_kind: str = "float"


@runtime_checkable
class TrialBackend(Protocol):
    """The interface between the Tuner and whatever runs trials (see the module docstring)."""

    def open(self, metric: str, mode: str) -> RunDescription:
        """Start a run: forget all trials, check ``metric``/``mode`` against the objectives."""
        ...

    def start_trial(self, trial_id: int, config: Mapping[str, Any]) -> dict[str, Any] | None:
        """Start trial ``trial_id`` (ids are 0, 1, 2, ... in start order) on a free worker.

        Returns the config as the backend runs it (plain Python values), or ``None`` if the
        trial failed at once (its worker is free again).
        """
        ...

    def resume_trial(
        self, trial_id: int, config: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Resume a paused trial on a free worker (optionally with a new config); as ``start_trial``."""
        ...

    def pause_trial(self, trial_id: int) -> None:
        """The scheduler paused the trial at its last report; free its worker."""
        ...

    def stop_trial(self, trial_id: int) -> None:
        """The scheduler stopped the trial at its last report; free its worker."""
        ...

    def next_results(self, timeout: float = 0.0) -> Iterable[TrialReport]:
        """Results reported by now, oldest first, consumed one by one by the Tuner.

        A real backend waits up to ``timeout`` real seconds when none is there yet; the
        simulator never waits (its clock is moved by the
        :class:`~simulated_backend.callback.SimulatorCallback`).
        """
        ...

    @property
    def num_free_workers(self) -> int:
        """Number of trials that can be started or resumed now."""
        ...

    def current_time(self) -> float:
        """Seconds since the run started, on the backend's clock."""
        ...

    def metadata(self) -> dict[str, Any]:
        """JSON-able description of the backend and its benchmark, for ``metadata.json``."""
        ...

    def close(self) -> None:
        """End of run: forget running trials, free workers and processes. Idempotent."""
        ...


@runtime_checkable
class ResultLog(Protocol):
    """A backend's own record of the results it reported in a run, a few numbers each
    (e.g. :class:`~simulated_backend.result_references.TableResultLog`): the recorder takes
    their typed columns instead of reading the result dicts."""

    def take_columns(self, n: int) -> dict[str, Any]:
        """The typed columns (``trial_id``, ``worker``, ``"fidelity"``, ``"simulated_time"``
        and every objective) of the first ``n`` results not taken yet; they are dropped."""
        ...


@runtime_checkable
class ResultLoggingBackend(Protocol):
    """Optional: a backend that can log its results by reference (the SimulatorBackend on a
    tabular blackbox). The Tuner then records only each result's decision code; the result
    dicts it hands the scheduler are not kept."""

    def result_log(self) -> ResultLog | None:
        """Log every result reported from now until the next ``open`` (``None``: this
        backend cannot, the result dicts are recorded)."""
        ...


@runtime_checkable
class ClockJumpingBackend(Protocol):
    """Optional fast path of a backend whose clock is simulated (the SimulatorBackend's).

    ``reports_jumping_clock(limit)`` is what polling ``next_results`` and jumping the clock
    to the next pending result (``SimulatorCallback.on_tuning_sleep``) give together, in one
    generator: it yields each result in event order when it is due, ``None`` when none is
    due at the current time and a worker is free (the Tuner gives free workers work; the
    clock then jumps to the next result, whether work was started or not), and ends when
    the next result lies beyond ``limit`` (the clock then stands at ``limit``) or nothing
    runs. Trials started, resumed, paused or stopped while it is suspended count exactly as
    between two ``next_results`` calls.

    ``decision_fidelities``: the fidelities at which the scheduler decides
    (:meth:`~simulated_backend.schedulers.protocol.TrialScheduler.decision_fidelities`),
    given only when the backend logs its results by reference and nothing else reads the
    result dicts. A result at another fidelity that the trial continues from (not its last)
    is then passed over without a result dict, and counted in a ``(n, None,
    REPORT_UNDECIDED)`` report before the next other report (or the end). A
    backend that cannot guarantee that every trial reports every one of those fidelities
    in increasing order (e.g. one of them is not on its grid) ignores the argument.
    ``room``: the caller's one-item list, how many results the backend may pass over
    before it must yield their count (the caller updates it after each report; default 1).
    """

    def reports_jumping_clock(
        self,
        limit: float = math.inf,
        decision_fidelities: frozenset[Any] | None = None,
        room: list[int] | None = None,
    ) -> Iterator[TrialReport | None]:
        """Results in event order, ``None`` when none is due and a worker is free."""
        ...


RUNNING, PAUSED, STOPPED, COMPLETED, FAILED = range(5)
"""The Tuner's status of a trial (``Tuner.trial_status``)."""


@dataclass(frozen=True, eq=False)
class RunLedger:
    """The Tuner's side of a run a backend carries out in one loop
    (:class:`StoppingRuleBackend`): its records of trials, its recorder and callbacks, and
    its budgets. The backend keeps them exactly as the Tuner's own loop would.

    Args:
        trials: by trial id, the :class:`~simulated_backend.schedulers.protocol.Trial` of
            every trial that may still run, ``None`` once it ended (appended at each start).
        trial_status: by trial id, ``RUNNING``, ``STOPPED``, ``COMPLETED`` or ``FAILED``.
        trial_configs: by trial id, the config as run, or its grid row (an int).
        fail_trial: records that trial ``trial_id`` (already in ``trials``) failed at its
            start and tells the scheduler (``on_trial_error``); returns 1.
        record_code: records the next result's decision code (``DECISION_CODES``); the
            backend's log of results by reference holds the result itself.
        decision_codes: the codes of CONTINUE, STOP and COMPLETED.
        compact: compacts the recorder once ``next_compaction`` results are recorded;
            returns the result count of the next compaction.
        next_compaction: the result count of the first compaction.
        result_callbacks: called with ``(trial, result, decision)`` after each result.
        on_remove: the scheduler's ``on_trial_remove`` (``None``: the base's no-op).
        on_complete: the scheduler's ``on_trial_complete``.
        limit: the budget of simulated time.
        max_results, max_started, max_finished: the count budgets (``sys.maxsize``: none).
        target, predicate: the stop criterion's target value and predicate (``None``: none).
        current: a one-item list: the id of the trial being handled (for error messages).
    """

    trials: list[Any]
    trial_status: list[int]
    trial_configs: list[Any]
    fail_trial: Callable[[int], int]
    record_code: Callable[[int], None]
    decision_codes: tuple[int, int, int]
    compact: Callable[[], int]
    next_compaction: int
    result_callbacks: Sequence[Callable[[Any, dict[str, Any], str], None]]
    on_remove: Callable[[Any], None] | None
    on_complete: Callable[[Any, dict[str, Any]], None]
    limit: float
    max_results: int
    max_started: int
    max_finished: int
    target: float | None
    predicate: Callable[[Any], bool] | None
    current: list[Any]


@runtime_checkable
class StoppingRuleBackend(Protocol):
    """Optional fast path of a simulated backend: a whole run of a scheduler's
    :class:`~simulated_backend.schedulers.stopping_rule.StoppingRule` in one loop.

    ``runs_stopping_rules`` tells whether this backend, as opened, can (the simulator on a
    tabular blackbox whose results it logs by reference). ``run_stopping_rule(rule,
    ledger)`` then does what the Tuner's loop, the scheduler and :meth:`reports_jumping_clock
    <ClockJumpingBackend.reports_jumping_clock>` would do together, in the same order with
    the same results, until a budget of ``ledger`` is reached or nothing runs, and returns
    the stop reason (the Tuner's ``stop_reason``).
    """

    @property
    def runs_stopping_rules(self) -> bool:
        """Whether :meth:`run_stopping_rule` can run now."""
        ...

    def run_stopping_rule(self, rule: Any, ledger: RunLedger) -> str:
        """The whole run; its stop reason."""
        ...


def check_objective(
    objective_modes: Mapping[str, str], metric: str, mode: str, benchmark: str
) -> None:
    """Raise a clear error when ``metric`` is not an objective or ``mode`` is not its mode.

    ``objective_modes`` maps each objective name to ``"min"`` or ``"max"``.
    """
    if metric not in objective_modes:
        names = ", ".join(repr(name) for name in objective_modes)
        raise KeyError(
            f"benchmark {benchmark!r} has no objective {metric!r}; its objectives are {names}"
        )
    expected = objective_modes[metric]
    if mode != expected:
        raise ValueError(
            f"the scheduler has mode {mode!r} but objective {metric!r} of benchmark "
            f"{benchmark!r} is to be {'minimized' if expected == 'min' else 'maximized'}; "
            f"create the scheduler with mode={expected!r}"
        )
