"""The suite's skip rules, run for real: pytest in a subprocess on a bare-clone layout.

A temporary project holds a copy of ``tests/conftest.py`` and a few tests; whether
``../shared/data`` exists beside it, and ``$CI``, decide what may skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

LAYOUT_TESTS = """
import pytest

def test_needs_nothing():
    assert 1 + 1 == 2

def test_needs_data(shared_data_dir):
    assert (shared_data_dir / "README.md").is_file()

def test_needs_an_optional_dependency():
    pytest.importorskip("simtune_no_such_module_for_tests")

@pytest.mark.skipif(True, reason="no peer here: run `bash scripts/install_peer_extras.sh`")
def test_needs_a_peer():
    pass
"""
DATA_TEST_THAT_SKIPS = """
import pytest

def test_skips_although_data_is_there(shared_data_dir):
    pytest.skip("a subset of the data is missing")

def test_skips_for_a_machine_limit(shared_data_dir):
    pytest.skip("cannot mount a tmpfs here (permission denied)")
"""


def make_project(root: Path, *, with_data: bool, extra_tests: str = "") -> Path:
    """``root/simtune`` (conftest + tests) and, if ``with_data``, ``root/shared/data``."""
    project = root / "simtune"
    (project / "tests").mkdir(parents=True)
    shutil.copyfile(REPO_ROOT / "tests" / "conftest.py", project / "tests" / "conftest.py")
    (project / "tests" / "test_layout.py").write_text(LAYOUT_TESTS)
    if extra_tests:
        (project / "tests" / "test_extra.py").write_text(extra_tests)
    if with_data:
        (root / "shared" / "data").mkdir(parents=True)
        (root / "shared" / "data" / "README.md").write_text("real benchmark data\n")
    return project


def run_pytest(project: Path, *, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_ADDOPTS"}}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # start in a second, not in ten
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_bare_clone_skips_data_tests_with_one_line_and_runs_the_rest(tmp_path):
    result = run_pytest(make_project(tmp_path, with_data=False), ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 3 skipped" in result.stdout
    expected = f"1 skipped: needs real benchmark data, not found at {tmp_path / 'shared' / 'data'}"
    summary = [line for line in result.stdout.splitlines() if line.startswith(expected)]
    assert len(summary) == 1, result.stdout
    assert "laid beside the clone (README, section Tests)" in summary[0]


def test_with_the_data_present_a_data_test_may_not_skip(tmp_path):
    project = make_project(tmp_path, with_data=True, extra_tests=DATA_TEST_THAT_SKIPS)
    result = run_pytest(project, ci=False)
    assert result.returncode == 1, result.stdout
    # the importorskip and the machine's limit may skip
    assert "1 failed, 2 passed, 3 skipped" in result.stdout
    assert "skip not allowed: uses" in result.stdout
    assert "a subset of the data is missing" in result.stdout


@pytest.mark.parametrize("with_data", [False, True])
def test_under_ci_missing_data_or_dependencies_fail(tmp_path, with_data):
    result = run_pytest(make_project(tmp_path, with_data=with_data), ci=True)
    assert result.returncode == 1, result.stdout
    assert "an optional dependency is missing" in result.stdout
    # a skip in setup (a fixture, a skipif mark) fails the setup: pytest counts an error
    if with_data:
        assert "1 failed, 2 passed, 1 error" in result.stdout
    else:
        assert "1 failed, 1 passed, 2 errors" in result.stdout
        assert "the real benchmark data is missing" in result.stdout
