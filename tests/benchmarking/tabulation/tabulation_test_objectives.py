"""Tasks and objectives shared by the tabulation tests (imported by Dask workers too).

The MLP tasks train real scikit-learn models on a 300-sample subset of ``load_digits``.
The quadratic objectives are exact formulas, so tests can tell which combinations fail.
"""

from __future__ import annotations

import functools

from benchmarking.tabulation import (
    LEARNING_CURVE,
    TabulationTask,
    grid_configurations,
    sample_configurations,
)
from benchmarking.tabulation.sklearn_objectives import (
    MLP_METRICS,
    mlp_at_epoch,
    mlp_learning_curve,
    mlp_search_space,
)
from blackbox_repository import Objective

TINY_N_SAMPLES = 300
RAISING_X = 0.5
NON_FINITE_X = 0.75


def tiny_mlp_task(kind: str = LEARNING_CURVE, name: str = "tiny-mlp", **changes) -> TabulationTask:
    """6 configurations x 5 epochs x 2 seeds of a real MLP on 300 digits."""
    space = mlp_search_space()
    objective = mlp_learning_curve if kind == LEARNING_CURVE else mlp_at_epoch
    arguments = {
        "name": name,
        "objective": functools.partial(objective, n_samples=TINY_N_SAMPLES),
        "objective_kind": kind,
        "configuration_space": space,
        "configurations": sample_configurations(space, 6, seed=1),
        "fidelity_name": "epoch",
        "fidelity_values": range(1, 6),
        "seeds": (0, 1),
        "metrics": MLP_METRICS,
    }
    arguments.update(changes)
    return TabulationTask(**arguments)


def quadratic_curve(config: dict, epochs, seed: int) -> list[dict]:
    """A learning curve ``(x - 0.3)^2 + 1 / epoch``; raises at x=0.5, NaN at x=0.75, epoch 2."""
    x = config["x"]
    if x == RAISING_X:
        raise RuntimeError(f"training diverged at x={x}")
    curve = []
    for epoch in epochs:
        loss = (
            float("nan")
            if (x == NON_FINITE_X and epoch == 2)
            else (x - 0.3) ** 2 + 1 / epoch + seed
        )
        curve.append({"loss": loss, "elapsed_time": 0.5 * epoch})
    return curve


def quadratic_curve_without_elapsed_time(config: dict, epochs, seed: int) -> list[dict]:
    """The same curve, but the objective forgets to report its training time."""
    return [{"loss": (config["x"] - 0.3) ** 2 + 1 / epoch} for epoch in epochs]


def quadratic_task(objective=quadratic_curve, name: str = "quadratic", **changes) -> TabulationTask:
    """4 values of x (one raises, one returns NaN) x 3 epochs x 2 seeds."""
    space, configs = grid_configurations({"x": [0.0, 0.25, RAISING_X, NON_FINITE_X]})
    arguments = {
        "name": name,
        "objective": objective,
        "objective_kind": LEARNING_CURVE,
        "configuration_space": space,
        "configurations": configs,
        "fidelity_name": "epoch",
        "fidelity_values": (1, 2, 3),
        "seeds": (0, 1),
        "metrics": (Objective("loss", "min"),),
    }
    arguments.update(changes)
    return TabulationTask(**arguments)


EXITING_X = 0.5
HANGING_X = 0.75
EXIT_CODE = 3


def quadratic_curve_that_exits_or_hangs(config: dict, epochs, seed: int) -> list[dict]:
    """The quadratic curve, except that x=0.5 ends its process and x=0.75 never returns."""
    import os
    import time

    if config["x"] == EXITING_X:
        os._exit(EXIT_CODE)
    if config["x"] == HANGING_X:
        while True:
            time.sleep(60)
    return quadratic_curve(config, epochs, seed)
