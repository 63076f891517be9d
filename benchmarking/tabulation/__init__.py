"""Make your own tabular benchmark: collect real evaluations on Dask, collate them.

1. Describe what to evaluate with a :class:`TabulationTask` (an objective, its kind,
   configurations from :func:`grid_configurations` or :func:`sample_configurations`,
   fidelities, seeds, metrics).
2. :func:`collect` evaluates every combination on Dask, one dump file per evaluation;
   a re-run evaluates only what is missing.
3. :func:`collate_task` turns the dumps into a :class:`~blackbox_repository.TabularBlackbox`;
   write it with :func:`blackbox_repository.write_blackbox`.

Example:
    >>> summary = collect(task, "dumps/")  # doctest: +SKIP
    >>> write_blackbox(collate_task("dumps/", task.name), "my-benchmark/")  # doctest: +SKIP
"""

from benchmarking.tabulation.collator import (
    MissingEvaluation,
    collate,
    collate_task,
    gather_values,
)
from benchmarking.tabulation.collection import CollectionSummary, collect
from benchmarking.tabulation.dump_files import DumpFolder, config_hash, fidelity_hash
from benchmarking.tabulation.errors import (
    CorruptDumpFileError,
    MissingEvaluationsError,
    ObjectiveContractError,
    StudySpecMismatchError,
    TabulationError,
)
from benchmarking.tabulation.manifest import read_manifest
from benchmarking.tabulation.task import (
    LEARNING_CURVE,
    PER_FIDELITY,
    TabulationTask,
    grid_configurations,
    sample_configurations,
)

__all__ = [
    "LEARNING_CURVE",
    "PER_FIDELITY",
    "CollectionSummary",
    "CorruptDumpFileError",
    "DumpFolder",
    "MissingEvaluation",
    "MissingEvaluationsError",
    "ObjectiveContractError",
    "StudySpecMismatchError",
    "TabulationError",
    "TabulationTask",
    "collate",
    "collate_task",
    "collect",
    "config_hash",
    "fidelity_hash",
    "gather_values",
    "grid_configurations",
    "read_manifest",
    "sample_configurations",
]
