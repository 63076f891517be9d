"""The real-tuning example: the scikit-learn MLP trained on 2 worker processes with ASHA,
its run collected and plotted into the same figures as a simulated study."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from benchmarking.cli import main as simtune
from simulated_backend import read_run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tune_sklearn_mlp_for_real.py"
FIGURES = sorted(
    f"{stem}.{extension}"
    for stem in ("best_so_far", "average_rank", "normalized_regret")
    for extension in ("png", "pdf")
)


def load_example():
    spec = importlib.util.spec_from_file_location("tune_sklearn_mlp_for_real", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_mlp_run_is_collected_and_plotted_like_a_simulated_one(tmp_path, capsys):
    out = tmp_path / "real"
    arguments = ["--out", str(out), "--max-wallclock-time", "300", "--max-results", "10"]
    assert load_example().main([*arguments, "--max-epochs", "4", "--n-samples", "300"]) == 0
    assert "ASHA for real:" in capsys.readouterr().out
    run = read_run(out / "runs" / "sklearn-mlp-digits-real" / "ASHA" / "seed-0")
    results = run.results
    assert run.metadata["runner"]["runner"] == "processes" and run.metadata["n_workers"] == 2
    assert len(results) == 10 and set(results.status) == {"success"}
    assert results.valid_error.between(0, 1).all() and (results.elapsed_time > 0).all()
    assert (results.timestamp > 1e9).all()  # real timestamps
    # ASHA's rungs: some trial went past the first epoch, resumed from its checkpoint
    assert results.fidelity.max() > 1
    checkpoints = out / "checkpoints" / "sklearn-mlp-digits-real" / "ASHA" / "seed-0"
    # every finished step leaves its trial's checkpoint (trial 0 may still be training at the
    # stop: its size decides its speed, so no particular trial is named)
    assert sorted(checkpoints.glob("trial-*/mlp.pkl"))

    assert simtune(["collect", str(out)]) == 0
    assert simtune(["plot", str(out), "--n-points", "10"]) == 0
    written = sorted(p.name for p in (out / "plots").iterdir() if p.suffix in (".png", ".pdf"))
    assert (
        written == FIGURES
    )  # the figures of a simulated study (tests/benchmarking/test_study_cli.py)
