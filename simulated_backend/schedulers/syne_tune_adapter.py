"""Any Syne Tune 0.16 ``TrialScheduler`` run unchanged on simtune's Tuner and SimulatorBackend.

:class:`SyneTuneScheduler` translates between the two protocols the way Syne Tune's own
``Tuner`` drives a scheduler:

- ``suggest()``: Syne Tune's ``TrialSuggestion`` (``spawn_new_trial_id``,
  ``checkpoint_trial_id``, ``config``) becomes simtune's start or resume suggestion. Returning
  ``None`` once means "exhausted" (as in Syne Tune's Tuner): it is never asked again.
- Trials: each simtune trial has one Syne Tune ``Trial`` (``trial_id``, the config Syne Tune
  proposed, ``creation_time`` = :data:`SIMULATED_EPOCH` + simulated seconds; never the real
  clock).
- Results: the simtune result (every objective, ``fidelity``, ``simulated_time``) plus
  the fidelity under the Syne Tune scheduler's own name for it (its ``time_attr`` or
  ``resource_attr``, e.g. ``"epoch"``), ``st_tuner_time`` (simulated seconds since the
  start) and ``st_worker_time`` (simulated seconds since the trial was started or last
  resumed).
- Decisions: the strings are the same. After ``STOP`` or ``PAUSE`` the Syne Tune
  scheduler's ``on_trial_remove`` is called once (right after the decision, as Syne Tune's
  Tuner does; the simtune Tuner's own ``on_trial_remove`` call is then a no-op), and a trial removed that way is not reported as complete
  (``on_trial_complete``), exactly as in Syne Tune's Tuner.
- Metric and mode come from ``metric_names()[0]`` and ``metric_mode()``.

Configurations: :func:`syne_tune_config_space` builds a Syne Tune config space from a
simtune blackbox or search space. On a tabular blackbox whose grid is a Cartesian product
the domains are the recorded values; otherwise they follow the ConfigSpace and, given
``search_space=blackbox``, the adapter snaps each proposal to the nearest recorded
configuration (see :mod:`simulated_backend.schedulers.ask_tell_adapter`).

Syne Tune 0.16 draws some random numbers from numpy's global generator (``RandomSearch``,
ASHA's bracket choice). With ``seed=``, ``suggest`` and ``on_trial_add`` run with that
generator temporarily replaced by a private ``RandomState(seed)``, so runs are reproducible
and the caller's global generator is left untouched (about 0.15 ms per call).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from ConfigSpace import ConfigurationSpace

from blackbox_repository.blackbox import Blackbox, native
from simulated_backend.schedulers.ask_tell_adapter import (
    ConfigTranslator,
    as_search_space,
    product_grid_values,
)
from simulated_backend.schedulers.protocol import (
    SchedulerDecision,
    Trial,
    TrialScheduler,
    TrialSuggestion,
)
from simulated_backend.schedulers.search_space import SearchSpace

SIMULATED_EPOCH = datetime(1970, 1, 1)
"""Simulated time 0 as a datetime: Syne Tune trials are created at this + simulated seconds."""

ST_TUNER_TIME = "st_tuner_time"
ST_WORKER_TIME = "st_worker_time"
_REMOVED_DECISIONS = (SchedulerDecision.STOP, SchedulerDecision.PAUSE)
INSTALL_HINT = (
    "Syne Tune is not installed: run scripts/install_peer_extras.sh (syne-tune==0.16.0 "
    "without its heavy optional dependencies)"
)


def _import_syne_tune() -> Any:
    try:
        import syne_tune
        from syne_tune.backend.trial_status import Trial as SyneTuneTrial  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.split(".")[0] == "syne_tune":
            raise ImportError(INSTALL_HINT) from error
        raise
    return syne_tune


class _GlobalNumpyRandomState:
    """Runs code with numpy's legacy global generator swapped for a private one."""

    def __init__(self, seed: int) -> None:
        self._private = np.random.RandomState(seed).get_state()
        self._saved: Any = None

    def __enter__(self) -> None:
        self._saved = np.random.get_state()
        np.random.set_state(self._private)

    def __exit__(self, *exc: object) -> None:
        self._private = np.random.get_state()
        np.random.set_state(self._saved)
        self._saved = None


