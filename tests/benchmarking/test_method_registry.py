"""The method registry: references, run-time registrations in worker processes, the
listing of `simtune methods`, extras by name (Optuna, Syne Tune) in a study."""

from __future__ import annotations

import sys
import textwrap

import pytest

from benchmarking.baselines import (
    MethodContext,
    MethodError,
    MethodPluginError,
    MethodRegistry,
    make_scheduler,
    method_listing,
    methods,
)
from benchmarking.cli import main
from benchmarking.study import run_study
from simulated_backend.schedulers import RandomSearch
from tests.simulated_backend.schedulers.scheduler_drivers import grid_blackbox


@pytest.fixture(scope="module")
def context() -> MethodContext:
    blackbox = grid_blackbox(n_configs=20, n_fidelities=9)
    return MethodContext.from_blackbox(blackbox, "loss", "min", seed=1, n_workers=2)


def test_a_reference_names_a_factory_of_any_importable_module(context):
    scheduler = make_scheduler("benchmarking.builtin_methods:random_search", context)
    assert type(scheduler) is RandomSearch and scheduler.seed == 1
    with pytest.raises(MethodPluginError, match="no module named 'no_such_module'"):
        make_scheduler("no_such_module:make", context)
    with pytest.raises(MethodPluginError, match="has no attribute 'nope'"):
        make_scheduler("benchmarking.builtin_methods:nope", context)


def test_a_method_registered_at_run_time_travels_as_its_reference(tmp_path, monkeypatch):
    (tmp_path / "registering_module.py").write_text(
        textwrap.dedent(
            """
            from benchmarking.method_registry import MethodRegistry

            registry = MethodRegistry(entry_point_group=None)

            @registry.register("MINE")
            def make_mine(context):
                '''My method.'''
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__("registering_module")
    try:
        assert module.registry.portable_name("mine") == "registering_module:make_mine"
        assert module.registry.listing()[0].source == "registered in registering_module"
    finally:
        sys.modules.pop("registering_module", None)
    registry = MethodRegistry(entry_point_group=None)
    registry.register("LAMBDA")(lambda context: None)
    assert registry.portable_name("lambda") == "LAMBDA"  # nothing importable to point at


def test_methods_of_extras_are_listed_with_their_source_and_install_hint():
    rows = {row.name: row for row in method_listing()}
    assert rows["ASHA"].source == "built-in"
    assert rows["HB"].source == "alias of HYPERBAND"
    assert rows["OPTUNA-TPE-HYPERBAND"].source == "extra optuna"
    assert rows["SYNETUNE-BOHB"].source == "extra syne-tune"
    assert not rows["OPTUNA-GP"].available or "torch" in sys.modules
    if not rows["OPTUNA-GP"].available:
        assert "pip install torch" in rows["OPTUNA-GP"].description
        with pytest.raises(MethodError, match="needs torch, which is not installed"):
            methods.factory("OPTUNA-GP")


def test_simtune_methods_prints_every_method_without_importing_schedulers(capsys):
    for module in [m for m in sys.modules if m.startswith("benchmarking.builtin_methods")]:
        sys.modules.pop(module)
    assert main(["methods"]) == 0
    printed = capsys.readouterr().out
    assert "ASHB" in printed and "alias of ASYNC-HYPERBAND" in printed
    assert "OPTUNA-TPE" in printed and "package.module:factory" in printed
    assert "benchmarking.builtin_methods" not in sys.modules


def test_optuna_and_syne_tune_methods_run_by_name_in_a_study(tmp_path):
    pytest.importorskip("syne_tune", reason="needs scripts/install_peer_extras.sh")
    report = run_study(
        ["OPTUNA-TPE", "OPTUNA-TPE-HYPERBAND", "SYNETUNE-BOHB"],
        ["sklearn-mlp-digits"],
        [0],
        tmp_path,
        max_num_results=60,
        executor="inprocess",
    )
    assert report.n_completed == 3 and report.n_failed == 0
    schedulers = {}
    for label in ("OPTUNA-TPE", "OPTUNA-TPE-HYPERBAND", "SYNETUNE-BOHB"):
        folder = tmp_path / "runs" / "sklearn-mlp-digits" / label / "seed-0"
        schedulers[label] = (folder / "metadata.json").read_text()
    assert '"sampler": "TPESampler"' in schedulers["OPTUNA-TPE"]
    assert '"pruner": "HyperbandPruner"' in schedulers["OPTUNA-TPE-HYPERBAND"]
    assert '"syne_tune_scheduler": "BOHB"' in schedulers["SYNETUNE-BOHB"]
