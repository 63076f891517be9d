"""Fixtures shared by the whole suite, and the rules for skipping.

Every test runs with a cache that is private to the test session, so conversions happen
once per session and never touch the user's cache; tests of cache mechanics take
``fresh_cache_dir`` and pass it explicitly.

Real benchmark data lives in ``../shared/data``, the project's folder of original benchmark
files laid beside the clone (see the README's "Tests" section). When it is there,
``SIMTUNE_RAW_DATA_DIR`` points at it in every test. When it is not (a bare clone), tests
that need it (fixture ``shared_data_dir``) are skipped with one line saying so, and
everything else runs.

Skips must never hide a broken CI run, so two kinds of skip count as failures:

* a test that uses ``shared_data_dir`` skipping although ``../shared/data`` is present
  (unless the reason says the machine lacks a capability: "this machine ...", "cannot
  mount ...");
* with ``CI=true``: a skip for missing data or for a missing optional dependency
  (``pytest.importorskip``, "... is not installed", a reason that says to run
  ``install_peer_extras.sh`` or ``pip install``), because CI installs every extra and
  lays the data beside the clone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
SHARED_DATA_PRESENT = (SHARED_DATA_DIR / "README.md").is_file()
MISSING_DATA_REASON = (
    f"needs real benchmark data, not found at {SHARED_DATA_DIR}: shared/data is the project's "
    "folder of original benchmark files, laid beside the clone (README, section Tests)"
)
# Reasons of skips caused by a missing optional dependency (importorskip and our own hints).
MISSING_DEPENDENCY_SKIP = re.compile(
    r"could not import|is not installed|No module named|install_peer_extras\.sh|pip install"
)
# Reasons of skips because the machine lacks a capability (e.g. it cannot mount a tmpfs):
# these may skip everywhere, also in a test that reads the data.
MACHINE_CAPABILITY_SKIP = re.compile(r"^(this machine|cannot mount)", re.IGNORECASE)


def running_in_ci() -> bool:
    """True when ``$CI`` says so (GitHub Actions and most CI services set ``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real benchmark data of the original authors (never copied into the repo)."""
    if not SHARED_DATA_PRESENT:
        pytest.skip(MISSING_DATA_REASON)
    return SHARED_DATA_DIR


@pytest.fixture(scope="session")
def session_cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("simtune-cache")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, session_cache_dir):
    monkeypatch.setenv("SIMTUNE_CACHE_DIR", str(session_cache_dir))
    if SHARED_DATA_PRESENT:
        monkeypatch.setenv("SIMTUNE_RAW_DATA_DIR", str(SHARED_DATA_DIR))
    else:
        monkeypatch.delenv("SIMTUNE_RAW_DATA_DIR", raising=False)
    for variable in ("SIMTUNE_S3_MIRROR", "SIMTUNE_S3_ENDPOINT_URL", "SIMTUNE_RAW_MIRROR_URL"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def fresh_cache_dir(tmp_path) -> Path:
    """An empty cache root for tests of cache mechanics."""
    path = tmp_path / "cache"
    path.mkdir()
    return path


# ------------------------------------------------------------------ skip policy
def forbidden_skip_reason(reason: str, uses_shared_data: bool) -> str | None:
    """Why a skip with ``reason`` must count as a failure here, or None if it may skip."""
    if MACHINE_CAPABILITY_SKIP.search(reason):
        return None
    if uses_shared_data and SHARED_DATA_PRESENT:
        return f"uses {SHARED_DATA_DIR}, which is present, so it must not skip"
    if running_in_ci():
        if reason == MISSING_DATA_REASON:
            return "CI=true, but the real benchmark data is missing: lay shared/ beside the clone"
        if MISSING_DEPENDENCY_SKIP.search(reason):
            return (
                "CI=true, but an optional dependency is missing: CI runs "
                '`pip install -e ".[test]" && bash scripts/install_peer_extras.sh`'
            )
    return None


def _skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    why = forbidden_skip_reason(reason, "shared_data_dir" in getattr(item, "fixturenames", ()))
    if why is not None:
        report.outcome = "failed"
        report.longrepr = f"skip not allowed: {why} (skip reason: {reason})"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped:
        return
    reason = _skip_reason(report)
    why = forbidden_skip_reason(reason, uses_shared_data=False)
    if why is not None:
        report.outcome = "failed"
        report.longrepr = f"skip not allowed: {why} (skip reason: {reason})"


def pytest_report_header(config) -> str:
    if SHARED_DATA_PRESENT:
        return f"simtune: real benchmark data in {SHARED_DATA_DIR}; data tests must not skip"
    return f"simtune: tests that {MISSING_DATA_REASON.removeprefix('needs ')} will be skipped"


def pytest_terminal_summary(terminalreporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    n_data = sum(_skip_reason(report) == MISSING_DATA_REASON for report in skipped)
    if n_data:
        terminalreporter.write_line(f"{n_data} skipped: {MISSING_DATA_REASON}")
