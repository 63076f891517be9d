"""The registry of HPO methods by name: ``make_scheduler("ASHA", context, **kwargs)``.

A method is a factory ``factory(context, **kwargs) -> TrialScheduler``; the
:class:`MethodContext` carries what every method needs from the benchmark (search space,
metric, mode, fidelity grid, seed, number of workers), ``kwargs`` are the method's own
arguments (e.g. ``reduction_factor=2``). Names are case-insensitive.

Shipped: ``RS`` (``RandomSearch``), ``ASHA``, ``ASHA-PROMOTION``, ``SH``, ``HYPERBAND``
(``HB``), ``ASYNC-HYPERBAND`` (``ASHB``), ``BOHB``. Other packages add methods through
the entry-point group ``simtune.methods``: each entry point's name is the method name and
it loads the factory, e.g. in ``pyproject.toml``::

    [project.entry-points."simtune.methods"]
    MY-METHOD = "my_package.methods:make_my_scheduler"

Entry points are looked up only for names that are not registered here, and loaded only
when used.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from blackbox_repository.blackbox import native
from simulated_backend.schedulers import (
    ASHA,
    BOHB,
    AsynchronousHyperband,
    Hyperband,
    RandomSearch,
    SearchSpace,
    SuccessiveHalving,
    TrialScheduler,
)
from simulated_backend.schedulers.protocol import check_metric_and_mode
from simulated_backend.schedulers.scheduler_arguments import check_seed

ENTRY_POINT_GROUP = "simtune.methods"

MethodFactory = Callable[..., TrialScheduler]


class MethodPluginError(ValueError):
    """An entry point of group ``simtune.methods`` that cannot be loaded or is not callable.

    A ``ValueError``, like an unknown method name: the method cannot be made as asked.
    """


@dataclass(frozen=True)
class MethodContext:
    """What a method factory gets from the benchmark.

    ``search_space`` is never consumed: schedulers draw from their own fresh copy.
    """

    search_space: SearchSpace
    metric: str
    mode: str
    resource_attr: str
    fidelity_values: tuple
    seed: int
    n_workers: int

    def __post_init__(self) -> None:
        check_metric_and_mode(self.metric, self.mode)
        check_seed(self.seed)
        if not isinstance(self.search_space, SearchSpace):
            raise TypeError(
                f"search_space must be a SearchSpace, got {type(self.search_space).__name__}"
            )
        if len(self.fidelity_values) == 0:
            raise ValueError("fidelity_values is empty; pass the blackbox's fidelity grid")
        if (
            isinstance(self.n_workers, bool)
            or not isinstance(self.n_workers, int)
            or self.n_workers < 1
        ):
            raise ValueError(f"n_workers must be an integer >= 1, got {self.n_workers!r}")
        object.__setattr__(self, "fidelity_values", tuple(self.fidelity_values))

    @property
    def max_resource(self) -> Any:
        """The largest fidelity value."""
        return self.fidelity_values[-1]

    @classmethod
    def from_blackbox(
        cls,
        blackbox: Any,
        metric: str,
        mode: str,
        seed: int,
        n_workers: int,
        restrict_to_grid: bool | None = None,
    ) -> MethodContext:
        """The context of ``blackbox``; ``metric`` must be one of its objectives, with its mode."""
        check_metric_and_mode(metric, mode, blackbox)
        return cls(
            search_space=SearchSpace.from_blackbox(blackbox, restrict_to_grid),
            metric=metric,
            mode=mode,
            resource_attr=blackbox.fidelity_name,
            fidelity_values=tuple(native(v) for v in blackbox.fidelity_values),
            seed=seed,
            n_workers=n_workers,
        )


class MethodRegistry:
    """Methods by case-insensitive name, plus the ``simtune.methods`` entry points."""

    def __init__(self, entry_point_group: str | None = ENTRY_POINT_GROUP) -> None:
        self.entry_point_group = entry_point_group
        self._factories: dict[str, MethodFactory] = {}
        self._names: dict[str, str] = {}  # upper-case name or alias -> canonical name

    def register(self, name: str, *aliases: str) -> Callable[[MethodFactory], MethodFactory]:
        """Decorator registering ``factory(context, **kwargs)`` under ``name`` and ``aliases``."""
        for label in (name, *aliases):
            if not isinstance(label, str) or not label:
                raise ValueError(f"method names must be non-empty strings, got {label!r}")
            if label.upper() in self._names:
                raise ValueError(
                    f"method name {label!r} is already registered (for "
                    f"{self._names[label.upper()]!r}); choose another name"
                )

        def decorator(factory: MethodFactory) -> MethodFactory:
            if not callable(factory):
                raise TypeError(f"method {name!r}: the factory must be callable, got {factory!r}")
            self._factories[name] = factory
            for label in (name, *aliases):
                self._names[label.upper()] = name
            return factory

        return decorator

    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        if self.entry_point_group is None:
            return {}
        return {ep.name.upper(): ep for ep in metadata.entry_points(group=self.entry_point_group)}

    def names(self) -> list[str]:
        """Canonical names of the registered methods and of the installed entry points."""
        names = set(self._factories)
        names.update(ep.name for key, ep in self._entry_points().items() if key not in self._names)
        return sorted(names, key=str.upper)

    def aliases(self) -> dict[str, str]:
        """Every accepted spelling (upper case) -> canonical name, for registered methods."""
        return dict(self._names)

    def factory(self, name: str) -> tuple[str, MethodFactory]:
        """``(canonical name, factory)`` of ``name``; ValueError listing the known names."""
        if not isinstance(name, str):
            raise ValueError(f"a method name must be a string, got {name!r}")
        canonical = self._names.get(name.upper())
        if canonical is not None:
            return canonical, self._factories[canonical]
        entry_point = self._entry_points().get(name.upper())
        if entry_point is not None:
            return entry_point.name, _load(entry_point, self.entry_point_group)
        known = self.names()
        by_upper = {s.upper(): s for s in known}  # canonical names win over aliases
        for alias in self._names:
            by_upper.setdefault(alias, alias)
        close = difflib.get_close_matches(name.upper(), list(by_upper), n=3, cutoff=0.5)
        suggestions = list(dict.fromkeys(by_upper[c] for c in close))  # one spelling per method
        hint = f" Did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
        raise ValueError(f"unknown method {name!r}.{hint} Known methods: {', '.join(known)}")

    def make(self, name: str, context: MethodContext, **kwargs: Any) -> TrialScheduler:
        """The scheduler of method ``name`` for ``context``, with the method's ``kwargs``."""
        if not isinstance(context, MethodContext):
            raise TypeError(f"context must be a MethodContext, got {type(context).__name__}")
        canonical, factory = self.factory(name)
        _check_keyword_arguments(canonical, factory, kwargs)
        return factory(context, **kwargs)


