"""Columnar recording of every result of a run, spilled to disk in typed chunks.

The Tuner appends each result as it was handed to the scheduler, with its trial id and
decision code, to one flat plain list (one ``extend`` per result, three items: the
cheapest there is, and nothing the garbage collector tracks; the result dicts are not
modified after the decision). Every :data:`BLOCK_ROWS` results the held dicts are read
into typed numpy columns (in C, by ``operator.itemgetter``) and dropped, while they are
still in the CPU's caches: read 4,096 at a time, a value costs a third of what it costs
when 65,536 dicts scattered over the heap are read at once, and freeing them is cheaper
too. Every :data:`CHUNK_ROWS` results the typed blocks become one Arrow record batch
(with the config columns), written to an Arrow IPC file in a spill folder, and are
dropped: memory holds at most one chunk of typed results (about 60 bytes each) however
long the run, and the results file is written from the chunks one at a time. A run that
stays below one chunk never touches the disk before its results file is written.

A backend that logs its results by reference (a
:class:`~simulated_backend.backend_protocol.ResultLog`, e.g. the simulator's
:class:`~simulated_backend.result_references.TableResultLog`: trial id, table row, time,
worker) hands the recorder its columns instead: the Tuner then appends only each result's
decision code to :attr:`ResultRecorder.codes`, no result dict is held, and each block is
taken from the log. The chunks and the results file are the same either way.

The spill folder is created by the recorder (inside the results folder, hidden, or in
the system's temporary folder) and removed by :meth:`ResultRecorder.close`.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from collections.abc import Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from simulated_backend.backend_protocol import FIDELITY_KEY, TIME_KEY, ResultLog, RunDescription

if TYPE_CHECKING:
    from simulated_backend.schedulers.protocol import GridConfigs

DECISIONS = ("CONTINUE", "PAUSE", "STOP", "COMPLETED", "FAILED")
DECISION_CODES = {name: code for code, name in enumerate(DECISIONS)}
CONFIG_PREFIX = "config_"
CHUNK_ROWS = 1 << 16
"""Results held in memory before they are spilled to disk as one typed chunk."""
BLOCK_ROWS = 1 << 12
"""Results held as dicts before they are read into typed columns (while still cached)."""

_DTYPES = {"float": np.float64, "int": np.int64}


class ResultRecorder:
    """Appends results in typed columns and spills them in chunks of ``chunk_rows``.

    Args:
        description: what the backend's results hold.
        spill_parent: folder in which the spill folder is created (default: the system's
            temporary folder).
        chunk_rows: results per spilled chunk.
        block_rows: results held as dicts before they are read into typed columns.
        log: the backend's log of its results by reference
            (:class:`~simulated_backend.backend_protocol.ResultLog`), if it keeps one: the
            holder then appends only each result's decision code to :attr:`codes`, and
            the other columns come from the log (no result dict is held).
        grid: the :class:`~simulated_backend.schedulers.protocol.GridConfigs` that an int
            in the configs given to :meth:`compact`, :meth:`spill` and :meth:`tables` names
            a row of (a trial suggested by its grid row, whose config was never built).
    """

    def __init__(
        self,
        description: RunDescription,
        spill_parent: Path | None = None,
        chunk_rows: int = CHUNK_ROWS,
        block_rows: int = BLOCK_ROWS,
        log: ResultLog | None = None,
        grid: GridConfigs | None = None,
    ) -> None:
        self.description = description
        # the grid whose rows the int entries of the configs given to compact/spill name
        # (trials suggested by their grid row: their config columns are its rows' values)
        self.grid = grid
        self.spill_parent = spill_parent
        self.chunk_rows = int(chunk_rows)
        self.block_rows = max(1, min(int(block_rows), self.chunk_rows))
        self.objective_names = list(description.objective_names)
        self.extra_columns = list(description.extra_columns)
        # trial_id, decision code, result dict of each result held in memory, flat (three
        # items per result, one ``extend`` per result); the columns are read out of the
        # dicts when a chunk is made. Flat, not a tuple per result: a tuple holding a dict
        # stays tracked by the garbage collector, so 65,536 of them made full collections
        # walk them (a run's cost per result grew 4x from 10k to 1M results); result dicts
        # of plain numbers and strings are untracked, and so is this list's content.
        self.rows: list[Any] = []
        # with a backend's log: the decision code of each result held (the log has the rest)
        self.log = log
        self.codes: list[int] = []
        if log is not None and self.extra_columns:
            raise ValueError("results logged by reference have no extra columns")
        # results already read out of :attr:`rows`: typed columns, one dict per block
        self._blocks: list[dict[str, Any]] = []
        self._n_blocked = 0
        self._fidelity_dtype = np.int64 if description.fidelity_kind == "int" else np.float64
        self._spill_dir: Path | None = None
        self._chunks: list[Path] = []
        self._n_spilled = 0
        self._config_names: list[str] = list(description.hyperparameter_names)
        # the grid's columns as Arrow arrays (None: a column not taken by row), made at the
        # first batch large enough (_config_columns_by_grid_row)
        self._grid_columns: list[pa.Array | None] | None = None
        self._next = self.next_compaction()  # for append()

    def __len__(self) -> int:
        return self._n_spilled + self._n_blocked + self._n_unblocked()

    def _n_unblocked(self) -> int:
        """Results held that are not in a typed block yet (dicts, or codes of logged ones)."""
        return len(self.codes) if self.log is not None else len(self.rows) // 3

    def next_compaction(self) -> int:
        """The result count at which the holder of :attr:`rows` calls :meth:`compact` next:
        the next multiple of ``block_rows`` or of ``chunk_rows``, whichever comes first (so
        chunks hold the same results, and read the same configs, as if spilled directly)."""
        n = len(self)
        return min(
            (n // self.block_rows + 1) * self.block_rows,
            (n // self.chunk_rows + 1) * self.chunk_rows,
        )

    @property
    def n_spilled_chunks(self) -> int:
        return len(self._chunks)

    # ------------------------------------------------------------------ appending
    def append(
        self, trial_id: int, result: dict[str, Any], decision: int, configs: Sequence[dict]
    ) -> None:
        """Record one result with its decision code (``DECISION_CODES``) (not with a
        backend's :attr:`log`: append the code to :attr:`codes` then).

        ``configs[trial_id]`` is the trial's config; it is read when a chunk is spilled. A
        missing worker is recorded as -1, a missing objective or extra column as NaN (or
        -1, or null, by its type). The Tuner's hot loop appends ``(trial_id, decision,
        result)`` to :attr:`rows` itself (``rows.extend``: flat), with results that hold
        every key, and calls :meth:`compact` at each :meth:`next_compaction` count.
        """
        if self.log is not None:
            raise ValueError("this recorder takes its results from the backend's log")
        complete = dict(result)
        complete.setdefault("worker", -1)
        for name in self.objective_names:
            if complete.get(name) is None:
                complete[name] = float("nan")
        for name, kind in self.extra_columns:
            value = complete.get(name)
            if kind == "str":
                complete[name] = None if value is None else str(value)
            elif value is None:
                complete[name] = float("nan") if kind == "float" else -1
        self.rows.extend((trial_id, decision, complete))
        if len(self) >= self._next:
            self.compact(configs)

    # ------------------------------------------------------------------ blocks and chunks
    def compact(self, configs: Sequence[dict]) -> np.ndarray | None:
        """Read the result dicts held in :attr:`rows` (or the log's results of the codes held
        in :attr:`codes`) into one block of typed columns and drop them; write a chunk once
        ``chunk_rows`` results are held. Returns the trial ids of the chunk written, if one
        was (the configs of those that have ended are never read again)."""
        self._block_held()
        spilled = None
        if self._n_blocked >= self.chunk_rows:
            spilled = self.spill(configs)
        self._next = self.next_compaction()
        return spilled

    def _block_held(self) -> None:
        """The results held that are not in a block yet become one block."""
        if self.rows or self.codes:
            n = self._n_unblocked()
            self._blocks.append(self._unblocked_columns())
            self._n_blocked += n
            self.rows.clear()  # the same lists: the Tuner holds their extend/append
            self.codes.clear()

    def _holds_results(self) -> bool:
        return bool(self.rows or self.codes or self._blocks)

    def _unblocked_columns(self) -> dict[str, Any]:
        """The typed columns of the results held that are not in a block yet."""
        if self.log is None:
            return self._columns(self.rows)
        columns = self.log.take_columns(len(self.codes))
        columns[FIDELITY_KEY] = columns[FIDELITY_KEY].astype(self._fidelity_dtype, copy=False)
        columns["decision"] = _typed(tuple(self.codes), np.int8)
        return columns

    def _columns(self, rows: list[Any]) -> dict[str, Any]:
        """The typed columns of the results in ``rows`` (flat: trial id, decision, dict)."""
        results = rows[2::3]

        def column(name: str, dtype: Any) -> np.ndarray:
            return _typed(tuple(map(itemgetter(name), results)), dtype)

        columns: dict[str, Any] = {
            "trial_id": _typed(tuple(rows[0::3]), np.int64),
            "worker": column("worker", np.int64),
            FIDELITY_KEY: column(FIDELITY_KEY, self._fidelity_dtype),
            TIME_KEY: column(TIME_KEY, np.float64),
            "decision": _typed(tuple(rows[1::3]), np.int8),
        }
        for name in self.objective_names:
            columns[name] = column(name, np.float64)
        for name, kind in self.extra_columns:
            if kind == "str":
                columns[name] = list(map(itemgetter(name), results))
            else:
                columns[name] = column(name, _DTYPES[kind])
        return columns

    def _held(self) -> dict[str, Any]:
        """Every result held in memory (blocks, then rows) as one set of typed columns."""
        self._block_held()  # (a log's results can be taken once only)
        blocks = self._blocks
        if not blocks:
            return self._columns([])
        if len(blocks) == 1:
            return blocks[0]
        return {
            name: (
                np.concatenate([block[name] for block in blocks])
                if isinstance(blocks[0][name], np.ndarray)
                else [value for block in blocks for value in block[name]]
            )
            for name in blocks[0]
        }

    def _batch(self, configs: Sequence[dict]) -> tuple[pa.RecordBatch, np.ndarray]:
        """The results held in memory as one record batch (with config columns), and their
        trial ids (each once, ascending)."""
        held = self._held()
        trial_ids = held["trial_id"]
        columns: dict[str, Any] = {
            "trial_id": trial_ids,
            "worker": held["worker"],
            FIDELITY_KEY: held[FIDELITY_KEY],
            TIME_KEY: held[TIME_KEY],
            "decision": pa.DictionaryArray.from_arrays(
                pa.array(held["decision"]), pa.array(DECISIONS)
            ),
        }
        for name in self.objective_names:
            columns[name] = held[name]
        for name, kind in self.extra_columns:
            columns[name] = pa.array(held[name], type=pa.string()) if kind == "str" else held[name]
        if len(trial_ids):
            # one config per trial of the chunk, each turned into Arrow once, then spread
            # over the trial's rows by a take in C (no per-row Python objects)
            # trial ids are small dense integers: found by a mask, not by np.unique's sort
            # (the sort was an eighth of the chunk's cost)
            present = np.zeros(int(trial_ids.max()) + 1, dtype=bool)
            present[trial_ids] = True
            unique = np.flatnonzero(present)
            inverse = (np.cumsum(present) - 1)[trial_ids]
            used = [configs[t] for t in unique.tolist()]
            names = self._config_names
            known = set(names)
            # configs that are grid rows (ints): their values are read from the grid's rows
            grid, dicts = self.grid, used
            if grid is not None:
                dicts = [config for config in used if type(config) is not int]
                if len(dicts) < len(used) and not known.issuperset(grid.names):
                    used = dicts = [grid.config_of_row(c) if type(c) is int else c for c in used]
            # a name no config had before: added in order of first appearance (the union of
            # every config's keys is taken in C first; new names are rare)
            if not known.issuperset(set().union(*dicts)):
                for config in dicts:
                    if len(config) != len(names) or not known.issuperset(config):
                        for key in config:
                            if key not in known:
                                names.append(key)
                                known.add(key)
            by_row = self._config_columns_by_grid_row(used, names, inverse)
            if by_row is not None:
                columns.update(by_row)
            else:
                for name, values in zip(names, _config_values_by_name(used, names, grid)):
                    columns[CONFIG_PREFIX + name] = _config_column(values).take(inverse)
        else:
            unique = trial_ids
            for name in self._config_names:
                columns[CONFIG_PREFIX + name] = pa.array(np.array([]))
        return pa.RecordBatch.from_pydict(columns), unique

    def _config_columns_by_grid_row(
        self, used: list[Any], names: list[str], inverse: np.ndarray
    ) -> dict[str, pa.Array] | None:
        """The config columns of a batch whose trials are all grid rows (ints), taken by row
        from Arrow arrays of the grid's columns (made once per run) in one ``take`` per
        column: no Python value per trial. ``None`` (the caller converts each trial's
        values) if a trial has a config dict, the names are not the grid's, or the batch
        holds too few trials to pay for converting the whole grid once.

        A grid column is taken by row only if every value in it has the same plain type
        (str, int, float or bool) and none is missing: Arrow then gives any subset of it
        the type it gives the whole column. Other columns are converted per batch, as
        before (an int column with missing values is a float column in a batch that
        holds one, an int column in one that does not).
        """
        grid = self.grid
        if grid is None or tuple(names) != tuple(grid.names) or 4 * len(used) < len(grid.rows):
            return None
        try:  # every config an int (a grid row): packed in C; a dict raises
            rows = np.frombuffer(struct.pack(f"{len(used)}q", *used), dtype=np.int64)
        except (struct.error, TypeError):
            return None
        if self._grid_columns is None:
            grid_rows = grid.rows  # (zip(*rows) over 15,625 rows took 0.1 s)
            self._grid_columns = [
                _uniform_column(list(map(itemgetter(j), grid_rows))) for j in range(len(names))
            ]
        result_rows = rows[inverse]
        columns = {}
        for j, (name, whole) in enumerate(zip(names, self._grid_columns)):
            if whole is not None:
                columns[CONFIG_PREFIX + name] = whole.take(result_rows)
            else:
                grid_rows = grid.rows
                values = [grid_rows[row][j] for row in rows.tolist()]
                columns[CONFIG_PREFIX + name] = _config_column(values).take(inverse)
        return columns

    def _forget_held(self) -> None:
        self.rows.clear()  # the same lists: the Tuner holds their extend/append
        self.codes.clear()
        self._blocks = []
        self._n_blocked = 0

    def spill(self, configs: Sequence[dict]) -> np.ndarray | None:
        """Write every result held in memory as one typed chunk (Arrow IPC) and forget them;
        returns the chunk's trial ids (each once, ascending), ``None`` if nothing was held."""
        if not self._holds_results():
            return None
        batch, trial_ids = self._batch(configs)
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
        self._forget_held()
        self._next = self.next_compaction()
        return trial_ids

    def schema(self, configs: Sequence[dict]) -> pa.Schema:
        """The schema every chunk is cast to when written: the chunks' schemas unified."""
        schemas = []
        for path in self._chunks:
            with pa.memory_map(str(path)) as source:
                schemas.append(pa.ipc.open_file(source).schema)
        if self._holds_results() or not self._chunks:
            schemas.append(self._batch(configs)[0].schema)
        names = self._config_names
        schemas = [_with_config_columns(schema.empty_table(), names).schema for schema in schemas]
        return pa.unify_schemas(schemas, promote_options="permissive")

    def tables(self, configs: Sequence[dict]) -> Iterator[pa.Table]:
        """Every result, one table per chunk, in order (the rows in memory come last).

        The config columns of all chunks are unified: a chunk missing a hyperparameter
        that a later trial introduced gets a null column for it.
        """
        tail = self._batch(configs)[0] if self._holds_results() or not self._chunks else None
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


