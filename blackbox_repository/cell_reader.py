"""One cell of a dense float table as a dict of Python floats, read without numpy per call.

``values[c, f, s]`` plus ``.tolist()`` costs two numpy calls per scalar lookup (about
0.5 us); ``struct.unpack_from`` on a byte view of the same buffer gives the same Python
floats, bit for bit (both widen the stored IEEE half/single/double to a double), in a
fifth of that. The dict is built by a function whose body is one dict display for the
objective names, generated once per blackbox the way ``dataclasses`` generates
``__init__`` (the names are passed in as values, never written into the source): about
half the cost of ``dict(zip(names, row))``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

import numpy as np

# numpy float item size -> struct format character (IEEE half, single, double)
STRUCT_FORMATS = {2: "e", 4: "f", 8: "d"}

CellReader = Callable[[int], dict[str, float]]


def cell_reader(values: np.ndarray, objective_names: Sequence[str]) -> CellReader | None:
    """``read(byte_offset) -> {objective name: value}`` for ``values``' last axis.

    ``byte_offset`` is the position of the cell's first value in bytes: the dot product of
    its indices with ``values.strides``. Returns None where ``struct`` cannot read the
    array in place (not C-contiguous, or a float wider than a double); then index with
    numpy instead.
    """
    code = STRUCT_FORMATS.get(values.dtype.itemsize)
    if values.dtype.kind != "f" or code is None or not values.flags.c_contiguous:
        return None
    if values.shape[-1] != len(objective_names):
        raise ValueError(
            f"values have {values.shape[-1]} objectives, names are {list(objective_names)}"
        )
    byte_order = values.dtype.byteorder if values.dtype.byteorder in "<>" else "="
    row = struct.Struct(f"{byte_order}{len(objective_names)}{code}")
    namespace = {
        "unpack": row.unpack_from,
        "buffer": memoryview(values).cast("B"),
        **{f"k{i}": name for i, name in enumerate(objective_names)},
    }
    targets = "".join(f"v{i}, " for i in range(len(objective_names)))
    items = ", ".join(f"k{i}: v{i}" for i in range(len(objective_names)))
    source = (
        f"def read_cell(offset):\n    {targets}= unpack(buffer, offset)\n    return {{{items}}}\n"
    )
    exec(source, namespace)
    return namespace["read_cell"]
