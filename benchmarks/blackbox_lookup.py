"""Load and lookup speed of a NAS-Bench-201-shaped tabular blackbox, against Syne Tune.

The blackbox has NAS-Bench-201's shape: 15,625 configurations (6 categorical edges with 5
operations each) x 200 epochs x 3 seeds x 3 float32 objectives; the values are synthetic.
It is written in simtune's format into a temporary cache, then each figure is measured in
a fresh process, so the OS page cache is warm but the Python process is not:

- warm load: ``load_blackbox`` with an explicit recipe from the warm cache (median of runs);
- first lookup: the first ``lookup`` after loading (the dense row table, where a grid has
  one, is built by the load);
- scalar lookup: ``lookup(config_dict, fidelity, seed)`` per call, 100,000 calls per pass
  over 10,000 config dicts; the best of 5 passes, each over the same config dicts in the
  same order at cells drawn afresh (the first pass alone, the figure before, is printed
  too: one pass is at the mercy of whatever else runs on the machine);
- index lookup: ``lookup_index(config, fidelity, seed)`` per call (the engine's hot path),
  the same passes and statistic;
- batch lookup: ``lookup_batch`` per row, for a million rows;
- peak RSS of a process after imports, after loading, and after all the lookups above
  (the last includes the benchmark's own query lists and the million-row batch);
- shared memory: the proportional set size (PSS, from /proc/<pid>/smaps_rollup) of 8
  processes that each load the blackbox and read every value, minus that of 8 processes
  that only import, against the same for 1 process (PSS splits a page shared by k
  processes k ways, so memory-mapped values count once however many processes map them).

Where ``syne_tune`` is importable, the same data goes through Syne Tune's ``BlackboxTabular``,
serialized with its own ``serialize`` and read with ``deserialize``, looked up with
``objective_function``, in the same run, and the ratios are printed.

Targets (issue 15): warm load <= 0.05 s with integrity checked; peak RSS after load <= 1/3
of Syne Tune's; 8 loading processes use <= 1.5x the memory of one; scalar lookup by config
dict <= 2 us; first lookup after load <= 1 ms.

    python benchmarks/blackbox_lookup.py [--loads 5] [--lookups 100000] [--processes 8]
                                         [--only-simtune]

``--only-simtune`` measures simtune's load and lookups only (no Syne Tune, no shared-memory
processes): a quick check of the load and lookup targets while working on them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_EPOCHS = 200
N_SEEDS = 3
EDGES = ("1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2")
OPERATIONS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
OBJECTIVES = ("valid_error", "train_loss", "elapsed_time")
NAME = "synthetic-nasbench201"
SYNE_TUNE_TASK = "synthetic"
SCALAR_TARGET_US = 2.0
SCALAR_PASSES = 5  # scalar lookups: the best of this many passes (see measure_simtune)
LOAD_TARGET_S = 0.05
FIRST_LOOKUP_TARGET_S = 1e-3
RSS_TARGET_FRACTION_OF_PEER = 1 / 3
SHARED_MEMORY_TARGET_RATIO = 1.5


# --------------------------------------------------------------------- the data
def synthetic_grid():
    """(configurations DataFrame, values array of shape (configs, epochs, seeds, objectives))."""
    import numpy as np
    import pandas as pd

    rows = list(itertools.product(OPERATIONS, repeat=len(EDGES)))
    configurations = pd.DataFrame(rows, columns=list(EDGES))
    rng = np.random.default_rng(0)
    shape = (len(rows), N_EPOCHS, N_SEEDS)
    final_error = rng.uniform(0.05, 0.9, (len(rows), 1, N_SEEDS))
    decay = np.exp(-np.arange(1, N_EPOCHS + 1) / 30.0)[None, :, None]
    valid_error = final_error + (1 - final_error) * decay + rng.normal(0, 0.01, shape)
    train_loss = 2.3 * decay + rng.normal(0, 0.02, shape)
    epoch_seconds = rng.uniform(5, 60, (len(rows), 1, N_SEEDS))
    elapsed_time = epoch_seconds * np.arange(1, N_EPOCHS + 1)[None, :, None]
    values = np.stack([valid_error, train_loss, elapsed_time], axis=-1).astype(np.float32)
    return configurations, values


def simtune_blackbox():
    from ConfigSpace import Categorical, ConfigurationSpace

    from blackbox_repository import Objective, TabularBlackbox

    configurations, values = synthetic_grid()
    return TabularBlackbox(
        name=NAME,
        configuration_space=ConfigurationSpace(
            {edge: Categorical(edge, OPERATIONS) for edge in EDGES}
        ),
        configurations=configurations,
        fidelity_name="epoch",
        fidelity_values=list(range(1, N_EPOCHS + 1)),
        seeds=list(range(N_SEEDS)),
        objectives=[Objective(name, "min") for name in OBJECTIVES],
        elapsed_time_objective="elapsed_time",
        values=values,
        description="NAS-Bench-201-shaped synthetic values (benchmark only)",
    )


def _never_convert(name: str, raw_dir: Path):
    raise RuntimeError(f"{name} must be read from the warm cache, not converted")


def benchmark_recipe(convert=_never_convert):
    from blackbox_repository.recipes import Recipe

    return Recipe(family="benchmark", names=(NAME,), raw_files=(), convert=convert)


def write_simtune_cache(cache_dir: Path) -> None:
    from blackbox_repository import convert_blackbox

    recipe = benchmark_recipe(convert=lambda name, raw_dir: simtune_blackbox())
    convert_blackbox(NAME, cache_dir=cache_dir, raw_data_dir=cache_dir, recipe=recipe)


def syne_tune_blackbox():
    """The same grid as Syne Tune's BlackboxTabular (its axes: config, seed, epoch, objective)."""
    import numpy as np
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
    from syne_tune.config_space import choice, randint

    configurations, values = synthetic_grid()
    return BlackboxTabular(
        hyperparameters=configurations,
        configuration_space={edge: choice(list(OPERATIONS)) for edge in EDGES},
        fidelity_space={"epoch": randint(1, N_EPOCHS)},
        objectives_evaluations=np.ascontiguousarray(values.transpose(0, 2, 1, 3)),
        fidelity_values=np.arange(1, N_EPOCHS + 1),
        objectives_names=list(OBJECTIVES),
    )


