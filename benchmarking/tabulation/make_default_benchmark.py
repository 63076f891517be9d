"""Regenerate simtune's embedded benchmarks by collecting real MLP trainings on Dask.

Run from anywhere (about 10 minutes on 2 cores)::

    python -m benchmarking.tabulation.make_default_benchmark --force

It samples the configurations with a fixed seed, trains every (configuration, seed) on a
Dask LocalCluster (dumps kept in ``--dump-dir``, so an interrupted run resumes), collates
the dumps and writes each entry to ``blackbox_repository/embedded/<name>/``, which
``load_blackbox(name)`` reads without raw files or network.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import blackbox_repository
from benchmarking.tabulation.collator import collate_task
from benchmarking.tabulation.collection import CollectionSummary, collect
from benchmarking.tabulation.sklearn_objectives import (
    MLP_METRICS,
    SPLIT_SEED,
    load_split,
    mlp_learning_curve,
    mlp_search_space,
)
from benchmarking.tabulation.task import LEARNING_CURVE, TabulationTask, sample_configurations
from blackbox_repository.cache import default_cache_root
from blackbox_repository.file_format import write_blackbox

CONFIGURATION_SEED = 0
DEFAULT_N_CONFIGURATIONS = 300
DEFAULT_EPOCHS = 30
DEFAULT_SEEDS = (0, 1, 2)
EMBEDDED_DIR = Path(blackbox_repository.__file__).resolve().parent / "embedded"


@dataclass(frozen=True)
class EmbeddedBenchmark:
    """One embedded benchmark: its blackbox name and the scikit-learn dataset it trains on."""

    name: str
    dataset: str
    data_description: str


EMBEDDED_BENCHMARKS = {
    b.name: b
    for b in (
        EmbeddedBenchmark(
            "sklearn-mlp-digits",
            "digits",
            "sklearn.datasets.load_digits (1,797 8x8 images of handwritten digits, 10 classes)",
        ),
        EmbeddedBenchmark(
            "sklearn-mlp-breast-cancer",
            "breast_cancer",
            "sklearn.datasets.load_breast_cancer (569 samples, 30 features, 2 classes)",
        ),
    )
}


def embedded_task(
    benchmark: EmbeddedBenchmark,
    *,
    n_configurations: int = DEFAULT_N_CONFIGURATIONS,
    epochs: int = DEFAULT_EPOCHS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
) -> TabulationTask:
    """The tabulation task of one embedded benchmark."""
    space = mlp_search_space()
    split = load_split(benchmark.dataset)
    description = (
        f"scikit-learn MLPClassifier trained with partial_fit (one epoch per call) on "
        f"{benchmark.data_description}; stratified split train/valid/test = "
        f"{len(split.y_train)}/{len(split.y_valid)}/{len(split.y_test)} (split seed "
        f"{SPLIT_SEED}), features standardized on the training part. {n_configurations} "
        f"configurations sampled from the search space with seed {CONFIGURATION_SEED}; "
        f"seeds set the network's initialization and shuffling. elapsed_time: cumulative "
        "seconds measured with time.perf_counter around partial_fit only."
    )
    return TabulationTask(
        name=benchmark.name,
        objective=functools.partial(mlp_learning_curve, dataset=benchmark.dataset),
        objective_kind=LEARNING_CURVE,
        configuration_space=space,
        configurations=sample_configurations(space, n_configurations, seed=CONFIGURATION_SEED),
        fidelity_name="epoch",
        fidelity_values=range(1, epochs + 1),
        seeds=seeds,
        metrics=MLP_METRICS,
        description=description,
    )


def collection_note(summary: CollectionSummary) -> str:
    """One sentence on how the collection ran, stored in the blackbox description."""
    if summary.n_evaluated + summary.n_failed == 0:
        return f"Every evaluation was reused from an earlier collection: {summary}."
    return (
        f"Collected on a Dask cluster of {summary.n_workers} workers "
        f"(os.cpu_count()={os.cpu_count()}): {summary}."
    )


def install_entry(staged: Path, entry: Path) -> Path:
    """Make the written folder ``staged`` the entry ``entry``, replacing an old one by renames."""
    trash = entry.with_name(f".trash-{entry.name}-{uuid.uuid4().hex[:8]}")
    if entry.exists():
        os.rename(entry, trash)
    os.rename(staged, entry)
    shutil.rmtree(trash, ignore_errors=True)
    return entry


def directory_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--benchmarks",
        nargs="+",
        default=["sklearn-mlp-digits"],
        choices=sorted(EMBEDDED_BENCHMARKS),
        help="benchmarks to regenerate (collected together on one cluster)",
    )
    parser.add_argument(
        "--dump-dir",
        type=Path,
        default=default_cache_root() / "tabulation-dumps",
        help="dump folder; re-running with the same one resumes (default: in the simtune cache)",
    )
    parser.add_argument("--output-dir", type=Path, default=EMBEDDED_DIR)
    parser.add_argument("--n-configurations", type=int, default=DEFAULT_N_CONFIGURATIONS)
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--n-workers", type=int, default=2)
    parser.add_argument(
        "--scheduler-address",
        default=None,
        help="a running Dask scheduler instead of a LocalCluster",
    )
    parser.add_argument(
        "--allow-missing", action="store_true", help="keep failed evaluations as NaN"
    )
    parser.add_argument("--force", action="store_true", help="replace existing entries")
    parser.add_argument("--progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Collect, collate and write the embedded benchmarks; prints the measured figures."""
    args = parse_arguments(argv)
    for name in args.benchmarks:
        if (args.output_dir / name).exists() and not args.force:
            print(f"{args.output_dir / name} exists; pass --force to replace it", file=sys.stderr)
            return 2
    tasks = [
        embedded_task(
            EMBEDDED_BENCHMARKS[name],
            n_configurations=args.n_configurations,
            epochs=args.epochs,
            seeds=args.seeds,
        )
        for name in args.benchmarks
    ]
    print(f"collecting {sum(t.n_evaluations for t in tasks)} evaluations into {args.dump_dir}")
    summary = collect(
        tasks,
        args.dump_dir,
        scheduler_address=args.scheduler_address,
        n_workers=args.n_workers,
        progress=args.progress,
    )
    print(summary)
    for task in tasks:
        blackbox = collate_task(args.dump_dir, task.name, allow_missing=args.allow_missing)
        blackbox.description = f"{blackbox.description} {collection_note(summary)}"
        staging = args.output_dir / f".staging-{task.name}-{uuid.uuid4().hex[:8]}"
        try:
            write_blackbox(
                blackbox, staging, source="benchmarking.tabulation.make_default_benchmark"
            )
            entry = install_entry(staging, args.output_dir / task.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        print(f"wrote {entry} ({directory_bytes(entry) / 1e6:.2f} MB): {blackbox!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
