"""Benchmark definitions: which blackbox, which metric, which budget, as plain frozen records.

A :class:`BenchmarkDefinition` names everything a simulated run needs besides the method:
the blackbox, the metric and its mode, the elapsed-time objective and the fidelity (its
name and the largest value trials are trained to), the default number of workers, the
simulated wall-clock budget, an optional cap on the number of results, and an optional
surrogate model that replaces table lookups (e.g. ``"knn"``).

A benchmark is found by name, in this order (:func:`benchmark_definition`):

1. a blackbox of a recipe (in-tree, or of an installed ``simtune.blackboxes`` entry
   point): the recipe's :class:`~blackbox_repository.recipes.BenchmarkDefaults` give the
   settings, so a new benchmark is added in one place, its recipe;
2. a recipe reference ``package.module:recipe`` (or ``package.module:recipe:name`` for one
   of several names): the definition remembers the reference, so that worker processes
   find the recipe too;
3. a blackbox in the local cache that no recipe provides (one you converted or tabulated
   yourself), or a recipe name without defaults: settings derived from the blackbox
   (:func:`derived_defaults`).

Defaults are overridden per study with :meth:`BenchmarkDefinition.with_overrides` (or the
study's CLI flags and YAML file).

Example:
    >>> definition = benchmark_definition("sklearn-mlp-digits")
    >>> definition.metric, definition.fidelity_name, definition.max_wallclock_time
    ('valid_error', 'epoch', 4.0)
    >>> definition.with_overrides(n_workers=8).n_workers
    8
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from blackbox_repository import Blackbox, FidelityNotOnGridError, TabularBlackbox, load_blackbox
from blackbox_repository.blackbox import native
from blackbox_repository.cache import BlackboxCache
from blackbox_repository.errors import SimtuneError, UnknownBlackboxError
from blackbox_repository.recipes import (
    BenchmarkDefaults,
    Recipe,
    all_recipes,
    find_recipe,
    recipe_from_reference,
)
from blackbox_repository.references import is_reference

MODES = ("min", "max")


class BenchmarkDefinitionError(SimtuneError, ValueError):
    """A benchmark setting that does not apply (to the blackbox, or at all)."""


class UnknownBenchmarkError(SimtuneError, ValueError):
    """A benchmark name that is neither a recipe's blackbox nor a known definition."""


def _frozen_kwargs(kwargs: Mapping[str, Any] | tuple | None) -> tuple[tuple[str, Any], ...]:
    """Keyword arguments as a sorted tuple of pairs, so that definitions stay hashable."""
    if not kwargs:
        return ()
    pairs = kwargs.items() if isinstance(kwargs, Mapping) else kwargs
    return tuple(sorted((str(k), v) for k, v in pairs))


