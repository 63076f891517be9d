"""The result recorder reads held result dicts into typed blocks, and spills chunks of the
same results as it would without blocks (issue 12: a spill costs little per result)."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from simulated_backend.backend_protocol import RunDescription
from simulated_backend.result_recorder import ResultRecorder
from simulated_backend.results import write_run

DESCRIPTION = RunDescription(
    objective_names=("loss", "time"),
    fidelity_name="epoch",
    hyperparameter_names=("x",),
    fidelity_kind="int",
)


def record(recorder: ResultRecorder, n: int, configs: list[dict]) -> int:
    """The Tuner's path (flat rows, compact when told); returns the most dicts ever held."""
    most_held = 0
    next_compaction = recorder.next_compaction()
    for k in range(n):
        result = {
            "loss": 1.0 / (k + 1),
            "time": 2.5 * k,
            "fidelity": k % 9 + 1,
            "epoch": k % 9 + 1,
            "simulated_time": 0.5 * k,
            "worker": k % 3,
        }
        recorder.rows.extend((k % len(configs), k % 5, result))
        most_held = max(most_held, len(recorder.rows) // 3)
        if k + 1 == next_compaction:
            recorder.compact(configs)
            next_compaction = recorder.next_compaction()
    return most_held


def test_blocks_spill_the_same_chunks_as_whole_chunks(tmp_path):
    configs = [{"x": i} for i in range(40)]
    tables = {}
    for name, block_rows in (("blocks", 5), ("whole", 12)):
        recorder = ResultRecorder(
            DESCRIPTION, tmp_path / name, chunk_rows=12, block_rows=block_rows
        )
        most_held = record(recorder, 100, configs)
        assert most_held == block_rows  # dicts never pile up beyond a block
        assert len(recorder) == 100 and recorder.n_spilled_chunks == 8
        write_run(tmp_path / name, recorder.tables(configs), {}, recorder.schema(configs))
        recorder.close()
        written = pq.ParquetFile(tmp_path / name / "results.parquet")
        sizes = [written.metadata.row_group(i).num_rows for i in range(written.num_row_groups)]
        assert sizes == [12] * 8 + [4]  # chunk boundaries do not depend on the blocks
        tables[name] = written.read()
    assert tables["blocks"].equals(tables["whole"])
    assert tables["blocks"].column("loss").to_pylist()[99] == 1.0 / 100
    assert tables["blocks"].column("config_x").to_pylist()[:3] == [0, 1, 2]


def test_values_struct_cannot_pack_are_converted_as_numpy_converts_them():
    recorder = ResultRecorder(DESCRIPTION, block_rows=2)
    odd = [
        {"loss": np.float32(0.1), "time": 3, "fidelity": np.int64(2), "simulated_time": True},
        {"loss": None, "time": 2**70, "fidelity": 1.9, "simulated_time": 4.0},
    ]
    for k, result in enumerate(odd):
        recorder.append(k, result, 0, [{"x": 0}, {"x": 1}])
    table = recorder.to_table([{"x": 0}, {"x": 1}])
    assert table.column("loss").to_pylist()[0] == float(np.float32(0.1))
    assert np.isnan(table.column("loss").to_pylist()[1])  # append fills a missing objective
    assert table.column("time").to_pylist() == [3.0, float(2**70)]
    assert table.column("fidelity").to_pylist() == [2, 1]  # np.fromiter truncates 1.9
    assert table.column("simulated_time").to_pylist() == [1.0, 4.0]
    assert table.column("worker").to_pylist() == [-1, -1]


def test_config_columns_read_each_config_once_and_keep_missing_values_null(tmp_path):
    """Config columns come from one pass over the chunk's configs (all names together):
    a config without a hyperparameter (inactive) gives null, one with a new name adds it."""
    description = RunDescription(
        objective_names=("loss", "time"),
        fidelity_name="epoch",
        hyperparameter_names=("x", "kind"),
        fidelity_kind="int",
    )
    configs = [{"x": 0.5, "kind": "a"}, {"kind": "b"}, {"x": 1.5, "kind": "c", "depth": 3}]
    recorder = ResultRecorder(description, tmp_path / "run", chunk_rows=4, block_rows=2)
    record(recorder, 9, configs)
    write_run(tmp_path / "run", recorder.tables(configs), {}, recorder.schema(configs))
    recorder.close()
    table = pq.read_table(tmp_path / "run" / "results.parquet")
    trials = table.column("trial_id").to_pylist()
    assert table.column("config_x").to_pylist() == [[0.5, None, 1.5][t] for t in trials]
    assert table.column("config_kind").to_pylist() == [["a", "b", "c"][t] for t in trials]
    depth = table.column("config_depth").to_pylist()
    assert depth == [[None, None, 3][t] for t in trials]
