"""The factories of simtune's own methods (``RS``, ``ASHA``, ``HYPERBAND``, ``BOHB``, ...).

Each factory builds one scheduler class from a :class:`MethodContext` and the method's own
keyword arguments; :mod:`benchmarking.baselines` registers them by name. Importing this
module imports the schedulers.
"""

from __future__ import annotations

import inspect
from typing import Any

from benchmarking.method_context import MethodContext
from benchmarking.method_registry import MethodFactory
from simulated_backend.schedulers import (
    ASHA,
    BOHB,
    AsynchronousHyperband,
    Hyperband,
    RandomSearch,
    SuccessiveHalving,
    TrialScheduler,
)

# context field -> the constructor parameter names it may go to (first match wins)
_CONTEXT_PARAMETERS = {
    "search_space": ("search_space",),
    "metric": ("metric",),
    "mode": ("mode",),
    "seed": ("seed",),
    "fidelity_name": ("fidelity_name",),
    "fidelity_values": ("fidelity_values",),
}


def scheduler_factory(scheduler_class: type, **fixed: Any) -> MethodFactory:
    """A method factory passing the context (as far as the class takes it) and ``fixed``.

    Its ``accepted_arguments`` are the class's other parameters, which a study or the
    command line may set (``method_kwargs``).
    """
    parameters = inspect.signature(scheduler_class).parameters
    from_context = {
        field: next(p for p in candidates if p in parameters)
        for field, candidates in _CONTEXT_PARAMETERS.items()
        if any(p in parameters for p in candidates)
    }
    accepted = [
        p
        for p in parameters
        if p not in from_context.values() and p not in fixed and p != "searcher"
    ]

    def factory(context: MethodContext, **kwargs: Any) -> TrialScheduler:
        arguments = {parameter: getattr(context, f) for f, parameter in from_context.items()}
        return scheduler_class(**arguments, **fixed, **kwargs)

    factory.accepted_arguments = accepted  # type: ignore[attr-defined]
    factory.__doc__ = f"{scheduler_class.__name__} with {fixed or 'its defaults'}."
    return factory


random_search = scheduler_factory(RandomSearch)
asha = scheduler_factory(ASHA, type="stopping")
asha_promotion = scheduler_factory(ASHA, type="promotion")
successive_halving = scheduler_factory(SuccessiveHalving)
hyperband = scheduler_factory(Hyperband)
asynchronous_hyperband = scheduler_factory(AsynchronousHyperband)
bohb = scheduler_factory(BOHB)
