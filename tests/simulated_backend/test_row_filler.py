"""The Tuner's per-run filler for trials started by their grid row hands every other
suggestion (a resume of a paused trial, the start budget reached) to the general path with
the suggestion it drew: runs by row equal runs whose trials carry their configs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import ASHA, RandomSearcher, SearchSpace
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox
from tests.simulated_backend.test_grid_row_trials import _ConfigSearcher


def _run(blackbox, searcher_class, stop, asha_type):
    space = SearchSpace.from_blackbox(blackbox)
    scheduler = ASHA(
        space,
        "loss",
        "min",
        blackbox.fidelity_values,
        reduction_factor=3,
        type=asha_type,
        searcher=searcher_class(space, np.random.default_rng(5)),
    )
    tuner = Tuner(scheduler, SimulatorBackend(blackbox, n_workers=5, seed=1), stop)
    return tuner, tuner.run()


@pytest.mark.parametrize(
    "asha_type, stop",
    [
        ("promotion", StopCriterion(max_num_results=1500)),  # resumes between new trials
        ("stopping", StopCriterion(max_num_trials_started=60)),  # the start budget is hit
    ],
)
def test_trials_started_by_row_equal_trials_with_configs(asha_type, stop):
    blackbox = random_tabular_blackbox(3, n_configs=200, n_fidelities=9, n_seeds=2)
    (tuner, by_row), (_, with_configs) = (
        _run(blackbox, searcher_class, stop, asha_type)
        for searcher_class in (RandomSearcher, _ConfigSearcher)
    )
    assert all(type(config) is int for config in tuner.trial_configs[1:])  # started by row
    results = by_row.results
    if asha_type == "promotion":
        assert (results["decision"] == "PAUSE").any() and results["trial_id"].nunique() > 50
    else:
        assert results["trial_id"].nunique() == 60
    assert by_row.metadata["stop_reason"] == with_configs.metadata["stop_reason"]
    pd.testing.assert_frame_equal(results, with_configs.results)
