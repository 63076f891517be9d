"""docs/tutorial-write-your-own-scheduler.md runs as written: its ```python file=NAME``` blocks
are written to files, its other ```python``` blocks are executed in order, in a fresh folder."""

from __future__ import annotations

import re
import sys

from tests.conftest import REPO_ROOT

TUTORIAL = REPO_ROOT / "docs" / "tutorial-write-your-own-scheduler.md"
BLOCK = re.compile(r"^```python(?: file=(\S+))?\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_tutorial_runs_as_written(tmp_path, monkeypatch, capsys):
    blocks = BLOCK.findall(TUTORIAL.read_text())
    files = [name for name, _ in blocks if name]
    assert files == ["median_stopping.py"] and len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict = {"__name__": "tutorial"}
    try:
        for file_name, code in blocks:
            if file_name:
                (tmp_path / file_name).write_text(code)
            else:
                exec(compile(code, str(TUTORIAL), "exec"), namespace)
    finally:
        sys.modules.pop("median_stopping", None)
    printed = capsys.readouterr().out
    assert "stopped early" in printed and "9 completed, 0 failed" in printed
    runs = tmp_path / "tutorial-results" / "runs" / "sklearn-mlp-digits"
    assert (runs / "median_stopping.make_median_stopping" / "seed-2" / "results.parquet").exists()
