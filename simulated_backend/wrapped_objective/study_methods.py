"""Ask/tell optimizers as study methods: a factory for ``benchmarking.baselines``' registry.

A study runs every method as a scheduler in simulated time. An ask/tell optimizer becomes
one through :class:`~simulated_backend.schedulers.ask_tell_adapter.AskTellScheduler` (or
:class:`~simulated_backend.schedulers.ask_tell_adapter.OptunaScheduler` for an Optuna study),
so registering it takes one line (this module does not import ``benchmarking``: the engine
does not depend on the study layer)::

    from benchmarking.baselines import register_method
    from simulated_backend.wrapped_objective.study_methods import ask_tell_method

    register_method("MY-OPTIMIZER")(ask_tell_method(lambda context: MyOptimizer(seed=context.seed)))

Optimizers that run their own workers (SMAC3's Dask runner, BOHB workers) are not
schedulers; they are run with :class:`SimulationCoordinator` in a script of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulated_backend.schedulers.ask_tell_adapter import AskTellScheduler, OptunaScheduler
from simulated_backend.schedulers.protocol import TrialScheduler


def ask_tell_method(
    make_optimizer: Callable[..., Any],
) -> Callable[..., TrialScheduler]:
    """A method factory ``factory(context, **kwargs) -> scheduler`` for a study registry.

    ``make_optimizer(context, **kwargs)`` builds a fresh optimizer for one run: an
    ``optuna.Study`` or an object with ``ask() -> (handle, config)`` and
    ``tell(handle, value, state)`` (optionally ``report(handle, value, fidelity) -> bool``).
    ``context`` is the study's method context (search space, metric, mode, fidelity name,
    seed, number of workers).
    """
    if not callable(make_optimizer):
        raise TypeError(f"make_optimizer must be callable, got {type(make_optimizer).__name__}")

    def factory(context: Any, **kwargs: Any) -> TrialScheduler:
        optimizer = make_optimizer(context, **kwargs)
        if type(optimizer).__module__.startswith("optuna"):
            return OptunaScheduler(
                optimizer,
                context.search_space,
                context.metric,
                context.mode,
                seed=context.seed,
            )
        if not (
            callable(getattr(optimizer, "ask", None)) and callable(getattr(optimizer, "tell", None))
        ):
            raise TypeError(
                f"make_optimizer returned a {type(optimizer).__name__}, which has no ask() and "
                "tell() methods; return an optuna.Study or an ask/tell optimizer"
            )
        return AskTellScheduler(
            optimizer.ask,
            optimizer.tell,
            context.metric,
            context.mode,
            report=getattr(optimizer, "report", None),
            search_space=context.search_space,
        )

    factory.__doc__ = f"Study method built by ask_tell_method({getattr(make_optimizer, '__name__', 'optimizer')})."
    return factory
