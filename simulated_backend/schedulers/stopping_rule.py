"""A scheduler's decisions as a stopping rule the engine can apply itself.

A scheduler that starts new trials on grid rows drawn by its searcher and, at fixed
milestones of the fidelity, only ever continues or stops them (ASHA's stopping rule with
one bracket) can hand the engine its rule as data: the milestones, a decision function per
milestone and its per-trial state. A backend that runs such rules in one loop
(:meth:`~simulated_backend.backend.SimulatorBackend.run_stopping_rule`) then starts,
decides and stops trials without the calls between Tuner, backend and scheduler that a
trial's life costs otherwise; the trajectory is the same, bit for bit (see
docs/performance.md, "One loop for a stopping rule").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulated_backend.schedulers.protocol import GridConfigs, Trial

Decide = Callable[[float], bool]
"""Records a key at a rung (smaller is better; NaN's key is ``inf``); whether the trial
continues."""


def missed_milestone(trial_id: int, fidelity: Any, milestone: Any) -> ValueError:
    """The error of a trial that reported ``fidelity`` past its next ``milestone`` (the
    rule needs a result at every milestone)."""
    return ValueError(
        f"trial {trial_id} reported fidelity {fidelity} but never its next "
        f"milestone {milestone}; schedulers need a result at every rung level (report "
        "every fidelity of the grid, in increasing order)"
    )


@dataclass(frozen=True, eq=False)
class StoppingRule:
    """What a scheduler's ``on_trial_add``, ``on_trial_result`` and ``suggest`` do, as data.

    The engine applying it does for each trial exactly what the scheduler's methods would:

    - a new trial: ``next_row()`` (its grid row; ``None``: ask ``next_candidate()`` for a
      ``(config, config_index)``, ``None`` again: nothing to start), then
      ``next_milestone[trial_id] = first_milestone``;
    - a result at fidelity ``f`` below ``next_milestone[trial_id]``: continue;
    - at it: ``observe(trial, f, value)`` if given, then ``decide, following = steps[f]``:
      ``decide`` is ``None`` at the max fidelity (stop); otherwise the trial continues
      (``next_milestone[trial_id] = following``) if ``decide(key)`` is true, else it stops
      (and leaves ``next_milestone``). The key: ``value`` when ``minimize``, else
      ``-value``; ``inf`` for NaN.

    ``next_milestone`` is the scheduler's own dict, so the scheduler's state after the run
    is what its methods would have left; a trial that completes or fails is handed to the
    scheduler's ``on_trial_complete`` / ``on_trial_error`` as usual.
    """

    metric: str
    minimize: bool
    first_milestone: Any
    steps: Mapping[Any, tuple[Decide | None, Any]]
    next_milestone: dict[int, Any]
    next_row: Callable[[], int | None]
    next_candidate: Callable[[], tuple[dict[str, Any], int | None] | None]
    observe: Callable[[Trial, Any, float], None] | None
    grid: GridConfigs
