"""Every returned evaluation of a wrapped-objective run, and its results folder.

The folder has the layout of every simtune run (``results.parquet`` + ``metadata.json``,
written atomically by :func:`simulated_backend.results.write_run`), so ``simtune collect``
and ``simtune plot`` read it. Rows are in the order the calls returned, which is the order
of their simulated finish times.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from simulated_backend.results import (
    CONFIG_PREFIX,
    DECISIONS,
    RESULTS_FORMAT_VERSION,
    RunResults,
    software_versions,
    write_run,
)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One returned call: where and when it ran in simulated time, and what it measured.

    ``call_index`` numbers the calls in the order they reached the coordinator;
    ``continued`` marks a continuation of an earlier evaluation of the same trial.
    """

    call_index: int
    trial_id: int
    worker: int
    config: dict[str, Any]
    fidelity: Any
    start_time: float
    finish_time: float
    objectives: dict[str, float]
    continued: bool

    def __reduce__(self) -> tuple:
        # every evaluation goes to the host in one message when the run closes: the
        # constructor call pickles several times faster than a slots dataclass's state
        return Evaluation, (
            self.call_index,
            self.trial_id,
            self.worker,
            self.config,
            self.fidelity,
            self.start_time,
            self.finish_time,
            self.objectives,
            self.continued,
        )


class EvaluationRecorder:
    """Collects returned evaluations; builds the results table and metadata.

    The coordinator records every returned call with :meth:`add` as a plain tuple of the
    fields of :class:`Evaluation` (building the frozen record costs several times more, on
    every evaluation's path); :attr:`evaluations` builds the records when they are read.
    """

    def __init__(self) -> None:
        self.rows: list[tuple] = []  # Evaluation's fields, in its order

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def evaluations(self) -> list[Evaluation]:
        return [Evaluation(*row) for row in self.rows]

    def add(
        self,
        call_index: int,
        trial_id: int,
        worker: int,
        config: dict[str, Any],
        fidelity: Any,
        start_time: float,
        finish_time: float,
        objectives: dict[str, float],
        continued: bool,
    ) -> None:
        """Record one returned call (the fields of :class:`Evaluation`)."""
        self.rows.append(
            (
                call_index,
                trial_id,
                worker,
                config,
                fidelity,
                start_time,
                finish_time,
                objectives,
                continued,
            )
        )

    def append(self, evaluation: Evaluation) -> None:
        self.rows.append(evaluation.__reduce__()[1])

    def to_table(self, objective_names: list[str] | None = None) -> pa.Table:
        evaluations = self.evaluations
        if objective_names is None:
            objective_names = list(evaluations[0].objectives) if evaluations else []
        completed = DECISIONS.index("COMPLETED")
        columns: dict[str, Any] = {
            "trial_id": np.array([e.trial_id for e in evaluations], dtype=np.int64),
            "worker": np.array([e.worker for e in evaluations], dtype=np.int64),
            "fidelity": pa.array([e.fidelity for e in evaluations], type=pa.float64()),
            "simulated_time": np.array([e.finish_time for e in evaluations], dtype=np.float64),
            "simulated_start_time": np.array([e.start_time for e in evaluations], dtype=np.float64),
            "continued": np.array([e.continued for e in evaluations], dtype=bool),
            "call_index": np.array([e.call_index for e in evaluations], dtype=np.int64),
            "decision": pa.DictionaryArray.from_arrays(
                pa.array(np.full(len(evaluations), completed, dtype=np.int8)),
                pa.array(DECISIONS),
            ),
        }
        for name in objective_names:
            columns[name] = np.array(
                [e.objectives.get(name, np.nan) for e in evaluations], dtype=np.float64
            )
        hyperparameters = sorted({k for e in evaluations for k in e.config})
        for name in hyperparameters:
            columns[CONFIG_PREFIX + name] = pa.array(
                [e.config.get(name) for e in evaluations], from_pandas=True
            )
        return pa.table(columns)

    def write(
        self,
        folder: Path | str | None,
        metadata: dict[str, Any],
        objective_names: list[str] | None = None,
    ) -> RunResults:
        """The run's results; written to ``folder`` (atomically) when it is given."""
        table = self.to_table(objective_names)
        evaluations = self.evaluations
        versions = software_versions()
        metadata = {
            "format_version": RESULTS_FORMAT_VERSION,
            "simtune_version": versions.get("simtune"),
            "n_results": len(evaluations),
            "n_trials": len({e.trial_id for e in evaluations}),
            "end_time": max((e.finish_time for e in evaluations), default=0.0),
            "versions": versions,
            **metadata,
        }
        path = write_run(folder, table, metadata) if folder is not None else None
        return RunResults(table.to_pandas(), metadata, path)
