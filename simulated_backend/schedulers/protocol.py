"""The scheduler protocol, in the style of Syne Tune's ``TrialScheduler``.

The tuner calls ``suggest()`` whenever a worker is free; it answers "start a new trial
with this config", "resume paused trial k", or ``None`` (nothing for now). Every result a
trial reports goes to ``on_trial_result``, which answers ``CONTINUE``, ``PAUSE`` or ``STOP``.
The metric name and mode are explicit constructor arguments of every scheduler.

A result is a dict with every objective of the blackbox, ``"fidelity"`` (the fidelity
value it was measured at, whatever the blackbox calls it) and ``"simulated_time"``.

The calls a trial sees, in order: ``on_trial_add`` once; ``on_trial_result`` per result;
then, if a decision ended its run, ``on_trial_remove`` (after PAUSE or STOP); or
``on_trial_complete`` at its maximum fidelity; or ``on_trial_error`` if it failed. A paused
trial may be resumed by a later suggestion and then reports results again.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from blackbox_repository.errors import SimtuneError

MODES = ("min", "max")


class MetricModeError(SimtuneError, ValueError, KeyError):
    """A metric or mode a scheduler cannot use (a ValueError; also a KeyError for callers
    that catch an unknown objective name as one)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class SchedulerDecision:
    """What ``on_trial_result`` returns (plain strings, the same as Syne Tune's)."""

    CONTINUE = "CONTINUE"
    PAUSE = "PAUSE"
    STOP = "STOP"


class TrialSuggestion(NamedTuple):
    """Start a new trial with ``config``, or resume ``resume_trial_id`` (optionally with a new config).

    ``config_index``: for a new trial whose config is row ``config_index`` of the tabular
    blackbox's grid (drawn from ``SearchSpace.from_blackbox(blackbox)``), that row; the engine
    then needs no lookup to find the trial's learning curve. It trusts the row (and checks it
    against the config once per run); leave it ``None`` when in doubt.

    ``config`` may be left ``None`` for a new trial with a ``config_index`` if the scheduler
    has a :class:`GridConfigs` attribute ``grid_configs`` (not ``None``): the trial's config
    is then row ``config_index`` of it, built only when something reads it
    (:class:`GridTrial`). See also :meth:`TrialScheduler.suggest_by_row`.

    An immutable record; a named tuple rather than a frozen dataclass because one is made
    per trial start, and building a frozen dataclass costs several times more.
    """

    config: dict[str, Any] | None = None
    resume_trial_id: int | None = None
    config_index: int | None = None

    @property
    def spawn_new_trial(self) -> bool:
        return self.resume_trial_id is None

    @classmethod
    def start(cls, config: dict[str, Any], config_index: int | None = None) -> TrialSuggestion:
        return cls(config, None, config_index)

    @classmethod
    def resume(cls, trial_id: int, config: dict[str, Any] | None = None) -> TrialSuggestion:
        return cls(config, trial_id)


new_trial_suggestion = functools.partial(tuple.__new__, TrialSuggestion)
"""``new_trial_suggestion((config, resume_trial_id, config_index))``: the same record as
``TrialSuggestion(config, resume_trial_id, config_index)``, made without the named tuple's
Python-level ``__new__`` (a few times cheaper; for schedulers' per-trial paths)."""


@dataclass(slots=True, eq=False)
class Trial:
    """A trial as schedulers see it. ``creation_time`` is simulated seconds since the start."""

    trial_id: int
    config: dict[str, Any]
    creation_time: float


@dataclass(frozen=True, eq=False)
class GridConfigs:
    """The configurations of a finite grid by row: what a :class:`TrialSuggestion`'s
    ``config_index`` names when its ``config`` is left ``None``.

    ``rows[i]`` holds row ``i``'s values in the order of ``names`` (``None``: inactive);
    ``config_of_row(i)`` builds its config dict (inactive hyperparameters left out), a new
    dict per call.
    """

    names: tuple[str, ...]
    rows: Sequence[tuple]
    config_of_row: Callable[[int], dict[str, Any]]


_config_slot = Trial.__dict__["config"]  # Trial's slot, under GridTrial's lazy property


class GridTrial(Trial):
    """A :class:`Trial` whose config is row :attr:`config_index` of :attr:`grid`; the dict
    is built the first time ``config`` is read (then kept), so a trial nobody asks about
    never builds one. Otherwise a :class:`Trial` like any other (``config`` may be set)."""

    __slots__ = ("config_index", "grid")

    config_index: int
    grid: GridConfigs

    @property
    def config(self) -> dict[str, Any]:  # type: ignore[override]
        try:
            return _config_slot.__get__(self, GridTrial)
        except AttributeError:  # not read yet
            config = self.grid.config_of_row(self.config_index)
            _config_slot.__set__(self, config)
            return config

    @config.setter
    def config(self, value: dict[str, Any]) -> None:
        _config_slot.__set__(self, value)

    @classmethod
    def at_row(
        cls, trial_id: int, config_index: int, grid: GridConfigs, creation_time: float
    ) -> GridTrial:
        """The trial ``trial_id`` of grid row ``config_index``, its config not built yet."""
        trial = object.__new__(cls)
        trial.trial_id = trial_id
        trial.creation_time = creation_time
        trial.config_index = config_index
        trial.grid = grid
        return trial