def write_syne_tune_files(path: Path) -> None:
    from syne_tune.blackbox_repository.blackbox_tabular import serialize

    serialize({SYNE_TUNE_TASK: syne_tune_blackbox()}, str(path))


# --------------------------------------------------------------------- measuring (child)
def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB.

    Not ``getrusage``'s ru_maxrss: Linux carries that over exec from the parent, so a child
    of a big parent would report the parent's peak.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (this script measures memory on Linux)")


def _queries(n_configs: int, n: int, draw: int = 0):
    """Random (configs, fidelity positions, seed positions); draw 0 is the benchmark's
    original draw."""
    import numpy as np

    rng = np.random.default_rng(1 + draw)
    return (
        rng.integers(0, n_configs, n),
        rng.integers(0, N_EPOCHS, n),
        rng.integers(0, N_SEEDS, n),
    )


def measure_simtune(cache_dir: Path, n_lookups: int) -> dict[str, float]:
    import numpy as np

    from blackbox_repository import load_blackbox

    recipe = benchmark_recipe()
    baseline_rss = _peak_rss_mb()
    start = time.perf_counter()
    bb = load_blackbox(NAME, cache_dir=cache_dir, recipe=recipe, s3_mirror=None)
    load_seconds = time.perf_counter() - start
    loaded_rss = _peak_rss_mb()

    configs, fidelities, seeds = _queries(bb.n_configurations, n_lookups)
    config_dicts = [bb.configuration(i) for i in configs[:10_000]]
    start = time.perf_counter()
    bb.lookup(config_dicts[0], fidelity=int(fidelities[0]) + 1, seed=int(seeds[0]))
    first_lookup_seconds = time.perf_counter() - start

    # Each pass looks up the same config dicts, in the same order, at cells drawn afresh
    # (the first pass's draw is the one a single pass used): a repeated draw would find
    # its cells in the CPU cache. The figure is the best pass, as timeit advises; the
    # first pass alone, the old figure, is reported too.
    scalar_passes, index_passes = [], []
    for draw in range(SCALAR_PASSES):
        if draw:
            _, fidelities, seeds = _queries(bb.n_configurations, n_lookups, draw)
        queries = [
            (config_dicts[k % len(config_dicts)], int(fidelities[k]) + 1, int(seeds[k]))
            for k in range(n_lookups)
        ]
        start = time.perf_counter()
        for config, fidelity, seed in queries:
            bb.lookup(config, fidelity, seed)
        scalar_passes.append((time.perf_counter() - start) / n_lookups * 1e6)

        index_queries = list(zip(configs.tolist(), fidelities.tolist(), seeds.tolist()))
        start = time.perf_counter()
        for c, f, s in index_queries:
            bb.lookup_index(c, f, s)
        index_passes.append((time.perf_counter() - start) / n_lookups * 1e6)
        del queries, index_queries  # one pass's lists at a time (peak RSS)

    n_batch = 1_000_000
    batch_configs, batch_fidelities, batch_seeds = _queries(bb.n_configurations, n_batch)
    start = time.perf_counter()
    batch = bb.lookup_batch(batch_configs, batch_fidelities, batch_seeds)
    batch_ns = (time.perf_counter() - start) / n_batch * 1e9
    assert batch.shape == (n_batch, len(OBJECTIVES)) and np.isfinite(batch).all()
    return {
        "load_s": load_seconds,
        "first_lookup_s": first_lookup_seconds,
        "scalar_us": min(scalar_passes),
        "scalar_first_pass_us": scalar_passes[0],
        "index_us": min(index_passes),
        "batch_ns_per_row": batch_ns,
        "baseline_rss_mb": baseline_rss,
        "loaded_rss_mb": loaded_rss,
        "peak_rss_mb": _peak_rss_mb(),
    }


