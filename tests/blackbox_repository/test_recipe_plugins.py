"""Recipes of other packages (entry points of group simtune.blackboxes) and recipe references;
a blackbox in the cache is found before any recipe is consulted."""

from __future__ import annotations

import textwrap

import pytest

from benchmarking.benchmark_definitions import benchmark_definition
from blackbox_repository import load_blackbox
from blackbox_repository.cache import BlackboxCache
from blackbox_repository.errors import UnknownBlackboxError
from blackbox_repository.file_format import write_blackbox
from blackbox_repository.recipes import RecipePluginError, find_recipe, recipe_from_reference
from tests.benchmarking.user_benchmarks import renamed_blackbox

PLUGIN_MODULE = """
from blackbox_repository.recipes import BenchmarkDefaults, Recipe
from tests.benchmarking.user_benchmarks import renamed_blackbox

DEFAULTS = BenchmarkDefaults(
    metric="test_error", mode="min", elapsed_time_objective="elapsed_time",
    fidelity_name="epoch", max_wallclock_time=45.0, n_workers=2,
)


def recipes():
    return [
        Recipe("plugin-family", (name,), (), convert=lambda n, d: renamed_blackbox(n),
               benchmark_defaults=(DEFAULTS,))
        for name in ("ep-digits-a", "ep-digits-b")
    ]


NOT_A_RECIPE = 42
"""


@pytest.fixture
def plugin_package(tmp_path, monkeypatch):
    """A real installed distribution (dist-info with entry_points.txt) on sys.path."""
    (tmp_path / "simtune_recipe_plugin.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    dist_info = tmp_path / "simtune_recipe_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: simtune-recipe-plugin\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[simtune.blackboxes]\nplugin = simtune_recipe_plugin:recipes\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_entry_point_recipes_give_names_and_their_defaults(plugin_package, fresh_cache_dir):
    assert find_recipe("ep-digits-b").family == "plugin-family"
    definition = benchmark_definition("ep-digits-a")
    assert (definition.metric, definition.max_wallclock_time, definition.n_workers) == (
        "test_error",
        45.0,
        2,
    )
    blackbox = load_blackbox("ep-digits-a", cache_dir=fresh_cache_dir)
    definition.validate(blackbox)
    assert blackbox.name == "ep-digits-a"


def test_a_recipe_reference_names_one_of_its_blackboxes(plugin_package):
    recipe, name = recipe_from_reference("simtune_recipe_plugin:recipes:ep-digits-b")
    assert (recipe.family, name) == ("plugin-family", "ep-digits-b")
    with pytest.raises(RecipePluginError, match="provides 2 blackboxes"):
        recipe_from_reference("simtune_recipe_plugin:recipes")
    with pytest.raises(RecipePluginError, match="must be a Recipe"):
        recipe_from_reference("simtune_recipe_plugin:NOT_A_RECIPE")


def test_the_cache_answers_before_any_recipe(fresh_cache_dir):
    with pytest.raises(UnknownBlackboxError, match="unknown blackbox 'my-own-entry'"):
        load_blackbox("my-own-entry", cache_dir=fresh_cache_dir)
    cache = BlackboxCache(fresh_cache_dir)
    with cache.lock("my-own-entry"), cache.staging("my-own-entry") as staged:
        write_blackbox(renamed_blackbox("my-own-entry"), staged, source="a test")
        cache.install("my-own-entry", staged)
    loaded = load_blackbox("my-own-entry", cache_dir=fresh_cache_dir)
    assert loaded.name == "my-own-entry" and len(loaded.configurations) == 300
