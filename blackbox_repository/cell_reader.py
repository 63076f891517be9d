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
  fidelity and seed become byte offsets (one dict access each), the config becomes the
  byte offset of its row (:class:`RowsByTerms` or :class:`RowsByValues`), then the cell
  is read as above. Anything it does not find (another spelling, an off-grid value, a
  config not memoized yet) goes to a fallback that finds or explains, so the errors
  stay the fallback's.

Where a grid fills much of the product of its hyperparameters' levels,
:class:`RowsByTerms` costs more instructions than a memo access (two dict accesses per
hyperparameter against one ``itemgetter`` call and one memo access) but reads only small,
hot tables: no memo entry per config (a scattered tuple read on every hit, an allocation
and a search on every first meeting), so it is faster on random lookups over many
configs (see docs/performance.md).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# numpy float item size -> struct format character (IEEE half, single, double)
STRUCT_FORMATS = {2: "e", 4: "f", 8: "d"}

CellReader = Callable[[int], dict[str, float]]
Lookup = Callable[..., dict[str, float]]  # (config, fidelity, seed=None) -> objectives


@dataclass(frozen=True)
class RowsByTerms:
    """A config's row offset as ``offsets[sum(terms[j][config[names[j]]])]`` (< 0: none).

    The terms are those of a mixed-radix row number (``config_index.DenseCodeTable``):
    one small dict access per hyperparameter, one sum, one index. ``offsets`` holds each
    number's row times the values' config stride (bytes). Hyperparameters in ``optional``
    may be left out of the config (inactive: their terms hold one for None).
    """

    names: tuple[str, ...]
    terms: Sequence[Mapping[Any, int]]
    offsets: Sequence[int]
    optional: frozenset[str]


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


def _read_cell_lines(n_objectives: int, offset: str) -> str:
    targets = "".join(f"v{i}, " for i in range(n_objectives))
    items = ", ".join(f"k{i}: v{i}" for i in range(n_objectives))
    return f"    {targets}= unpack(buffer, {offset})\n    return {{{items}}}\n"


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
    source = "def read_cell(offset):\n" + _read_cell_lines(len(objective_names), "offset")
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
    which must find it or raise the error. The mappings are read, not copied: entries
    added later are seen. Returns None where ``struct`` cannot read ``values`` in place.
    """
    namespace = _cell_namespace(values, objective_names)
    if namespace is None:
        return None
    namespace.update(
        fidelity_offsets=fidelity_offsets, seed_offsets=seed_offsets, fallback=fallback
    )
    if isinstance(rows, RowsByTerms):
        terms = []
        for j, name in enumerate(rows.names):
            namespace[f"h{j}"], namespace[f"t{j}"] = name, rows.terms[j]
            value = f"config.get(h{j})" if name in rows.optional else f"config[h{j}]"
            terms.append(f"t{j}[{value}]")
        namespace["row_offsets"] = rows.offsets
        find_row = f"row_offset = row_offsets[{' + '.join(terms)}]"
        not_found = "row_offset < 0"
    else:
        namespace.update(key=rows.key, rows_get=rows.rows.get, stride=values.strides[0])
        find_row = "row = rows_get(key(config))"
        not_found = "row is None"
    # an outer function binds the tables as closure cells: cheaper to read than globals
    source = (
        f"def make({', '.join(namespace)}):\n"
        "  def lookup(config, fidelity, seed=None):\n"
        "    try:\n"
        "        offset = fidelity_offsets[fidelity] + seed_offsets[seed]\n"
        f"        {find_row}\n"
        "    except (KeyError, TypeError, AttributeError):\n"
        "        return fallback(config, fidelity, seed)\n"
        f"    if {not_found}:\n"
        "        return fallback(config, fidelity, seed)\n"
        + _read_cell_lines(
            len(objective_names),
            "row_offset + offset" if isinstance(rows, RowsByTerms) else "row * stride + offset",
        )
        + "  return lookup\n"
    )
    scope: dict[str, Any] = {}
    exec(source, scope)
    return scope["make"](**namespace)
