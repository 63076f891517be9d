"""HpBandSter pieces for the wrapped-objective tests (imported only when hpbandster is installed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import serpent
from hpbandster.core.worker import Worker

from simulated_backend.wrapped_objective import WrappedObjective


def let_pyro_send_numpy_scalars() -> None:
    """hpbandster 0.7.4 computes budgets with numpy; Pyro4's serpent cannot send numpy
    scalars, and the dispatcher thread dies silently (the run hangs). Send them as Python
    numbers instead."""
    for numpy_type in (np.float64, np.float32, np.int64, np.int32, np.bool_):
        serpent.register_class(
            numpy_type,
            lambda value, serializer, out, level: serializer._serialize(value.item(), out, level),
        )


class WrappedWorker(Worker):
    """A BOHB worker whose ``compute`` calls the wrapped objective of the run ``run_name``."""

    def __init__(self, run_name: str, runs_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.objective = WrappedObjective.connect(run_name, runs_dir)

    def compute(self, config: dict, budget: float, **kwargs: Any) -> dict:
        result = self.objective(config, budget)
        return {"loss": result["loss"], "info": {"simulated_time": result["simulated_time"]}}


def run_worker(run_name: str, runs_dir: str, nameserver: str, port: int) -> None:
    """Body of an independently started BOHB worker process."""
    let_pyro_send_numpy_scalars()
    worker = WrappedWorker(
        run_name,
        runs_dir,
        run_id=run_name,
        nameserver=nameserver,
        nameserver_port=port,
        host="127.0.0.1",
    )
    worker.run(background=False)