@dataclass(frozen=True)
class BenchmarkDefinition:
    """Everything a simulated run needs to know about its benchmark.

    Args:
        name: the benchmark's name (by default the blackbox name).
        blackbox: name of the blackbox (see ``simtune blackbox list``).
        metric: the objective the methods optimize.
        mode: ``"min"`` or ``"max"``; must equal the objective's mode.
        elapsed_time_objective: the blackbox's elapsed-time objective.
        fidelity_name: the blackbox's fidelity name (e.g. ``"epoch"``).
        max_fidelity: the largest fidelity a trial is trained to; ``None`` means the
            last value of the blackbox's fidelity grid. A smaller value must lie on the grid
            (the grid is cut there; tabular blackboxes only).
        n_workers: default number of parallel simulated workers.
        max_wallclock_time: default simulated wall-clock budget of a run, in seconds.
        max_num_results: optional cap on the number of reported results of a run.
        surrogate: ``None`` for exact table lookups, else the model of
            ``blackbox_repository.surrogate.make_surrogate`` (e.g. ``"knn"``).
        surrogate_kwargs: keyword arguments of that model (stored as sorted pairs).
        family: the recipe family the blackbox comes from.
        recipe: a ``package.module:recipe`` reference for a blackbox no registered recipe
            provides (worker processes import it to build the blackbox if needed).
    """

    name: str
    blackbox: str
    metric: str
    mode: str
    elapsed_time_objective: str
    fidelity_name: str
    max_fidelity: float | None = None
    n_workers: int = 4
    max_wallclock_time: float | None = 3600.0
    max_num_results: int | None = None
    surrogate: str | None = None
    surrogate_kwargs: tuple[tuple[str, Any], ...] = ()
    family: str = ""
    recipe: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "surrogate_kwargs", _frozen_kwargs(self.surrogate_kwargs))
        budget = self.max_wallclock_time
        if isinstance(budget, int) and not isinstance(budget, bool):
            object.__setattr__(self, "max_wallclock_time", float(budget))
        self.check_settings()

    # ------------------------------------------------------------------ validation
    def check_settings(self) -> None:
        """Checks that need no blackbox: mode, worker count, budgets."""
        where = f"benchmark {self.name!r}"
        if self.mode not in MODES:
            raise BenchmarkDefinitionError(
                f"{where}: mode must be 'min' or 'max', got {self.mode!r}"
            )
        if (
            isinstance(self.n_workers, bool)
            or not isinstance(self.n_workers, int)
            or self.n_workers < 1
        ):
            raise BenchmarkDefinitionError(
                f"{where}: n_workers must be an integer >= 1, got {self.n_workers!r}"
            )
        budget = self.max_wallclock_time
        if budget is not None and not (
            isinstance(budget, (int, float))
            and not isinstance(budget, bool)
            and math.isfinite(budget)
            and budget > 0
        ):
            raise BenchmarkDefinitionError(
                f"{where}: max_wallclock_time must be a positive number of simulated seconds, "
                f"got {budget!r}; a budget <= 0 can never be reached"
            )
        results = self.max_num_results
        if results is not None and (
            isinstance(results, bool) or not isinstance(results, int) or results < 1
        ):
            raise BenchmarkDefinitionError(
                f"{where}: max_num_results must be a positive integer or None, got {results!r}"
            )
        if budget is None and results is None:
            raise BenchmarkDefinitionError(
                f"{where}: set max_wallclock_time or max_num_results, otherwise a run never stops"
            )

    def validate(self, blackbox: Blackbox) -> None:
        """Check every setting against ``blackbox``; raise on the first that does not apply."""
        where = f"benchmark {self.name!r} (blackbox {blackbox.name!r})"
        if self.metric not in blackbox.objective_names:
            close = difflib.get_close_matches(self.metric, blackbox.objective_names, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise BenchmarkDefinitionError(
                f"{where}: metric {self.metric!r} is not an objective; the objectives are "
                f"{list(blackbox.objective_names)}.{hint}"
            )
        objective_mode = blackbox.objective(self.metric).mode
        if self.mode != objective_mode:
            raise BenchmarkDefinitionError(
                f"{where}: mode {self.mode!r} contradicts objective {self.metric!r}, which is to be "
                f"{'minimized' if objective_mode == 'min' else 'maximized'}; use mode={objective_mode!r}"
            )
        if self.elapsed_time_objective != blackbox.elapsed_time_objective:
            raise BenchmarkDefinitionError(
                f"{where}: elapsed_time_objective {self.elapsed_time_objective!r} is not the "
                f"blackbox's elapsed-time objective {blackbox.elapsed_time_objective!r}"
            )
        if self.fidelity_name != blackbox.fidelity_name:
            raise BenchmarkDefinitionError(
                f"{where}: fidelity_name {self.fidelity_name!r} is not the blackbox's "
                f"fidelity {blackbox.fidelity_name!r}"
            )
        if self.max_fidelity is not None:
            try:
                position = blackbox.fidelity_index(self.max_fidelity)
            except FidelityNotOnGridError as error:
                raise BenchmarkDefinitionError(f"{where}: max_fidelity: {error}") from None
            if position < len(blackbox.fidelity_values) - 1 and not isinstance(
                blackbox, TabularBlackbox
            ):
                raise BenchmarkDefinitionError(
                    f"{where}: max_fidelity={self.max_fidelity!r} below the largest "
                    f"fidelity {blackbox.max_fidelity!r} is supported for tabular blackboxes only; "
                    f"this one is {blackbox.kind!r}: leave max_fidelity unset"
                )

    # ------------------------------------------------------------------ records
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``surrogate_kwargs`` as a dict); :meth:`from_dict` reads it back."""
        described = dataclasses.asdict(self)
        described["surrogate_kwargs"] = dict(self.surrogate_kwargs)
        return json.loads(json.dumps(described, default=native))

    @classmethod
    def from_dict(cls, described: Mapping[str, Any]) -> BenchmarkDefinition:
        check_setting_names(described)
        return cls(**described)

    def with_overrides(self, **overrides: Any) -> BenchmarkDefinition:
        """:func:`dataclasses.replace` that ignores ``None`` values and names bad keys clearly."""
        check_setting_names(overrides)
        given = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **given) if given else self


RENAMED_SETTINGS: Mapping[str, str] = MappingProxyType(
    {
        "elapsed_time_attr": "elapsed_time_objective",
        "max_resource_attr": "fidelity_name",
        "max_resource_value": "max_fidelity",
        "max_num_evaluations": "max_num_results",
    }
)
"""Setting names of earlier simtune versions -> their names now (one "fidelity" vocabulary)."""

DERIVED_RESULTS_PER_FIDELITY = 100
"""Derived defaults cap a run at this many results per fidelity value (about 100 trials
trained to the maximum fidelity): a budget that needs no runtime statistics."""


def check_setting_names(settings: Mapping[str, Any]) -> None:
    """Unknown benchmark setting names are an error naming them (and their new names)."""
    fields = [f.name for f in dataclasses.fields(BenchmarkDefinition)]
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        renamed = [f"{k} is now {RENAMED_SETTINGS[k]}" for k in unknown if k in RENAMED_SETTINGS]
        hint = f" ({'; '.join(renamed)})" if renamed else ""
        raise BenchmarkDefinitionError(
            f"unknown benchmark settings {unknown}{hint}; the settings are {sorted(fields)}"
        )


def definition_from_defaults(
    name: str, defaults: BenchmarkDefaults, family: str = "", recipe: str | None = None
) -> BenchmarkDefinition:
    """The definition of blackbox ``name`` with a recipe's (or derived) defaults."""
    settings = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}
    settings.pop("name_prefix")
    return BenchmarkDefinition(name=name, blackbox=name, family=family, recipe=recipe, **settings)


