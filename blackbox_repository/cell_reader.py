"""Scalar lookups of a dense float table without numpy per call: one generated function.

``values[c, f, s]`` plus ``.tolist()`` costs two numpy calls per scalar lookup (about
0.5 us); ``struct.unpack_from`` on a byte view of the same buffer gives the same Python
floats, bit for bit (both widen the stored IEEE half/single/double to a double), in a
fifth of that. The functions here are generated once per blackbox, the way
``dataclasses`` generates ``__init__`` (names and tables are passed in as values, never
written into the source), so that a lookup is one Python frame:

* :func:`cell_reader`: ``read(byte_offset) -> {objective: value}``, one unpack and one dict
  display (about half the cost of ``dict(zip(names, row))``);
* :func:`lookup_function`: ``lookup(config, fidelity, seed) -> {objective: value}``: the
  seed picks a byte view of the values starting at its offset and the fidelity becomes a
  byte offset (one dict access each), the config becomes the byte offset of its row
  (:class:`RowsByTerms` or :class:`RowsByValues`), then the cell is read as above.
  Anything it does not find (another spelling, an off-grid value, a config not memoized
  yet) goes to a fallback that finds or explains, so the errors stay the fallback's.

Where a grid fills much of the product of its hyperparameters' levels,
:class:`RowsByTerms` costs more instructions than a memo access (two dict accesses per
hyperparameter against one ``itemgetter`` call and one memo access) but reads only small,
hot tables: no memo entry per config (a scattered tuple read on every hit, an allocation
and a search on every first meeting), so it is faster on random lookups over many
configs (see docs/performance.md). Its sums are grouped so that they stay small ints,
which CPython never allocates, and its table is nested lists of Python ints: no int is
created or freed between the config and the unpack (about a fifth of the instructions of
a lookup, against one flat int32 table indexed by the whole sum).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# numpy float item size -> struct format character (IEEE half, single, double)
STRUCT_FORMATS = {2: "e", 4: "f", 8: "d"}

CellReader = Callable[[int], dict[str, float]]
Lookup = Callable[..., dict[str, float]]  # (config, fidelity, seed=None) -> objectives


# CPython keeps one object for each int from -5 to 256: a sum that stays in that range
# allocates nothing (a larger one allocates a new int, and frees it, on every lookup)
CACHED_INT_LIMIT = 256
# most entries a table of row offsets may have as nested lists of Python ints (about 40
# bytes each, private to each process); larger tables stay one int32 array
NESTED_TABLE_LIMIT = 1 << 17


@dataclass(frozen=True)
class RowsByTerms:
    """A config's row offset as ``table[sum of group 0's terms][sum of group 1's terms]...``.

    Hyperparameters (``names``) are split into consecutive groups (``group_sizes``); each
    value's term is its digit times the product of the radices after it within its group,
    so that a group's sum is a position along one axis of the table. ``table`` is either
    nested lists of byte offsets (Python ints, None for no row), indexed once per group
    with sums that stay small cached ints, or, for a table too large for that, one flat
    int32 (or int64) array of byte offsets, -1 for no row (``flat``: one group). An
    offset is the row times the values' config stride. Hyperparameters in ``optional``
    may be left out of the config (inactive: their terms hold one for None).
    """

    names: tuple[str, ...]
    terms: Sequence[Mapping[Any, int]]
    group_sizes: tuple[int, ...]
    table: Sequence
    optional: frozenset[str]
    flat: bool

    @classmethod
    def from_grid(
        cls,
        names: Sequence[str],
        digits: Sequence[Mapping[Any, int]],
        grid: np.ndarray,
        row_stride: int,
    ) -> RowsByTerms:
        """From ``grid`` (the row of each combination of digits, one axis per name, -1: no
        row; ``config_index.StoredConfigIndex.dense_grid``)."""
        offsets = grid.astype(np.int64) * row_stride
        optional = frozenset(name for name, column in zip(names, digits) if None in column)
        if grid.size > NESTED_TABLE_LIMIT or grid.ndim == 0:
            weights = [math.prod(grid.shape[j + 1 :]) for j in range(grid.ndim)]
            terms = [{v: d * w for v, d in c.items()} for c, w in zip(digits, weights)]
            offsets[grid < 0] = -1
            if offsets.max(initial=0) < 2**31:  # int32 offsets: half the cache footprint
                offsets = offsets.astype(np.int32)
            flat = memoryview(offsets.reshape(-1)).cast("B").cast(offsets.dtype.char)
            return cls(tuple(names), terms, (grid.ndim,), flat, optional, flat=True)
        group_sizes, group_radix, terms = [], 0, []
        for radix in grid.shape:  # greedy: a group grows while its sums stay cached ints
            if group_sizes and group_radix * radix <= CACHED_INT_LIMIT + 1:
                group_sizes[-1] += 1
                group_radix *= radix
            else:
                group_sizes.append(1)
                group_radix = radix
        position = 0
        for size in group_sizes:
            axes = grid.shape[position : position + size]
            for j in range(size):
                weight = math.prod(axes[j + 1 :])
                terms.append({v: d * weight for v, d in digits[position + j].items()})
            position += size
        group_shape, position = [], 0
        for size in group_sizes:
            group_shape.append(math.prod(grid.shape[position : position + size]))
            position += size
        if grid.min(initial=0) < 0:  # Python ints, and None where there is no row
            offsets = np.where(grid >= 0, offsets, None)
        table = offsets.reshape(group_shape).tolist()
        return cls(tuple(names), terms, tuple(group_sizes), table, optional, flat=False)


@dataclass(frozen=True)
class RowsByValues:
    """A config's row as ``rows.get(key(config))`` (None: not memoized yet)."""

    key: Callable[[Mapping[str, Any]], tuple]
    rows: Mapping[tuple, int]


def _cell_namespace(values: np.ndarray, objective_names: Sequence[str]) -> dict | None:
    """What the generated code needs to read a cell, or None where struct cannot."""
    code = STRUCT_FORMATS.get(values.dtype.itemsize)
    if values.dtype.kind != "f" or code is None or not values.flags.c_contiguous:
        return None
    if values.shape[-1] != len(objective_names):
        raise ValueError(
            f"values have {values.shape[-1]} objectives, names are {list(objective_names)}"
        )
    byte_order = values.dtype.byteorder if values.dtype.byteorder in "<>" else "="
    row = struct.Struct(f"{byte_order}{len(objective_names)}{code}")
    return {
        "unpack": row.unpack_from,
        "buffer": memoryview(values).cast("B"),
        **{f"k{i}": name for i, name in enumerate(objective_names)},
    }


def _unpacked(n_objectives: int) -> str:
    return "".join(f"v{i}, " for i in range(n_objectives))


def _result(n_objectives: int) -> str:
    return "{" + ", ".join(f"k{i}: v{i}" for i in range(n_objectives)) + "}"


def cell_reader(values: np.ndarray, objective_names: Sequence[str]) -> CellReader | None:
    """``read(byte_offset) -> {objective name: value}`` for ``values``' last axis.

    ``byte_offset`` is the position of the cell's first value in bytes: the dot product of
    its indices with ``values.strides``. Returns None where ``struct`` cannot read the
    array in place (not C-contiguous, or a float wider than a double); then index with
    numpy instead.
    """
    namespace = _cell_namespace(values, objective_names)
    if namespace is None:
        return None
    n = len(objective_names)
    source = (
        "def read_cell(offset):\n"
        f"    {_unpacked(n)}= unpack(buffer, offset)\n"
        f"    return {_result(n)}\n"
    )
    exec(source, namespace)
    return namespace["read_cell"]


def lookup_function(
    values: np.ndarray,
    objective_names: Sequence[str],
    *,
    rows: RowsByTerms | RowsByValues,
    fidelity_offsets: Mapping[Any, int],
    seed_offsets: Mapping[Any, int],
    fallback: Lookup,
) -> Lookup | None:
    """``lookup(config, fidelity, seed=None) -> {objective: value}`` in one frame.

    ``fidelity_offsets``/``seed_offsets`` map each grid value (and None for the default
    seed) to its byte offset within a config's block of ``values``; ``rows`` finds the
    config's row. Whatever they do not find goes to ``fallback(config, fidelity, seed)``,
    which must find it or raise the error. ``fidelity_offsets`` and a memo
    (:class:`RowsByValues`) are read, not copied: entries added later are seen; the seeds
    are read at generation. Returns None where ``struct`` cannot read ``values`` in place.
    """
    namespace = _cell_namespace(values, objective_names)
    if namespace is None:
        return None
    buffer = namespace["buffer"]
    # one byte view per seed, starting at the seed's offset: the unpack needs no third term
    seed_views = {seed: buffer[offset:] for seed, offset in seed_offsets.items()}
    namespace.update(fidelity_offsets=fidelity_offsets, seed_views=seed_views, fallback=fallback)
    n = len(objective_names)
    if isinstance(rows, RowsByTerms):
        namespace["table"] = rows.table
        find_row, position = "table", 0
        for size in rows.group_sizes:
            terms = []
            for j in range(position, position + size):
                name = rows.names[j]
                namespace[f"h{j}"], namespace[f"t{j}"] = name, rows.terms[j]
                value = f"config.get(h{j})" if name in rows.optional else f"config[h{j}]"
                terms.append(f"t{j}[{value}]")
            find_row += f"[{' + '.join(terms)}]"
            position += size
    else:
        namespace.update(key=rows.key, rows_get=rows.rows.get, stride=values.strides[0])
        find_row = "rows_get(key(config)) * stride"  # None (not memoized) * stride: TypeError
    if isinstance(rows, RowsByTerms) and rows.flat:  # -1 for no row: checked before reading
        body = (
            "    try:\n"
            "        view = seed_views[seed]\n"
            "        offset = fidelity_offsets[fidelity]\n"
            f"        row_offset = {find_row}\n"
            "    except (KeyError, TypeError, AttributeError):\n"
            "        return fallback(config, fidelity, seed)\n"
            "    if row_offset < 0:\n"
            "        return fallback(config, fidelity, seed)\n"
            f"    {_unpacked(n)}= unpack(view, row_offset + offset)\n"
        )
    else:  # None for no row: the addition raises TypeError
        body = (
            "    try:\n"
            f"        {_unpacked(n)}= unpack(\n"
            f"            seed_views[seed], fidelity_offsets[fidelity] + {find_row}\n"
            "        )\n"
            "    except (KeyError, TypeError, AttributeError):\n"
            "        return fallback(config, fidelity, seed)\n"
        )
    # Tables are the function's globals, not closure cells: a call copies every cell of a
    # closure into its frame (and clears them on return), which costs more than the reads.
    source = f"def lookup(config, fidelity, seed=None):\n{body}    return {_result(n)}\n"
    exec(source, namespace)
    return namespace["lookup"]
