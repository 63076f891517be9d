"""Blackbox names per benchmark family, readable without importing any recipe.

The recipes (``blackbox_repository.recipes``) import pandas, ConfigSpace and their
parsers; listing 450 names should not. ``recipe_catalog.json`` beside this module holds
what the recipes provide (family -> names, in the recipes' order) and is regenerated from
them with::

    python -m blackbox_repository.recipe_catalog

A test compares the file with the recipes, so it cannot drift from them unnoticed.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

CATALOG_FILE = "recipe_catalog.json"
CATALOG_FORMAT_VERSION = 1


def catalog_path() -> Path:
    """Where the catalog file of this installation lives."""
    return Path(str(resources.files("blackbox_repository").joinpath(CATALOG_FILE)))


def read_catalog(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """family -> blackbox names, as recorded in the catalog file (cheap: one small JSON)."""
    path = path or catalog_path()
    content = json.loads(path.read_text())
    if content.get("format_version") != CATALOG_FORMAT_VERSION:
        raise RuntimeError(
            f"{path} has format {content.get('format_version')!r}, expected "
            f"{CATALOG_FORMAT_VERSION}; regenerate it: python -m blackbox_repository.recipe_catalog"
        )
    return {family: tuple(names) for family, names in content["families"].items()}


def catalog_from_recipes() -> dict[str, tuple[str, ...]]:
    """family -> blackbox names, from the recipes themselves (imports every recipe module)."""
    from blackbox_repository.recipes import all_recipes

    families: dict[str, tuple[str, ...]] = {}
    for recipe in all_recipes():
        families[recipe.family] = families.get(recipe.family, ()) + tuple(recipe.names)
    return families


def write_catalog(path: Path | None = None) -> Path:
    """Write the recipes' names into the catalog file (atomically); returns its path."""
    from blackbox_repository.atomic_files import write_json_atomically

    path = path or catalog_path()
    families = {family: list(names) for family, names in catalog_from_recipes().items()}
    write_json_atomically(
        path, {"format_version": CATALOG_FORMAT_VERSION, "families": families}, indent=1
    )
    return path


if __name__ == "__main__":
    written = write_catalog()
    print(f"wrote {written} ({sum(len(n) for n in read_catalog().values())} names)")
