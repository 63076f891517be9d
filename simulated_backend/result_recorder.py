"""Columnar recording of every result of a run, spilled to disk in typed chunks.

The Tuner appends each result's fields to plain lists (the cheapest append there is).
Every :data:`CHUNK_ROWS` results the lists become typed arrays in one Arrow record
batch, written to an Arrow IPC file in a spill folder, and are emptied: memory holds at
most one chunk of results however long the run, and the results file is written from
the chunks one at a time. A run that stays below one chunk never touches the disk
before its results file is written.

The spill folder is created by the recorder (inside the results folder, hidden, or in
the system's temporary folder) and removed by :meth:`ResultRecorder.close`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from simulated_backend.backend_protocol import FIDELITY_KEY, TIME_KEY, RunDescription

DECISIONS = ("CONTINUE", "PAUSE", "STOP", "COMPLETED", "FAILED")
DECISION_CODES = {name: code for code, name in enumerate(DECISIONS)}
CONFIG_PREFIX = "config_"
CHUNK_ROWS = 1 << 16
"""Results held in memory before they are spilled to disk as one typed chunk."""

_DTYPES = {"float": np.float64, "int": np.int64}


class ResultRecorder:
    """Appends results in typed columns and spills them in chunks of ``chunk_rows``.

    Args:
        description: what the backend's results hold.
        spill_parent: folder in which the spill folder is created (default: the system's
            temporary folder).
        chunk_rows: results per spilled chunk.
    """

    def __init__(
        self,
        description: RunDescription,
        spill_parent: Path | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self.description = description
        self.spill_parent = spill_parent
        self.chunk_rows = int(chunk_rows)
        self.objective_names = list(description.objective_names)
        self.extra_columns = list(description.extra_columns)
        # plain lists: appending to one costs a fraction of appending to a typed array
        # (whose append parses its argument); a chunk becomes typed arrays when spilled
        self.trial_ids: list[int] = []
        self.workers: list[int] = []
        self.fidelities: list[Any] = []
        self.times: list[float] = []
        self.decisions: list[int] = []
        self.objectives: list[list[Any]] = [[] for _ in self.objective_names]
        self.extras: list[list[Any]] = [[] for _ in self.extra_columns]
        self._fidelity_dtype = np.int64 if description.fidelity_kind == "int" else np.float64
        self._spill_dir: Path | None = None
        self._chunks: list[Path] = []
        self._n_spilled = 0
        self._config_names: list[str] = list(description.hyperparameter_names)

    def __len__(self) -> int:
        return self._n_spilled + len(self.trial_ids)

    @property
    def n_spilled_chunks(self) -> int:
        return len(self._chunks)

    def column_appends(self) -> list[tuple[Any, str]]:
        """``(append, result_key)`` of every objective and extra column, for a hot loop.

        The Tuner appends ``trial_id``, ``worker``, fidelity, time and decision itself and
        calls :meth:`spill` every ``chunk_rows`` results.
        """
        names = self.objective_names + [name for name, _ in self.extra_columns]
        return [(values.append, name) for values, name in zip(self.objectives + self.extras, names)]

    # ------------------------------------------------------------------ appending
    def append(
        self, trial_id: int, result: dict[str, Any], decision: int, configs: Sequence[dict]
    ) -> None:
        """Record one result with its decision code (``DECISION_CODES``).

        ``configs[trial_id]`` is the trial's config; it is read when a chunk is spilled.
        """
        self.trial_ids.append(trial_id)
        self.workers.append(result.get("worker", -1))
        self.fidelities.append(result[FIDELITY_KEY])
        self.times.append(result[TIME_KEY])
        self.decisions.append(decision)
        get = result.get
        for values, name in zip(self.objectives, self.objective_names):
            value = get(name)
            values.append(float("nan") if value is None else value)
        for values, (name, kind) in zip(self.extras, self.extra_columns):
            value = get(name)
            if kind == "str":
                values.append(None if value is None else str(value))
            else:
                values.append((float("nan") if kind == "float" else -1) if value is None else value)
        if len(self.trial_ids) >= self.chunk_rows:
            self.spill(configs)

    # ------------------------------------------------------------------ chunks
    def _batch(self, configs: Sequence[dict]) -> pa.RecordBatch:
        """The results held in memory as one record batch (with config columns)."""
        n = len(self.trial_ids)
        trial_ids = np.fromiter(self.trial_ids, dtype=np.int64, count=n)
        columns: dict[str, Any] = {
            "trial_id": trial_ids,
            "worker": np.fromiter(self.workers, dtype=np.int64, count=n),
            FIDELITY_KEY: np.fromiter(self.fidelities, dtype=self._fidelity_dtype, count=n),
            TIME_KEY: np.fromiter(self.times, dtype=np.float64, count=n),
            "decision": pa.DictionaryArray.from_arrays(
                pa.array(np.fromiter(self.decisions, dtype=np.int8, count=n)), pa.array(DECISIONS)
            ),
        }
        for name, values in zip(self.objective_names, self.objectives):
            columns[name] = np.fromiter(values, dtype=np.float64, count=n)
        for (name, kind), values in zip(self.extra_columns, self.extras):
            if kind == "str":
                columns[name] = pa.array(values, type=pa.string())
            else:
                columns[name] = np.fromiter(values, dtype=_DTYPES[kind], count=n)
        if len(trial_ids):
            # one config per trial of the chunk, each turned into Arrow once, then spread
            # over the trial's rows by a take in C (no per-row Python objects)
            unique, inverse = np.unique(trial_ids, return_inverse=True)
            used = [configs[t] for t in unique.tolist()]
            names = self._config_names
            known = set(names)
            for config in used:
                if len(config) != len(names) or not known.issuperset(config):
                    for key in config:
                        if key not in known:
                            names.append(key)
                            known.add(key)
            for name in names:
                columns[CONFIG_PREFIX + name] = _config_column(
                    [config.get(name) for config in used]
                ).take(inverse)
        else:
            for name in self._config_names:
                columns[CONFIG_PREFIX + name] = pa.array(np.array([]))
        return pa.RecordBatch.from_pydict(columns)

    def _clear(self) -> None:
        for values in (
            self.trial_ids,
            self.workers,
            self.fidelities,
            self.times,
            self.decisions,
            *self.objectives,
        ):
            values.clear()
        for values in self.extras:
            values.clear()

    def spill(self, configs: Sequence[dict]) -> None:
        """Write the results held in memory as one typed chunk (Arrow IPC) and forget them."""
        if not len(self.trial_ids):
            return
        batch = self._batch(configs)
        if self._spill_dir is None:
            parent = self.spill_parent
            if parent is not None:
                parent.mkdir(parents=True, exist_ok=True)
            self._spill_dir = Path(
                tempfile.mkdtemp(prefix=".simtune-spill-", dir=None if parent is None else parent)
            )
        path = self._spill_dir / f"chunk-{len(self._chunks):06d}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
        self._chunks.append(path)
        self._n_spilled += batch.num_rows
        self._clear()

    def schema(self, configs: Sequence[dict]) -> pa.Schema:
        """The schema every chunk is cast to when written: the chunks' schemas unified."""
        schemas = []
        for path in self._chunks:
            with pa.memory_map(str(path)) as source:
                schemas.append(pa.ipc.open_file(source).schema)
        if len(self.trial_ids) or not self._chunks:
            schemas.append(self._batch(configs).schema)
        names = self._config_names
        schemas = [_with_config_columns(schema.empty_table(), names).schema for schema in schemas]
        return pa.unify_schemas(schemas, promote_options="permissive")

    def tables(self, configs: Sequence[dict]) -> Iterator[pa.Table]:
        """Every result, one table per chunk, in order (the rows in memory come last).

        The config columns of all chunks are unified: a chunk missing a hyperparameter
        that a later trial introduced gets a null column for it.
        """
        tail = self._batch(configs) if len(self.trial_ids) or not self._chunks else None
        names = self._config_names
        for path in self._chunks:
            with pa.OSFile(str(path), "rb") as source:  # read, not mapped: one chunk in memory
                table = pa.ipc.open_file(source).read_all()
            yield _with_config_columns(table, names)
            del table
        if tail is not None:
            yield _with_config_columns(pa.Table.from_batches([tail]), names)

    def to_table(self, configs: Sequence[dict]) -> pa.Table:
        """Every result in one table (holds the whole run in memory)."""
        tables = list(self.tables(configs))
        return (
            tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
        )

    def close(self) -> None:
        """Remove the spill folder (only the one this recorder created)."""
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)
            self._spill_dir = None
            self._chunks = []


def _config_column(values: list[Any]) -> pa.Array:
    """One value per trial as an Arrow array, typed as a table column of them would be: an
    integer hyperparameter missing for some trials (inactive) is a float column with nulls."""
    array = pa.array(values, from_pandas=True)
    if array.null_count and pa.types.is_integer(array.type):
        array = array.cast(pa.float64())
    return array


def _with_config_columns(table: pa.Table, names: list[str]) -> pa.Table:
    for name in names:
        column = CONFIG_PREFIX + name
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows))
    return table
