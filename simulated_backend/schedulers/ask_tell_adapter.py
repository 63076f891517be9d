"""Ask/tell optimizers (Optuna and the like) as simtune schedulers.

An ask/tell optimizer proposes one configuration per ``ask`` and learns from one ``tell``
per configuration. :class:`AskTellScheduler` runs one trial per ask: the trial is told its
final value when it ends (completed at the maximum fidelity, pruned, or failed). If the
optimizer supports pruning (Optuna's ``trial.report`` / ``trial.should_prune``), every
intermediate result can be reported and a trial the optimizer prunes is stopped.

Finite grids. A tabular blackbox can only replay its recorded configurations. When the
search space has a finite list of candidates:

- if the candidates are the full Cartesian product of per-hyperparameter values (e.g.
  NAS-Bench-201, FCNet), :func:`product_grid_values` gives those values, and optimizers are
  given finite (categorical) domains: every proposal is on the grid;
- otherwise (randomly sampled grids such as LCBench, XGBoost-MNIST, TaskSet) the optimizer
  searches the continuous ConfigSpace and each proposal is **snapped to the nearest recorded
  candidate** (:class:`CandidateSnapper`), like Syne Tune's 1-nearest-neighbour surrogate.
  The optimizer keeps the configuration it proposed and is told the value measured for the
  candidate that was run; the results record the candidate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from ConfigSpace import ConfigurationSpace
from ConfigSpace.util import deactivate_inactive_hyperparameters

from blackbox_repository.blackbox import Blackbox, native, native_config
from blackbox_repository.tabular import TabularBlackbox
from simulated_backend.schedulers.ask_tell_grid import GridConfigs
from simulated_backend.schedulers.protocol import (
    SchedulerDecision,
    Trial,
    TrialScheduler,
    TrialSuggestion,
)
from simulated_backend.schedulers.search_space import CATEGORICAL, SearchSpace

TELL_STATES = ("complete", "pruned", "failed")
TELL_VALUES = ("last", "max_fidelity")
_TOLD = object()  # stands in for the handle of a trial that was told its value


# ---------------------------------------------------------------------- search spaces
def as_search_space(space: SearchSpace | Blackbox | ConfigurationSpace) -> SearchSpace:
    """A :class:`SearchSpace` from a SearchSpace, a blackbox (its grid if tabular) or a ConfigSpace."""
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, Blackbox):
        return SearchSpace.from_blackbox(space)
    if isinstance(space, ConfigurationSpace):
        return SearchSpace(space)
    raise TypeError(
        "search_space must be a simtune SearchSpace, a Blackbox or a ConfigSpace "
        f"ConfigurationSpace, got {type(space).__name__}"
    )


def product_grid_values(search_space: SearchSpace) -> dict[str, list[Any]] | None:
    """Per-hyperparameter recorded values if the candidates are their full Cartesian product.

    Returns ``None`` for a space without candidates, with inactive (conditional) values, or
    whose candidates are not every combination of the per-hyperparameter values.
    """
    if not search_space.is_finite:
        return None
    encoded = search_space.candidate_encodings()
    if np.isnan(encoded).any():
        return None
    first_rows = [np.unique(column, return_index=True)[1] for column in encoded.T]
    n_combinations = math.prod(len(rows) for rows in first_rows)
    if n_combinations != len(encoded) or len(np.unique(encoded, axis=0)) != len(encoded):
        return None
    values = {}
    for name, rows in zip(search_space.hyperparameter_names, first_rows):
        column = [search_space.candidate(int(row))[name] for row in rows]
        values[name] = sorted(column) if _all_numbers(column) else column
    return values


def _all_numbers(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


class CandidateSnapper:
    """Maps configurations onto the candidates of a finite :class:`SearchSpace`.

    A configuration that is a candidate maps to itself (a dict lookup). Any other maps to
    the nearest candidate in the search space's encoding: numeric and ordinal values scaled
    to [0, 1] (on a log scale where the hyperparameter is), a categorical mismatch counts 1,
    an inactive value against an active one counts 1. Ties go to the lowest candidate index.
    Keys that are not hyperparameters of the space are dropped.

    Example:
        >>> snapper = CandidateSnapper(SearchSpace.from_blackbox(blackbox))  # doctest: +SKIP
        >>> snapper.snap({"learning_rate": 0.0123, "max_depth": 7, ...})  # doctest: +SKIP
    """

    def __init__(self, search_space: SearchSpace) -> None:
        if not search_space.is_finite:
            raise ValueError(
                "CandidateSnapper needs a search space with a finite list of candidates "
                "(SearchSpace.from_blackbox(tabular_blackbox))"
            )
        self.search_space = search_space
        self.names = search_space.hyperparameter_names
        self._encoded: np.ndarray | None = None
        self._categorical = np.array([d.kind == CATEGORICAL for d in search_space.dimensions])

    def index(self, config: Mapping[str, Any]) -> int:
        """Index of the candidate ``config`` maps to."""
        space = self.search_space
        try:
            return space.index_of(config)
        except ValueError:
            pass
        if self._encoded is None:
            self._encoded = space.candidate_encodings()
        target = space.encode([{k: v for k, v in config.items() if k in self.names}])[0]
        grid = self._encoded
        distance = np.where(self._categorical, grid != target, np.abs(grid - target))
        grid_inactive, target_inactive = np.isnan(grid), np.isnan(target)
        distance = np.where(
            grid_inactive | target_inactive, grid_inactive != target_inactive, distance
        )
        return int(np.argmin(np.square(distance).sum(axis=1)))

    def snap(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The candidate ``config`` maps to, as a plain dict."""
        return self.search_space.candidate(self.index(config))


