"""Training functions for the real-backend tests (module level: worker processes import them)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path


def counting_objective(config, fidelity, checkpoint_dir, offset=0.0):
    """Trains one "epoch" per fidelity step from its checkpoint and logs every epoch it trains.

    ``loss`` falls with the epoch and grows with ``x``; ``offset`` is shared data.
    """
    state_file = Path(checkpoint_dir) / "state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"epoch": 0}
    with open(Path(checkpoint_dir) / "trained_epochs.log", "a") as log:
        for epoch in range(state["epoch"] + 1, int(fidelity) + 1):
            time.sleep(config.get("sleep", 0.0))
            log.write(f"{epoch}\n")
    state["epoch"] = int(fidelity)
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, state_file)
    return {"loss": offset + config["x"] / 10 + 1.0 / int(fidelity)}


def misbehaving_objective(config, fidelity, checkpoint_dir):
    """Fails at fidelity 2 the way ``config['failure']`` says; succeeds otherwise."""
    failure = config.get("failure", "none")
    if int(fidelity) == 2:
        if failure == "raise":
            raise ValueError(f"diverged at x={config['x']}")
        if failure == "sleep":
            time.sleep(30)
        if failure == "memory":
            blocks = []
            for _ in range(64):
                blocks.append(bytearray(64 << 20))
        if failure == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
    return {"loss": config["x"] / 10 + 1.0 / int(fidelity)}


def no_op_objective(config, fidelity, checkpoint_dir):
    """Nothing but the call: measures a backend's overhead per result."""
    return {"loss": 0.0}
