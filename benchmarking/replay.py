"""Replaying a tabular blackbox on real workers: the objective behind ``simtune validate``.

:func:`replay_step` is a real-backend objective that *sleeps* the recorded runtime of a
configuration's next fidelity step, scaled to real time, and returns the recorded
metrics there. Run on the real backend with real worker processes, it is what the
simulator claims to simulate, so the two runs can be compared result by result
(:mod:`benchmarking.validation`).

:func:`stretched_blackbox` multiplies a blackbox's recorded runtimes so that its median
fidelity step takes a given number of simulated seconds: the sklearn MLP's steps take
about 12 ms, far below what sleeping processes can reproduce once scaled down.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blackbox_repository import TabularBlackbox
from simulated_backend.real_backend.trial_step import StepInfo

STATE_FILE = "replay_position.json"


@dataclass(frozen=True)
class ReplaySource:
    """What every replay call needs (scattered to the workers once).

    Args:
        blackbox: the (stretched) tabular blackbox replayed.
        seed_index: the recorded seed every trial replays (the simulator's ``blackbox_seed``).
        time_scale: real seconds per simulated second.
    """

    blackbox: TabularBlackbox
    seed_index: int
    time_scale: float


def replay_step(
    config: dict[str, Any],
    fidelity: Any,
    checkpoint_dir: str,
    replay: ReplaySource,
    step: StepInfo | None = None,
) -> dict[str, float]:
    """Sleep the scaled recorded time from the trial's checkpoint to ``fidelity``; return
    the recorded metrics at ``fidelity``.

    The checkpoint holds the position reached so far, so a resumed trial sleeps only the
    remaining time, as the simulator charges it. The step ends at a deadline measured
    from where the simulator's model starts it: the trial's previous (intended) report
    time for a continued step, the submission for a started or resumed one. So neither
    the real backend's decision round trip nor a late wake-up accumulates along a trial:
    what remains is the scheduling jitter of a single step.
    """
    now = time.time()
    blackbox = replay.blackbox
    config_index = blackbox.config_index(config)
    position = blackbox.fidelity_index(fidelity)
    state_file = Path(checkpoint_dir) / STATE_FILE
    state = json.loads(state_file.read_text()) if state_file.exists() else {"position": -1}
    reached = state["position"]
    curve = blackbox.values[config_index, :, replay.seed_index, :]
    elapsed = blackbox.elapsed_time_index
    done = float(curve[reached, elapsed]) if reached >= 0 else 0.0
    seconds = max(float(curve[position, elapsed]) - done, 0.0) * replay.time_scale
    if step is not None and step.continued and "deadline" in state:
        anchor = state["deadline"]
    elif step is not None:
        anchor = step.submitted_at
    else:
        anchor = now
    deadline = anchor + seconds
    remaining = deadline - time.time()
    if remaining > 0:
        time.sleep(remaining)
    tmp = state_file.with_name(STATE_FILE + ".tmp")
    tmp.write_text(json.dumps({"position": position, "deadline": deadline}))
    os.replace(tmp, state_file)
    return {name: float(value) for name, value in zip(blackbox.objective_names, curve[position])}


def stretched_blackbox(blackbox: TabularBlackbox, median_step_seconds: float) -> TabularBlackbox:
    """A copy whose elapsed times are multiplied so the median step lasts ``median_step_seconds``."""
    elapsed = blackbox.values[..., blackbox.elapsed_time_index]
    steps = np.diff(elapsed, axis=1, prepend=0.0)
    median = float(np.nanmedian(steps[steps > 0]))
    values = np.array(blackbox.values, dtype=np.float64, copy=True)
    values[..., blackbox.elapsed_time_index] *= median_step_seconds / median
    return TabularBlackbox(
        name=blackbox.name,
        configuration_space=blackbox.configuration_space,
        configurations=blackbox.configurations,
        fidelity_name=blackbox.fidelity_name,
        fidelity_values=blackbox.fidelity_values,
        seeds=blackbox.seeds,
        objectives=blackbox.objectives,
        elapsed_time_objective=blackbox.objective_names[blackbox.elapsed_time_index],
        values=values,
    )
