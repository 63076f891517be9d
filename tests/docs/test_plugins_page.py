"""docs/plugins.md runs as written (its ```python file=NAME``` blocks become files in a fresh
folder, its other ```python``` blocks run there in order)."""

from __future__ import annotations

import re
import sys

from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "plugins.md"
BLOCK = re.compile(r"^```python(?: file=(\S+))?\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_plugins_page_runs_as_written(tmp_path, monkeypatch):
    blocks = BLOCK.findall(PAGE.read_text())
    assert [name for name, _ in blocks if name] == ["my_methods.py", "my_benchmarks.py"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict = {"__name__": "plugins_page"}
    try:
        for file_name, code in blocks:
            if file_name:
                (tmp_path / file_name).write_text(code)
            else:
                exec(compile(code, str(PAGE), "exec"), namespace)
    finally:
        for module in ("my_methods", "my_benchmarks"):
            sys.modules.pop(module, None)
    assert (tmp_path / "plugin-results" / "runs" / "my-mlp" / "RS" / "seed-0").is_dir()
