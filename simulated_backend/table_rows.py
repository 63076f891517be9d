"""A tabular blackbox's rows as the simulator reads them: unpacked from the table's bytes
(:class:`FlatRows`), and turned into result dicts (:func:`result_maker`)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from simulated_backend.backend_protocol import FIDELITY_KEY, TIME_KEY


def result_maker(
    objective_names: tuple[str, ...], fidelity_name: str
) -> Callable[[Sequence[float], Any, float, int], dict[str, Any]]:
    """``(row, fidelity, time, worker) -> result dict`` made as one dict display by a
    generated lambda (as ``collections.namedtuple`` generates its methods): about half the
    instructions of ``dict(zip(objective_names, row))`` plus four insertions (the generic
    merge of key/value pairs, then a resize of the dict), on the path of every result.
    The keys: every objective, the fidelity under ``"fidelity"`` and under the blackbox's
    own name (until every scheduler reads ``"fidelity"``), the time, the worker."""
    items = [f"_key{i}: row[{i}]" for i in range(len(objective_names))]
    items += ["_fidelity: fidelity", "_fidelity_name: fidelity", "_time: time", "_worker: worker"]
    keys = {f"_key{i}": name for i, name in enumerate(objective_names)}
    keys.update(
        _fidelity=FIDELITY_KEY, _fidelity_name=fidelity_name, _time=TIME_KEY, _worker="worker"
    )
    source = f"lambda row, fidelity, time, worker: {{{', '.join(items)}}}"
    return eval(source, keys)  # noqa: S307 - our own names, no input


class FlatRows:
    """A tabular blackbox's table (configuration, fidelity, seed, objective) read row by row
    from its buffer, for the few-row reads of trial starts and first results.

    A row (a trial's objectives at one fidelity) is unpacked from the table's bytes by a
    ``struct.Struct`` into a tuple of floats: about a tenth of the instructions of indexing
    the ndarray (which builds a view object per read, then a list), the same floats (float64
    values, read as they are), and a tuple of floats, which the garbage collector stops
    tracking at its first pass (a list stays tracked while the trial runs). With several
    seeds a block's rows are strided; blocks longer than :attr:`MAX_STRIDED_BLOCK` rows are
    then read by numpy, cheaper per row.
    """

    MAX_STRIDED_BLOCK = 16

    def __init__(self, values: np.ndarray) -> None:
        n_configs, n_positions, n_seeds, n_objectives = values.shape
        self.table_bytes = memoryview(values).cast("B")
        row = struct.Struct(f"={n_objectives}d")
        self.unpack_row = row.unpack_from
        self._iter_unpack_rows = row.iter_unpack
        self.n_configs = n_configs
        self.n_positions = n_positions
        self.row_bytes = row.size
        self.position_bytes = n_seeds * row.size
        self.config_bytes = n_positions * self.position_bytes
        self.contiguous_rows = n_seeds == 1

    @classmethod
    def of(cls, values: np.ndarray | None) -> FlatRows | None:
        """The reader of ``values``, or ``None`` if it is not a C-contiguous float64 table."""
        if (
            values is None
            or values.dtype != np.float64
            or values.ndim != 4
            or not values.flags.c_contiguous
            or values.size == 0
        ):
            return None
        return cls(values)

    def block(self, config_index: int, position: int, size: int, seed_index: int) -> list:
        """Rows ``position .. position + size - 1`` (fewer at the last fidelity), as tuples."""
        stride = self.position_bytes
        start = config_index * self.config_bytes + position * stride + seed_index * self.row_bytes
        end = start + (min(position + size, self.n_positions) - position) * stride
        if self.contiguous_rows:
            return list(self._iter_unpack_rows(self.table_bytes[start:end]))
        unpack_row, table_bytes = self.unpack_row, self.table_bytes
        return [unpack_row(table_bytes, offset) for offset in range(start, end, stride)]
