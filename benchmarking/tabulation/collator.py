"""Collation: the dump files of a task -> one :class:`TabularBlackbox`.

Every (configuration, fidelity, seed) of the task's manifest is looked up by its dump file
name. A combination without a dump (never run, or failed) is a hole; holes are refused,
with the list of what is missing, unless ``allow_missing=True``, which keeps them as NaN
and records them in the blackbox description.

Example:
    >>> blackbox = collate_task("dumps/", "sklearn-mlp-digits")  # doctest: +SKIP
    >>> write_blackbox(blackbox, "entry/")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarking.tabulation.dump_files import DumpFolder, config_hash, evaluation_stem, read_json
from benchmarking.tabulation.errors import (
    CorruptDumpFileError,
    MissingEvaluationsError,
    TabulationError,
)
from benchmarking.tabulation.evaluation import STATUS_DONE
from benchmarking.tabulation.manifest import Manifest, read_manifest
from benchmarking.tabulation.task import evaluation_units
from blackbox_repository.tabular import TabularBlackbox

MAX_HOLES_LISTED = 20


@dataclass(frozen=True)
class MissingEvaluation:
    """One evaluation without a dump: ``fidelities`` it should have covered, and why."""

    config_index: int
    fidelities: tuple[float, ...]
    seed: int
    reason: str

    def __str__(self) -> str:
        fidelities = self.fidelities
        shown = f"{fidelities[0]}" if len(fidelities) == 1 else f"{fidelities[0]}..{fidelities[-1]}"
        return f"config {self.config_index} fidelity {shown} seed {self.seed} ({self.reason})"


@dataclass(frozen=True)
class CollatedValues:
    """The dense values of a task and the evaluations that are missing from them."""

    values: np.ndarray
    seeds: tuple[int, ...]
    missing: tuple[MissingEvaluation, ...]
    n_evaluations: int


def _failure_reason(path: Path) -> str:
    try:
        error = read_json(path).get("error", "unknown error")
    except CorruptDumpFileError as corrupt:
        return f"failed (its failure dump is unreadable: {corrupt})"
    error = str(error)
    return f"failed: {error.splitlines()[0] if error else 'unknown error'}"


def gather_values(
    folder: DumpFolder, manifest: Manifest, *, seeds: tuple[int, ...] | None = None
) -> CollatedValues:
    """Read every dump of a task into ``values[config, fidelity, seed, metric]``.

    ``seeds`` defaults to every seed any run asked for (recorded in the manifest).
    """
    task_name = manifest.task_name
    seeds = tuple(manifest.seeds if seeds is None else seeds)
    configurations = manifest.configurations
    fidelity_values = manifest.fidelity_values
    metric_names = [m.name for m in manifest.metrics]
    units = evaluation_units(manifest.spec["objective_kind"], fidelity_values)
    fidelity_position = {f: i for i, f in enumerate(fidelity_values)}
    values = np.full(
        (len(configurations), len(fidelity_values), len(seeds), len(metric_names)), np.nan
    )
    missing = []
    for config_index, config in enumerate(configurations):
        digest = config_hash(config)
        for unit in units:
            positions = [fidelity_position[f] for f in unit.fidelities]
            for seed_index, seed in enumerate(seeds):
                stem = evaluation_stem(digest, unit.fidelity_digest, seed)
                done_path = folder.done_path(task_name, stem)
                if done_path.exists():
                    rows = _read_done_dump(done_path, manifest, digest, seed, unit.fidelities)
                    for position, row in zip(positions, rows):
                        values[config_index, position, seed_index] = [row[m] for m in metric_names]
                    continue
                failed_path = folder.failed_path(task_name, stem)
                reason = _failure_reason(failed_path) if failed_path.exists() else "not run"
                missing.append(MissingEvaluation(config_index, unit.fidelities, seed, reason))
    n_evaluations = len(configurations) * len(units) * len(seeds)
    return CollatedValues(values, seeds, tuple(missing), n_evaluations)


def _read_done_dump(
    path: Path, manifest: Manifest, digest: str, seed: int, fidelities: tuple[float, ...]
) -> list[dict[str, float]]:
    try:
        dump = read_json(path)
    except CorruptDumpFileError as error:
        raise CorruptDumpFileError(
            f"dump {error}. Run collect() again on the dump folder: it moves such a dump aside "
            "and evaluates its combination again"
        ) from None
    expected = {
        "status": STATUS_DONE,
        "task": manifest.task_name,
        "spec_hash": manifest.spec_hash,
        "config_hash": digest,
        "seed": seed,
        "fidelities": list(fidelities),
    }
    wrong = {k: dump.get(k) for k, v in expected.items() if dump.get(k) != v}
    if wrong or len(dump.get("metrics", ())) != len(fidelities):
        raise TabulationError(
            f"dump {path} does not belong to task {manifest.task_name!r} as its manifest "
            f"describes it (unexpected {wrong or 'number of metric rows'}); it was left by "
            "another study: delete it and collect again"
        )
    return dump["metrics"]


def missing_summary(
    task_name: str, missing: tuple[MissingEvaluation, ...], n_evaluations: int
) -> str:
    """What is missing, compactly: counts, configurations, fidelities, seeds, first errors."""
    failed = [m for m in missing if m.reason != "not run"]
    config_indices = sorted({m.config_index for m in missing})
    fidelities = sorted({f for m in missing for f in m.fidelities})
    seeds = sorted({m.seed for m in missing})
    shown_configs = config_indices[:MAX_HOLES_LISTED]
    more = (
        f" and {len(config_indices) - len(shown_configs)} more"
        if len(config_indices) > len(shown_configs)
        else ""
    )
    lines = [
        f"task {task_name!r}: {len(missing)} of {n_evaluations} evaluations have no result "
        f"({len(missing) - len(failed)} not run, {len(failed)} failed)",
        f"configurations (index): {shown_configs}{more}",
        f"fidelities: {fidelities if len(fidelities) <= MAX_HOLES_LISTED else f'{len(fidelities)} values'}",
        f"seeds: {seeds}",
    ]
    if failed:
        lines.append(f"first failure: {failed[0]}")
    return "; ".join(lines)


def configurations_frame(manifest: Manifest) -> pd.DataFrame:
    """One row per configuration, one column per hyperparameter (inactive ones missing)."""
    names = list(manifest.configuration_space.keys())
    rows = [{name: config.get(name) for name in names} for config in manifest.configurations]
    return pd.DataFrame(rows, columns=names)


def collate_task(
    dump_dir: Path | str,
    task_name: str,
    *,
    allow_missing: bool = False,
    seeds: tuple[int, ...] | None = None,
    name: str | None = None,
    description: str | None = None,
) -> TabularBlackbox:
    """The tabular blackbox of ``task_name`` from the dumps in ``dump_dir``.

    Args:
        allow_missing: keep holes as NaN (listed in the description) instead of refusing.
        seeds: the seeds to include; default every seed any run of the task asked for.
        name: the blackbox name; default the task name.
        description: default the task's description.

    Raises:
        MissingEvaluationsError: some combinations have no dump and ``allow_missing`` is
            False; ``error.missing`` lists them.
    """
    folder = DumpFolder(Path(dump_dir))
    manifest = read_manifest(folder, task_name)
    gathered = gather_values(folder, manifest, seeds=seeds)
    description = manifest.description if description is None else description
    if gathered.missing:
        summary = missing_summary(task_name, gathered.missing, gathered.n_evaluations)
        if not allow_missing:
            raise MissingEvaluationsError(
                f"{summary}. Run collect() again on {folder.root} to evaluate what is missing "
                "(retry_failed=True also retries failures), or collate with allow_missing=True "
                "to keep NaN holes",
                gathered.missing,
            )
        listed = "; ".join(str(m) for m in gathered.missing[:MAX_HOLES_LISTED])
        more = len(gathered.missing) - MAX_HOLES_LISTED
        tail = f"; and {more} more" if more > 0 else ""
        description = (
            f"{description} Missing values (NaN): {summary}. Holes: {listed}{tail}.".strip()
        )
    return TabularBlackbox(
        name=name or task_name,
        configuration_space=manifest.configuration_space,
        configurations=configurations_frame(manifest),
        fidelity_name=manifest.spec["fidelity_name"],
        fidelity_values=np.asarray(manifest.fidelity_values),
        seeds=gathered.seeds,
        objectives=manifest.metrics,
        elapsed_time_objective=manifest.spec["elapsed_time_key"],
        values=gathered.values,
        description=description,
    )


def collate(dump_dir: Path | str, *, allow_missing: bool = False) -> dict[str, TabularBlackbox]:
    """One blackbox per task in ``dump_dir`` (see :func:`collate_task`)."""
    folder = DumpFolder(Path(dump_dir))
    names = folder.task_names()
    if not names:
        raise FileNotFoundError(
            f"{folder.root} holds no task manifests; is it a dump folder of collect()?"
        )
    return {name: collate_task(dump_dir, name, allow_missing=allow_missing) for name in names}
