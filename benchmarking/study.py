"""Studies: methods x benchmarks x seeds, one task per triple, resumable.

Layout of a study's output folder::

    out/study.json                        the task specs of every study run into this folder
    out/runs/<benchmark>/<method>/seed-<seed>/
        results.parquet, metadata.json    a finished task (the Tuner's atomic writes)
        failed.json                       a failed task: error and traceback
    out/.staging/                         tasks being written (moved into runs/ by one rename)
    out/collated/                         the collated Parquet dataset (simtune collect)
    out/plots/                            figures (simtune plot)

A task runs into a fresh staging folder that replaces its folder under ``runs/`` by a
rename only when the task ended (completed or failed), so a task folder is never half
written. On a re-run, a task is skipped if its folder holds complete results (the
recorded sha256 matches) with status ``completed`` and the same task spec; every other
task (missing, failed, killed half-way, different settings, other format version) is run
again and its folder replaced.

Example:
    >>> report = run_study(["ASHA", "RS"], ["sklearn-mlp-digits"], range(5), "results/")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from benchmarking.benchmark_definitions import BenchmarkDefinition
from benchmarking.executors import make_executor
from benchmarking.study_spec import (
    SEED_PREFIX,
    STUDY_FORMAT_VERSION,
    MethodVariant,
    Study,
    StudyError,
    StudyTask,
    parse_seeds,
    read_study_file,
)
from blackbox_repository.atomic_files import fsync_directory, write_json_atomically
from blackbox_repository.file_format import sha256_file

__all__ = [  # the study specification is re-exported: this module is the entry point
    "FAILED_FILE",
    "MANIFEST_FILE",
    "SEED_PREFIX",
    "STUDY_FORMAT_VERSION",
    "MethodVariant",
    "Study",
    "StudyError",
    "StudyLayout",
    "StudyReport",
    "StudyTask",
    "TaskOutcome",
    "check_benchmarks",
    "execute_study",
    "execute_task",
    "parse_seeds",
    "read_study_file",
    "record_failure",
    "run_study",
    "task_state",
]

MANIFEST_FILE = "study.json"
FAILED_FILE = "failed.json"


# --------------------------------------------------------------------- layout
@dataclass(frozen=True)
class StudyLayout:
    """Where a study's files live below its output folder."""

    root: Path

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def staging_dir(self) -> Path:
        return self.root / ".staging"

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_FILE

    @property
    def collated_dir(self) -> Path:
        return self.root / "collated"

    @property
    def plots_dir(self) -> Path:
        return self.root / "plots"

    def task_dir(self, key: str) -> Path:
        return self.runs_dir / key

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the study's lock: two runs writing into one folder is an error, not a race."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / ".study.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise StudyError(
                f"another `simtune run` is writing into {self.root}; wait for it to end or use another --out"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def read_manifest(self) -> dict[str, Any]:
        """Task specs of every study run into this folder, by task key."""
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as error:
            raise StudyError(
                f"{self.manifest_path} is not valid JSON ({error}); delete it and run again"
            ) from None
        if manifest.get("format_version") != STUDY_FORMAT_VERSION:
            raise StudyError(
                f"{self.manifest_path} has format version {manifest.get('format_version')!r}; this "
                f"simtune writes version {STUDY_FORMAT_VERSION}: use a new output folder"
            )
        return manifest["tasks"]

    def add_to_manifest(self, tasks: Sequence[StudyTask]) -> None:
        specs = {**self.read_manifest(), **{t.key: t.spec() for t in tasks}}
        write_json_atomically(
            self.manifest_path,
            {"format_version": STUDY_FORMAT_VERSION, "tasks": dict(sorted(specs.items()))},
            indent=1,
            default=str,
        )

    def clear_staging(self) -> None:
        """Remove what killed tasks left behind. Call with the study's lock held."""
        shutil.rmtree(self.staging_dir, ignore_errors=True)


