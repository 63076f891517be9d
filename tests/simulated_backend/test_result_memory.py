"""Long runs keep bounded memory: results are spilled to disk in typed chunks (issue 8, item 9).

Memory is read from the kernel (resident set size and its peak, reset through
``/proc/self/clear_refs``): tracemalloc would slow the loop tenfold and does not see
Arrow's allocations, which dominate when the results file is written.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simulated_backend.backend_protocol import RunDescription
from simulated_backend.result_recorder import ResultRecorder
from simulated_backend.results import write_run

N_RESULTS = 2_000_000
MB = 1 << 20


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def record_like_the_tuner(recorder: ResultRecorder, n: int, configs: list[dict]) -> None:
    """The Tuner's hot path: a new result dict per result (as the backend hands them out),
    ``trial_id, decision, result`` appended flat, compacted every block (a spilled chunk
    every chunk_rows)."""
    record = recorder.rows.extend
    next_compaction = recorder.next_compaction()
    for k in range(len(recorder), len(recorder) + n):
        result = {
            "valid_error": 0.25 + k * 1e-9,
            "elapsed_time": 9.0 + k,
            "fidelity": 3,
            "epoch": 3,
            "simulated_time": 12.5 + k,
            "worker": 1,
        }
        record((k % 1000, 0, result))
        if k + 1 == next_compaction:
            recorder.compact(configs)
            next_compaction = recorder.next_compaction()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_two_million_results_grow_memory_by_less_than_50_mb_per_million(tmp_path):
    description = RunDescription(
        objective_names=("valid_error", "elapsed_time"),
        fidelity_name="epoch",
        hyperparameter_names=("x", "optimizer"),
        fidelity_kind="int",
    )
    configs = [{"x": k, "optimizer": ("adam", "sgd")[k % 2]} for k in range(1000)]
    recorder = ResultRecorder(description, spill_parent=tmp_path / "run")
    record_like_the_tuner(recorder, 100_000, configs)  # warm up allocators and Arrow's pool
    rss_before = _status_kb("VmRSS")
    peak_was_reset = _reset_peak()
    record_like_the_tuner(recorder, N_RESULTS - 100_000, configs)
    rss_recorded = _status_kb("VmRSS")
    write_run(
        tmp_path / "run",
        recorder.tables(configs),
        {"format_version": 1},
        recorder.schema(configs),
    )
    recorder.close()
    peak = _status_kb("VmHWM") if peak_was_reset else _status_kb("VmRSS")
    millions = N_RESULTS / 1e6
    assert len(recorder) == N_RESULTS
    assert (rss_recorded - rss_before) / 1024 / millions < 50
    assert (peak - rss_before) / 1024 / millions < 50, (
        f"peak grew by {(peak - rss_before) / 1024:.0f} MB for {millions:g} million results"
    )
    written = pq.ParquetFile(tmp_path / "run" / "results.parquet")
    assert written.metadata.num_rows == N_RESULTS
    assert written.schema_arrow.field("fidelity").type == "int64"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "metadata.json",
        "results.parquet",
    ]
    first = written.read_row_group(0)
    assert first.column("config_optimizer").to_pylist()[:2] == ["adam", "sgd"]
