"""Optuna and Syne Tune optimizers as named methods (``OPTUNA-TPE``, ``SYNETUNE-BORE``, ...).

The names are registered by :mod:`benchmarking.baselines` whatever is installed (so
``simtune methods`` can say what to install); a factory imports its optimizer only when
it is called. Optuna methods run through
:class:`~simulated_backend.schedulers.OptunaScheduler`, Syne Tune ones through
:class:`~simulated_backend.schedulers.SyneTuneScheduler`.

Optuna: samplers ``TPE``, ``RANDOM``, ``CMAES`` (needs ``cmaes``), ``GP`` (needs
``torch``), each alone (``OPTUNA-TPE``: every trial runs to the maximum fidelity) or with
an Optuna pruner (``OPTUNA-TPE-ASHA``: ``SuccessiveHalvingPruner``,
``OPTUNA-TPE-HYPERBAND``: ``HyperbandPruner``); pruning steps are the fidelity values,
which must be integers. Keyword arguments: ``sampler_kwargs``, ``pruner_kwargs``,
``tell_value``.

Syne Tune 0.16 (``scripts/install_peer_extras.sh``): every scheduler of
``syne_tune.optimizer.baselines`` that runs with that light install, single-fidelity
(``SYNETUNE-RS``, ``-TPE``, ``-BORE``, ``-REA``) and multi-fidelity (``SYNETUNE-ASHA``,
``-BOHB``). Keyword arguments go to the Syne Tune class (e.g. ``reduction_factor``).
Not offered: ``ASHABORE``, ``CQR`` and ``ASHACQR`` (they refit a classifier or an XGBoost
quantile regressor at every suggestion: ASHABORE took 93 s for 33 trials here, against
0.6 s for BOHB), ``BOTorch`` (needs botorch and torch), ``EHVI`` (multi-objective).
Syne Tune 0.16 no longer ships MOBSTER, Hyper-Tune or DEHB. ``SYNETUNE-BORE`` and
``SYNETUNE-TPE`` refit a model per suggestion too (0.3-0.8 s each).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from benchmarking.errors import MethodArgumentError, MethodError
from benchmarking.method_context import MethodContext

OPTUNA_INSTALL_HINT = "pip install 'simtune[optuna]'"
SYNE_TUNE_INSTALL_HINT = "bash scripts/install_peer_extras.sh (syne-tune==0.16.0)"


@dataclass(frozen=True)
class AdapterMethod:
    """A named method of an optional optimizer library: plain data, nothing imported."""

    name: str
    reference: str
    source: str
    description: str
    requires: tuple[str, ...]
    install_hint: str


# ---------------------------------------------------------------------- Optuna
OPTUNA_SAMPLERS = {
    "TPE": ("TPESampler", ()),
    "RANDOM": ("RandomSampler", ()),
    "CMAES": ("CmaEsSampler", ("cmaes",)),
    "GP": ("GPSampler", ("torch",)),
}
"""Name -> (optuna.samplers class, extra modules it needs)."""

OPTUNA_PRUNERS = {"ASHA": "SuccessiveHalvingPruner", "HYPERBAND": "HyperbandPruner"}
"""Name suffix -> optuna.pruners class."""


def _optuna_steps(context: MethodContext) -> tuple[int, int]:
    """First and last pruning step: the fidelity values, which must be integers."""
    first, last = context.min_fidelity, context.max_fidelity
    if not all(float(v).is_integer() for v in (first, last)):
        raise MethodError(
            f"Optuna pruners count integer steps, but fidelity {context.fidelity_name!r} runs "
            f"from {first!r} to {last!r}; use an OPTUNA method without a pruner here"
        )
    return int(first), int(last)


def optuna_factory(sampler: str, pruner: str | None) -> Any:
    """The factory of method ``OPTUNA-<sampler>[-<pruner>]``."""
    sampler_class, _ = OPTUNA_SAMPLERS[sampler]
    pruner_class = OPTUNA_PRUNERS[pruner] if pruner is not None else None

    def factory(
        context: MethodContext,
        sampler_kwargs: dict[str, Any] | None = None,
        pruner_kwargs: dict[str, Any] | None = None,
        tell_value: str = "last",
    ) -> Any:
        import optuna

        from simulated_backend.schedulers import OptunaScheduler

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial otherwise
        arguments: dict[str, Any] = {"seed": context.seed}
        if sampler_class in ("CmaEsSampler", "GPSampler"):
            # both fall back to random sampling for categorical values, warning every trial
            arguments["warn_independent_sampling"] = False
        made_sampler = getattr(optuna.samplers, sampler_class)(
            **{**arguments, **dict(sampler_kwargs or {})}
        )
        made_pruner = None
        if pruner_class is not None:
            first, last = _optuna_steps(context)
            settings: dict[str, Any] = {"min_resource": first, "reduction_factor": 3}
            if pruner_class == "HyperbandPruner":
                settings["max_resource"] = last
            settings.update(pruner_kwargs or {})
            made_pruner = getattr(optuna.pruners, pruner_class)(**settings)
        elif pruner_kwargs:
            raise MethodArgumentError(
                f"OPTUNA-{sampler} has no pruner, so pruner_kwargs {pruner_kwargs} do not apply"
            )
        return OptunaScheduler(  # it reads the fidelity from each result's "fidelity" key
            made_sampler,
            context.search_space,
            context.metric,
            context.mode,
            pruner=made_pruner,
            seed=context.seed,
            tell_value=tell_value,
        )

    pruned = f" with {pruner_class}" if pruner_class else ", every trial to the max fidelity"
    factory.__doc__ = f"Optuna {sampler_class}{pruned}."
    return factory


def _optuna_methods() -> tuple[AdapterMethod, ...]:
    methods = []
    for sampler, (_, extra_modules) in OPTUNA_SAMPLERS.items():
        for pruner in (None, *OPTUNA_PRUNERS):
            suffix = f"-{pruner}" if pruner else ""
            attribute = f"optuna_{sampler.lower()}{suffix.replace('-', '_').lower()}"
            globals()[attribute] = optuna_factory(sampler, pruner)
            hint = OPTUNA_INSTALL_HINT
            if extra_modules:
                hint += f" and pip install {' '.join(extra_modules)}"
            methods.append(
                AdapterMethod(
                    name=f"OPTUNA-{sampler}{suffix}",
                    reference=f"{__name__}:{attribute}",
                    source="extra optuna",
                    description=globals()[attribute].__doc__,
                    requires=("optuna", *extra_modules),
                    install_hint=hint,
                )
            )
    return tuple(methods)


OPTUNA_METHODS = _optuna_methods()


# ---------------------------------------------------------------------- Syne Tune
SYNE_TUNE_SINGLE_FIDELITY = {"RS": "RandomSearch", "TPE": "TPE", "BORE": "BORE", "REA": "REA"}
SYNE_TUNE_MULTI_FIDELITY = {"ASHA": "ASHA", "BOHB": "BOHB"}
_SYNE_TUNE_FROM_CONTEXT = (
    "config_space",
    "metric",
    "metrics",
    "do_minimize",
    "random_seed",
    "time_attr",
    "max_t",
)


def syne_tune_factory(class_name: str) -> Any:
    """The factory of method ``SYNETUNE-<name>`` for ``syne_tune.optimizer.baselines.<class_name>``."""
    multi_fidelity = class_name in SYNE_TUNE_MULTI_FIDELITY.values()

    def factory(context: MethodContext, **kwargs: Any) -> Any:
        from simulated_backend.schedulers import SyneTuneScheduler, syne_tune_config_space

        try:
            from syne_tune.optimizer import baselines
        except ImportError as error:
            raise MethodError(
                f"Syne Tune is not usable ({error}): {SYNE_TUNE_INSTALL_HINT}"
            ) from None
        scheduler_class = getattr(baselines, class_name)
        parameters = inspect.signature(scheduler_class).parameters
        unknown = sorted(set(kwargs) - set(parameters))
        given_by_context = sorted(set(kwargs) & set(_SYNE_TUNE_FROM_CONTEXT))
        if unknown or given_by_context:
            accepted = sorted(set(parameters) - set(_SYNE_TUNE_FROM_CONTEXT))
            raise MethodArgumentError(
                f"Syne Tune {class_name} does not take {unknown + given_by_context} here; "
                f"it accepts {accepted} (the rest comes from the benchmark)"
            )
        arguments: dict[str, Any] = {
            "config_space": syne_tune_config_space(context.search_space),
            "do_minimize": context.mode == "min",
            "random_seed": context.seed,
        }
        arguments["metrics" if "metrics" in parameters else "metric"] = (
            [context.metric] if "metrics" in parameters else context.metric
        )
        if multi_fidelity:
            arguments["time_attr"] = context.fidelity_name
            arguments["max_t"] = context.max_fidelity
            arguments.setdefault("grace_period", context.min_fidelity)
        arguments.update(kwargs)
        return SyneTuneScheduler(
            scheduler_class(**arguments), search_space=context.search_space, seed=context.seed
        )

    kind = "multi-fidelity" if multi_fidelity else "single-fidelity"
    factory.__doc__ = f"Syne Tune 0.16 {class_name} ({kind})."
    return factory


def _syne_tune_methods() -> tuple[AdapterMethod, ...]:
    methods = []
    for short, class_name in {**SYNE_TUNE_SINGLE_FIDELITY, **SYNE_TUNE_MULTI_FIDELITY}.items():
        attribute = f"syne_tune_{short.lower()}"
        globals()[attribute] = syne_tune_factory(class_name)
        methods.append(
            AdapterMethod(
                name=f"SYNETUNE-{short}",
                reference=f"{__name__}:{attribute}",
                source="extra syne-tune",
                description=globals()[attribute].__doc__,
                requires=("syne_tune",),
                install_hint=SYNE_TUNE_INSTALL_HINT,
            )
        )
    return tuple(methods)


SYNE_TUNE_METHODS = _syne_tune_methods()
