"""Conversion recipes, one module per benchmark family.

Every module in this package that defines ``RECIPES: list[Recipe]`` is picked up; adding
a benchmark family is adding one module.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from functools import cache

from blackbox_repository.errors import UnknownBlackboxError
from blackbox_repository.recipes.recipe import RawFile, Recipe

__all__ = ["RawFile", "Recipe", "all_recipes", "find_recipe", "blackbox_names"]


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


def blackbox_names() -> list[str]:
    """All blackbox names the recipes provide."""
    return sorted(n for r in all_recipes() for n in r.names)


def find_recipe(name: str) -> Recipe:
    """The recipe providing ``name``; an unknown name suggests the closest known ones."""
    for recipe in all_recipes():
        if name in recipe.names:
            return recipe
    for recipe in all_recipes():  # recipes that accept names they cannot list
        if recipe.provides(name):
            return recipe
    known = blackbox_names()
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownBlackboxError(
        f"unknown blackbox {name!r}.{hint} Run `simtune blackbox list` to see all {len(known)} names."
    )
