"""Mode (a): an ask/tell optimizer simulated on the discrete-event engine.

No processes and no coordinator: :func:`simulate` wraps the optimizer in
:class:`~simulated_backend.schedulers.ask_tell_adapter.AskTellScheduler` (or
:class:`~simulated_backend.schedulers.ask_tell_adapter.OptunaScheduler` for an Optuna study)
and runs it with the :class:`~simulated_backend.tuner.Tuner`, so results reach ``tell`` in
exact simulated-time order and the run is reproducible bit for bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blackbox_repository import Blackbox
from simulated_backend.backend import SimulatorBackend
from simulated_backend.results import RunResults
from simulated_backend.schedulers.ask_tell_adapter import AskTellScheduler, OptunaScheduler
from simulated_backend.schedulers.protocol import TrialScheduler
from simulated_backend.stop_criterion import StopCriterion
from simulated_backend.tuner import Tuner


def ask_tell_scheduler(optimizer: Any, blackbox: Blackbox, metric: str) -> TrialScheduler:
    """The scheduler that drives ``optimizer``: an Optuna study, or ask/tell methods.

    A generic optimizer has ``ask() -> (handle, config)`` and
    ``tell(handle, value, state)`` (state: ``"complete"``, ``"pruned"`` or ``"failed"``),
    and optionally ``report(handle, value, fidelity) -> bool`` to prune.
    """
    mode = blackbox.objective(metric).mode
    if type(optimizer).__module__.startswith("optuna") and _is_optuna_study(optimizer):
        return OptunaScheduler(optimizer, blackbox, metric, mode)
    if not (
        callable(getattr(optimizer, "ask", None)) and callable(getattr(optimizer, "tell", None))
    ):
        raise TypeError(
            f"simulate() needs an optuna.Study or an object with ask() and tell() methods; got "
            f"{type(optimizer).__name__}. For optimizers that call an objective from their own "
            "workers, use SimulationCoordinator"
        )
    # a tabular blackbox as the search space: proposals land on its grid (one lookup for an
    # exact one) and their row goes to the engine, which then looks nothing up
    return AskTellScheduler(
        optimizer.ask,
        optimizer.tell,
        metric,
        mode,
        report=getattr(optimizer, "report", None),
        search_space=blackbox,
    )


def simulate(
    optimizer: Any,
    blackbox: Blackbox,
    *,
    n_workers: int = 1,
    metric: str | None = None,
    max_evaluations: int | None = None,
    max_simulated_time: float | None = None,
    results_dir: Path | str | None = None,
    seed: int = 0,
    blackbox_seed: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> RunResults:
    """Run an ask/tell optimizer with ``n_workers`` simulated workers.

    Args:
        optimizer: an ``optuna.Study`` or an object with ``ask``/``tell`` (see
            :func:`ask_tell_scheduler`).
        blackbox: the benchmark answering the configurations.
        metric: the objective to optimize (default: the blackbox's first).
        max_evaluations: the run ends once this many asked configurations were told.
        max_simulated_time: simulated-seconds budget.
        results_dir: where ``results.parquet`` and ``metadata.json`` are written.
        seed: recorded with the run (the optimizer's own seed is the caller's business).
        blackbox_seed: the recorded blackbox seed used for every trial (default: the first).

    Example:
        >>> study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))  # doctest: +SKIP
        >>> run = simulate(study, blackbox, n_workers=4, max_evaluations=100)  # doctest: +SKIP
    """
    if max_evaluations is None and max_simulated_time is None:
        raise ValueError("pass max_evaluations or max_simulated_time: the run needs a budget")
    metric = metric or blackbox.objective_names[0]
    scheduler = ask_tell_scheduler(optimizer, blackbox, metric)
    if blackbox_seed is None:
        blackbox_seed = blackbox.seeds[0]
    backend = SimulatorBackend(
        blackbox, n_workers=n_workers, seed=seed, blackbox_seed=blackbox_seed
    )
    stop = StopCriterion(
        max_num_trials_finished=max_evaluations, max_wallclock_time=max_simulated_time
    )
    run_metadata = {"method": f"ask-tell:{type(optimizer).__name__}", **(metadata or {})}
    return Tuner(scheduler, backend, stop, results_dir=results_dir, metadata=run_metadata).run()


def _is_optuna_study(optimizer: Any) -> bool:
    import optuna  # only imported for objects from optuna: it takes a third of a second

    return isinstance(optimizer, optuna.Study)
