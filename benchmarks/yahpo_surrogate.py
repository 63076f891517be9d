"""Cost of YAHPO answers evaluated one row per model call, against the bare model call.

simtune evaluates every (configuration, fidelity) row of a YAHPO model in its own
onnxruntime call, as yahpo-gym does for one configuration, so that answers are bit for bit
yahpo-gym's. The peer is that bare call: ``session.run`` on one prepared row, measured in
the same run on the same model. Figures, as process CPU time per row:

- peer: one bare one-row ``session.run`` (what yahpo-gym pays at least per configuration);
- a whole curve read row by row (``curve[k]`` for every k): checking, encoding, the model
  call and the elapsed-time bookkeeping;
- ``lookup_batch`` of random (configuration, fidelity) pairs, per model row;
- for reference, the batched call simtune no longer makes (16 rows per call), per row.

Target: simtune's per-row cost at most 1.3x the bare one-row call (the model dominates).

    python benchmarks/yahpo_surrogate.py [--raw-data-dir ../shared/data] [--configs 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_RATIO = 1.3
NAMES = ("yahpo-lcbench-3945", "yahpo-rbv2_xgboost-1040", "yahpo-iaml_glmnet-1067")


def fastest_per_row(works: dict[str, tuple], repeats: int = 5) -> dict[str, float]:
    """The fastest of ``repeats`` runs of each ``(work, n_rows)``, in process CPU seconds per
    row; the works take turns, so that load from other processes hits them alike."""
    best = dict.fromkeys(works, float("inf"))
    for _ in range(repeats):
        for label, (work, _) in works.items():
            start = time.process_time()
            work()
            best[label] = min(best[label], time.process_time() - start)
    return {label: best[label] / n_rows for label, (_, n_rows) in works.items()}


def measure(name: str, raw_data_dir: Path, cache_dir: Path, n_configs: int) -> dict[str, float]:
    from blackbox_repository import load_blackbox

    blackbox = load_blackbox(name, cache_dir=cache_dir, raw_data_dir=raw_data_dir)
    space = blackbox.configuration_space
    space.seed(0)
    configs = [dict(space.sample_configuration()) for _ in range(n_configs)]
    encoded = [blackbox.inputs.encode(blackbox.checker.check(c)) for c in configs]
    n_fidelities = len(blackbox.fidelity_values)
    x_cat = np.repeat(np.stack([cat for cat, _ in encoded]), n_fidelities, axis=0)
    x_cont = np.repeat(np.stack([cont for _, cont in encoded]), n_fidelities, axis=0)
    session = blackbox.session()
    cat_name, cont_name = (i.name for i in session.get_inputs())
    rows = len(x_cat)

    def bare_single_rows():
        for row in range(rows):
            session.run(None, {cat_name: x_cat[row : row + 1], cont_name: x_cont[row : row + 1]})

    def batched_16_rows():
        for row in range(0, rows, 16):
            session.run(None, {cat_name: x_cat[row : row + 16], cont_name: x_cont[row : row + 16]})

    def curves_row_by_row():
        for config in configs:
            curve = blackbox.curve(config)
            for position in range(n_fidelities):
                curve[position]

    rng = np.random.default_rng(1)
    pair_configs = [configs[k] for k in rng.integers(0, n_configs, 4 * n_configs)]
    pair_fidelities = blackbox.fidelity_values[rng.integers(0, n_fidelities, len(pair_configs))]

    def batch_lookups():
        blackbox._curves.clear()
        blackbox.lookup_batch(pair_configs, pair_fidelities)

    blackbox._curves.clear()
    blackbox.lookup_batch(pair_configs, pair_fidelities)
    batch_rows = sum(curve._n_done for curve in blackbox._curves.values())
    return fastest_per_row(
        {
            "bare one-row call": (bare_single_rows, rows),
            "curve, row by row": (curves_row_by_row, rows),
            "lookup_batch": (batch_lookups, batch_rows),
            "16-row batched call (not used)": (batched_16_rows, rows),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--raw-data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data"
    )
    parser.add_argument("--configs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache_dir:
        for name in NAMES:
            figures = measure(name, args.raw_data_dir, Path(cache_dir), args.configs)
            peer = figures["bare one-row call"]
            print(f"{name}: per model row, process CPU time")
            for label, seconds in figures.items():
                ratio = seconds / peer
                verdict = ""
                if label in ("curve, row by row", "lookup_batch"):
                    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
                    verdict = f"  target <= {TARGET_RATIO}x: {verdict}"
                print(f"  {label:32s} {seconds * 1e6:8.1f} us  {ratio:5.2f}x peer{verdict}")


if __name__ == "__main__":
    main()
