"""The peer of ``simulator_throughput.py``: Syne Tune 0.16's simulator on the same blackbox.

``UserBlackboxBackend`` + ``SimulatorCallback``, its documented setup, with result files and
status printing switched off so it spends its time simulating; runs are cut after a number
of real seconds (its results per second are what it reached, and its cost per result over
its first and last 1,000 results shows how it grows).
"""

from __future__ import annotations

import gc
import io
import time
from contextlib import redirect_stdout
from dataclasses import dataclass

import numpy as np
from simulator_workload import METRIC, N_EPOCHS, Measured

from blackbox_repository import TabularBlackbox


# ---------------------------------------------------------------------- Syne Tune runs
def syne_tune_available() -> bool:
    try:
        import syne_tune  # noqa: F401
    except ImportError:
        return False
    return True


def syne_tune_scheduler(kind: str, config_space: dict, blackbox: TabularBlackbox, seed: int):
    from syne_tune.optimizer.baselines import ASHA as SyneTuneASHA
    from syne_tune.optimizer.baselines import RandomSearch as SyneTuneRandomSearch

    if kind == "random_search":
        return SyneTuneRandomSearch(
            config_space, metrics=[METRIC], do_minimize=True, random_seed=seed
        )
    # ASHA and BOHB take the same multi-fidelity arguments
    multi_fidelity = SyneTuneASHA
    if kind == "bohb":
        from syne_tune.optimizer.baselines import BOHB as multi_fidelity
    return multi_fidelity(
        config_space,
        metric=METRIC,
        time_attr="epoch",
        max_t=int(blackbox.max_fidelity),
        grace_period=int(blackbox.min_fidelity),
        reduction_factor=3,
        do_minimize=True,
        random_seed=seed,
    )


@dataclass(frozen=True)
class SyneTuneMeasured:
    measured: Measured
    first_1k_ms: float  # real ms per result over its first 1,000 results
    last_1k_ms: float  # ... over its last 1,000 results
    cut_by_real_time: bool


def time_syne_tune(
    kind, blackbox, st_blackbox, config_space, n_workers, budget, real_limit, seed=0
):
    from syne_tune import StoppingCriterion
    from syne_tune import Tuner as SyneTuneTuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend
    from syne_tune.tuner_callback import TunerCallback as SyneTuneCallback

    class RealTimeLimit(SyneTuneCallback):
        """Stops the run after ``real_limit`` real seconds and clocks every result."""

        def __init__(self) -> None:
            self.stamps: list[float] = []
            self.cut = False

        def on_tuning_start(self, tuner) -> None:
            deadline = time.perf_counter() + real_limit
            simulated_stop = tuner.stop_criterion  # SimulatorCallback's, on simulated time

            def stop(status) -> bool:
                if time.perf_counter() > deadline:
                    self.cut = True
                    return True
                return simulated_stop(status)

            tuner.stop_criterion = stop

        def on_trial_result(self, trial, status, result, decision) -> None:
            self.stamps.append(time.perf_counter())

    np.random.seed(seed)  # Syne Tune's random search draws from numpy's global generator
    backend = UserBlackboxBackend(blackbox=st_blackbox, elapsed_time_attr="elapsed_time", seed=0)
    limit = RealTimeLimit()
    simulator_callback = SimulatorCallback()
    tuner = SyneTuneTuner(
        trial_backend=backend,
        scheduler=syne_tune_scheduler(kind, config_space, blackbox, seed),
        stop_criterion=StoppingCriterion(max_wallclock_time=budget),
        n_workers=n_workers,
        sleep_time=0,
        callbacks=[simulator_callback, limit],
        save_tuner=False,
        results_update_interval=1e9,
        print_update_interval=1e9,
    )
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    with redirect_stdout(io.StringIO()):
        tuner.run()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    stamps = np.asarray(limit.stamps)
    n = len(stamps)
    k = min(1000, n - 1)
    first = (stamps[k] - stamps[0]) / k * 1e3 if k > 0 else float("nan")
    last = (stamps[-1] - stamps[-1 - k]) / k * 1e3 if k > 0 else float("nan")
    simulated = backend.time_keeper.time()
    return SyneTuneMeasured(Measured(n, seconds, cpu_seconds, simulated), first, last, limit.cut)


def syne_tune_blackbox(blackbox: TabularBlackbox):
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
    from syne_tune.config_space import randint

    from simulated_backend.schedulers.syne_tune_adapter import syne_tune_config_space

    config_space = syne_tune_config_space(blackbox)
    st_blackbox = BlackboxTabular(
        hyperparameters=blackbox.configurations,
        configuration_space=config_space,
        fidelity_space={"epoch": randint(1, N_EPOCHS)},
        objectives_evaluations=np.ascontiguousarray(blackbox.values.transpose(0, 2, 1, 3)),
        fidelity_values=blackbox.fidelity_values,
        objectives_names=list(blackbox.objective_names),
    )
    return st_blackbox, config_space
