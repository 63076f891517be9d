"""The registry of HPO methods by name: ``make_scheduler("ASHA", context, **kwargs)``.

A method is a factory ``factory(context, **kwargs) -> TrialScheduler``; the
:class:`MethodContext` carries what every method needs from the benchmark (search space,
metric, mode, fidelity grid, seed, number of workers), ``kwargs`` are the method's own
arguments (e.g. ``reduction_factor=2``). Names are case-insensitive.

Where methods come from (``simtune methods`` lists them all):

- built-in: ``RS`` (``RandomSearch``), ``ASHA``, ``ASHA-PROMOTION``, ``SH``,
  ``HYPERBAND`` (``HB``), ``ASYNC-HYPERBAND`` (``ASHB``), ``BOHB``;
- extras, listed always and usable once installed: Optuna samplers ``OPTUNA-TPE``,
  ``OPTUNA-RANDOM``, ``OPTUNA-CMAES``, ``OPTUNA-GP``, each also with an Optuna pruner
  (``-ASHA``, ``-HYPERBAND``, e.g. ``OPTUNA-TPE-HYPERBAND``), and Syne Tune 0.16 schedulers
  (``SYNETUNE-ASHA``, ``SYNETUNE-BOHB``, ``SYNETUNE-BORE``, ...), see
  :mod:`benchmarking.adapter_methods`;
- entry points of group ``simtune.methods`` of installed packages, e.g. in
  ``pyproject.toml``::

      [project.entry-points."simtune.methods"]
      MY-METHOD = "my_package.methods:make_my_scheduler"

- any ``package.module:factory`` reference, e.g. ``simtune run --methods mymodule:make``;
- :func:`register_method` at run time (in an importable module, so that worker processes
  find it too).

Importing this module imports no scheduler: factories are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchmarking.errors import MethodArgumentError, MethodError, MethodPluginError
from benchmarking.method_context import MethodContext
from benchmarking.method_registry import (
    ENTRY_POINT_GROUP,
    MethodFactory,
    MethodListing,
    MethodRegistry,
    load_reference,
)

if TYPE_CHECKING:
    from simulated_backend.schedulers import TrialScheduler

__all__ = [
    "ENTRY_POINT_GROUP",
    "MethodArgumentError",
    "MethodContext",
    "MethodError",
    "MethodFactory",
    "MethodListing",
    "MethodPluginError",
    "MethodRegistry",
    "load_reference",
    "make_scheduler",
    "method_listing",
    "method_names",
    "methods",
    "register_method",
]

methods = MethodRegistry()
"""The registry every simtune entry point uses (CLI, studies, launchers)."""

register_method = methods.register

_BUILT_IN = "benchmarking.builtin_methods"
for _name, _factory, _aliases, _description in (
    ("RS", "random_search", ("RandomSearch",), "random search"),
    ("ASHA", "asha", (), "asynchronous successive halving, stopping type"),
    ("ASHA-PROMOTION", "asha_promotion", (), "asynchronous successive halving, promotion type"),
    ("SH", "successive_halving", (), "synchronous successive halving"),
    ("HYPERBAND", "hyperband", ("HB",), "synchronous Hyperband"),
    ("ASYNC-HYPERBAND", "asynchronous_hyperband", ("ASHB",), "asynchronous Hyperband"),
    ("BOHB", "bohb", (), "Hyperband with kernel-density model-based sampling"),
):
    methods.register_reference(
        _name, f"{_BUILT_IN}:{_factory}", *_aliases, description=_description
    )


def _register_adapter_methods() -> None:
    from benchmarking.adapter_methods import OPTUNA_METHODS, SYNE_TUNE_METHODS

    for method in (*OPTUNA_METHODS, *SYNE_TUNE_METHODS):
        methods.register_reference(
            method.name,
            method.reference,
            source=method.source,
            description=method.description,
            requires=method.requires,
            install_hint=method.install_hint,
        )


_register_adapter_methods()


def make_scheduler(name: str, context: MethodContext, **kwargs: Any) -> TrialScheduler:
    """The scheduler of method ``name`` (case-insensitive, or ``module:factory``) for ``context``.

    Example:
        >>> from blackbox_repository import load_blackbox
        >>> blackbox = load_blackbox("sklearn-mlp-digits")
        >>> context = MethodContext.from_blackbox(blackbox, "valid_error", "min", seed=0, n_workers=4)
        >>> type(make_scheduler("asha", context, reduction_factor=2)).__name__
        'ASHA'
    """
    return methods.make(name, context, **kwargs)


def method_names() -> list[str]:
    """Canonical names of every available method (built-in, installed extras, entry points)."""
    return methods.names()


def method_listing() -> list[MethodListing]:
    """Every method with where it comes from, for ``simtune methods``."""
    return methods.listing()
