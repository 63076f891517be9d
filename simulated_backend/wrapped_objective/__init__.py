"""Simulate optimizers that call an objective from their own workers, in simulated time.

Three modes (docs/wrapped-optimizers.md):

- ask/tell: :func:`simulate` runs any object with ``ask``/``tell`` (or an Optuna study)
  through :class:`~simulated_backend.schedulers.ask_tell_adapter.AskTellScheduler`;
- worker pools inside the optimizer's process (threads, process pools, Dask): open a
  :class:`SimulationCoordinator` and hand its :attr:`~SimulationCoordinator.objective`
  to the optimizer;
- independent processes: open the coordinator with ``run_name=...``; each process calls
  :meth:`WrappedObjective.connect` and gets its worker index from the coordinator.
"""

from simulated_backend.wrapped_objective.ask_tell import simulate
from simulated_backend.wrapped_objective.client import WrappedObjective
from simulated_backend.wrapped_objective.errors import (
    CoordinatorUnavailable,
    SimulationFinished,
    WorkerLost,
    WorkerSlotsFull,
    WrappedObjectiveError,
)
from simulated_backend.wrapped_objective.evaluation import (
    BlackboxEvaluator,
    FunctionObjective,
    Measurement,
)
from simulated_backend.wrapped_objective.host import SimulationCoordinator
from simulated_backend.wrapped_objective.recorder import Evaluation
from simulated_backend.wrapped_objective.reference import replay_in_simulator
from simulated_backend.wrapped_objective.settings import OptimizerTime, RunSettings

__all__ = [
    "BlackboxEvaluator",
    "CoordinatorUnavailable",
    "Evaluation",
    "FunctionObjective",
    "Measurement",
    "OptimizerTime",
    "RunSettings",
    "SimulationCoordinator",
    "SimulationFinished",
    "WorkerLost",
    "WorkerSlotsFull",
    "WrappedObjective",
    "WrappedObjectiveError",
    "replay_in_simulator",
    "simulate",
]
