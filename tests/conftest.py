"""Fixtures shared by the whole suite.

Every test runs with ``SIMTUNE_RAW_DATA_DIR`` pointing at the real benchmark files in
``../shared/data`` and with a cache that is private to the test session, so conversions
happen once per session and never touch the user's cache. Tests of cache mechanics take
``fresh_cache_dir`` and pass it explicitly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real benchmark data of the original authors (never copied into the repo)."""
    if not (SHARED_DATA_DIR / "README.md").exists():
        pytest.fail(
            f"real benchmark data not found at {SHARED_DATA_DIR}: clone the repo next to shared/"
        )
    return SHARED_DATA_DIR


@pytest.fixture(scope="session")
def session_cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("simtune-cache")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, session_cache_dir, shared_data_dir):
    monkeypatch.setenv("SIMTUNE_CACHE_DIR", str(session_cache_dir))
    monkeypatch.setenv("SIMTUNE_RAW_DATA_DIR", str(shared_data_dir))
    for variable in ("SIMTUNE_S3_MIRROR", "SIMTUNE_S3_ENDPOINT_URL", "SIMTUNE_RAW_MIRROR_URL"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def fresh_cache_dir(tmp_path) -> Path:
    """An empty cache root for tests of cache mechanics."""
    path = tmp_path / "cache"
    path.mkdir()
    return path
