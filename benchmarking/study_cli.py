"""``simtune run``, ``simtune collect`` and ``simtune plot``: studies from the command line.

    simtune run --methods ASHA,BOHB,RS --benchmarks xgboost-mnist,lcdb-openml3 --seeds 0-29 \\
        --n-workers 4 --out results/ --executor dask --n-jobs 4 --plot
    simtune run --study study.yaml            # the same settings from a YAML file
    simtune collect results/                  # one Parquet dataset + failed/missing summary
    simtune plot results/                     # figures and the final table in results/plots/
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# Only the standard library is imported at module level (plus the executors' names): the
# parsers must build, and `--help` answer, without pandas, pyarrow, ConfigSpace or Dask.


def configure_run_command(run: argparse.ArgumentParser) -> None:
    """Add the arguments of ``simtune run`` to its (already created) parser."""

    run.add_argument("--study", type=Path, help="YAML study file (command-line flags override it)")
    run.add_argument(
        "--methods",
        help="comma-separated method names (see `simtune methods`) or package.module:factory "
        "references, e.g. ASHA,BOHB,mymodule:make",
    )
    run.add_argument(
        "--benchmarks",
        help="comma-separated benchmark names (see `simtune blackbox list`) or "
        "package.module:recipe references",
    )
    run.add_argument("--seeds", help="seeds: a range 0-29, a list 0,3,7, or both")
    run.add_argument(
        "--n-workers", type=int, help="simulated workers per run (default: the benchmark's)"
    )
    run.add_argument(
        "--max-wallclock-time",
        type=float,
        help="simulated seconds per run (default: the benchmark's)",
    )
    run.add_argument(
        "--max-num-results",
        "--max-num-evaluations",  # its name before simtune spoke of results only
        dest="max_num_results",
        type=int,
        help="cap on the reported results per run",
    )
    run.add_argument(
        "--method-kwargs",
        type=_json_object,
        help='JSON: scheduler arguments per method, e.g. \'{"ASHA": {"reduction_factor": 2}}\'',
    )
    run.add_argument("--out", type=Path, help="output folder (default: results)")
    run.add_argument(
        "--executor",
        help="where tasks run: inprocess, processes, dask (default: a LocalCluster unless "
        "--dask-scheduler is given), an entry point of simtune.executors, or "
        "package.module:factory",
    )
    run.add_argument(
        "--dask-scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786"
    )
    run.add_argument(
        "--n-jobs",
        type=int,
        help="local worker processes (process pool or Dask LocalCluster; default 2)",
    )
    run.add_argument(
        "--plot", action="store_true", default=None, help="also write plots into OUT/plots"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="count the tasks done and to run; write and start nothing",
    )
    run.set_defaults(handler=_run)


def configure_collect_command(collect: argparse.ArgumentParser) -> None:
    """Add the arguments of ``simtune collect`` to its (already created) parser."""
    collect.add_argument("out", type=Path, help="the study's output folder")
    collect.add_argument(
        "--dataset-dir", type=Path, help="where to write the dataset (default: OUT/collated)"
    )
    collect.add_argument(
        "--no-best-values",
        action="store_true",
        help="do not load blackboxes to find each benchmark's best value (no regret)",
    )
    collect.set_defaults(handler=_collect)


def configure_plot_command(plot: argparse.ArgumentParser) -> None:
    """Add the arguments of ``simtune plot`` to its (already created) parser."""
    plot.add_argument("out", type=Path, help="the study's output folder (collated first if needed)")
    plot.add_argument("--plots-dir", type=Path, help="default: OUT/plots")
    plot.add_argument(
        "--statistic",
        choices=("mean", "median"),
        default="mean",
        help="mean +/- s.e. or median and quartiles",
    )
    plot.add_argument("--scale", choices=("linear", "log"), default="linear", help="time grid")
    plot.add_argument("--n-points", type=int, default=100, help="points of the time grid")
    plot.set_defaults(handler=_plot)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text!r}") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise argparse.ArgumentTypeError(
            f'give a JSON object of objects, e.g. \'{{"ASHA": {{"reduction_factor": 2}}}}\', got {text!r}'
        )
    return value


def _fail(error: BaseException | str) -> int:
    print(f"simtune: error: {error}", file=sys.stderr)
    return 2


def output_folder_problem(path: Path, option: str) -> str | None:
    """Why ``path`` cannot be an output folder (it, or a folder above it, is a file), or None."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            if candidate.is_dir():
                return None
            where = "it" if candidate == path else f"{candidate}"
            return (
                f"{option} {path}: {where} is a file, not a folder; give a folder "
                "(a new one, or the output folder of an earlier run to resume it)"
            )
    return None