def derived_defaults(blackbox: Blackbox) -> BenchmarkDefaults:
    """Defaults read off a blackbox that has none written down: its first objective other
    than elapsed time (with that objective's mode), 4 workers, and a cap of
    :data:`DERIVED_RESULTS_PER_FIDELITY` results per fidelity value instead of a time budget.

    Example:
        >>> from blackbox_repository import load_blackbox
        >>> defaults = derived_defaults(load_blackbox("sklearn-mlp-digits"))
        >>> defaults.metric, defaults.mode, defaults.max_num_results
        ('valid_error', 'min', 3000)
    """
    metrics = [n for n in blackbox.objective_names if n != blackbox.elapsed_time_objective]
    if not metrics:
        raise BenchmarkDefinitionError(
            f"blackbox {blackbox.name!r} has no objective besides its elapsed time "
            f"{blackbox.elapsed_time_objective!r}: there is nothing to optimize"
        )
    return BenchmarkDefaults(
        metric=metrics[0],
        mode=blackbox.objective(metrics[0]).mode,
        elapsed_time_objective=blackbox.elapsed_time_objective,
        fidelity_name=blackbox.fidelity_name,
        max_wallclock_time=None,
        max_num_results=DERIVED_RESULTS_PER_FIDELITY * len(blackbox.fidelity_values),
    )


