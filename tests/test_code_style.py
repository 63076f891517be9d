"""The tree stays `ruff check` and `ruff format` clean (config in ruff.toml)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff_is_clean(command):
    ruff = shutil.which("ruff")
    assert ruff is not None, "ruff is not installed: pip install -e '.[test]'"
    completed = subprocess.run([ruff, *command], cwd=REPO_ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
