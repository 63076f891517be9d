"""simtune's public API in one import: ``import simtune``.

A thin re-export of the three packages (``blackbox_repository``, ``simulated_backend``,
``benchmarking``); each name is imported on first use, so ``import simtune`` itself
imports none of them.

Example:
    >>> import simtune
    >>> blackbox = simtune.load_blackbox("sklearn-mlp-digits")
    >>> context = simtune.MethodContext.from_blackbox(blackbox, "valid_error", "min", seed=0, n_workers=4)
    >>> run = simtune.Tuner(
    ...     simtune.make_scheduler("ASHA", context),
    ...     simtune.SimulatorBackend(blackbox, n_workers=4, seed=0),
    ...     simtune.StopCriterion(max_num_results=100),
    ... ).run()
    >>> len(run.results)
    100
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, tuple[str, ...]] = {
    "blackbox_repository": (
        "Blackbox",
        "BlackboxError",
        "LearningCurve",
        "Objective",
        "TabularBlackbox",
        "UnknownBlackboxError",
        "blackbox_names",
        "convert_blackbox",
        "load_blackbox",
        "read_blackbox",
        "write_blackbox",
    ),
    "blackbox_repository.errors": ("SimtuneError",),
    "blackbox_repository.recipes": ("BenchmarkDefaults", "RawFile", "Recipe"),
    "simulated_backend": (
        "RunResults",
        "SimulatorBackend",
        "SimulatorCallback",
        "StopCriterion",
        "TrialBackend",
        "Tuner",
        "TunerCallback",
        "read_run",
    ),
    "simulated_backend.real_backend": (
        "ProcessRunner",
        "RealBackend",
        "SerialRunner",
        "make_runner",
    ),
    "simulated_backend.wrapped_objective": ("WrappedObjective", "simulate"),
    "simulated_backend.schedulers": (
        "ASHA",
        "AskTellScheduler",
        "AsynchronousHyperband",
        "BOHB",
        "Hyperband",
        "OptunaScheduler",
        "RandomSearch",
        "SchedulerDecision",
        "SearchSpace",
        "SuccessiveHalving",
        "SyneTuneScheduler",
        "Trial",
        "TrialScheduler",
        "TrialSuggestion",
    ),
    "benchmarking.baselines": (
        "MethodContext",
        "MethodError",
        "MethodRegistry",
        "make_scheduler",
        "method_names",
        "methods",
        "register_method",
    ),
    "benchmarking.benchmark_definitions": ("BenchmarkDefinition", "benchmark_definition"),
    "benchmarking.simulation": ("run_simulation",),
    "benchmarking.real_tuning": ("tune_for_real",),
    "benchmarking.study": ("Study", "StudyReport", "execute_study", "run_study"),
}

_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'simtune' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
