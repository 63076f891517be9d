"""Without Syne Tune, the adapter says how to install it (runs whether or not it is installed)."""

from __future__ import annotations

import sys

import pytest

from simulated_backend.schedulers.syne_tune_adapter import (
    SyneTuneScheduler,
    syne_tune_config_space,
)
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox


def test_missing_syne_tune_points_to_the_install_script(monkeypatch):
    monkeypatch.setitem(sys.modules, "syne_tune", None)  # makes `import syne_tune` fail
    with pytest.raises(ImportError, match="scripts/install_peer_extras.sh"):
        SyneTuneScheduler(object())
    with pytest.raises(ImportError, match="scripts/install_peer_extras.sh"):
        syne_tune_config_space(random_tabular_blackbox(0, n_configs=3))
