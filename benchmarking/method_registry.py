"""Methods by name: one registry that finds a method's factory wherever it comes from.

A method is a factory ``factory(context, **kwargs) -> TrialScheduler`` (see
:class:`~benchmarking.method_context.MethodContext`). A name is resolved, in this order:

1. a method registered in code (:meth:`MethodRegistry.register` or
   :meth:`MethodRegistry.register_reference`), by its name or an alias, in any case;
2. an installed entry point of group ``simtune.methods`` (its name is the method name);
3. a reference ``package.module:factory``: the module is imported (from ``sys.path``, and
   then from the current folder) and ``factory`` taken from it. References work in every
   process, worker processes of a pool or a Dask cluster included, because the reference
   itself says where the factory lives.

Registered methods keep their factory as a reference string until first use, so listing
methods imports no scheduler, and a method whose optional dependencies are not installed
is listed with the command that installs them.
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

from benchmarking.errors import MethodArgumentError, MethodError, MethodPluginError
from benchmarking.method_context import MethodContext
from blackbox_repository import references
from blackbox_repository.references import is_reference

if TYPE_CHECKING:
    from simulated_backend.schedulers import TrialScheduler

ENTRY_POINT_GROUP = "simtune.methods"
"""The entry-point group other packages add methods to."""

MethodFactory = Callable[..., "TrialScheduler"]


@dataclass(frozen=True)
class MethodEntry:
    """One registered method: where its factory is and what it needs.

    ``reference`` is ``"package.module:factory"``; ``factory`` is set instead for methods
    registered with a callable. ``requires`` lists top-level modules that must be
    importable (e.g. ``("optuna",)``); ``install_hint`` says how to get them.
    """

    name: str
    source: str
    description: str = ""
    reference: str | None = None
    factory: MethodFactory | None = None
    aliases: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    install_hint: str = ""

    @property
    def is_available(self) -> bool:
        """Whether every module in ``requires`` can be imported (checked without importing)."""
        return all(importlib.util.find_spec(module) is not None for module in self.requires)


@dataclass(frozen=True)
class MethodListing:
    """One line of ``simtune methods``: a name, where it comes from, what it is."""

    name: str
    source: str
    description: str
    available: bool = True


def load_reference(reference: str, what: str = "method reference") -> Any:
    """The object a ``package.module:factory`` reference names (see
    :func:`blackbox_repository.references.load_reference`), or :class:`MethodPluginError`.

    Example:
        >>> load_reference("benchmarking.method_context:MethodContext").__name__
        'MethodContext'
    """
    try:
        return references.load_reference(reference, what)
    except references.UnresolvedReferenceError as error:
        raise MethodPluginError(str(error)) from None


class MethodRegistry:
    """Methods by case-insensitive name, plus entry points and ``module:factory`` references.

    Example:
        >>> registry = MethodRegistry(entry_point_group=None)
        >>> registry.register_reference("RS", "benchmarking.builtin_methods:random_search")
        >>> registry.factory("rs")[0]
        'RS'
    """

    def __init__(self, entry_point_group: str | None = ENTRY_POINT_GROUP) -> None:
        self.entry_point_group = entry_point_group
        self._entries: dict[str, MethodEntry] = {}
        self._names: dict[str, str] = {}  # upper-case name or alias -> canonical name
        self._loaded: dict[str, MethodFactory] = {}

    # ------------------------------------------------------------------ registering
    def _add(self, entry: MethodEntry) -> None:
        self._check_free(entry.name, *entry.aliases)
        self._entries[entry.name] = entry
        for label in (entry.name, *entry.aliases):
            self._names[label.upper()] = entry.name

    def _check_free(self, *labels: str) -> None:
        for label in labels:
            if not isinstance(label, str) or not label or ":" in label:
                raise MethodError(
                    f"method names must be non-empty strings without ':', got {label!r}"
                )
            if label.upper() in self._names:
                raise MethodError(
                    f"method name {label!r} is already registered (for "
                    f"{self._names[label.upper()]!r}); choose another name"
                )

    def register(
        self, name: str, *aliases: str, description: str = ""
    ) -> Callable[[MethodFactory], MethodFactory]:
        """Decorator registering ``factory(context, **kwargs)`` under ``name`` and ``aliases``.

        A factory defined in an importable module (not ``__main__``) also runs in worker
        processes: studies pass it there as its ``module:factory`` reference.
        """
        self._check_free(name, *aliases)

        def decorator(factory: MethodFactory) -> MethodFactory:
            if not callable(factory):
                raise MethodPluginError(
                    f"method {name!r}: the factory must be callable, got {factory!r}"
                )
            module = getattr(factory, "__module__", None) or "__main__"
            self._add(
                MethodEntry(
                    name=name,
                    source=f"registered in {module}",
                    description=description or _first_line(factory.__doc__),
                    factory=factory,
                    aliases=aliases,
                )
            )
            return factory

        return decorator

    def register_reference(
        self,
        name: str,
        reference: str,
        *aliases: str,
        source: str = "built-in",
        description: str = "",
        requires: tuple[str, ...] = (),
        install_hint: str = "",
    ) -> None:
        """Register the factory at ``reference`` (imported on first use) under ``name``."""
        if not is_reference(reference):
            raise MethodPluginError(
                f"method {name!r}: {reference!r} is not a 'package.module:factory' reference"
            )
        self._add(
            MethodEntry(
                name=name,
                source=source,
                description=description,
                reference=reference,
                aliases=aliases,
                requires=tuple(requires),
                install_hint=install_hint,
            )
        )

    # ------------------------------------------------------------------ looking up
    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        if self.entry_point_group is None:
            return {}
        return {ep.name.upper(): ep for ep in metadata.entry_points(group=self.entry_point_group)}

    def names(self) -> list[str]:
        """Canonical names of the available registered methods and installed entry points."""
        names = {name for name, entry in self._entries.items() if entry.is_available}
        names.update(ep.name for key, ep in self._entry_points().items() if key not in self._names)
        return sorted(names, key=str.upper)

    def aliases(self) -> dict[str, str]:
        """Every accepted spelling (upper case) -> canonical name, for registered methods."""
        return dict(self._names)

    def listing(self) -> list[MethodListing]:
        """Every method with where it comes from: registered ones, aliases, entry points."""
        rows = []
        for entry in self._entries.values():
            available = entry.is_available
            description = entry.description
            if not available:
                description = f"{description} [not installed: {entry.install_hint}]".strip()
            rows.append(MethodListing(entry.name, entry.source, description, available))
            for alias in entry.aliases:
                rows.append(MethodListing(alias, f"alias of {entry.name}", "", available))
        for key, ep in self._entry_points().items():
            if key not in self._names:
                dist = getattr(ep, "dist", None)
                where = f" (distribution {dist.name})" if dist is not None else ""
                rows.append(MethodListing(ep.name, f"entry point {ep.value}{where}", ""))
        return sorted(rows, key=lambda row: row.name.upper())

    def canonical_name(self, name: str) -> str:
        """The registry's spelling of ``name``; a reference is returned as given."""
        return self.factory(name)[0]

    def portable_name(self, name: str) -> str:
        """A name that resolves to the same factory in any process.

        Shipped methods, entry points and references are their own portable names; a
        factory registered at run time in an importable module becomes its
        ``module:factory`` reference (the registering import need not run in a worker).
        """
        canonical, factory = self.factory(name)
        entry = self._entries.get(canonical)
        if entry is None or entry.factory is None:
            return canonical
        module = getattr(factory, "__module__", None)
        qualname = getattr(factory, "__qualname__", "")
        if module and module != "__main__" and "<" not in qualname:
            return f"{module}:{qualname}"
        return canonical

    def factory(self, name: str) -> tuple[str, MethodFactory]:
        """``(canonical name, factory)`` of ``name``; an unknown name lists the known ones."""
        if not isinstance(name, str) or not name:
            raise MethodError(f"a method name must be a non-empty string, got {name!r}")
        canonical = self._names.get(name.upper())
        if canonical is not None:
            return canonical, self._load_entry(self._entries[canonical])
        if is_reference(name):
            return name, _callable_factory(load_reference(name), f"method reference {name!r}")
        entry_point = self._entry_points().get(name.upper())
        if entry_point is not None:
            return entry_point.name, _load_entry_point(entry_point, self.entry_point_group)
        raise MethodError(self._unknown_message(name))

    def _load_entry(self, entry: MethodEntry) -> MethodFactory:
        if entry.factory is not None:
            return entry.factory
        if entry.name not in self._loaded:
            if not entry.is_available:
                missing = [m for m in entry.requires if importlib.util.find_spec(m) is None]
                raise MethodError(
                    f"method {entry.name!r} needs {', '.join(missing)}, which is not installed: "
                    f"{entry.install_hint or 'install it'}"
                )
            self._loaded[entry.name] = _callable_factory(
                load_reference(entry.reference, f"method {entry.name!r}: reference"),
                f"method {entry.name!r} ({entry.reference})",
            )
        return self._loaded[entry.name]

    def _unknown_message(self, name: str) -> str:
        spellings = {label: canonical for label, canonical in self._names.items()}
        for key, ep in self._entry_points().items():
            spellings.setdefault(key, ep.name)
        close = difflib.get_close_matches(name.upper(), list(spellings), n=3, cutoff=0.5)
        display = {key: self._display(key, canonical) for key, canonical in spellings.items()}
        quoted = [self._display(c, spellings[c], quote=True) for c in close]
        hint = f" Did you mean {', '.join(quoted)}?" if close else ""
        known = ", ".join(display[key] for key in sorted(display))
        return (
            f"unknown method {name!r}.{hint} Known methods: {known}. A method of your own: "
            "pass 'package.module:factory' (see `simtune methods`)"
        )

    def _display(self, key: str, canonical: str, quote: bool = False) -> str:
        entry = self._entries.get(canonical)
        spell = repr if quote else str
        if entry is not None and key != canonical.upper():
            spelled = next(a for a in entry.aliases if a.upper() == key)
            return f"{spell(spelled)} (alias of {spell(canonical)})"
        return spell(canonical)

    def make(self, name: str, context: MethodContext, **kwargs: Any) -> TrialScheduler:
        """The scheduler of method ``name`` for ``context``, with the method's ``kwargs``."""
        if not isinstance(context, MethodContext):
            raise TypeError(f"context must be a MethodContext, got {type(context).__name__}")
        canonical, factory = self.factory(name)
        check_keyword_arguments(canonical, factory, kwargs)
        return factory(context, **kwargs)


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0]


def _callable_factory(factory: Any, where: str) -> MethodFactory:
    if not callable(factory):
        raise MethodPluginError(f"{where} is {factory!r}, which is not a callable factory")
    return factory


def _load_entry_point(entry_point: metadata.EntryPoint, group: str | None) -> MethodFactory:
    where = f"entry point {entry_point.name!r} = {entry_point.value!r} (group {group!r}"
    dist = getattr(entry_point, "dist", None)
    where += f", distribution {dist.name!r})" if dist is not None else ")"
    try:
        factory = entry_point.load()
    except Exception as error:
        raise MethodPluginError(
            f"{where} failed to load: {type(error).__name__}: {error}; fix or uninstall that package"
        ) from error
    return _callable_factory(factory, where)


def check_keyword_arguments(name: str, factory: MethodFactory, kwargs: dict[str, Any]) -> None:
    """Unknown or context-provided keyword arguments are an error naming them."""
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
        raise MethodArgumentError(
            f"method {name!r}: {from_context} come from the MethodContext, not from keyword "
            "arguments; change the context instead"
        )
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise MethodArgumentError(
            f"method {name!r} got unexpected keyword argument(s) {unknown}; it accepts "
            f"{sorted(accepted)}"
        )
