"""A real run on worker processes that prints each result; the Ctrl-C test interrupts it.

python interruptible_run.py RESULTS_DIR CHECKPOINT_DIR
"""

from __future__ import annotations

import sys

from simulated_backend import StopCriterion, Tuner, TunerCallback
from simulated_backend.real_backend import ProcessRunner, RealBackend
from tests.simulated_backend.engine_fixtures import ScriptedScheduler
from tests.simulated_backend.real_backend.real_objectives import counting_objective


class PrintResults(TunerCallback):
    def __init__(self, runner: ProcessRunner) -> None:
        self.runner = runner

    def on_tuning_start(self, tuner) -> None:
        print("workers", *self.runner.worker_pids(), flush=True)

    def on_trial_result(self, trial, result, decision) -> None:
        print("result", trial.trial_id, result["fidelity"], flush=True)


class SlowScheduler(ScriptedScheduler):
    def suggest(self):
        suggestion = super().suggest()
        if suggestion is not None and suggestion.config is not None:
            suggestion = type(suggestion).start({**suggestion.config, "sleep": 0.3})
        return suggestion


def main() -> int:
    results_dir, checkpoint_dir = sys.argv[1], sys.argv[2]
    runner = ProcessRunner(counting_objective, n_workers=2)
    backend = RealBackend(runner, range(1, 31), {"loss": "min"}, checkpoint_dir=checkpoint_dir)
    tuner = Tuner(
        SlowScheduler(40, stop_above=5.0, pause=False),
        backend,
        StopCriterion(max_wallclock_time=600),
        results_dir=results_dir,
        callbacks=[PrintResults(runner)],
        wait_timeout=0.05,
    )
    try:
        tuner.run()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