class ConfigTranslator:
    """Turns an optimizer's proposal into a configuration simtune can run.

    Drops keys that are not hyperparameters, deactivates inactive conditional values, and
    snaps onto the candidates of a finite search space (see :class:`CandidateSnapper`).
    """

    def __init__(self, search_space: SearchSpace | None) -> None:
        self.search_space = search_space
        self.snapper = (
            CandidateSnapper(search_space)
            if search_space is not None and search_space.is_finite
            else None
        )
        space = search_space.configuration_space if search_space is not None else None
        self._conditional = space if space is not None and space.conditions else None

    def __call__(self, config: Mapping[str, Any]) -> dict[str, Any]:
        if self.search_space is None:
            return native_config(config)
        names = self.search_space.hyperparameter_names
        values = {k: v for k, v in native_config(config).items() if k in names}
        if self._conditional is not None:
            values = native_config(deactivate_inactive_hyperparameters(values, self._conditional))
        return self.snapper.snap(values) if self.snapper is not None else values


# ---------------------------------------------------------------------- the adapter
class AskTellScheduler(TrialScheduler):
    """Runs an ask/tell optimizer on simtune: one trial per ``ask``, one ``tell`` per trial.

    Args:
        ask: ``ask() -> (handle, config)``; ``handle`` identifies the proposal in ``tell``.
        tell: ``tell(handle, value, state)`` with ``state`` one of ``"complete"``,
            ``"pruned"``, ``"failed"``; ``value`` is ``None`` for failed trials (and for
            pruned ones with ``tell_value="max_fidelity"``).
        metric: the objective to optimize (a result key).
        mode: ``"min"`` or ``"max"``.
        report: optional ``report(handle, value, fidelity) -> bool`` called on every result;
            returning ``True`` prunes the trial (it is stopped and told ``"pruned"``).
            Without it every trial runs to the maximum fidelity.
        tell_value: ``"last"`` tells a pruned trial its last reported value;
            ``"max_fidelity"`` tells only values measured at the maximum fidelity (pruned
            trials are told ``None``). Completed trials are always told their
            maximum-fidelity value.
        search_space: where proposals must land; a finite space (tabular grid) snaps them
            to the nearest candidate, see the module docstring. Given the tabular blackbox
            itself, a proposal that is exactly a recorded configuration is found with one
            lookup and its grid row goes to the engine (``TrialSuggestion.config_index``).

    Example:
        >>> scheduler = AskTellScheduler(my_ask, my_tell, "valid_loss", "min")  # doctest: +SKIP
    """

    def __init__(
        self,
        ask: Callable[[], tuple[Hashable, Mapping[str, Any]]],
        tell: Callable[[Hashable, float | None, str], None],
        metric: str,
        mode: str,
        *,
        report: Callable[[Hashable, float, Any], bool] | None = None,
        tell_value: str = "last",
        search_space: SearchSpace | Blackbox | ConfigurationSpace | None = None,
    ) -> None:
        super().__init__(metric, mode)
        if not callable(ask) or not callable(tell):
            raise TypeError(
                "ask and tell must be callables: ask() -> (handle, config); tell(handle, value, state)"
            )
        if report is not None and not callable(report):
            raise TypeError(f"report must be a callable or None, got {report!r}")
        if tell_value not in TELL_VALUES:
            raise ValueError(f"tell_value must be one of {TELL_VALUES}, got {tell_value!r}")
        self.tell_value = tell_value
        self._ask, self._tell, self._report = ask, tell, report
        if isinstance(search_space, TabularBlackbox):
            # proposals on the grid need one lookup; the search space (and its translator,
            # which snaps the others) is built on the first proposal off the grid
            self._grid: GridConfigs | None = GridConfigs(search_space)
            self._search_space: SearchSpace | None = None
            self._place = self._grid.index_and_config
        else:
            self._grid = None
            self._search_space = as_search_space(search_space) if search_space is not None else None
            self._translate = ConfigTranslator(self._search_space)
            self._place = self._translated
        # the proposal not yet added as a trial: (handle, config, grid row or None)
        self._pending: tuple[Hashable, dict[str, Any], int | None] | None = None
        # per trial id: the optimizer's handle, replaced by _TOLD once told (and then freed)
        self._handles: list[Any] = []
        self._checked_result_keys = False

    @property
    def search_space(self) -> SearchSpace | None:
        """Where proposals land (``None``: anywhere, only unknown keys are dropped)."""
        if self._grid is not None:
            return self._grid.translate.search_space
        return self._search_space

    # ------------------------------------------------------------------ protocol
    def suggest(self) -> TrialSuggestion | None:
        # a proposal the tuner dropped (start budget spent) is offered again, not re-asked
        pending = self._pending
        if pending is None:
            handle, config = self._ask()
            row, config = self._place(config)
            pending = self._pending = (handle, config, row)
        return TrialSuggestion(pending[1], None, pending[2])

    def on_trial_add(self, trial: Trial) -> None:
        handles, pending = self._handles, self._pending
        if pending is None or trial.trial_id != len(handles):
            raise ValueError(
                f"trial {trial.trial_id} was added without a matching suggestion; the Tuner must "
                "call on_trial_add once per started suggestion, in trial-id order"
            )
        handles.append(pending[0])
        self._pending = None

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        if not self._checked_result_keys:
            self._check_result_keys(result)
        if self._report is None:
            return SchedulerDecision.CONTINUE
        trial_id = trial.trial_id
        value = result[self.metric]
        handle = self._handles[trial_id]
        if handle is not _TOLD and self._report(handle, value, result["fidelity"]):
            pruned_value = value if self.tell_value == "last" else None
            self._tell_once(trial_id, pruned_value, "pruned")
            return SchedulerDecision.STOP
        return SchedulerDecision.CONTINUE

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        handles, trial_id = self._handles, trial.trial_id
        handle = handles[trial_id]
        if handle is not _TOLD:  # _tell_once, inlined: once per trial
            handles[trial_id] = _TOLD
            self._tell(handle, result[self.metric], "complete")

    def on_trial_error(self, trial: Trial) -> None:
        self._tell_once(trial.trial_id, None, "failed")

    def metadata(self) -> dict[str, Any]:
        return {
            **super().metadata(),
            "tell_value": self.tell_value,
            "reports_intermediate_values": self._report is not None,
        }

    # ------------------------------------------------------------------ helpers
    def _translated(self, config: Mapping[str, Any]) -> tuple[None, dict[str, Any]]:
        return None, self._translate(config)

    def _tell_once(self, trial_id: int, value: float | None, state: str) -> None:
        handles = self._handles
        handle = handles[trial_id]
        if handle is not _TOLD:
            handles[trial_id] = _TOLD
            self._tell(handle, value, state)

    def _check_result_keys(self, result: Mapping[str, Any]) -> None:
        for key in (self.metric, "fidelity"):
            if key not in result:
                raise KeyError(
                    f"{type(self).__name__} reads {key!r} from each result, but results have "
                    f"only {sorted(result)}; pass the blackbox's objective as metric (results "
                    "carry the fidelity under 'fidelity')"
                )
        self._checked_result_keys = True