def benchmark_definitions(
    recipes: tuple[Recipe, ...] | None = None,
) -> dict[str, BenchmarkDefinition]:
    """Definitions of every name the recipes list and give defaults for, by name."""
    definitions = {}
    for recipe in all_recipes() if recipes is None else recipes:
        for name in recipe.names:
            defaults = recipe.defaults_for(name)
            if defaults is not None:
                definitions[name] = definition_from_defaults(name, defaults, recipe.family)
    return dict(sorted(definitions.items()))


def benchmark_names(recipes: tuple[Recipe, ...] | None = None) -> list[str]:
    """Every listed benchmark name that has a definition from its recipe's defaults."""
    return sorted(benchmark_definitions(recipes))


def benchmark_definition(
    name: str, recipes: tuple[Recipe, ...] | None = None
) -> BenchmarkDefinition:
    """The definition of benchmark ``name``: a blackbox name (of a recipe or in the cache)
    or a recipe reference ``package.module:recipe[:name]``; see the module docstring.

    An unknown name lists close known names.
    """
    reference = None
    if is_reference(name):
        recipe, blackbox_name = recipe_from_reference(name)
        reference = name
    else:
        blackbox_name = name
        recipe = _find_recipe(name, recipes)
    if recipe is not None:
        defaults = recipe.defaults_for(blackbox_name)
        if defaults is not None:
            return definition_from_defaults(blackbox_name, defaults, recipe.family, reference)
    elif not BlackboxCache().has_entry(name):
        raise UnknownBenchmarkError(_unknown_message(name, recipes))
    blackbox = load_blackbox(blackbox_name, recipe=recipe)  # the cache first
    family = recipe.family if recipe is not None else ""
    return definition_from_defaults(blackbox_name, derived_defaults(blackbox), family, reference)


def _find_recipe(name: str, recipes: tuple[Recipe, ...] | None) -> Recipe | None:
    if recipes is None:
        try:
            return find_recipe(name)
        except UnknownBlackboxError:
            return None
    return next((r for r in recipes if r.provides(name)), None)


def _unknown_message(name: str, recipes: tuple[Recipe, ...] | None) -> str:
    listed = [n for r in (all_recipes() if recipes is None else recipes) for n in r.names]
    known = sorted({*listed, *BlackboxCache().names()})
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return (
        f"unknown benchmark {name!r}.{hint} Known benchmarks ({len(known)}): "
        f"{_shorten(known)}; see `simtune blackbox list`. A benchmark of your own: convert "
        "or tabulate it into the cache, or pass 'package.module:recipe'"
    )


def _shorten(names: list[str], limit: int = 30) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names) - limit} more)"


def truncate_fidelity(blackbox: Blackbox, max_fidelity: float | None) -> Blackbox:
    """``blackbox`` with its fidelity grid cut at ``max_fidelity`` (tabular only).

    Returns the blackbox itself when nothing is cut; otherwise a TabularBlackbox sharing
    the original's memory (a numpy view), so that trials complete at the new maximum.
    """
    if max_fidelity is None:
        return blackbox
    position = blackbox.fidelity_index(max_fidelity)
    if position == len(blackbox.fidelity_values) - 1:
        return blackbox
    if not isinstance(blackbox, TabularBlackbox):
        raise BenchmarkDefinitionError(
            f"cannot cut the fidelity grid of {blackbox.kind!r} blackbox {blackbox.name!r} at "
            f"{max_fidelity!r}: only tabular blackboxes can be cut"
        )
    return TabularBlackbox(
        name=blackbox.name,
        configuration_space=blackbox.configuration_space,
        configurations=blackbox.configurations,
        fidelity_name=blackbox.fidelity_name,
        fidelity_values=blackbox.fidelity_values[: position + 1],
        seeds=blackbox.seeds,
        objectives=blackbox.objectives,
        elapsed_time_objective=blackbox.elapsed_time_objective,
        values=blackbox.values[:, : position + 1],
        description=blackbox.description,
    )
