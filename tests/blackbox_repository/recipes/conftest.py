"""Fixtures for the recipes of the real benchmarks in ``../shared/data``.

Each real benchmark is loaded at most once per session through ``load_blackbox`` (which
converts it into the session cache); raw folders with a corrupted or malformed file are
built in ``tmp_path`` from copies of the originals.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from blackbox_repository import Blackbox, load_blackbox
from blackbox_repository.recipes import Recipe


@pytest.fixture(scope="session")
def _loaded_blackboxes() -> dict[str, Blackbox]:
    return {}


@pytest.fixture
def load_real_blackbox(_loaded_blackboxes, shared_data_dir) -> Callable[[str], Blackbox]:
    """``load(name)``: the real blackbox, converted once per session into the session cache."""

    def load(name: str) -> Blackbox:
        if name not in _loaded_blackboxes:
            _loaded_blackboxes[name] = load_blackbox(name)
        return _loaded_blackboxes[name]

    return load


@pytest.fixture
def copy_raw_files(tmp_path, shared_data_dir) -> Callable[[Recipe, str], Path]:
    """``copy(recipe, name)``: a fresh folder holding copies of the raw files ``name`` needs."""

    def copy(recipe: Recipe, name: str) -> Path:
        root = tmp_path / f"raw-{len(list(tmp_path.iterdir()))}"
        for raw_file in recipe.raw_files_for(name):
            target = root / raw_file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared_data_dir / raw_file.path, target)
            target.chmod(0o644)
        return root

    return copy


@pytest.fixture
def flip_one_byte() -> Callable[[Path], None]:
    """``flip(path)``: change one byte of ``path``, so its checksum no longer matches."""

    def flip(path: Path, position: int = 100) -> None:
        content = bytearray(path.read_bytes())
        content[position] = (content[position] + 1) % 256
        path.write_bytes(bytes(content))

    return flip
