"""``package.module:attribute`` references: how simtune names user code it must import.

A reference says where its target lives, so any process (a worker of a process pool or
of a Dask cluster) can import it again; used for methods and benchmark recipes.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from blackbox_repository.errors import SimtuneError


class UnresolvedReferenceError(SimtuneError, ValueError):
    """A ``package.module:attribute`` reference that is malformed or cannot be imported."""


def is_reference(text: Any) -> bool:
    """Whether ``text`` is a ``package.module:attribute`` reference rather than a name."""
    return isinstance(text, str) and ":" in text


def load_reference(reference: str, what: str = "reference") -> Any:
    """The object ``reference`` (``"package.module:attribute"``) names, imported now.

    The module is looked up on ``sys.path`` and then in the current folder (as with
    ``python -m``; appended, so it never shadows an installed module), so that
    ``simtune run --methods mymodule:make`` finds ``./mymodule.py``.

    Example:
        >>> load_reference("blackbox_repository.references:is_reference")("a.b:c")
        True
    """
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute or ":" in attribute:
        raise UnresolvedReferenceError(
            f"{what} {reference!r} is not of the form 'package.module:attribute'"
        )
    module = _import_module(module_name, reference, what)
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise UnresolvedReferenceError(
                f"{what} {reference!r}: module {module_name!r} "
                f"({getattr(module, '__file__', None)}) has no attribute {attribute!r}"
            ) from None
    return target


def _is_missing(error: ModuleNotFoundError, module_name: str) -> bool:
    """Whether ``error`` says the module itself (or a parent package) is missing, rather
    than one of the modules it imports."""
    return error.name is not None and module_name.startswith(error.name)


def _import_module(module_name: str, reference: str, what: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if not _is_missing(error, module_name):
            raise  # the module exists but one of its own imports is missing: a real bug
    folder = os.getcwd()
    if folder not in sys.path and "" not in sys.path:
        sys.path.append(folder)
        importlib.invalidate_caches()
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if not _is_missing(error, module_name):
                raise
    raise UnresolvedReferenceError(
        f"{what} {reference!r}: no module named {module_name!r} on the import path or in "
        f"{folder}; put it there or on PYTHONPATH (on every machine of a remote Dask "
        "cluster too)"
    )
