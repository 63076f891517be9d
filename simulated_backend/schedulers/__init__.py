"""Schedulers behind one protocol (see :mod:`simulated_backend.schedulers.protocol`).

One module per algorithm; shared machinery in ``asynchronous_brackets`` (ASHA and
asynchronous Hyperband), ``synchronous_brackets`` (successive halving and Hyperband),
``rung_levels``/``hyperband_brackets`` (levels on a fidelity grid), ``rungs``
(O(log n) rung bookkeeping) and ``settings`` (the frozen settings records every scheduler
is built from). See ``docs/schedulers.md``.
"""

from simulated_backend.schedulers.asha import ASHA
from simulated_backend.schedulers.ask_tell_adapter import AskTellScheduler, OptunaScheduler
from simulated_backend.schedulers.async_hyperband import AsynchronousHyperband
from simulated_backend.schedulers.bohb import BOHB, KernelDensitySearcher
from simulated_backend.schedulers.hyperband import Hyperband
from simulated_backend.schedulers.hyperband_brackets import (
    Bracket,
    BracketStage,
    hyperband_brackets,
)
from simulated_backend.schedulers.protocol import (
    MetricModeError,
    SchedulerDecision,
    Trial,
    TrialScheduler,
    TrialSuggestion,
    check_metric_and_mode,
)
from simulated_backend.schedulers.random_search import RandomSearch
from simulated_backend.schedulers.rung_levels import RungSettings, asha_rung_settings, snap_to_grid
from simulated_backend.schedulers.search_space import Dimension, SearchSpace
from simulated_backend.schedulers.searchers import Candidate, ConfigSearcher, RandomSearcher
from simulated_backend.schedulers.settings import FidelitySettings, SchedulerSettings
from simulated_backend.schedulers.successive_halving import SuccessiveHalving
from simulated_backend.schedulers.syne_tune_adapter import SyneTuneScheduler, syne_tune_config_space

__all__ = [
    "ASHA",
    "AsynchronousHyperband",
    "AskTellScheduler",
    "BOHB",
    "Bracket",
    "Candidate",
    "BracketStage",
    "ConfigSearcher",
    "Dimension",
    "FidelitySettings",
    "Hyperband",
    "KernelDensitySearcher",
    "MetricModeError",
    "OptunaScheduler",
    "RandomSearch",
    "RandomSearcher",
    "RungSettings",
    "SchedulerDecision",
    "SchedulerSettings",
    "SearchSpace",
    "SuccessiveHalving",
    "SyneTuneScheduler",
    "Trial",
    "TrialScheduler",
    "TrialSuggestion",
    "asha_rung_settings",
    "check_metric_and_mode",
    "hyperband_brackets",
    "snap_to_grid",
    "syne_tune_config_space",
]