_STRUCT_CODES = {np.dtype(np.float64): "d", np.dtype(np.int64): "q", np.dtype(np.int8): "b"}


def _typed(values: tuple[Any, ...], dtype: Any) -> np.ndarray:
    """``values`` as a numpy array of ``dtype``, as ``np.fromiter`` makes it.

    Packed by :mod:`struct` (native layout, a C loop over the tuple: about a third fewer
    instructions per value than ``np.fromiter``); values it does not take (None, an int out
    of range, a float for an int column) go through ``np.fromiter``, which converts or
    rejects them as it always did.
    """
    try:
        packed = struct.pack(f"{len(values)}{_STRUCT_CODES[np.dtype(dtype)]}", *values)
    except (struct.error, TypeError, OverflowError):
        return np.fromiter(values, dtype=dtype, count=len(values))
    return np.frombuffer(packed, dtype=dtype)


def _config_values_by_name(
    configs: list[dict | int], names: list[str], grid: GridConfigs | None = None
) -> list[list[Any]]:
    """The configs' values, one list per name (None where a config lacks the name).

    Each config dict is read once, all its names together: the dicts of a chunk's trials
    were made long ago and are out of the CPU's caches, so one pass per name (six passes
    over some 16,000 dicts on NAS-Bench-201) paid a cache miss per value. An int is a row
    of ``grid``: its values are that row's (the values its config dict would hold).
    """
    if not names:
        return []
    if grid is not None and any(type(config) is int for config in configs):
        if tuple(names) != grid.names:  # names of the grid in another order, or more
            configs = [grid.config_of_row(c) if type(c) is int else c for c in configs]
        else:
            grid_rows = grid.rows
            rows = [
                grid_rows[config] if type(config) is int else tuple(map(config.get, names))
                for config in configs
            ]
            return [list(values) for values in zip(*rows)]
    if len(names) == 1:
        return [[config.get(names[0]) for config in configs]]
    get_all = itemgetter(*names)
    try:
        rows = list(map(get_all, configs))
    except KeyError:  # an inactive (conditional) hyperparameter: missing from some configs
        rows = [tuple(map(config.get, names)) for config in configs]
    return [list(values) for values in zip(*rows)]


def _config_column(values: list[Any]) -> pa.Array:
    """One value per trial as an Arrow array, typed as a table column of them would be: an
    integer hyperparameter missing for some trials (inactive) is a float column with nulls."""
    array = pa.array(values, from_pandas=True)
    if array.null_count and pa.types.is_integer(array.type):
        array = array.cast(pa.float64())
    return array


_PLAIN_TYPES = (str, int, float, bool)


def _uniform_column(values: list[Any]) -> pa.Array | None:
    """A grid column as one Arrow array if all its values have the same plain type and
    none is missing (None or NaN); else ``None``."""
    kinds = set(map(type, values))
    if len(kinds) != 1 or kinds.pop() not in _PLAIN_TYPES:
        return None
    array = pa.array(values, from_pandas=True)
    return None if array.null_count else array


def _with_config_columns(table: pa.Table, names: list[str]) -> pa.Table:
    for name in names:
        column = CONFIG_PREFIX + name
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows))
    return table