def check_metric_and_mode(metric: str, mode: str, blackbox: Any = None) -> None:
    """The one check of a scheduler's metric name and mode (schedulers, the Tuner and the
    benchmarking layer all call it).

    With ``blackbox``, ``metric`` must also be one of its objectives, with that objective's
    mode.
    """
    if not isinstance(metric, str) or not metric:
        raise MetricModeError(
            f"metric must be a non-empty string naming an objective, got {metric!r}"
        )
    if mode not in MODES:
        raise MetricModeError(f"mode must be 'min' or 'max', got {mode!r}")
    if blackbox is None:
        return
    names = list(blackbox.objective_names)
    if metric not in names:
        close = difflib.get_close_matches(metric, names, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise MetricModeError(
            f"metric {metric!r} is not an objective of blackbox {blackbox.name!r} (it has no "
            f"objective {metric!r}); its objectives are {names}.{hint}"
        )
    objective_mode = blackbox.objective(metric).mode
    if mode != objective_mode:
        raise MetricModeError(
            f"mode {mode!r} does not match objective {metric!r} of blackbox "
            f"{blackbox.name!r}, which is to be "
            f"{'minimized' if objective_mode == 'min' else 'maximized'}; "
            f"use mode={objective_mode!r}"
        )


class TrialScheduler:
    """Base class with no-op callbacks; subclasses implement at least ``suggest``.

    Args:
        metric: name of the result key to optimize.
        mode: ``"min"`` or ``"max"``.
    """

    def __init__(self, metric: str, mode: str = "min") -> None:
        check_metric_and_mode(metric, mode)
        self.metric = metric
        self.mode = mode

    def suggest(self) -> TrialSuggestion | None:
        """The next trial to run on a free worker, or ``None`` if there is none for now."""
        raise NotImplementedError(f"{type(self).__name__} must implement suggest()")

    # Optional, with a ``grid_configs`` attribute (a GridConfigs, not None):
    # ``suggest_by_row()``, what ``suggest`` returns, except that a new trial on row ``i`` of
    # ``grid_configs`` may come as the int ``i`` alone (its config is built only if something
    # reads it). The Tuner calls it instead of ``suggest`` when the class defining it also
    # defines the ``suggest`` in use (see by_row_suggest_function). Built-in schedulers
    # drawing grid rows at random define it: most trials of a long run never need their
    # config as a dict (docs/performance.md).

    def on_trial_add(self, trial: Trial) -> None:
        """Called once when a new trial is created from a suggestion."""

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        """Called for every reported result; returns a :class:`SchedulerDecision` value."""
        return SchedulerDecision.CONTINUE

    def decision_fidelities(self) -> frozenset[Any] | None:
        """The fidelities at which :meth:`on_trial_result` may decide anything, or ``None``
        (the default): every result must be shown to it.

        An opt-in for schedulers that decide only at a few fidelities (ASHA's rung levels,
        a synchronous stage's level): given that every trial reports every fidelity of the
        grid in increasing order, a result at any other fidelity from which the trial
        continues (not its last) is answered ``CONTINUE`` and changes nothing, so the
        engine may skip the call and record ``CONTINUE`` itself (the simulator then does
        not even make the result dict). Callbacks and the stop criterion still see every
        result: the engine skips nothing while any of them reads results. A subclass that
        overrides ``on_trial_result`` to see every result must return ``None`` here.
        """
        return None

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """Called when a trial reached its maximum fidelity (after its last ``on_trial_result``)."""

    def on_trial_error(self, trial: Trial) -> None:
        """Called when a trial failed."""

    def on_trial_remove(self, trial: Trial) -> None:
        """Called right after ``on_trial_result`` returned PAUSE or STOP for ``trial`` (its
        worker is free again); not called for a trial that completes or fails. Schedulers
        that clean up on their own decision need not override it."""

    def metadata(self) -> dict[str, Any]:
        """JSON-able description (name and arguments) recorded with the results."""
        return {"scheduler_name": type(self).__name__, "metric": self.metric, "mode": self.mode}


def defined_together(obj: Any, method: str, *companions: str) -> bool:
    """Whether ``obj`` has ``method`` and the class that defines it also defines each of
    ``companions`` as ``obj`` uses them: a fast method standing for others is called only if
    no subclass overrode those alone."""
    cls = type(obj)
    owner = next((c for c in cls.__mro__ if method in vars(c)), None)
    return owner is not None and all(
        getattr(cls, name, None) is vars(owner).get(name) for name in companions
    )


def by_row_suggest_function(scheduler: Any) -> Callable[[], Any] | None:
    """``scheduler.suggest_by_row`` if it has one and a ``grid_configs`` (not ``None``), and
    the class defining it also defines the ``suggest`` in use (a subclass overriding
    ``suggest`` alone keeps getting it called); else ``None``."""
    if getattr(scheduler, "grid_configs", None) is None or not defined_together(
        scheduler, "suggest_by_row", "suggest"
    ):
        return None
    return scheduler.suggest_by_row


def with_grid_config(suggestion: TrialSuggestion | int | None, grid_configs: Any) -> Any:
    """What ``suggest_by_row`` gave, as ``suggest`` gives it: a grid row (an int) becomes a
    new trial's :class:`TrialSuggestion` with the row's config."""
    if type(suggestion) is int:
        config = grid_configs.config_of_row(suggestion)
        return tuple.__new__(TrialSuggestion, (config, None, suggestion))
    return suggestion
