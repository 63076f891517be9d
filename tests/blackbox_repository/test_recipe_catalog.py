"""The light catalog of blackbox names matches what the recipes provide."""

from __future__ import annotations

from blackbox_repository.recipe_catalog import catalog_from_recipes, read_catalog, write_catalog
from blackbox_repository.recipes import blackbox_names


def test_the_catalog_file_lists_exactly_the_recipes_names():
    assert read_catalog() == catalog_from_recipes(), (
        "blackbox_repository/recipe_catalog.json is out of date with the recipes: "
        "regenerate it with `python -m blackbox_repository.recipe_catalog` and commit it"
    )
    assert sorted(n for names in read_catalog().values() for n in names) == blackbox_names()


def test_write_catalog_writes_what_read_catalog_reads(tmp_path):
    target = write_catalog(tmp_path / "catalog.json")
    assert read_catalog(target) == catalog_from_recipes()
