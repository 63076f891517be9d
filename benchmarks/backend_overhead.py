"""Overhead per result of the real backend, against Syne Tune's LocalBackend in the same run.

The objective does nothing (it returns a constant), so the real seconds per result are the
backend's own cost: starting a step, moving it to a worker and back, recording the result,
the scheduler's decision. Random search, 10 fidelity steps per trial, 2 workers (1 for the
serial runner):

- simtune's RealBackend on each runner: ``serial`` (in process), ``processes`` (its own
  worker processes over pipes), ``dask`` (a LocalCluster);
- the peer: Syne Tune 0.16's ``LocalBackend`` (installed by ``scripts/install_peer_extras.sh``),
  its documented way of running real trials: one Python subprocess per trial running the
  training script, which reports each epoch with ``syne_tune.Reporter``; ``sleep_time``
  0.01 s (its default, 5 s, would only make it slower).

Target: every runner >= 10x less overhead per result than the peer.

    python benchmarks/backend_overhead.py            # about a minute
    python benchmarks/backend_overhead.py --quick
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import tempfile
import textwrap
import time
from contextlib import redirect_stdout
from pathlib import Path

import ConfigSpace as CS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulated_backend import StopCriterion, Tuner  # noqa: E402
from simulated_backend.real_backend import RealBackend, make_runner  # noqa: E402
from simulated_backend.schedulers import RandomSearch, SearchSpace  # noqa: E402

N_STEPS = 10
TARGET = 10.0


def no_op(config, fidelity, checkpoint_dir):
    """Nothing but the call."""
    return {"loss": config["x"] / 100}


def simtune_seconds_per_result(kind: str, n_results: int) -> tuple[float, int]:
    n_workers = 1 if kind == "serial" else 2
    space = SearchSpace(CS.ConfigurationSpace(space={"x": (0, 100)}))
    backend = RealBackend(
        make_runner(kind, no_op, n_workers), range(1, N_STEPS + 1), {"loss": "min"}
    )
    try:
        tuner = Tuner(
            RandomSearch(space, "loss", "min", seed=0),
            backend,
            StopCriterion(max_num_results=n_results),
            wait_timeout=0.5,
        )
        started = time.perf_counter()
        run = tuner.run()
        seconds = time.perf_counter() - started
    finally:
        backend.close()
    return seconds / len(run.results), len(run.results)


SYNE_TUNE_SCRIPT = textwrap.dedent(
    """
    import argparse
    from syne_tune import Reporter

    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=int)
    parser.add_argument("--epochs", type=int)
    args, _ = parser.parse_known_args()
    report = Reporter()
    for epoch in range(1, args.epochs + 1):
        report(epoch=epoch, loss=args.x / 100)
    """
)


def syne_tune_seconds_per_result(n_results: int, real_limit: float) -> tuple[float, int]:
    from syne_tune import StoppingCriterion
    from syne_tune import Tuner as SyneTuneTuner
    from syne_tune.backend import LocalBackend
    from syne_tune.config_space import randint
    from syne_tune.optimizer.baselines import RandomSearch as SyneTuneRandomSearch

    logging.getLogger("syne_tune").setLevel(logging.ERROR)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["SYNETUNE_FOLDER"] = folder  # its trial logs go here, removed afterwards
        script = Path(folder) / "no_op_training.py"
        script.write_text(SYNE_TUNE_SCRIPT)
        tuner = SyneTuneTuner(
            trial_backend=LocalBackend(entry_point=str(script)),
            scheduler=SyneTuneRandomSearch(
                {"x": randint(0, 100), "epochs": N_STEPS}, metrics=["loss"], random_seed=0
            ),
            stop_criterion=StoppingCriterion(
                max_num_evaluations=n_results, max_wallclock_time=real_limit
            ),
            n_workers=2,
            sleep_time=0.01,
            start_jobs_without_delay=True,
            save_tuner=False,
            results_update_interval=1e9,
            print_update_interval=1e9,
            tuner_name=f"simtune-overhead-{os.getpid()}",
        )
        started = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            tuner.run()
        seconds = time.perf_counter() - started
        n = tuner.tuning_status.overall_metric_statistics.count
    return seconds / max(n, 1), n


def dask_round_trip_seconds(n: int = 30) -> float:
    """Dask's own latency here: one trivial task submitted and its result awaited."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        client.submit(abs, -1, pure=False).result()
        started = time.perf_counter()
        for k in range(n):
            client.submit(abs, -k, pure=False).result()
        return (time.perf_counter() - started) / n


def syne_tune_available() -> bool:
    try:
        import syne_tune.backend  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer results")
    args = parser.parse_args()
    n_results = 500 if args.quick else 2000
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    peer = None
    if syne_tune_available():
        peer, peer_n = syne_tune_seconds_per_result(
            100 if args.quick else 300, 30.0 if args.quick else 90.0
        )
        print(
            f"Syne Tune 0.16 LocalBackend (2 workers): {peer * 1e3:.1f} ms per result "
            f"({peer_n} results)"
        )
    else:
        print("Syne Tune is not installed (bash scripts/install_peer_extras.sh): no peer figure")
    for kind in ("serial", "processes", "dask"):
        seconds, n = simtune_seconds_per_result(
            kind, n_results if kind != "dask" else n_results // 4
        )
        line = f"simtune RealBackend, {kind:<9} runner: {seconds * 1e3:7.2f} ms per result ({n} results)"
        if peer is not None:
            ratio = peer / seconds
            verdict = "met" if ratio >= TARGET else "MISSED"
            line += f"; {ratio:,.0f}x less than Syne Tune (target >= {TARGET:g}x: {verdict})"
        print(line, flush=True)
    print(
        f"for reference, Dask's own round trip for one trivial task here: "
        f"{dask_round_trip_seconds() * 1e3:.1f} ms"
    )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
