"""Configuration -> row of a tabular blackbox, from arrays that are stored and memory-mapped.

Building a Python dict of every configuration costs about 30 ms for 15,625 rows, paid by
every process on its first lookup. Instead, the cache stores (derived once, at install):

* ``codes``: int32 (configurations x hyperparameters), the position of each value among
  its column's distinct values (``levels``), -1 for an inactive (missing) value;
* ``keys``: uint64, a 64-bit FNV-1a hash of each row of ``codes``, sorted; ``rows``: the
  row of each key.

The first time a configuration is asked for, its values become codes (one dict access per
column; a binary search in a numeric column with very many levels). Where the codes fill
much of the product of the columns' levels (a full grid such as NAS-Bench-201's), a
:class:`DenseCodeTable` built from ``codes`` at the first search turns them into the row
with one sum and one array index. Elsewhere (a sparse sample of a large space) the codes
are hashed, ``keys`` binary-searched and the candidate rows' codes compared (so a hash
collision can never return a wrong row). Each answer is then memoized in a dict keyed by
the config's values, so repeated lookups cost one dict access.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
_MASK = (1 << 64) - 1
NUMERIC_KINDS = "iufb"
DICT_LEVELS_LIMIT = 4096  # numeric columns with more levels are searched, not hashed
DENSE_TABLE_PER_ROW = 4  # a dense code table may have this many entries per configuration
DENSE_TABLE_MIN = 1 << 16  # ... plus this many (256 KB of int32)
DENSE_TABLE_AFTER_SEARCHES = 32  # built at the 32nd configuration seen for the first time


@dataclass(frozen=True)
class IndexColumn:
    """One hyperparameter column: numeric (levels in a float64 array) or text (a list)."""

    name: str
    kind: str  # numpy dtype kind of the column ("i", "u", "f", "b") or "text"
    levels: np.ndarray | tuple  # sorted float64 levels (numeric) or distinct values (text)


def _hash_codes(codes: np.ndarray) -> np.ndarray:
    """FNV-1a over the codes of each row (+1, so that -1, inactive, hashes as 0)."""
    hashes = np.full(len(codes), FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in codes.T:
            hashes ^= (column.astype(np.int64) + 1).astype(np.uint64)
            hashes *= np.uint64(FNV_PRIME)
    return hashes


def _hash_code_list(codes: Sequence[int]) -> int:
    """The same hash as :func:`_hash_codes`, for one row, in Python integers."""
    value = FNV_OFFSET
    for code in codes:
        value = ((value ^ (code + 1)) * FNV_PRIME) & _MASK
    return value


def _native_view(array: np.ndarray, format_code: str) -> memoryview:
    """A flat memoryview of ``array`` whose items are Python ints (no copy)."""
    return memoryview(np.ascontiguousarray(array)).cast("B").cast(format_code)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def build_index_arrays(configurations) -> tuple[list[IndexColumn], dict[str, np.ndarray]]:
    """Columns and the ``codes``/``keys``/``rows`` arrays for a configurations DataFrame.

    Text columns must hold JSON-able values (str, int, float, bool); a ValueError says
    which column does not.
    """
    columns, codes = [], np.empty((len(configurations), configurations.shape[1]), np.int32)
    for j, name in enumerate(configurations.columns):
        column = configurations[name]
        missing = column.isna().to_numpy()
        if column.dtype.kind in NUMERIC_KINDS:
            values = column.to_numpy(dtype=np.float64)
            levels = np.unique(values[~missing])
            positions = np.searchsorted(levels, np.where(missing, levels[:1].sum(), values))
            codes[:, j] = np.where(missing, -1, positions)
            columns.append(IndexColumn(name, column.dtype.kind, levels))
        else:
            present = column[~missing].tolist()
            levels = tuple(dict.fromkeys(present))  # first-appearance order: deterministic
            if not all(type(v) in (str, int, float, bool) for v in levels):
                raise ValueError(f"column {name!r} holds values that are not JSON scalars")
            position = {value: k for k, value in enumerate(levels)}
            codes[:, j] = [-1 if m else position[v] for v, m in zip(column.tolist(), missing)]
            columns.append(IndexColumn(name, "text", levels))
    hashes = _hash_codes(codes)
    order = np.argsort(hashes, kind="stable")
    return columns, {
        "codes": codes,
        "keys": hashes[order],
        "rows": order.astype(np.int32),
    }


class DenseCodeTable:
    """Row of each combination of codes, in an array indexed by a mixed-radix number.

    Where the configurations fill much of the product of their columns' levels (a grid such
    as NAS-Bench-201's 5^6 cells), the number ``sum((code_j + shift_j) * weight_j)`` (shift
    1 where a column has inactive values, so that -1 counts as a level) indexes an int32
    array holding the row, -1 for no row. Finding a row is then one sum of small integers
    (one dict access per column gives each term) and one index: no hash, no search. Built
    from the stored codes (about 0.15 ms for 15,625 rows on a quiet machine) at the
    ``DENSE_TABLE_AFTER_SEARCHES``-th search, so the first lookups after a load pay nothing
    for it; only where the array has at most ``DENSE_TABLE_PER_ROW`` entries per
    configuration plus ``DENSE_TABLE_MIN`` entries, and only where no two rows have the
    same codes.
    """

    def __init__(
        self, table: np.ndarray, shifts: list[int], weights: list[int], radices: list[int]
    ) -> None:
        self._table = table
        self._rows = _native_view(table, "i")
        self._shifts = shifts
        self._weights = weights
        self._radices = radices

    @classmethod
    def build(cls, codes: np.ndarray, n_levels: Sequence[int]) -> DenseCodeTable | None:
        """The table of ``codes`` (rows x columns), or None where it would be too large."""
        n_rows = len(codes)
        shifts = [0] * len(n_levels)
        if n_rows and codes.min() < 0:  # (one pass over all codes is 5x faster than per column)
            shifts = (codes.min(axis=0) < 0).astype(int).tolist()
        radices = [n + shift for n, shift in zip(n_levels, shifts)]
        size = math.prod(radices)
        if size > min(DENSE_TABLE_PER_ROW * n_rows + DENSE_TABLE_MIN, 2**31 - 1):
            return None
        weights = [math.prod(radices[j + 1 :]) for j in range(len(radices))]
        # numbers stay below size < 2**31: int32 arithmetic on the stored codes, no copy
        numbers = codes @ np.asarray(weights, dtype=np.int32)
        numbers += sum(shift * weight for shift, weight in zip(shifts, weights))
        table = np.full(size, -1, dtype=np.int32)
        table[numbers] = np.arange(n_rows, dtype=np.int32)
        if np.count_nonzero(table >= 0) != n_rows:
            return None  # two rows with the same codes: the hashed search says which
        return cls(table, shifts, weights, radices)

    def terms(self, positions: Sequence[Mapping[Any, int]]) -> list[dict[Any, int]]:
        """Per column, value -> its term of the mixed-radix number (from value -> code)."""
        return [
            {value: digit * weight for value, digit in column.items()}
            for column, weight in zip(self.digits(positions), self._weights)
        ]

    def digits(self, positions: Sequence[Mapping[Any, int]]) -> list[dict[Any, int]]:
        """Per column, value -> its digit of the mixed-radix number (code + shift): its
        position along that column's axis of :attr:`grid`."""
        return [
            {value: code + shift for value, code in column.items() if code + shift >= 0}
            for column, shift in zip(positions, self._shifts)
        ]

    @property
    def grid(self) -> np.ndarray:
        """:attr:`table` with one axis per column: ``grid[d0, d1, ...]`` is the row whose
        columns have digits d0, d1, ... (a view, no copy)."""
        return self._table.reshape(self._radices)

    @property
    def table(self) -> np.ndarray:
        """The row of each number (int32; -1: no configuration has those codes)."""
        return self._table

    def row(self, number: int) -> int | None:
        row = self._rows[number]
        return row if row >= 0 else None

    def row_of_codes(self, codes: Sequence[int]) -> int | None:
        number = 0
        for code, shift, weight in zip(codes, self._shifts, self._weights):
            if code + shift < 0:  # inactive in a column that is never inactive
                return None
            number += (code + shift) * weight
        return self.row(number)


