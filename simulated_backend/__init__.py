"""simtune's engine: Tuner, the backend protocol, SimulatorBackend, SimulatorCallback, schedulers.

The real backend and its runners are in :mod:`simulated_backend.real_backend`.

Example:
    >>> from blackbox_repository import load_blackbox
    >>> from simulated_backend import SimulatorBackend, StopCriterion, Tuner
    >>> from simulated_backend.schedulers import RandomSearch, SearchSpace
    >>> blackbox = load_blackbox("sklearn-mlp-digits")
    >>> scheduler = RandomSearch(SearchSpace.from_blackbox(blackbox), "valid_error", "min")
    >>> run = Tuner(scheduler, SimulatorBackend(blackbox, n_workers=4),
    ...             StopCriterion(max_num_results=100)).run()
    >>> len(run.results)
    100
"""

from simulated_backend.backend import SimulatedClock, SimulatorBackend
from simulated_backend.backend_protocol import RunDescription, TrialBackend
from simulated_backend.callback import ProgressCallback, SimulatorCallback, TunerCallback
from simulated_backend.errors import SchedulerFailure, SchedulerProtocolError
from simulated_backend.results import IncompleteRunError, RunResults, read_run, write_run
from simulated_backend.stop_criterion import StopCriterion, TuningStatus
from simulated_backend.tuner import Tuner

__all__ = [
    "IncompleteRunError",
    "ProgressCallback",
    "RunDescription",
    "RunResults",
    "SchedulerFailure",
    "SchedulerProtocolError",
    "SimulatedClock",
    "SimulatorBackend",
    "SimulatorCallback",
    "StopCriterion",
    "TrialBackend",
    "Tuner",
    "TunerCallback",
    "TuningStatus",
    "read_run",
    "write_run",
]
