"""Conversion recipes, one module per benchmark family, plus the recipes of other packages.

Every module in this package that defines ``RECIPES: list[Recipe]`` is picked up; adding
a benchmark family is adding one module (its recipe carries the benchmark's default
settings, :class:`BenchmarkDefaults`). Other packages add recipes through the entry-point
group ``simtune.blackboxes``, whose entry points load a :class:`Recipe`, a sequence of
them, or a function returning either, e.g. in ``pyproject.toml``::

    [project.entry-points."simtune.blackboxes"]
    my-benchmarks = "my_package.benchmarks:RECIPES"

Entry points are read only when a name is not one of the in-tree recipes'. A recipe can
also be named directly by a reference ``package.module:recipe`` (see
:func:`recipe_from_reference`).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Sequence
from functools import cache
from importlib import metadata
from typing import Any

from blackbox_repository.errors import BlackboxError, UnknownBlackboxError
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile, Recipe
from blackbox_repository.references import load_reference

__all__ = [
    "BenchmarkDefaults",
    "RECIPE_ENTRY_POINT_GROUP",
    "RawFile",
    "Recipe",
    "RecipePluginError",
    "all_recipes",
    "blackbox_names",
    "entry_point_recipes",
    "find_recipe",
    "recipe_from_reference",
]

RECIPE_ENTRY_POINT_GROUP = "simtune.blackboxes"


class RecipePluginError(BlackboxError, ValueError):
    """A recipe entry point or reference that does not load, or loads no recipe."""


@cache
def all_recipes() -> tuple[Recipe, ...]:
    """Every recipe of every module in this package, in module order."""
    recipes: list[Recipe] = []
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_") or module_info.name == "recipe":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        recipes.extend(getattr(module, "RECIPES", ()))
    names = [n for r in recipes for n in r.names]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise RuntimeError(f"blackbox names provided by more than one recipe: {duplicated}")
    return tuple(recipes)


def _as_recipes(loaded: Any, where: str) -> tuple[Recipe, ...]:
    """A Recipe, a sequence of recipes, or a function returning either -> the recipes."""
    if callable(loaded) and not isinstance(loaded, Recipe):
        loaded = loaded()
    if isinstance(loaded, Recipe):
        return (loaded,)
    if isinstance(loaded, Sequence) and loaded and all(isinstance(r, Recipe) for r in loaded):
        return tuple(loaded)
    raise RecipePluginError(
        f"{where} gives {loaded!r}; it must be a Recipe, a list of recipes, or a function "
        "returning one of these"
    )


def entry_point_recipes() -> tuple[Recipe, ...]:
    """The recipes of the installed ``simtune.blackboxes`` entry points (loaded now)."""
    recipes: list[Recipe] = []
    for entry_point in metadata.entry_points(group=RECIPE_ENTRY_POINT_GROUP):
        where = f"entry point {entry_point.name!r} = {entry_point.value!r} (group {RECIPE_ENTRY_POINT_GROUP!r})"
        try:
            loaded = entry_point.load()
        except Exception as error:
            raise RecipePluginError(
                f"{where} failed to load: {type(error).__name__}: {error}; fix or uninstall that package"
            ) from error
        recipes.extend(_as_recipes(loaded, where))
    return tuple(recipes)


def recipe_from_reference(reference: str) -> tuple[Recipe, str]:
    """``(recipe, blackbox name)`` of ``package.module:recipe`` or ``package.module:recipe:name``.

    The attribute is a Recipe, a sequence of recipes, or a function returning either;
    without ``:name`` the recipes must provide exactly one name.
    """
    module_name, _, rest = reference.partition(":")
    attribute, _, name = rest.partition(":")
    where = f"recipe reference {reference!r}"
    recipes = _as_recipes(load_reference(f"{module_name}:{attribute}", where), where)
    names = [n for r in recipes for n in r.names]
    if not name:
        if len(names) != 1:
            raise RecipePluginError(
                f"{where} provides {len(names)} blackboxes {names}: name one as "
                f"'{module_name}:{attribute}:NAME'"
            )
        name = names[0]
    for recipe in recipes:
        if recipe.provides(name):
            return recipe, name
    raise RecipePluginError(f"{where} does not provide {name!r}; it provides {names}")


def blackbox_names() -> list[str]:
    """All blackbox names the in-tree recipes provide."""
    return sorted(n for r in all_recipes() for n in r.names)


def find_recipe(name: str) -> Recipe:
    """The recipe providing ``name`` (in-tree, then entry points); an unknown name suggests
    the closest known ones."""
    for recipe in all_recipes():
        if recipe.provides(name):
            return recipe
    plugins = entry_point_recipes()
    for recipe in plugins:
        if recipe.provides(name):
            return recipe
    known = sorted({*blackbox_names(), *(n for r in plugins for n in r.names)})
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownBlackboxError(
        f"unknown blackbox {name!r}.{hint} Run `simtune blackbox list` to see all {len(known)} names."
    )
