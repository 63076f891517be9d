"""Peer-equivalence tests: simtune against Syne Tune 0.16 on the same data.

Tests marked ``syne_tune`` need Syne Tune (``bash scripts/install_peer_extras.sh``; CI runs
it). They are skipped, with that reason, only when the ``syne_tune`` package is absent; if
it is installed but cannot be imported (a missing dependency), they fail loudly.
"""

from __future__ import annotations

import importlib.util

import pytest

SYNE_TUNE_INSTALLED = importlib.util.find_spec("syne_tune") is not None
SKIP_REASON = (
    "syne-tune is not installed; run `bash scripts/install_peer_extras.sh` to run the "
    "peer-equivalence tests against Syne Tune 0.16"
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "syne_tune: compares simtune with Syne Tune 0.16 (needs syne-tune installed)"
    )


def pytest_collection_modifyitems(config, items):
    if SYNE_TUNE_INSTALLED:
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if "syne_tune" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _syne_tune_folder(monkeypatch, tmp_path):
    """Syne Tune writes its experiment folders under $SYNETUNE_FOLDER (else ~/syne-tune)."""
    monkeypatch.setenv("SYNETUNE_FOLDER", str(tmp_path / "syne-tune"))


@pytest.fixture(scope="session")
def xgboost_mnist(shared_data_dir, session_cache_dir):
    """The real XGBoost-on-MNIST blackbox (1,000 configs x 28 training-set sizes), via load_blackbox."""
    from blackbox_repository import load_blackbox

    return load_blackbox("xgboost-mnist", raw_data_dir=shared_data_dir, cache_dir=session_cache_dir)
