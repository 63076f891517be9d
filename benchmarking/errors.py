"""Errors of the benchmarking layer that are not tied to one module (methods by name).

Every class derives from :class:`~blackbox_repository.errors.SimtuneError` (printed by the
CLI as one ``simtune: error: ...`` line) and keeps the builtin base callers catch.
"""

from __future__ import annotations

from blackbox_repository.errors import SimtuneError


class MethodError(SimtuneError, ValueError):
    """A method that cannot be made as asked: unknown name, bad reference, missing extra."""


class MethodPluginError(MethodError):
    """A method plug-in (entry point or ``module:factory`` reference) that cannot be loaded
    or is not a callable factory."""


class MethodArgumentError(SimtuneError, TypeError):
    """Keyword arguments a method does not accept, or that come from the MethodContext."""
