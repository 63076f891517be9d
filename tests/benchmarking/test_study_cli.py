"""`simtune run`, `collect` and `plot`: output and one-line errors for bad input."""

from __future__ import annotations

import json
import time

import pytest

from benchmarking.cli import main
from tests.benchmarking.study_helpers import free_port


@pytest.mark.usefixtures("shared_data_dir")
def test_run_collect_and_plot_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "out"
    common = [
        "--benchmarks",
        "xgboost-mnist",
        "--seeds",
        "0-1",
        "--max-wallclock-time",
        "600",
        "--out",
        str(out),
    ]
    assert main(["run", "--methods", "rs,asha", *common, "--n-workers", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "4 tasks: 0 already done, 4 completed, 0 failed" in printed
    assert "collated 4 runs" in printed
    assert "| ASHA |" in printed and "| RS |" in printed
    metadata = json.loads(
        (out / "runs" / "xgboost-mnist" / "ASHA" / "seed-1" / "metadata.json").read_text()
    )
    assert (metadata["n_workers"], metadata["stop_criterion"]["max_wallclock_time"]) == (2, 600.0)

    assert main(["run", "--methods", "RS,ASHA", *common, "--n-workers", "2", "--no-progress"]) == 0
    assert "4 tasks: 4 already done, 0 completed" in capsys.readouterr().out

    assert main(["collect", str(out)]) == 0
    assert "collated 4 runs" in capsys.readouterr().out
    assert (
        main(["plot", str(out), "--statistic", "median", "--scale", "log", "--n-points", "10"]) == 0
    )
    assert "best_so_far.png" in capsys.readouterr().out
    figures = [
        f"{s}.{e}"
        for s in ("best_so_far", "average_rank", "normalized_regret")
        for e in ("png", "pdf")
    ]
    tables = ["final_table.md", "final_table.tex"]
    assert sorted(p.name for p in (out / "plots").iterdir()) == sorted(figures + tables)


def run_arguments(out, methods="RS", benchmarks="xgboost-mnist", seeds="0", *extra):
    arguments = ["run", "--out", str(out), "--no-progress", *extra]
    for flag, value in (("--methods", methods), ("--benchmarks", benchmarks), ("--seeds", seeds)):
        if value is not None:
            arguments += [flag, value]
    return arguments


def test_unknown_names_are_one_line_errors_that_suggest_close_names(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(run_arguments(out, methods="BOBH")) == 2
    assert "simtune: error: unknown method 'BOBH'. Did you mean 'BOHB'" in capsys.readouterr().err
    assert main(run_arguments(out, benchmarks="taskset-gru128")) == 2
    assert "Did you mean: taskset-imdb-gru128-bs128" in capsys.readouterr().err
    assert main(run_arguments(out, seeds="0-")) == 2
    assert "cannot read seeds '0-'" in capsys.readouterr().err
    assert main(run_arguments(out, benchmarks=None)) == 2
    assert "the study lacks 'benchmarks'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.usefixtures("shared_data_dir")
def test_an_unreachable_dask_scheduler_fails_within_seconds_and_starts_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    code = main(run_arguments(out, "RS", "xgboost-mnist", "0", "--dask-scheduler", address))
    assert code == 2
    assert time.monotonic() - started < 15
    assert f"cannot reach the Dask scheduler at {address}" in capsys.readouterr().err
    assert not out.exists()


def test_collect_and_plot_of_a_folder_without_a_study_are_clear_errors(tmp_path, capsys):
    assert main(["collect", str(tmp_path / "nowhere")]) == 2
    assert "holds no study results" in capsys.readouterr().err
    assert main(["plot", str(tmp_path)]) == 2
    assert "holds no study results" in capsys.readouterr().err