def measure_syne_tune(path: Path | None, n_lookups: int) -> dict[str, float]:
    """Syne Tune's figures; with ``path`` None, lookups only, on an in-memory blackbox."""
    from syne_tune.blackbox_repository.blackbox_tabular import deserialize

    baseline_rss = _peak_rss_mb()
    start = time.perf_counter()
    bb = deserialize(str(path))[SYNE_TUNE_TASK] if path else syne_tune_blackbox()
    load_seconds = time.perf_counter() - start
    loaded_rss = _peak_rss_mb()

    n_configs = len(bb.hyperparameters)
    configs, fidelities, seeds = _queries(n_configs, n_lookups)
    rows = bb.hyperparameters.to_dict("records")
    start = time.perf_counter()
    bb.objective_function(rows[configs[0]], fidelity={"epoch": int(fidelities[0]) + 1}, seed=0)
    first_lookup_seconds = time.perf_counter() - start

    # pandas lookups are slow: time a tenth as many calls, split into the same passes
    n_scalar = max(1_000, n_lookups // 10) // SCALAR_PASSES
    scalar_passes = []
    for draw in range(SCALAR_PASSES):
        if draw:
            _, fidelities, seeds = _queries(n_configs, n_lookups, draw)
        queries = [
            (rows[int(configs[k])], {"epoch": int(fidelities[k]) + 1}, int(seeds[k]))
            for k in range(n_scalar)
        ]
        start = time.perf_counter()
        for config, fidelity, seed in queries:
            bb.objective_function(config, fidelity=fidelity, seed=seed)
        scalar_passes.append((time.perf_counter() - start) / n_scalar * 1e6)
        del queries
    figures = {
        "first_lookup_s": first_lookup_seconds,
        "scalar_us": min(scalar_passes),
        "scalar_first_pass_us": scalar_passes[0],
    }
    if path:  # building the grid in memory is neither a load nor a fair memory figure
        figures.update(
            load_s=load_seconds,
            baseline_rss_mb=baseline_rss,
            loaded_rss_mb=loaded_rss,
            peak_rss_mb=_peak_rss_mb(),
        )
    return figures


def _pss_mb(pid: int | str = "self") -> float:
    """Proportional set size of a process, in MB (Linux)."""
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no Pss in /proc/{pid}/smaps_rollup")


def hold_loaded(cache_dir: Path | None) -> None:
    """Import (and load and read every value, if ``cache_dir``), say so, wait for stdin EOF."""
    import numpy as np

    from blackbox_repository import load_blackbox

    if cache_dir is not None:
        bb = load_blackbox(NAME, cache_dir=cache_dir, recipe=benchmark_recipe(), s3_mirror=None)
        total = float(np.sum(bb.values, dtype=np.float64))  # touches every page
        assert total == total or np.isnan(bb.values).any()
    print("ready", flush=True)
    sys.stdin.read()


def _total_pss_mb(cache_dir: Path | None, n_processes: int) -> float:
    """Summed PSS of ``n_processes`` processes holding the blackbox (or only the imports)."""
    location = ["--path", str(cache_dir)] if cache_dir is not None else []
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", "hold", *location],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(n_processes)
    ]
    try:
        for child in children:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("a memory-measuring child failed; run it alone to see why")
        return sum(_pss_mb(child.pid) for child in children)
    finally:
        for child in children:
            child.stdin.close()
            child.wait(timeout=60)