# --------------------------------------------------------------------- task state
def task_state(task: StudyTask, layout: StudyLayout) -> str:
    """``"completed"`` (skip it), ``"failed"``, ``"outdated"`` (other spec or format) or ``"missing"``.

    Completed means: ``metadata.json`` of the current format with status ``completed`` and
    this task's spec, and a ``results.parquet`` matching its recorded sha256.
    """
    from simulated_backend.results import RESULTS_FILE, RESULTS_FORMAT_VERSION, RUN_METADATA_FILE

    folder = layout.task_dir(task.key)
    if not folder.is_dir():
        return "missing"
    try:
        metadata = json.loads((folder / RUN_METADATA_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return "failed" if (folder / FAILED_FILE).exists() else "missing"
    if (
        metadata.get("format_version") != RESULTS_FORMAT_VERSION
        or metadata.get("task") != task.spec()
    ):
        return "outdated"
    if metadata.get("status") != "completed":
        return "failed"
    results = folder / RESULTS_FILE
    recorded = (metadata.get("results_file") or {}).get("sha256")
    if not results.exists() or sha256_file(results) != recorded:
        return "missing"
    return "completed"


# --------------------------------------------------------------------- one task
@dataclass(frozen=True)
class TaskOutcome:
    """What a worker reports back about one task (the results themselves stay on disk)."""

    key: str
    status: str  # "completed" or "failed"
    n_results: int = 0
    error: str = ""
    traceback: str = ""
    process_id: int = 0
    blackbox_loads: int = 0  # blackboxes read from disk by that process so far


def execute_task(task: StudyTask, root: str) -> TaskOutcome:
    """Run ``task`` into a staging folder, then move it into place; never raises for a
    failing task (the failure is written to ``failed.json`` and reported)."""
    from benchmarking.simulation import blackbox_loads_in_this_process, run_simulation

    layout = StudyLayout(Path(root))
    staging = _staging_folder(task, layout)
    try:
        run = run_simulation(
            task.method.method,
            task.benchmark,
            seed=task.seed,
            results_dir=staging,
            method_kwargs=dict(task.method.kwargs),
            metadata={
                "task": task.spec(),
                "task_key": task.key,
                "method": task.method.label,
                "method_name": task.method.method,
            },
        )
        _install(staging, layout.task_dir(task.key))
        return TaskOutcome(
            task.key,
            "completed",
            n_results=len(run.results),
            process_id=os.getpid(),
            blackbox_loads=blackbox_loads_in_this_process(),
        )
    except Exception as error:
        return _failed(task, layout, staging, error)


def _failed(
    task: StudyTask, layout: StudyLayout, staging: Path, error: BaseException
) -> TaskOutcome:
    """Record ``error`` in ``failed.json`` next to whatever the run wrote, and move it into place."""
    message = f"{type(error).__name__}: {error}"
    trace = "".join(traceback.format_exception(error))
    try:
        record_failure(staging, task, message, trace)
        _install(staging, layout.task_dir(task.key))
    except OSError as write_error:  # e.g. the disk is full: leave nothing half-written
        shutil.rmtree(staging, ignore_errors=True)
        message += f" (and the failure could not be recorded: {write_error})"
    return TaskOutcome(task.key, "failed", error=message, traceback=trace, process_id=os.getpid())


def _staging_folder(task: StudyTask, layout: StudyLayout) -> Path:
    return layout.staging_dir / f"{task.key.replace('/', '__')}-{uuid.uuid4().hex[:12]}"


def record_failure(folder: Path, task: StudyTask, message: str, trace: str) -> None:
    """Write ``failed.json`` (task spec, error message, traceback) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomically(
        folder / FAILED_FILE,
        {
            "format_version": STUDY_FORMAT_VERSION,
            "task_key": task.key,
            "task": task.spec(),
            "error": message,
            "traceback": trace,
        },
        indent=1,
        default=str,
    )


def _install(staging: Path, final: Path) -> None:
    """Replace ``final`` by ``staging`` with renames; the old folder is removed afterwards."""
    final.parent.mkdir(parents=True, exist_ok=True)
    trash = None
    if final.exists():
        trash = staging.with_name(staging.name + ".replaced")
        os.rename(final, trash)
    os.rename(staging, final)
    fsync_directory(final.parent)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


# --------------------------------------------------------------------- the runner
@dataclass(frozen=True)
class StudyReport:
    """How a study run went. ``failed`` holds the outcome (error, traceback) of each failure."""

    out_dir: Path
    n_tasks: int
    n_skipped: int
    n_completed: int
    failed: tuple[TaskOutcome, ...]
    executor: str
    wall_seconds: float
    blackbox_loads: dict[int, int] = dataclasses.field(default_factory=dict)
    """Process id -> blackboxes it read from disk (each worker keeps what it loaded)."""

    @property
    def n_failed(self) -> int:
        return len(self.failed)

    def summary(self) -> str:
        return (
            f"{self.n_tasks} tasks: {self.n_skipped} already done, {self.n_completed} completed, "
            f"{self.n_failed} failed, in {self.wall_seconds:.1f} s ({self.executor}); "
            f"{len(self.blackbox_loads)} processes read blackboxes from disk "
            f"{sum(self.blackbox_loads.values())} times; results in {self.out_dir / 'runs'}"
        )


def check_benchmarks(study: Study) -> None:
    """Load each benchmark once here and validate its definition, before any task runs.

    This also fills the local blackbox cache, so local workers only read it.
    """
    from benchmarking.simulation import prepared_blackbox

    for definition in study.benchmarks:
        prepared_blackbox(definition)


def execute_study(
    study: Study,
    out_dir: Path | str,
    *,
    executor: str | None = None,
    n_jobs: int | None = None,
    dask_scheduler: str | None = None,
    progress: bool = False,
    check: bool = True,
) -> StudyReport:
    """Run every unfinished task of ``study`` into ``out_dir`` and report how it went.

    Args:
        executor: ``"inprocess"``, ``"processes"`` or ``"dask"`` (default: ``"dask"``, a
            LocalCluster unless ``dask_scheduler`` names an existing cluster).
        n_jobs: local worker processes (process pool or Dask LocalCluster); default 2.
        dask_scheduler: ``tcp://host:port`` of an existing Dask scheduler.
        progress: show a progress bar of tasks done, failed and remaining.
        check: validate every benchmark definition against its blackbox first.
    """
    started = time.perf_counter()
    layout = StudyLayout(Path(out_dir))
    tasks = study.tasks()
    if check:
        check_benchmarks(study)
    with (
        make_executor(executor, n_jobs=n_jobs, dask_scheduler=dask_scheduler) as pool,
        layout.exclusive(),
    ):
        layout.clear_staging()
        layout.add_to_manifest(tasks)
        todo = [task for task in tasks if task_state(task, layout) != "completed"]
        n_skipped = len(tasks) - len(todo)
        failed: list[TaskOutcome] = []
        loads: dict[int, int] = {}
        n_completed = 0
        function = functools.partial(execute_task, root=str(layout.root))
        with _TaskProgress(progress, len(todo), n_skipped) as bar:
            for task, outcome, error in pool.map_unordered(function, todo):
                if error is not None:  # the worker itself died or could not run the task
                    outcome = _failed(task, layout, _staging_folder(task, layout), error)
                if outcome.process_id:
                    loads[outcome.process_id] = max(
                        loads.get(outcome.process_id, 0), outcome.blackbox_loads
                    )
                if outcome.status == "completed":
                    n_completed += 1
                else:
                    failed.append(outcome)
                bar.advance(outcome.status == "completed")
    return StudyReport(
        out_dir=layout.root,
        n_tasks=len(tasks),
        n_skipped=n_skipped,
        n_completed=n_completed,
        failed=tuple(failed),
        executor=pool.description,
        wall_seconds=time.perf_counter() - started,
        blackbox_loads=loads,
    )


class _TaskProgress:
    """A rich progress bar counting tasks done, failed and remaining (or nothing)."""

    def __init__(self, enabled: bool, total: int, skipped: int) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self._progress = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("tasks"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(
                    "{task.fields[done]} done, {task.fields[failed]} failed, {task.fields[remaining]} remaining"
                ),
                TextColumn(f"({skipped} skipped)" if skipped else ""),
                TimeElapsedColumn(),
            )
            self._task = self._progress.add_task(
                "tasks", total=total, done=0, failed=0, remaining=total
            )

    def __enter__(self) -> _TaskProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, succeeded: bool) -> None:
        if succeeded:
            self.done += 1
        else:
            self.failed += 1
        if self._progress is not None:
            remaining = self.total - self.done - self.failed
            self._progress.update(
                self._task, advance=1, done=self.done, failed=self.failed, remaining=remaining
            )


def run_study(
    methods: Iterable[str | Mapping[str, Any]],
    benchmarks: Iterable[str | BenchmarkDefinition],
    seeds: Iterable[int] | str,
    out_dir: Path | str,
    *,
    n_workers: int | None = None,
    max_wallclock_time: float | None = None,
    max_num_results: int | None = None,
    method_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    executor: str | None = None,
    n_jobs: int | None = None,
    dask_scheduler: str | None = None,
    progress: bool = False,
) -> StudyReport:
    """Run methods x benchmarks x seeds into ``out_dir`` (resuming what is there).

    The Python twin of ``simtune run``; see :func:`execute_study` for the executor
    arguments and :meth:`Study.from_names` for the others.

    Example:
        >>> run_study(["ASHA", "BOHB", "RS"], ["xgboost-mnist"], "0-9", "results/",  # doctest: +SKIP
        ...           executor="dask", n_jobs=4)
    """
    study = Study.from_names(
        methods,
        benchmarks,
        seeds,
        n_workers=n_workers,
        max_wallclock_time=max_wallclock_time,
        max_num_results=max_num_results,
        method_kwargs=method_kwargs,
    )
    return execute_study(
        study,
        out_dir,
        executor=executor,
        n_jobs=n_jobs,
        dask_scheduler=dask_scheduler,
        progress=progress,
    )
