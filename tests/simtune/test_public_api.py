"""The `simtune` import package: cheap to import, every public name resolves, and the
docstring examples of every module run (doctests)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import subprocess
import sys

import pytest

import simtune
from tests.conftest import REPO_ROOT

PACKAGES = ("simtune", "blackbox_repository", "simulated_backend", "benchmarking")


def test_import_simtune_imports_none_of_the_packages():
    probe = (
        "import sys, simtune; "
        "print(sorted(m for m in ('pandas', 'ConfigSpace', 'numpy', 'blackbox_repository', "
        "'simulated_backend', 'benchmarking') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    assert completed.stdout.strip() == "[]"


def test_every_public_name_resolves_to_the_packages_object():
    from benchmarking.baselines import make_scheduler
    from blackbox_repository.errors import SimtuneError
    from simulated_backend import Tuner

    for name in simtune.__all__:
        assert getattr(simtune, name) is not None, name
    assert simtune.Tuner is Tuner and simtune.make_scheduler is make_scheduler
    assert simtune.SimtuneError is SimtuneError
    assert set(simtune.__all__) <= set(dir(simtune))
    with pytest.raises(AttributeError, match="no attribute 'Tunr'"):
        simtune.Tunr  # noqa: B018


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if not info.name.split(".")[-1].startswith("__"):
                names.append(info.name)
    return names


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