# ---------------------------------------------------------------------- Optuna
def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as error:
        raise ImportError(
            "OptunaScheduler needs optuna, which is not installed: pip install 'simtune[optuna]'"
        ) from error
    return optuna


def optuna_distributions(search_space: SearchSpace) -> dict[str, Any]:
    """Optuna distributions for a search space (categorical over the values of a product grid)."""
    optuna = _import_optuna()
    from ConfigSpace import CategoricalHyperparameter, Constant, OrdinalHyperparameter
    from ConfigSpace.hyperparameters import (
        UniformFloatHyperparameter,
        UniformIntegerHyperparameter,
    )

    distributions = optuna.distributions
    grid = product_grid_values(search_space)
    if grid is not None:
        return {
            name: distributions.CategoricalDistribution(values) for name, values in grid.items()
        }
    result = {}
    for name, hp in search_space.configuration_space.items():
        if isinstance(hp, UniformFloatHyperparameter):
            result[name] = distributions.FloatDistribution(
                float(hp.lower), float(hp.upper), log=bool(hp.log)
            )
        elif isinstance(hp, UniformIntegerHyperparameter):
            result[name] = distributions.IntDistribution(
                int(hp.lower), int(hp.upper), log=bool(hp.log)
            )
        elif isinstance(hp, CategoricalHyperparameter):
            result[name] = distributions.CategoricalDistribution(
                native_config(dict(enumerate(hp.choices))).values()
            )
        elif isinstance(hp, OrdinalHyperparameter):
            result[name] = distributions.CategoricalDistribution(
                native_config(dict(enumerate(hp.sequence))).values()
            )
        elif isinstance(hp, Constant):
            result[name] = distributions.CategoricalDistribution(
                [native_config({"v": hp.value})["v"]]
            )
        else:
            raise TypeError(
                f"hyperparameter {name!r} is a {type(hp).__name__}, which has no Optuna "
                "distribution here; use uniform float/integer, categorical, ordinal or constant"
            )
    return result