class StoredConfigIndex:
    """Finds the row of a configuration from stored (usually memory-mapped) arrays.

    Example:
        >>> index = StoredConfigIndex(columns, codes, keys, rows)  # doctest: +SKIP
        >>> index.find({"lr": 0.1, "depth": 3})  # doctest: +SKIP
        17
    """

    def __init__(
        self,
        columns: Sequence[IndexColumn],
        codes: np.ndarray,
        keys: np.ndarray,
        rows: np.ndarray,
    ) -> None:
        self.columns = tuple(columns)
        self.names = tuple(c.name for c in self.columns)
        self.codes = codes
        self.keys = keys
        self.rows = rows
        self._views = (_native_view(keys, "Q"), _native_view(rows, "i"), _native_view(codes, "i"))
        self._prepared = False  # the first search builds the value -> code dicts
        # searches before the dense table is built: the first lookups after a load stay
        # cheap, and a process that looks up a handful of configs never builds it
        self._searches_before_table = DENSE_TABLE_AFTER_SEARCHES
        self._positions: list[dict[Any, int]] = []  # per column: value -> code
        self._table: DenseCodeTable | None = None
        self._terms: list[dict[Any, int]] = []  # per column: value -> term of the table
        # answers so far, keyed by the config's values in ``names`` order: repeated lookups
        # cost one dict access (callers on hot paths may read it directly)
        self.rows_by_values: dict[tuple, int] = {}

    @property
    def n_configurations(self) -> int:
        return len(self.codes)

    @property
    def searches_a_dense_table(self) -> bool:
        """Whether configurations seen for the first time are found through a
        :class:`DenseCodeTable` (else: by hash and binary search)."""
        if not self._prepared:
            self._prepare()
        if self._searches_before_table:
            self._build_table()
        return self._table is not None

    def dense_grid(self) -> tuple[list[dict[Any, int]], np.ndarray] | None:
        """Per hyperparameter (``names`` order) value -> digit, and the rows by digits (int32,
        one axis per hyperparameter, -1: no row): ``grid[digits[0][value_0], ...]`` is a
        configuration's row, with no search and no memo entry. Builds the dense table now
        if no search has yet (about 0.15 ms for 15,625 rows); None where there is none.
        Plain values only: other spellings (NaN for an inactive value, a float for an int)
        raise KeyError, for :meth:`find` to resolve.
        """
        if not self._prepared:
            self._prepare()
        if self._searches_before_table:
            self._build_table()
        if self._table is None:
            return None
        return self._table.digits(self._positions), self._table.grid

    def __getstate__(self) -> dict[str, Any]:
        # memoryviews cannot be pickled; the arrays go by value and the rest is rebuilt
        state = dict(self.__dict__)
        state.update(_views=None, _prepared=False, _positions=[], _table=None, _terms=[])
        state["_searches_before_table"] = DENSE_TABLE_AFTER_SEARCHES
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._views = (
            _native_view(self.keys, "Q"),
            _native_view(self.rows, "i"),
            _native_view(self.codes, "i"),
        )

    def find(self, config: Mapping[str, Any]) -> int | None:
        """Row of ``config`` (inactive hyperparameters left out or NaN/None), else None."""
        return self.row_of(tuple(map(config.get, self.names)))

    def row_of(self, values: tuple) -> int | None:
        """Row of the configuration with ``values`` (in ``names`` order; None if inactive)."""
        try:
            row = self.rows_by_values.get(values)
        except TypeError:  # an unhashable value: it cannot be on the grid either
            return None
        if row is None:
            row = self._search(values)
            if row is not None:
                self.rows_by_values[values] = row
        return row

    def _prepare(self) -> None:
        self._positions = [self._value_positions(c) for c in self.columns]
        self._prepared = True

    def _build_table(self) -> None:
        self._searches_before_table = 0
        self._table = DenseCodeTable.build(self.codes, [len(c.levels) for c in self.columns])
        if self._table is not None:
            self._terms = self._table.terms(self._positions)

    def _search(self, values: tuple) -> int | None:
        if not self._prepared:
            self._prepare()
        if self._searches_before_table:
            self._searches_before_table -= 1
            if not self._searches_before_table:
                self._build_table()
        table = self._table
        if table is not None:
            try:  # plain values (and numpy scalars that hash like them): no Python loop
                return table.row(sum(map(dict.__getitem__, self._terms, values)))
            except (KeyError, TypeError):
                pass  # NaN for an inactive value, a float spelling an int: through codes
        codes = self._codes(values)
        if codes is None:
            return None
        if table is not None:
            return table.row_of_codes(codes)
        return self._search_hashed(codes)

    def _codes(self, values: tuple) -> list[int] | None:
        codes = []
        for column_positions, value in zip(self._positions, values):
            try:
                code = column_positions[value]
            except (KeyError, TypeError):  # NaN, numpy scalars, a long numeric column
                code = self._code(len(codes), value)
                if code is None:
                    return None
            codes.append(code)
        return codes

    def _search_hashed(self, codes: list[int]) -> int | None:
        target = _hash_code_list(codes)
        # memoryviews index to Python ints in C: a bisect over one beats a numpy call
        keys, rows, all_codes = self._views
        width = len(codes)
        position = bisect.bisect_left(keys, target)
        while position < len(keys) and keys[position] == target:
            row = rows[position]
            if all_codes[row * width : (row + 1) * width].tolist() == codes:
                return row
            position += 1
        return None

    def _value_positions(self, column: IndexColumn) -> dict[Any, int]:
        """value -> code for one column (None: inactive); long numeric columns use _code."""
        if column.kind == "text":
            positions = {value: k for k, value in enumerate(column.levels)}
        elif len(column.levels) <= DICT_LEVELS_LIMIT:
            positions = {level: k for k, level in enumerate(column.levels.tolist())}
            if column.kind == "b":
                positions.update({bool(level): k for k, level in enumerate(column.levels)})
        else:
            positions = {}
        positions[None] = -1
        return positions

    def _code(self, j: int, value: Any) -> int | None:
        """Code of ``value`` in column ``j`` where the column's dict has no entry for it."""
        if isinstance(value, np.generic):
            value = value.item()
        if _is_missing(value):
            return -1
        column = self.columns[j]
        if column.kind == "text":
            try:
                return self._positions[j].get(value)
            except TypeError:  # unhashable
                return None
        if type(value) not in (int, float, bool):
            return None
        levels = column.levels
        position = int(np.searchsorted(levels, value))
        if position < len(levels) and levels[position] == value:
            return position
        return None

    def configuration(self, row: int) -> dict[str, Any]:
        """Row ``row`` as a plain dict of Python values (inactive hyperparameters left out)."""
        result = {}
        for column, code in zip(self.columns, self.codes[row].tolist()):
            if code < 0:
                continue
            if column.kind == "text":
                result[column.name] = column.levels[code]
            else:
                level = float(column.levels[code])
                if column.kind in "iu":
                    result[column.name] = int(level)
                elif column.kind == "b":
                    result[column.name] = bool(level)
                else:
                    result[column.name] = level
        return result