class SyneTuneScheduler(TrialScheduler):
    """Wraps a Syne Tune 0.16 ``TrialScheduler`` so simtune's Tuner can run it.

    Args:
        scheduler: any Syne Tune ``TrialScheduler`` (e.g. ``syne_tune.optimizer.baselines.ASHA``).
        search_space: the blackbox (or SearchSpace) the run replays. Proposals are stripped
            of keys that are not hyperparameters and, on a tabular grid, snapped to the
            nearest recorded configuration. ``None`` passes configs through unchanged.
        metric, mode: only needed if the scheduler has neither ``metric_names()`` /
            ``metric_mode()`` nor ``metric`` / ``mode``; if given they must agree with it.
        seed: isolate and seed numpy's global generator around ``suggest`` and
            ``on_trial_add`` (see the module docstring); ``None`` leaves it alone.

    Example:
        >>> from syne_tune.optimizer.baselines import ASHA  # doctest: +SKIP
        >>> blackbox = load_blackbox("xgboost-mnist")  # doctest: +SKIP
        >>> asha = ASHA(syne_tune_config_space(blackbox), metric="test_error", do_minimize=True,  # doctest: +SKIP
        ...             time_attr="train_size", max_t=56000, grace_period=56, random_seed=0)
        >>> run = Tuner(SyneTuneScheduler(asha, search_space=blackbox, seed=0),  # doctest: +SKIP
        ...             SimulatorBackend(blackbox, n_workers=4), StopCriterion(max_wallclock_time=3600)).run()
    """

    def __init__(
        self,
        scheduler: Any,
        *,
        search_space: SearchSpace | Blackbox | ConfigurationSpace | None = None,
        metric: str | None = None,
        mode: str | None = None,
        seed: int | None = None,
    ) -> None:
        syne_tune = _import_syne_tune()
        from syne_tune.backend.trial_status import Trial as SyneTuneTrial
        from syne_tune.optimizer.scheduler import TrialScheduler as SyneTuneTrialScheduler

        if not isinstance(scheduler, SyneTuneTrialScheduler):
            raise TypeError(
                "scheduler must be a Syne Tune TrialScheduler (syne_tune.optimizer.scheduler), "
                f"got {type(scheduler).__name__}"
            )
        own_metric, own_mode = _metric_and_mode_of(scheduler)
        for name, given, own in (("metric", metric, own_metric), ("mode", mode, own_mode)):
            if given is not None and own is not None and given != own:
                raise ValueError(
                    f"{name}={given!r} disagrees with the Syne Tune scheduler's {name} {own!r}; "
                    f"leave {name} out to use the scheduler's"
                )
        metric, mode = own_metric or metric, own_mode or mode
        if metric is None or mode is None:
            raise ValueError(
                f"cannot read metric and mode from {type(scheduler).__name__}: pass metric= and "
                "mode= to SyneTuneScheduler"
            )
        super().__init__(metric, mode)
        self.syne_tune_scheduler = scheduler
        self.syne_tune_version = syne_tune.__version__
        self.seed = seed
        self.search_space = as_search_space(search_space) if search_space is not None else None
        self._translate = ConfigTranslator(self.search_space)
        self._make_trial = SyneTuneTrial
        self._random_state = _GlobalNumpyRandomState(seed) if seed is not None else None
        self._trials: list[Any] = []  # Syne Tune Trial per trial id
        self._start_times: list[float] = []  # simulated (re)start time per trial id
        self._removed: list[bool] = []  # on_trial_remove was called since the last (re)start
        self._proposed: dict[str, Any] | None = None  # Syne Tune's config of the pending start
        self._now = 0.0  # simulated time of the latest result: the Tuner suggests at that time
        self._fidelity_key = _fidelity_name_of(scheduler)
        self._exhausted = False

    # ------------------------------------------------------------------ suggestions
    def suggest(self) -> TrialSuggestion | None:
        if self._exhausted:
            return None
        scheduler = self.syne_tune_scheduler
        if self._random_state is None:
            suggestion = scheduler.suggest()
        else:
            with self._random_state:
                suggestion = scheduler.suggest()
        if suggestion is None:
            self._exhausted = True  # Syne Tune's Tuner never asks again either
            return None
        if suggestion.spawn_new_trial_id:
            if suggestion.checkpoint_trial_id is not None:
                raise NotImplementedError(
                    f"{type(scheduler).__name__} asked to start a new trial from the checkpoint "
                    f"of trial {suggestion.checkpoint_trial_id}; simtune's engine cannot copy "
                    "checkpoints between trials (e.g. Syne Tune's PBT), only resume paused trials"
                )
            self._proposed = dict(suggestion.config)
            return TrialSuggestion.start(self._translate(suggestion.config))
        trial_id = suggestion.checkpoint_trial_id
        if not 0 <= trial_id < len(self._trials):
            raise ValueError(
                f"{type(scheduler).__name__} asked to resume trial {trial_id}, which was never started"
            )
        self._start_times[trial_id] = self._now
        self._removed[trial_id] = False
        if suggestion.config is None:
            return TrialSuggestion.resume(trial_id)
        self._trials[trial_id].config = dict(suggestion.config)
        return TrialSuggestion.resume(trial_id, self._translate(suggestion.config))

    def on_trial_add(self, trial: Trial) -> None:
        if trial.trial_id != len(self._trials):
            raise ValueError(
                f"trial ids must be added in order 0, 1, 2, ...; got {trial.trial_id}, "
                f"expected {len(self._trials)}"
            )
        config = self._proposed if self._proposed is not None else dict(trial.config)
        self._proposed = None
        syne_tune_trial = self._make_trial(
            trial_id=trial.trial_id,
            config=config,
            creation_time=SIMULATED_EPOCH + timedelta(seconds=trial.creation_time),
        )
        self._trials.append(syne_tune_trial)
        self._start_times.append(trial.creation_time)
        self._removed.append(False)
        if self._random_state is None:
            self.syne_tune_scheduler.on_trial_add(syne_tune_trial)
        else:
            with self._random_state:
                self.syne_tune_scheduler.on_trial_add(syne_tune_trial)

    # ------------------------------------------------------------------ results
    def _syne_tune_result(self, trial_id: int, result: Mapping[str, Any]) -> dict[str, Any]:
        now = result["simulated_time"]
        extended = dict(result)
        if self._fidelity_key is not None and "fidelity" in result:
            extended[self._fidelity_key] = result["fidelity"]
        extended[ST_TUNER_TIME] = now
        extended[ST_WORKER_TIME] = now - self._start_times[trial_id]
        return extended

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        trial_id = trial.trial_id
        self._now = result["simulated_time"]
        syne_tune_trial = self._trials[trial_id]
        decision = self.syne_tune_scheduler.on_trial_result(
            syne_tune_trial, self._syne_tune_result(trial_id, result)
        )
        if decision in _REMOVED_DECISIONS:
            self.on_trial_remove(trial)
        return decision

    def on_trial_remove(self, trial: Trial) -> None:
        """Tell the Syne Tune scheduler once that its decision removed ``trial``."""
        trial_id = trial.trial_id
        if not self._removed[trial_id]:
            self._removed[trial_id] = True
            self.syne_tune_scheduler.on_trial_remove(self._trials[trial_id])

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        trial_id = trial.trial_id
        if not self._removed[trial_id]:  # Syne Tune's Tuner skips trials it just removed
            self.syne_tune_scheduler.on_trial_complete(
                self._trials[trial_id], self._syne_tune_result(trial_id, result)
            )

    def on_trial_error(self, trial: Trial) -> None:
        self.syne_tune_scheduler.on_trial_error(self._trials[trial.trial_id])

    def metadata(self) -> dict[str, Any]:
        return {
            **super().metadata(),
            "syne_tune_scheduler": type(self.syne_tune_scheduler).__name__,
            "syne_tune_version": self.syne_tune_version,
            "seed": self.seed,
        }


