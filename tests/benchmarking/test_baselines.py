"""The baselines registry: names, aliases, arguments, entry points, and runs on the engine."""

from __future__ import annotations

import textwrap

import pytest

from benchmarking.baselines import (
    MethodContext,
    MethodPluginError,
    MethodRegistry,
    make_scheduler,
    method_names,
)
from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import (
    ASHA,
    BOHB,
    AsynchronousHyperband,
    Hyperband,
    RandomSearch,
    SuccessiveHalving,
)
from tests.simulated_backend.schedulers.scheduler_drivers import grid_blackbox

SHIPPED = {
    "RS": RandomSearch,
    "ASHA": ASHA,
    "ASHA-PROMOTION": ASHA,
    "SH": SuccessiveHalving,
    "HYPERBAND": Hyperband,
    "ASYNC-HYPERBAND": AsynchronousHyperband,
    "BOHB": BOHB,
}


@pytest.fixture(scope="module")
def blackbox():
    return grid_blackbox(n_configs=60, n_fidelities=27)


@pytest.fixture
def context(blackbox) -> MethodContext:
    return MethodContext.from_blackbox(blackbox, metric="loss", mode="min", seed=3, n_workers=4)


def test_shipped_names_and_their_schedulers(context):
    assert set(SHIPPED) <= set(method_names())
    for name, scheduler_class in SHIPPED.items():
        scheduler = make_scheduler(name, context)
        assert type(scheduler) is scheduler_class
        assert scheduler.metric == "loss" and scheduler.mode == "min"
    assert make_scheduler("ASHA-PROMOTION", context).type == "promotion"
    assert make_scheduler("ASHA", context).type == "stopping"


def test_aliases_and_case_are_accepted(context):
    assert type(make_scheduler("randomsearch", context)) is RandomSearch
    assert type(make_scheduler("hb", context)) is Hyperband
    assert type(make_scheduler("Ashb", context)) is AsynchronousHyperband
    assert type(make_scheduler("bohb", context)) is BOHB


def test_context_seed_and_kwargs_reach_the_scheduler(context):
    scheduler = make_scheduler("ASHA", context, reduction_factor=2, min_fidelity=2)
    assert scheduler.seed == 3 and scheduler.reduction_factor == 2
    assert scheduler.rung_levels == (2, 4, 8, 16)
    assert scheduler.max_fidelity == 27 and context.max_fidelity == 27


def test_unknown_name_lists_known_ones_and_close_matches(context):
    with pytest.raises(ValueError, match="unknown method 'ASAH'. Did you mean ") as error:
        make_scheduler("ASAH", context)
    message = str(error.value)
    assert "'ASHA'" in message.split("?")[0] and message.count("'ASHA'") == 1
    assert (
        "Known methods: ASHA, ASHA-PROMOTION, ASHB (alias of ASYNC-HYPERBAND), ASYNC-HYPERBAND"
        in message
    )


def test_unknown_or_context_keyword_arguments_are_type_errors(context):
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['eta'\]") as error:
        make_scheduler("ASHA", context, eta=2)
    assert "reduction_factor" in str(error.value)
    with pytest.raises(TypeError, match=r"\['type'\]"):
        make_scheduler("ASHA", context, type="promotion")
    with pytest.raises(TypeError, match=r"\['seed'\] come from the MethodContext"):
        make_scheduler("RS", context, seed=1)


def test_context_from_blackbox_validates_metric_and_mode(blackbox):
    with pytest.raises(
        ValueError,
        match=r"metric 'los' is not an objective .* \['loss', 'time'\]. Did you mean 'loss'",
    ):
        MethodContext.from_blackbox(blackbox, metric="los", mode="min", seed=0, n_workers=1)
    with pytest.raises(ValueError, match="use mode='min'"):
        MethodContext.from_blackbox(blackbox, metric="loss", mode="max", seed=0, n_workers=1)
    with pytest.raises(ValueError, match="n_workers must be an integer >= 1"):
        MethodContext.from_blackbox(blackbox, metric="loss", mode="min", seed=0, n_workers=0)
    context = MethodContext.from_blackbox(blackbox, "loss", "min", seed=0, n_workers=2)
    assert context.search_space.n_candidates == 60 and context.fidelity_values == tuple(
        range(1, 28)
    )


def test_register_method_with_aliases_in_a_registry():
    registry = MethodRegistry(entry_point_group=None)

    @registry.register("MY-RS", "mine")
    def make_my_rs(context, greediness: float = 0.5):
        return RandomSearch(context.search_space, context.metric, context.mode, seed=context.seed)

    assert registry.names() == ["MY-RS"]
    assert registry.factory("Mine") == ("MY-RS", make_my_rs)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("mine")
    with pytest.raises(ValueError, match="unknown method 'RS'"):
        registry.factory("RS")


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    """A real installed distribution (dist-info with entry_points.txt) on sys.path."""
    (tmp_path / "simtune_test_plugin.py").write_text(
        textwrap.dedent(
            """
            from simulated_backend.schedulers import RandomSearch

            def make_greedy(context, greediness=0.5):
                scheduler = RandomSearch(context.search_space, context.metric, context.mode, context.seed)
                scheduler.greediness = greediness
                return scheduler
            """
        )
    )
    dist_info = tmp_path / "simtune_test_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: simtune-test-plugin\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[simtune.methods]\n"
        "GREEDY-RS = simtune_test_plugin:make_greedy\n"
        "BROKEN = simtune_module_that_does_not_exist:factory\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_entry_point_methods_are_found_and_loaded_lazily(plugin_path, context):
    assert {"GREEDY-RS", "BROKEN"} <= set(method_names())  # listed without loading
    scheduler = make_scheduler("greedy-rs", context, greediness=0.9)
    assert type(scheduler) is RandomSearch and scheduler.greediness == 0.9
    with pytest.raises(TypeError, match=r"\['speed'\]"):
        make_scheduler("GREEDY-RS", context, speed=2)


def test_broken_entry_point_is_a_clear_error_naming_it(plugin_path, context):
    with pytest.raises(MethodPluginError, match="entry point 'BROKEN'") as error:
        make_scheduler("BROKEN", context)
    message = str(error.value)
    assert "simtune-test-plugin" in message and "ModuleNotFoundError" in message
    assert type(make_scheduler("ASHA", context)) is ASHA  # the others still work


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_method_runs_on_the_simulator(name, blackbox, context):
    scheduler = make_scheduler(name, context)
    backend = SimulatorBackend(blackbox, n_workers=context.n_workers, seed=0)
    run = Tuner(scheduler, backend, StopCriterion(max_num_results=400)).run()
    assert len(run.results) > 0
    assert run.metadata["scheduler"]["scheduler_name"] == type(scheduler).__name__
    if name != "RS":
        assert run.results["fidelity"].min() == 1
        assert (run.results["decision"] != "CONTINUE").any()