def _load(entry_point: metadata.EntryPoint, group: str | None) -> MethodFactory:
    where = f"entry point {entry_point.name!r} = {entry_point.value!r} (group {group!r}"
    dist = getattr(entry_point, "dist", None)
    where += f", distribution {dist.name!r})" if dist is not None else ")"
    try:
        factory = entry_point.load()
    except Exception as error:
        raise MethodPluginError(
            f"{where} failed to load: {type(error).__name__}: {error}; fix or uninstall that package"
        ) from error
    if not callable(factory):
        raise MethodPluginError(f"{where} loads {factory!r}, which is not a callable factory")
    return factory


def _check_keyword_arguments(name: str, factory: MethodFactory, kwargs: dict[str, Any]) -> None:
    """Unknown or context-provided keyword arguments are a TypeError naming them."""
    accepted = getattr(factory, "accepted_arguments", None)
    if accepted is None:
        parameters = list(inspect.signature(factory).parameters.values())[1:]
        if any(p.kind is p.VAR_KEYWORD for p in parameters):
            return  # a plug-in taking **kwargs validates them itself
        accepted = [
            p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
    from_context = sorted(set(kwargs) & set(MethodContext.__dataclass_fields__))
    if from_context:
        raise TypeError(
            f"method {name!r}: {from_context} come from the MethodContext, not from keyword "
            "arguments; change the context instead"
        )
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(
            f"method {name!r} got unexpected keyword argument(s) {unknown}; it accepts "
            f"{sorted(accepted)}"
        )


# ---------------------------------------------------------------------- the shipped methods
methods = MethodRegistry()
register_method = methods.register


def make_scheduler(name: str, context: MethodContext, **kwargs: Any) -> TrialScheduler:
    """The scheduler of method ``name`` (case-insensitive) for ``context``.

    Example:
        >>> context = MethodContext.from_blackbox(bb, "valid_error", "min", 0, 4)  # doctest: +SKIP
        >>> make_scheduler("asha", context, reduction_factor=2)  # doctest: +SKIP
    """
    return methods.make(name, context, **kwargs)


def method_names() -> list[str]:
    """Canonical names of every available method (shipped and entry points)."""
    return methods.names()


def _scheduler_factory(
    scheduler_class: type, context_arguments: Sequence[str], **fixed: Any
) -> MethodFactory:
    """A factory passing the context's ``context_arguments`` and ``fixed`` to the class."""
    parameters = inspect.signature(scheduler_class).parameters
    accepted = [
        p for p in parameters if p not in context_arguments and p not in fixed and p != "searcher"
    ]

    def factory(context: MethodContext, **kwargs: Any) -> TrialScheduler:
        arguments = {name: getattr(context, name) for name in context_arguments}
        return scheduler_class(**arguments, **fixed, **kwargs)

    factory.accepted_arguments = accepted  # type: ignore[attr-defined]
    factory.__doc__ = f"{scheduler_class.__name__} with {fixed or 'its defaults'}."
    return factory


_SINGLE_FIDELITY = ("search_space", "metric", "mode", "seed")
_MULTI_FIDELITY = (*_SINGLE_FIDELITY, "fidelity_values")

register_method("RS", "RandomSearch")(_scheduler_factory(RandomSearch, _SINGLE_FIDELITY))
register_method("ASHA")(_scheduler_factory(ASHA, _MULTI_FIDELITY, type="stopping"))
register_method("ASHA-PROMOTION")(_scheduler_factory(ASHA, _MULTI_FIDELITY, type="promotion"))
register_method("SH")(_scheduler_factory(SuccessiveHalving, _MULTI_FIDELITY))
register_method("HYPERBAND", "HB")(_scheduler_factory(Hyperband, _MULTI_FIDELITY))
register_method("ASYNC-HYPERBAND", "ASHB")(
    _scheduler_factory(AsynchronousHyperband, _MULTI_FIDELITY)
)
register_method("BOHB")(_scheduler_factory(BOHB, _MULTI_FIDELITY))
