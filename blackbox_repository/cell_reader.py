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
which CPython never allocates: on NAS-Bench-201's grid, two int allocations per lookup
instead of six. (Nested lists of Python ints, one level per group, would allocate none,
but their 0.6 MB per process made lookups slower, not faster: memory, not instructions,
is what a lookup waits for here.)
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


@dataclass(frozen=True)
class RowsByTerms:
    """A config's row offset as ``offsets[number]``, ``number`` its mixed-radix row number.

    The number is summed from one term per hyperparameter (``names``, ``terms``: value ->
    term) without building a large int per addition: hyperparameters are split into
    consecutive groups (``group_sizes``) whose terms sum to at most 256, an int CPython
    never allocates; ``scales[g]`` (None for a lone hyperparameter, whose terms are
    scaled already, and for the last group) turns group ``g``'s sum into its share of the
    number (a list of preallocated ints). NAS-Bench-201's six 5-level edges make two
    groups, so a lookup adds two large ints, not six. ``offsets`` holds each number's row
    times the values' config stride (bytes), -1 for no row. Hyperparameters in
    ``optional`` may be left out of the config (inactive: their terms hold one for None).
    """

    names: tuple[str, ...]
    terms: Sequence[Mapping[Any, int]]
    group_sizes: tuple[int, ...]
    scales: tuple[Sequence[int] | None, ...]
    offsets: Sequence[int]
    optional: frozenset[str]

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
        radices = grid.shape
        group_sizes: list[int] = []
        group_radix = 0
        for radix in radices:  # greedy: a group grows while its sums stay cached ints
            if group_sizes and group_radix * radix <= CACHED_INT_LIMIT + 1:
                group_sizes[-1] += 1
                group_radix *= radix
            else:
                group_sizes.append(1)
                group_radix = radix
        terms: list[dict[Any, int]] = []
        scales: list[list[int] | None] = []
        start = 0
        for size in group_sizes:
            end = start + size
            group_weight = math.prod(radices[end:])  # what one unit of the group's sum is worth
            lone = size == 1
            for j in range(start, end):
                weight = math.prod(radices[j + 1 : end]) * (group_weight if lone else 1)
                terms.append({value: d * weight for value, d in digits[j].items()})
            group_scale = None
            if not lone and group_weight > 1:
                group_scale = [k * group_weight for k in range(math.prod(radices[start:end]))]
            scales.append(group_scale)
            start = end
        offsets = grid.reshape(-1).astype(np.int64) * row_stride
        offsets[grid.reshape(-1) < 0] = -1
        if offsets.max(initial=0) < 2**31:  # int32 offsets: half the cache footprint
            offsets = offsets.astype(np.int32)
        return cls(
            names=tuple(names),
            terms=terms,
            group_sizes=tuple(group_sizes),
            scales=tuple(scales),
            offsets=memoryview(offsets).cast("B").cast(offsets.dtype.char),
            optional=frozenset(name for name, column in zip(names, digits) if None in column),
        )


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
        namespace["row_offsets"] = rows.offsets
        shares, start = [], 0
        for g, (size, scale) in enumerate(zip(rows.group_sizes, rows.scales)):
            terms = []
            for j in range(start, start + size):
                name = rows.names[j]
                namespace[f"h{j}"], namespace[f"t{j}"] = name, rows.terms[j]
                value = f"config.get(h{j})" if name in rows.optional else f"config[h{j}]"
                terms.append(f"t{j}[{value}]")
            if scale is not None:
                namespace[f"scale{g}"] = scale
                shares.append(f"scale{g}[{' + '.join(terms)}]")
            else:
                shares.append(f"({' + '.join(terms)})")
            start += size
        body = (
            "    try:\n"
            "        view = seed_views[seed]\n"
            "        offset = fidelity_offsets[fidelity]\n"
            f"        row_offset = row_offsets[{' + '.join(shares) or '0'}]\n"
            "    except (KeyError, TypeError, AttributeError):\n"
            "        return fallback(config, fidelity, seed)\n"
            "    if row_offset < 0:  # no row: -1\n"
            "        return fallback(config, fidelity, seed)\n"
            f"    {_unpacked(n)}= unpack(view, row_offset + offset)\n"
        )
    else:
        namespace.update(key=rows.key, rows_get=rows.rows.get, stride=values.strides[0])
        body = (  # not memoized: None * stride raises TypeError
            "    try:\n"
            f"        {_unpacked(n)}= unpack(\n"
            "            seed_views[seed], fidelity_offsets[fidelity] + rows_get(key(config)) * stride\n"
            "        )\n"
            "    except (KeyError, TypeError, AttributeError):\n"
            "        return fallback(config, fidelity, seed)\n"
        )
    # Tables are the function's globals, not closure cells: a call copies every cell of a
    # closure into its frame (and clears them on return), which costs more than the reads.
    source = f"def lookup(config, fidelity, seed=None):\n{body}    return {_result(n)}\n"
    exec(source, namespace)
    return namespace["lookup"]