class OptunaScheduler(AskTellScheduler):
    """An Optuna study run on simtune through :class:`AskTellScheduler`.

    Args:
        study_or_sampler: an ``optuna.Study`` (its direction must match ``mode``), an
            Optuna sampler, or ``None`` for ``TPESampler(seed=seed)``.
        search_space: a blackbox, SearchSpace or ConfigSpace. A product grid becomes
            categorical distributions over the recorded values; otherwise distributions
            follow the ConfigSpace and proposals are snapped to the nearest recorded
            configuration of a tabular blackbox (see the module docstring).
        metric, mode: the objective and ``"min"``/``"max"``.
        Optuna steps are the fidelity values when they are all integers, else their 1-based
        positions on the blackbox's grid.
        pruner: an Optuna pruner for a study created here (a given study keeps its own).
            With a pruner other than ``NopPruner``, every result is reported and pruned
            trials are stopped.
        seed: seeds the default TPE sampler; the same seed gives the same run.
        tell_value: see :class:`AskTellScheduler` (Optuna takes a pruned trial's value from
            its last reported intermediate value in any case).

    Example:
        >>> blackbox = load_blackbox("taskset-imdb-gru128-bs128")  # doctest: +SKIP
        >>> scheduler = OptunaScheduler(None, blackbox, "valid_loss", "min",  # doctest: +SKIP
        ...                             pruner=optuna.pruners.SuccessiveHalvingPruner())
    """

    def __init__(
        self,
        study_or_sampler: Any,
        search_space: SearchSpace | Blackbox | ConfigurationSpace,
        metric: str,
        mode: str,
        *,
        pruner: Any = None,
        seed: int = 0,
        tell_value: str = "last",
    ) -> None:
        optuna = _import_optuna()
        self._optuna = optuna
        self.seed = seed
        direction = {"min": "minimize", "max": "maximize"}.get(mode)
        if isinstance(study_or_sampler, optuna.Study):
            if pruner is not None:
                raise ValueError(
                    "pass the pruner when creating the study, not with an existing study"
                )
            self.study = study_or_sampler
            study_direction = self.study.direction.name.lower()
            if direction is not None and study_direction != direction:
                raise ValueError(
                    f"the study's direction is {study_direction!r} but mode is {mode!r}; create "
                    f"the study with direction={direction!r} or pass the matching mode"
                )
        elif study_or_sampler is None or isinstance(study_or_sampler, optuna.samplers.BaseSampler):
            sampler = study_or_sampler or optuna.samplers.TPESampler(seed=seed)
            self.study = optuna.create_study(
                sampler=sampler, pruner=pruner, direction=direction or "minimize"
            )
        else:
            raise TypeError(
                "study_or_sampler must be an optuna.Study, an Optuna sampler or None, got "
                f"{type(study_or_sampler).__name__}"
            )
        space = as_search_space(search_space)
        self.distributions = optuna_distributions(space)
        self._steps = _fidelity_steps(search_space)
        reports = not isinstance(self.study.pruner, optuna.pruners.NopPruner)
        super().__init__(
            self._ask_optuna,
            self._tell_optuna,
            metric,
            mode,
            report=self._report_optuna if reports else None,
            tell_value=tell_value,
            search_space=space,
        )

    def _ask_optuna(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask(fixed_distributions=self.distributions)
        return trial, trial.params

    def _report_optuna(self, trial: Any, value: float, fidelity: Any) -> bool:
        trial.report(value, self._step(fidelity))
        return trial.should_prune()

    def _tell_optuna(self, trial: Any, value: float | None, state: str) -> None:
        states = self._optuna.trial.TrialState
        if state == "complete":
            self.study.tell(trial, value)
        else:
            self.study.tell(trial, state=states.PRUNED if state == "pruned" else states.FAIL)

    def _step(self, fidelity: Any) -> int:
        if self._steps is not None:
            return self._steps[fidelity]
        if float(fidelity).is_integer():
            return int(fidelity)
        raise ValueError(
            f"Optuna steps are integers but fidelity {fidelity!r} is not; pass "
            "the blackbox as search_space so that steps become positions on its fidelity grid"
        )

    def metadata(self) -> dict[str, Any]:
        return {
            **super().metadata(),
            "sampler": type(self.study.sampler).__name__,
            "pruner": type(self.study.pruner).__name__,
            "seed": self.seed,
            "optuna_version": self._optuna.__version__,
        }


def _fidelity_steps(space: Any) -> dict[Any, int] | None:
    """Fidelity -> Optuna step for a blackbox whose fidelities are not all integers."""
    if not isinstance(space, Blackbox):
        return None
    values = [native(v) for v in space.fidelity_values]
    if all(float(v).is_integer() for v in values):
        return None
    return {value: position + 1 for position, value in enumerate(values)}