def _fidelity_name_of(scheduler: Any) -> str | None:
    """The result key a Syne Tune 0.16 scheduler reads the fidelity from, if it has one."""
    for attribute in ("time_attr", "resource_attr", "_resource_attr"):
        name = getattr(scheduler, attribute, None)
        if isinstance(name, str) and name:
            return name
    return None


def _metric_and_mode_of(scheduler: Any) -> tuple[str | None, str | None]:
    """The first metric and the mode of a Syne Tune scheduler (0.16 API, then older names)."""
    metric = mode = None
    if callable(getattr(scheduler, "metric_names", None)):
        names = scheduler.metric_names()
        metric = names[0] if names else None
    elif isinstance(getattr(scheduler, "metric", None), str):
        metric = scheduler.metric
    if callable(getattr(scheduler, "metric_mode", None)):
        mode = scheduler.metric_mode()
        if isinstance(mode, (list, tuple)):
            mode = mode[0] if mode else None
    elif isinstance(getattr(scheduler, "mode", None), str):
        mode = scheduler.mode
    return metric, mode


def syne_tune_config_space(
    search_space_or_blackbox: SearchSpace | Blackbox | ConfigurationSpace,
) -> dict[str, Any]:
    """A Syne Tune ``config_space`` dict for a simtune blackbox, SearchSpace or ConfigSpace.

    A tabular grid that is a full Cartesian product gives finite domains over the recorded
    values (``ordinal`` for numbers, on a log scale where the ConfigSpace is; ``choice``
    otherwise). Anything else follows the ConfigSpace: ``uniform``/``loguniform``,
    ``randint``/``lograndint``, ``choice``, ``ordinal``, constants as plain values. Syne
    Tune has no conditions: conditional hyperparameters are all included, and the adapter
    drops inactive values before a config is run.

    Example:
        >>> config_space = syne_tune_config_space(load_blackbox("xgboost-mnist"))  # doctest: +SKIP
        >>> sorted(config_space)  # doctest: +SKIP
        ['learning_rate', 'max_depth', 'min_child_weight', 'n_estimators']
    """
    _import_syne_tune()
    from ConfigSpace import CategoricalHyperparameter, Constant, OrdinalHyperparameter
    from ConfigSpace.hyperparameters import (
        UniformFloatHyperparameter,
        UniformIntegerHyperparameter,
    )
    from syne_tune import config_space as st

    space = as_search_space(search_space_or_blackbox)
    hyperparameters = space.configuration_space
    grid = product_grid_values(space)
    result: dict[str, Any] = {}
    for name, hp in hyperparameters.items():
        if grid is not None:
            values = grid[name]
            if len(values) == 1:
                result[name] = values[0]
            elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                log = bool(getattr(hp, "log", False)) and values[0] > 0
                result[name] = st.logordinal(values) if log else st.ordinal(values, kind="nn")
            else:
                result[name] = st.choice(values)
        elif isinstance(hp, UniformFloatHyperparameter):
            lower, upper = float(hp.lower), float(hp.upper)
            result[name] = st.loguniform(lower, upper) if hp.log else st.uniform(lower, upper)
        elif isinstance(hp, UniformIntegerHyperparameter):
            lower, upper = int(hp.lower), int(hp.upper)
            result[name] = st.lograndint(lower, upper) if hp.log else st.randint(lower, upper)
        elif isinstance(hp, CategoricalHyperparameter):
            result[name] = st.choice([native(c) for c in hp.choices])
        elif isinstance(hp, OrdinalHyperparameter):
            result[name] = st.ordinal([native(v) for v in hp.sequence], kind="equal")
        elif isinstance(hp, Constant):
            result[name] = native(hp.value)
        else:
            raise TypeError(
                f"hyperparameter {name!r} is a {type(hp).__name__}, which has no Syne Tune "
                "domain here; use uniform float/integer, categorical, ordinal or constant"
            )
    return result
