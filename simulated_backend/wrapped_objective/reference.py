"""simtune's own event-order reference for a recorded sequence of calls.

:func:`replay_in_simulator` starts the recorded calls, at their recorded simulated start
times and in their arrival order, as trials of the discrete-event engine
(:class:`~simulated_backend.tuner.Tuner` on :class:`~simulated_backend.backend.SimulatorBackend`):
a call at fidelity ``f`` is a trial paused at ``f``, a continuation resumes it from its
checkpoint. The order in which the engine reports those pauses is the order in which the
calls must return. Tests and ``benchmarks/wrapper_throughput.py`` compare the wrapper with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from blackbox_repository import Blackbox
from simulated_backend.backend import SimulatorBackend
from simulated_backend.schedulers.protocol import Trial, TrialScheduler, TrialSuggestion
from simulated_backend.stop_criterion import StopCriterion
from simulated_backend.tuner import Tuner
from simulated_backend.wrapped_objective.recorder import Evaluation

_TIME_TOLERANCE = 1e-9


class _ReplayScheduler(TrialScheduler):
    """Starts the recorded calls at their recorded times; pauses each at its fidelity."""

    def __init__(
        self,
        calls: Sequence[Evaluation],
        backend: SimulatorBackend,
        metric: str,
        mode: str,
        fidelity_name: str,
    ) -> None:
        super().__init__(metric, mode)
        self.calls = sorted(calls, key=lambda call: call.call_index)
        self.clock = backend.clock
        self.fidelity_name = fidelity_name
        self.next_call = 0
        self.engine_trial: dict[int, int] = {}  # wrapper trial id -> engine trial id
        self.wrapper_trial: list[int] = []
        self.target: dict[int, Any] = {}
        self.reported: list[tuple[int, Any, float]] = []

    def suggest(self) -> TrialSuggestion | None:
        if self.next_call >= len(self.calls):
            return None
        call = self.calls[self.next_call]
        if call.start_time > self.clock.now + _TIME_TOLERANCE:
            return None
        self.next_call += 1
        if call.continued:
            trial_id = self.engine_trial[call.trial_id]
            self.target[trial_id] = call.fidelity
            return TrialSuggestion.resume(trial_id)
        self.engine_trial[call.trial_id] = len(self.wrapper_trial)
        self.target[len(self.wrapper_trial)] = call.fidelity
        self.wrapper_trial.append(call.trial_id)
        return TrialSuggestion.start(call.config)

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        if result[self.fidelity_name] != self.target[trial.trial_id]:
            return "CONTINUE"
        self.reported.append(
            (
                self.wrapper_trial[trial.trial_id],
                result[self.fidelity_name],
                result["simulated_time"],
            )
        )
        return "PAUSE"


def replay_in_simulator(
    blackbox: Blackbox,
    evaluations: Sequence[Evaluation],
    n_workers: int,
    blackbox_seed: int | None = None,
) -> list[tuple[int, Any, float]]:
    """``(trial_id, fidelity, finish_time)`` of the recorded calls, in the engine's order.

    ``evaluations`` are the calls recorded by a :class:`SimulationCoordinator` that did not
    charge optimizer time (their start times are times at which results were returned).
    """
    if blackbox_seed is None:
        blackbox_seed = blackbox.seeds[0]
    backend = SimulatorBackend(blackbox, n_workers=n_workers, blackbox_seed=blackbox_seed)
    metric = blackbox.objective_names[0]
    scheduler = _ReplayScheduler(
        evaluations, backend, metric, blackbox.objective(metric).mode, blackbox.fidelity_name
    )
    Tuner(scheduler, backend, StopCriterion(max_num_results=2**62)).run()
    return scheduler.reported
