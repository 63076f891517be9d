"""End to end: a study of 3 methods x 2 real benchmarks x 3 seeds on a real Dask LocalCluster,
killed after some tasks, resumed, collated, analysed and plotted; the figures and tables are
checked against a direct computation from the raw results files."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarking.analysis import average_rank, best_so_far_on_grid, final_table, final_values
from benchmarking.collation import (
    read_benchmark_summaries,
    read_collated,
    read_collation_summary,
    read_traces,
)
from simulated_backend import read_run
from tests.benchmarking.study_helpers import (
    SHORT_SETTINGS,
    completed_task_folders,
    folder_fingerprint,
)
from tests.conftest import REPO_ROOT

METHODS = ("ASHA", "BOHB", "RS")
SEEDS = (0, 1, 2)
N_TASKS = len(METHODS) * len(SHORT_SETTINGS) * len(SEEDS)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def simtune(*arguments: str, **popen) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarking.cli", *arguments],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def write_study_file(path: Path, out: Path) -> None:
    benchmarks = "\n".join(
        f"  - {{name: {name}, " + ", ".join(f"{k}: {v}" for k, v in settings.items()) + "}"
        for name, settings in SHORT_SETTINGS.items()
    )
    path.write_text(
        f"methods: [{', '.join(METHODS)}]\n"
        f"benchmarks:\n{benchmarks}\n"
        f"seeds: 0-{len(SEEDS) - 1}\n"
        "n_workers: 4\n"
        f"out: {out}\n"
        "executor: dask\n"
        "n_jobs: 2\n"
    )


def kill_when_some_tasks_are_done(
    process: subprocess.Popen, out: Path, at_least: int, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while len(completed_task_folders(out)) < at_least:
        if process.poll() is not None:
            pytest.fail(f"the study ended before it could be killed:\n{process.communicate()}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"no {at_least} tasks finished within {timeout} s")
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the client, its scheduler, nannies and workers
    process.communicate()
    for _ in range(100):  # every process of the group is gone
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("processes of the killed study survived")


def direct_final_values(out: Path) -> pd.DataFrame:
    """Best metric value within the budget of every run, read straight from its folder."""
    rows = []
    for folder in sorted(out.glob("runs/*/*/seed-*")):
        run = read_run(folder)
        budget = run.metadata["stop_criterion"]["max_wallclock_time"]
        values = run.results.loc[
            run.results["simulated_time"] <= budget, run.metadata["metric"]
        ].to_numpy()
        best = np.nanmin(values) if run.metadata["mode"] == "min" else np.nanmax(values)
        rows.append(
            (run.metadata["method"], run.metadata["benchmark"], run.metadata["seed"], float(best))
        )
    return pd.DataFrame(rows, columns=["method", "benchmark", "seed", "best"])


def direct_average_final_rank(finals: pd.DataFrame, modes: dict[str, str]) -> dict[str, float]:
    ranks: dict[str, list[float]] = {m: [] for m in METHODS}
    for (benchmark, _), group in finals.groupby(["benchmark", "seed"]):
        values = group.set_index("method")["best"]
        for method, value in values.items():
            better = (values < value) if modes[benchmark] == "min" else (values > value)
            ties = (values == value).sum()
            ranks[method].append(better.sum() + (ties + 1) / 2)
    return {m: float(np.mean(r)) for m, r in ranks.items()}


@pytest.mark.usefixtures("shared_data_dir")
def test_study_on_dask_killed_resumed_collated_analysed_and_plotted(tmp_path):
    out = tmp_path / "study"
    study_file = tmp_path / "study.yaml"
    write_study_file(study_file, out)

    first = simtune("run", "--study", str(study_file), "--no-progress", start_new_session=True)
    kill_when_some_tasks_are_done(first, out, at_least=4, timeout=180)
    done_before = completed_task_folders(out)
    assert 4 <= len(done_before) < N_TASKS, "the kill came too late to test a resume"
    fingerprints = {folder: folder_fingerprint(folder) for folder in done_before}

    second = simtune("run", "--study", str(study_file), "--no-progress", "--plot")
    stdout, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr
    assert (
        f"{N_TASKS} tasks: {len(done_before)} already done, {N_TASKS - len(done_before)} completed, 0 failed"
        in stdout
    )
    assert len(completed_task_folders(out)) == N_TASKS
    assert {
        folder: folder_fingerprint(folder) for folder in done_before
    } == fingerprints  # not redone
    # the 2 Dask workers read each of the 2 benchmarks from disk at most once
    loads = re.search(r"(\d+) processes read blackboxes from disk (\d+) times", stdout)
    assert loads is not None and int(loads.group(1)) <= 2 and int(loads.group(2)) <= 4
    assert not any((out / ".staging").iterdir()) if (out / ".staging").exists() else True

    # collation: every run, nothing failed or missing
    dataset = out / "collated"
    summary = read_collation_summary(dataset)
    assert summary["n_runs"] == N_TASKS and summary["failed"] == [] and summary["missing"] == []
    partitions = sorted(
        p.relative_to(dataset).as_posix() for p in dataset.glob("benchmark=*/method=*/*.parquet")
    )
    assert partitions == sorted(
        f"benchmark={b}/method={m}/results.parquet" for b in SHORT_SETTINGS for m in METHODS
    )

    # analysis matches a direct computation from the raw results
    summaries = read_benchmark_summaries(dataset)
    modes = {name: s.mode for name, s in summaries.items()}
    direct = direct_final_values(out)
    analysed = final_values(read_traces(dataset), summaries)
    merged = direct.merge(
        analysed, on=["method", "benchmark", "seed"], suffixes=("_direct", "_analysed")
    )
    assert len(merged) == N_TASKS
    xgboost = read_collated(dataset, benchmarks=["xgboost-mnist"])
    assert xgboost["fidelity"].max() == 5600  # the grid was cut at max_fidelity
    np.testing.assert_allclose(merged["best_analysed"], merged["best_direct"])
    table = final_table(analysed).set_index(["method", "benchmark"])
    direct_means = direct.groupby(["method", "benchmark"])["best"].mean()
    np.testing.assert_allclose(table["mean"].sort_index(), direct_means.sort_index())
    curves = best_so_far_on_grid(read_traces(dataset), summaries, n_points=20)
    final_ranks = average_rank(curves, summaries)
    final_ranks = final_ranks[final_ranks["step"] == 19].set_index("method")["rank"].to_dict()
    assert final_ranks == pytest.approx(direct_average_final_rank(direct, modes))
    for name, summary in summaries.items():  # the optimum bounds every run's best value
        bests = direct.loc[direct["benchmark"] == name, "best"]
        assert (
            (bests >= summary.best_value).all()
            if summary.mode == "min"
            else (bests <= summary.best_value).all()
        )

    # the final table printed by `simtune run` and the plots written by --plot
    for method in METHODS:
        assert f"| {method} |" in stdout
    plots = out / "plots"
    for stem in ("best_so_far", "average_rank", "normalized_regret"):
        png = (plots / f"{stem}.png").read_bytes()
        assert png.startswith(PNG_MAGIC)
        assert (plots / f"{stem}.pdf").read_bytes().startswith(b"%PDF-")
        import matplotlib.image

        image = matplotlib.image.imread(plots / f"{stem}.png")
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    markdown = (plots / "final_table.md").read_text()
    assert markdown.splitlines()[0].startswith(
        "| method | taskset-imdb-gru128-bs128 (valid_loss, min)"
    )
    assert "\\begin{tabular}" in (plots / "final_table.tex").read_text()
