"""Methods and benchmarks of a user's own, by name, through the real `simtune` command in
real worker processes (process pool and Dask), and the CLI's error policy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarking.cli import main
from tests.conftest import REPO_ROOT

USER_METHOD_MODULE = """
from simulated_backend.schedulers import RandomSearch


class MyScheduler(RandomSearch):
    '''Random search under another name: stands in for a user's own scheduler.'''


def make(context, greediness=0.5):
    scheduler = MyScheduler(context.search_space, context.metric, context.mode, seed=context.seed)
    scheduler.greediness = greediness
    return scheduler
"""

USER_RECIPE_MODULE = """
from blackbox_repository.recipes import Recipe
from tests.benchmarking.user_benchmarks import renamed_blackbox

RECIPE = Recipe(
    family="mine",
    names=("my-digits",),
    raw_files=(),
    convert=lambda name, raw_dir: renamed_blackbox(name),
)


def broken():
    return 1 / 0  # an internal error, not a SimtuneError
"""


def simtune_command() -> list[str]:
    """The installed console script (it does not put the current folder on sys.path)."""
    script = shutil.which("simtune")
    return [script] if script else [sys.executable, "-m", "benchmarking.cli"]


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory) -> Path:
    """A folder holding the user's own modules; commands run from it."""
    folder = tmp_path_factory.mktemp("user-project")
    (folder / "mymodule.py").write_text(textwrap.dedent(USER_METHOD_MODULE))
    (folder / "user_bench.py").write_text(textwrap.dedent(USER_RECIPE_MODULE))
    return folder


def run_simtune(folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}  # not the user's folder
    return subprocess.run(
        [*simtune_command(), *arguments],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def scheduler_of(out: Path, benchmark: str, label: str, seed: int) -> dict:
    metadata = json.loads(
        (out / "runs" / benchmark / label / f"seed-{seed}" / "metadata.json").read_text()
    )
    assert metadata["status"] == "completed"
    return metadata


def test_a_method_of_a_user_module_runs_by_reference_on_a_process_pool(user_folder):
    completed = run_simtune(
        user_folder,
        "run",
        "--methods", "mymodule:make,RS",
        "--method-kwargs", '{"mymodule:make": {"greediness": 0.9}}',
        "--benchmarks", "sklearn-mlp-digits",
        "--seeds", "0",
        "--max-num-results", "40",
        "--executor", "processes",
        "--out", "pool-results",
        "--no-progress",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    out = user_folder / "pool-results"
    for seed in (0,):
        metadata = scheduler_of(out, "sklearn-mlp-digits", "mymodule.make", seed)
        assert metadata["scheduler"]["scheduler_name"] == "MyScheduler"
        assert metadata["task"]["method_name"] == "mymodule:make"
        assert metadata["task"]["method_kwargs"] == {"greediness": 0.9}
        assert scheduler_of(out, "sklearn-mlp-digits", "RS", seed)["n_results"] == 40


def test_a_converted_blackbox_of_a_user_recipe_runs_in_a_study_on_dask(user_folder):
    converted = run_simtune(user_folder, "blackbox", "convert", "user_bench:RECIPE")
    assert converted.returncode == 0, converted.stderr
    assert "my-digits: " in converted.stdout
    completed = run_simtune(
        user_folder,
        "run",
        "--methods", "mymodule:make",
        "--benchmarks", "my-digits",  # found in the cache: no recipe provides it
        "--seeds", "0",
        "--max-num-results", "30",
        "--executor", "dask",
        "--n-jobs", "1",
        "--out", "dask-results",
        "--no-progress",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    metadata = scheduler_of(user_folder / "dask-results", "my-digits", "mymodule.make", 0)
    assert metadata["scheduler"]["scheduler_name"] == "MyScheduler"
    assert metadata["benchmark"] == "my-digits"
    # settings derived from the blackbox: its first objective, a cap on results
    assert metadata["task"]["benchmark"]["metric"] == "valid_error"
    assert metadata["n_results"] == 30


def test_an_internal_error_propagates_with_its_traceback(user_folder, monkeypatch):
    monkeypatch.chdir(user_folder)
    with pytest.raises(ZeroDivisionError):  # not turned into a one-line "error:"
        main(["blackbox", "info", "user_bench:broken"])


def test_a_simtune_error_is_one_line_with_exit_code_2(capsys):
    assert (
        main(["run", "--methods", "ASAH", "--benchmarks", "sklearn-mlp-digits", "--seeds", "0"])
        == 2
    )
    stderr = capsys.readouterr().err
    assert stderr.startswith("simtune: error: unknown method 'ASAH'. Did you mean ")
    assert "(alias of 'ASYNC-HYPERBAND')" in stderr and stderr.count("\n") == 1