# --------------------------------------------------------------------- simtune run
def _run(args: argparse.Namespace) -> int:
    from benchmarking.study import Study, StudyLayout, execute_study, read_study_file
    from benchmarking.study_spec import parse_seeds

    if args.seeds is not None:  # checked first: ranges and size, before anything is built
        parse_seeds(args.seeds)

    described: dict[str, Any] = read_study_file(args.study) if args.study else {}
    command_line = {
        "methods": args.methods,
        "benchmarks": args.benchmarks,
        "seeds": args.seeds,
        "n_workers": args.n_workers,
        "max_wallclock_time": args.max_wallclock_time,
        "max_num_results": args.max_num_results,
        "method_kwargs": args.method_kwargs,
    }
    settings = {**described, **{k: v for k, v in vars(args).items() if v is not None}}
    out = Path(settings.get("out") or "results")
    problem = output_folder_problem(out, "--out")
    if problem:
        return _fail(problem)
    try:
        study = Study.from_mapping(described, **command_line)
        report = execute_study(
            study,
            out,
            executor=settings.get("executor"),
            n_jobs=settings.get("n_jobs"),
            dask_scheduler=settings.get("dask_scheduler"),
            progress=not args.no_progress,
            dry_run=args.dry_run,
        )
    except (ConnectionError, OSError) as error:
        return _fail(error)
    print(report.summary())
    if args.dry_run:
        return 0
    for outcome in report.failed[:10]:
        print(f"  failed: {outcome.key}: {outcome.error.splitlines()[0][:300]}")
    if report.n_failed > 10:
        print(f"  ... {report.n_failed - 10} more; see failed.json in each task folder")
    layout = StudyLayout(out)
    try:
        _collect_and_print(out, layout.collated_dir, best_values=True)
        if settings.get("plot"):
            _write_plots(
                layout.collated_dir,
                layout.plots_dir,
                statistic="mean",
                scale="linear",
                n_points=100,
            )
    except OSError as error:
        return _fail(error)
    return 1 if report.n_failed else 0


# --------------------------------------------------------------------- simtune collect
def _collect_and_print(out: Path, dataset_dir: Path, best_values: bool) -> None:
    from benchmarking.collation import collect_results

    summary = collect_results(out, dataset_dir, best_values=best_values)
    print(summary.describe())
    if summary.n_runs:
        print()
        print(final_table_markdown(dataset_dir))


def final_table_markdown(dataset_dir: Path, latex: bool = False) -> str:
    """The final table (method x benchmark, mean +/- s.e. of the best value at the budget),
    with a numbered note for each method whose runs stopped before the budget (e.g. because
    the search space was used up)."""
    from benchmarking.analysis import (
        final_table,
        final_values,
        latex_escape,
        table_latex,
        table_markdown,
    )
    from benchmarking.collation import read_benchmark_summaries, read_runs, read_traces
    from benchmarking.early_stops import early_stops, footnote_marks, footnotes

    summaries = read_benchmark_summaries(dataset_dir)
    table = final_table(final_values(read_traces(dataset_dir), summaries))
    stops = early_stops(read_runs(dataset_dir))
    marks = footnote_marks(stops)
    if latex:
        notes = "".join(f"\\par\\footnotesize {latex_escape(note)}\n" for note in footnotes(stops))
        return table_latex(table, summaries, marks=marks) + notes
    notes = "".join(f"\n{note}\n" for note in footnotes(stops))
    return table_markdown(table, summaries, marks=marks) + notes


def _collect(args: argparse.Namespace) -> int:
    dataset_dir = args.dataset_dir or args.out / "collated"
    problem = output_folder_problem(dataset_dir, "--dataset-dir")
    if problem:
        return _fail(problem)
    try:
        _collect_and_print(args.out, dataset_dir, best_values=not args.no_best_values)
    except OSError as error:
        return _fail(error)
    return 0


# --------------------------------------------------------------------- simtune plot
def _write_plots(
    dataset_dir: Path, plots_dir: Path, *, statistic: str, scale: str, n_points: int
) -> list[Path]:
    from benchmarking.plots import plot_study

    written = plot_study(
        dataset_dir, plots_dir, statistic=statistic, scale=scale, n_points=n_points
    )
    for extension, latex in (("md", False), ("tex", True)):
        path = plots_dir / f"final_table.{extension}"
        path.write_text(final_table_markdown(dataset_dir, latex=latex))
        written.append(path)
    print("wrote " + ", ".join(str(p) for p in written))
    return written


def _plot(args: argparse.Namespace) -> int:
    from benchmarking.collation import SUMMARY_FILE, collect_results

    if (args.out / SUMMARY_FILE).exists():  # given the collated dataset itself
        dataset_dir, plots_dir = args.out, args.plots_dir or args.out.parent / "plots"
    else:
        dataset_dir, plots_dir = args.out / "collated", args.plots_dir or args.out / "plots"
    problem = output_folder_problem(plots_dir, "--plots-dir")
    if problem:
        return _fail(problem)
    if dataset_dir == args.out / "collated":
        try:
            if not (dataset_dir / SUMMARY_FILE).exists():
                print(collect_results(args.out, dataset_dir).describe())
        except OSError as error:
            return _fail(error)
    try:
        _write_plots(
            dataset_dir,
            plots_dir,
            statistic=args.statistic,
            scale=args.scale,
            n_points=args.n_points,
        )
    except OSError as error:
        return _fail(error)
    return 0