def measure_shared_memory(cache_dir: Path, n_processes: int) -> dict[str, float]:
    """Memory the loaded blackbox adds to 1 and to ``n_processes`` processes (PSS, MB)."""
    one = _total_pss_mb(cache_dir, 1) - _total_pss_mb(None, 1)
    many = _total_pss_mb(cache_dir, n_processes) - _total_pss_mb(None, n_processes)
    return {"pss_one_mb": one, "pss_many_mb": many, "pss_ratio": many / one}


# --------------------------------------------------------------------- driving (parent)
def _child(kind: str, path: Path | None, n_lookups: int) -> dict[str, float]:
    location = ["--path", str(path)] if path else []
    completed = subprocess.run(
        [sys.executable, __file__, "--child", kind, *location, "--lookups", str(n_lookups)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{kind} measurement failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _median_runs(kind: str, path: Path | None, n_loads: int, n_lookups: int) -> dict[str, float]:
    runs = [_child(kind, path, n_lookups) for _ in range(n_loads)]
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def syne_tune_available() -> str | None:
    """None if Syne Tune's tabular blackbox can be used, else the reason it cannot."""
    try:
        import syne_tune.blackbox_repository.blackbox_tabular  # noqa: F401
    except ImportError as error:
        return f"syne_tune not importable ({error})"
    return None


ROWS = (
    ("warm load (median)", "load_s", 1.0, "s"),
    ("first lookup after load", "first_lookup_s", 1e3, "ms"),
    ("scalar lookup(config dict)", "scalar_us", 1.0, "us"),
    ("  first pass (old figure)", "scalar_first_pass_us", 1.0, "us"),
    ("scalar lookup_index", "index_us", 1.0, "us"),
    ("vectorized lookup_batch", "batch_ns_per_row", 1.0, "ns/row"),
    ("RSS after imports", "baseline_rss_mb", 1.0, "MB"),
    ("peak RSS after load", "loaded_rss_mb", 1.0, "MB"),
    ("peak RSS (load + lookups)", "peak_rss_mb", 1.0, "MB"),
)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_targets(ours: dict[str, float], peer: dict[str, float] | None, shared) -> None:
    """One line per target of issue 15, with "met" or "MISSED" (``shared`` None: the memory
    targets were not measured, --only-simtune)."""
    print("\ntargets:")
    print(
        f"  warm load (integrity checked) {ours['load_s'] * 1e3:.1f} ms <= "
        f"{LOAD_TARGET_S * 1e3:.0f} ms: {_verdict(ours['load_s'] <= LOAD_TARGET_S)}"
    )
    if peer is not None and "loaded_rss_mb" in peer:
        limit = peer["loaded_rss_mb"] * RSS_TARGET_FRACTION_OF_PEER
        print(
            f"  peak RSS after load {ours['loaded_rss_mb']:.0f} MB <= 1/3 of Syne Tune's "
            f"{peer['loaded_rss_mb']:.0f} MB ({limit:.0f} MB): "
            f"{_verdict(ours['loaded_rss_mb'] <= limit)}"
        )
    elif shared is not None:  # a full run (not --only-simtune) without Syne Tune
        print("  peak RSS after load vs Syne Tune: not measured (Syne Tune unavailable): MISSED")
    if shared is not None:
        print(
            f"  {shared['n']} loading processes use {shared['pss_many_mb']:.1f} MB, 1 uses "
            f"{shared['pss_one_mb']:.1f} MB (PSS): {shared['pss_ratio']:.2f}x <= "
            f"{SHARED_MEMORY_TARGET_RATIO}x: {_verdict(shared['pss_ratio'] <= SHARED_MEMORY_TARGET_RATIO)}"
        )
    print(
        f"  scalar lookup(config dict) {ours['scalar_us']:.2f} us (best of {SCALAR_PASSES} "
        f"passes; first pass {ours['scalar_first_pass_us']:.2f} us) <= {SCALAR_TARGET_US} us: "
        f"{_verdict(ours['scalar_us'] <= SCALAR_TARGET_US)}"
    )
    print(
        f"  first lookup after load {ours['first_lookup_s'] * 1e3:.3f} ms <= "
        f"{FIRST_LOOKUP_TARGET_S * 1e3:.0f} ms: "
        f"{_verdict(ours['first_lookup_s'] <= FIRST_LOOKUP_TARGET_S)}"
    )


def print_table(
    ours: dict[str, float], peer: dict[str, float] | None, peer_note: str | None
) -> None:
    header = f"{'figure':<28} {'simtune':>12} {'Syne Tune':>12} {'ST / simtune':>13}"
    print(header)
    print("-" * len(header))
    for label, key, scale, unit in ROWS:
        mine = f"{ours[key] * scale:.3g} {unit}"
        if peer is not None and key in peer:
            theirs = f"{peer[key] * scale:.3g} {unit}"
            ratio = f"{peer[key] / ours[key]:.1f}x" if ours[key] > 0 else "-"
        else:
            theirs, ratio = "n/a", "-"
        print(f"{label:<28} {mine:>12} {theirs:>12} {ratio:>13}")
    if peer_note:
        print(f"Syne Tune: {peer_note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5, help="fresh processes per system")
    parser.add_argument("--lookups", type=int, default=100_000, help="scalar lookups per process")
    parser.add_argument(
        "--processes", type=int, default=8, help="processes sharing one loaded blackbox"
    )
    parser.add_argument(
        "--only-simtune",
        action="store_true",
        help="simtune's load and lookups only (no Syne Tune, no shared-memory processes)",
    )
    parser.add_argument("--child", choices=("simtune", "syne_tune", "hold"), help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "simtune":
        print(json.dumps(measure_simtune(args.path, args.lookups)))
        return 0
    if args.child == "syne_tune":
        print(json.dumps(measure_syne_tune(args.path, args.lookups)))
        return 0
    if args.child == "hold":
        hold_loaded(args.path)
        return 0

    with tempfile.TemporaryDirectory(prefix="simtune-lookup-bench-") as tmp:
        cache_dir = Path(tmp) / "cache"
        start = time.perf_counter()
        write_simtune_cache(cache_dir)
        print(f"wrote {NAME} into {cache_dir} in {time.perf_counter() - start:.1f} s")
        _child("simtune", cache_dir, 1_000)  # warms the OS page cache
        ours = _median_runs("simtune", cache_dir, args.loads, args.lookups)
        if args.only_simtune:
            shared, peer, peer_note = None, None, "not measured (--only-simtune)"
        else:
            shared = {"n": args.processes, **measure_shared_memory(cache_dir, args.processes)}
            peer, peer_note = None, syne_tune_available()
        if peer_note is None:
            syne_tune_dir = Path(tmp) / "syne_tune"
            try:
                write_syne_tune_files(syne_tune_dir)
            except ImportError as error:  # its serialize needs fastparquet
                syne_tune_dir = None
                reason = str(error).split(".")[0]
                peer_note = (
                    f"its serialize failed ({reason}); load and RSS not measured, "
                    "lookups measured on a BlackboxTabular built in memory"
                )
            else:
                _child("syne_tune", syne_tune_dir, 1_000)
            peer = _median_runs("syne_tune", syne_tune_dir, args.loads, args.lookups)
        print(
            f"\n{len(OPERATIONS) ** len(EDGES):,} configs x {N_EPOCHS} epochs x {N_SEEDS} seeds x "
            f"{len(OBJECTIVES)} float32 objectives; medians of {args.loads} fresh processes\n"
        )
        print_table(ours, peer, peer_note)
        print_targets(ours, peer, shared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
