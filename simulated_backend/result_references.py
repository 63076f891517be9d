"""Results recorded by reference: a tabular simulator's results as four numbers each.

A :class:`~simulated_backend.backend.SimulatorBackend` on a tabular blackbox knows every
result it reports as ``(trial id, table row, report time, worker)``: the objectives are
the table's row (configuration, fidelity position, seed), the fidelity follows from the
row's position. :class:`TableResultLog` keeps those four numbers per result in one flat
list (one ``extend`` per result, plain ints and floats that the garbage collector does not
track), and turns a run of them into typed columns in C: one ``struct`` pack of the whole
list, then the objectives gathered from the table by numpy fancy indexing. The result
dicts handed to the scheduler are then never held by the recorder: they are freed as soon
as the Tuner is done with them, while still in the CPU's caches (reading 4,096 held dicts
into columns, and freeing them late, cost about 2 µs per result; see docs/performance.md).

The columns are exactly what reading the dicts gave: the dicts' objectives are the same
float64 values of the same table rows, their fidelity is ``fidelity_values[position]``,
their time and worker the numbers logged here.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulated_backend.backend_protocol import FIDELITY_KEY, TIME_KEY

_FIELDS = 4  # trial id, table row, report time, worker


class TableResultLog:
    """The results a tabular simulator reported, four numbers each, in report order.

    Args:
        values: the blackbox's table, shape ``(configurations, fidelities, seeds,
            objectives)``, C-contiguous float64 (rows are gathered from a flat view).
        fidelity_values: the fidelity at each position (plain ints or floats).
        objective_names: the name of each objective, in the table's order.

    The backend appends ``(trial_id, table_row, time, worker)`` to :attr:`entries` for each
    result it reports (``table_row``: the result's row in the table's flat rows,
    ``(config_index * fidelities + position) * seeds + seed_index``); the recorder takes the first
    ``n`` of them with :meth:`take_columns`. A backend may have reported one result more
    than was recorded (the one past the time budget, or one a Ctrl-C cut off): it stays.
    """

    def __init__(
        self, values: np.ndarray, fidelity_values: Sequence[Any], objective_names: Sequence[str]
    ) -> None:
        n_configs, n_positions, n_seeds, n_objectives = values.shape
        if len(objective_names) != n_objectives:
            raise ValueError(
                f"the table has {n_objectives} objectives, but {len(objective_names)} names "
                f"were given: {list(objective_names)}"
            )
        if not values.flags.c_contiguous or values.dtype != np.float64:
            raise ValueError(
                "results are recorded by reference only from a C-contiguous float64 table"
            )
        self.entries: list[Any] = []
        self.n_positions = n_positions
        self.n_seeds = n_seeds
        self.objective_names = tuple(objective_names)
        # one column per objective over the flat rows (strided views: no copy)
        flat = values.reshape(n_configs * n_positions * n_seeds, n_objectives)
        self._objective_columns = [flat[:, j] for j in range(n_objectives)]
        kind = np.int64 if all(type(v) is int for v in fidelity_values) else np.float64
        self._fidelities = np.array(list(fidelity_values), dtype=kind)

    def __len__(self) -> int:
        return len(self.entries) // _FIELDS

    def take_columns(self, n: int) -> dict[str, np.ndarray]:
        """The typed columns of the first ``n`` results (trial id, worker, fidelity, time,
        each objective), which are dropped from :attr:`entries`."""
        entries = self.entries
        if n > len(entries) // _FIELDS:
            raise ValueError(f"{n} results asked for, {len(entries) // _FIELDS} logged")
        size = _FIELDS * n
        held = entries if len(entries) == size else entries[:size]
        # every field as float64 in one C loop: the ids, rows and workers are ints far below
        # 2**53, exact as floats; the times are floats already (their bits are kept)
        fields = np.frombuffer(struct.pack(f"{size}d", *held), dtype=np.float64)
        fields = fields.reshape(n, _FIELDS)
        rows = fields[:, 1].astype(np.int64)
        columns: dict[str, np.ndarray] = {
            "trial_id": fields[:, 0].astype(np.int64),
            "worker": fields[:, 3].astype(np.int64),
            FIDELITY_KEY: self._fidelities[(rows // self.n_seeds) % self.n_positions],
            TIME_KEY: fields[:, 2].copy(),
        }
        for name, column in zip(self.objective_names, self._objective_columns):
            columns[name] = column[rows]
        del entries[:size]
        return columns
