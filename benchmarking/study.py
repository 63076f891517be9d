"""Studies: methods x benchmarks x seeds, one task per triple, resumable.

Where the files go is :mod:`benchmarking.study_layout`'s job; the executors are
:mod:`benchmarking.executors`'. A task runs into a staging folder that replaces its folder
under ``runs/`` by a rename only when the task ended (completed or failed), and only while
the run that started it still owns the study folder, so a task folder is never half
written and a killed run's workers cannot overwrite a later run's results. On a re-run, a
task is skipped if its folder holds complete results (the recorded sha256 matches) with
status ``completed`` and the same task spec; every other task (missing, failed, killed
half-way, different settings, other format version) is run again and its folder replaced.
Nothing is started (no pool, no cluster) when every task is done already.

Short tasks are sent to workers in batches (see :func:`batch_size`), so that a Dask
cluster spends its time simulating, not scheduling. A worker prepares each benchmark once
for all its tasks (:mod:`benchmarking.loaded_benchmarks`), and makes each batch durable
with one flush of the file system when the batch ends, instead of an ``fsync`` per file
and folder (docs/failure-modes.md says what that guarantees).

Example:
    >>> report = run_study(["ASHA", "RS"], ["sklearn-mlp-digits"], range(5), "results/")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarking.benchmark_definitions import BenchmarkDefinition
from benchmarking.executors import Executor, resolve_executor
from benchmarking.loaded_benchmarks import LoadedBenchmarks, this_workers_benchmarks
from benchmarking.study_layout import (
    FAILED_FILE,
    MANIFEST_FILE,
    StaleRunError,
    StudyLayout,
    task_state,
    tasks_to_run,
)
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
from blackbox_repository.atomic_files import flush_file_system, write_json_atomically

__all__ = [  # the study specification and layout are re-exported: this module is the entry point
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
    "batch_size",
    "batches",
    "check_benchmarks",
    "execute_study",
    "execute_task",
    "execute_tasks",
    "parse_seeds",
    "read_study_file",
    "record_failure",
    "run_study",
    "task_state",
]

MAX_TASKS_PER_BATCH = 16
BATCHES_PER_WORKER = 2
"""What is left of a study is cut into at least this many batches per worker, so batches
shrink as the study ends and the workers finish together."""


# --------------------------------------------------------------------- one task
@dataclass(frozen=True)
class TaskOutcome:
    """What a worker reports back about one task (the results themselves stay on disk).

    ``status`` is ``"completed"``, ``"failed"`` or ``"discarded"`` (the run that started
    the task no longer owns the study folder: nothing was installed).
    """

    key: str
    status: str
    n_results: int = 0
    error: str = ""
    traceback: str = ""
    process_id: int = 0
    blackbox_loads: int = 0  # blackboxes read from disk by that process so far


def execute_task(
    task: StudyTask,
    root: str,
    run_token: str,
    *,
    loaded_benchmarks: LoadedBenchmarks | None = None,
    durable: bool = True,
) -> TaskOutcome:
    """Run ``task`` into a staging folder, then move it into place; never raises for a
    failing task (the failure is written to ``failed.json`` and reported).

    ``run_token`` is the token of the run that started the task
    (:meth:`StudyLayout.begin_run`): if another run owns the folder by the time the task
    ends, nothing is installed and the outcome is ``"discarded"``.
    ``loaded_benchmarks`` keeps the prepared benchmark for the worker's later tasks
    (default: the worker's own, :func:`this_workers_benchmarks`). ``durable=False``
    skips the ``fsync`` of each file and folder: the caller flushes a whole batch at once
    (:func:`execute_tasks`).
    """
    from benchmarking.simulation import run_simulation

    if loaded_benchmarks is None:
        loaded_benchmarks = this_workers_benchmarks()
    layout = StudyLayout(Path(root))
    with layout.staging_folder(task.key) as staging:
        try:
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
                    loaded_benchmarks=loaded_benchmarks,
                    fsync_results=durable,
                )
            except Exception as error:
                return _failed(task, layout, staging, error, run_token)
            layout.install(staging, task.key, run_token, durable=durable)
        except StaleRunError as error:
            return TaskOutcome(task.key, "discarded", error=str(error), process_id=os.getpid())
    return TaskOutcome(
        task.key,
        "completed",
        n_results=len(run.results),
        process_id=os.getpid(),
        blackbox_loads=loaded_benchmarks.n_loads,
    )


def execute_tasks(tasks: Sequence[StudyTask], root: str, run_token: str) -> list[TaskOutcome]:
    """:func:`execute_task` for each of a batch of tasks, in one worker call, with the
    worker's prepared benchmarks; the batch is made durable by one flush of the file
    system at its end, before it is reported (not by an ``fsync`` per file)."""
    loaded_benchmarks = this_workers_benchmarks()
    outcomes = [
        execute_task(task, root, run_token, loaded_benchmarks=loaded_benchmarks, durable=False)
        for task in tasks
    ]
    flush_file_system(Path(root))
    return outcomes


def _failed(
    task: StudyTask, layout: StudyLayout, staging: Path, error: BaseException, run_token: str
) -> TaskOutcome:
    """Record ``error`` in ``failed.json`` next to whatever the run wrote, and move it into place."""
    message = f"{type(error).__name__}: {error}"
    trace = "".join(traceback.format_exception(error))
    try:
        record_failure(staging, task, message, trace)
        layout.install(staging, task.key, run_token)
    except OSError as write_error:  # e.g. the disk is full: leave nothing half-written
        message += f" (and the failure could not be recorded: {write_error})"
    return TaskOutcome(task.key, "failed", error=message, traceback=trace, process_id=os.getpid())


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
    n_to_run: int = 0
    """Tasks that were not done before this run (all run now, unless a dry run)."""

    @property
    def n_failed(self) -> int:
        return len(self.failed)

    def summary(self) -> str:
        if self.executor == "none (dry run)":
            return (
                f"{self.n_tasks} tasks: {self.n_skipped} already done, {self.n_to_run} to run "
                f"(dry run: nothing written or started) in {self.out_dir}"
            )
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
    loaded = LoadedBenchmarks()
    for definition in study.benchmarks:
        loaded.prepared(definition)


def batch_size(n_tasks: int, n_workers: int) -> int:
    """Tasks in the next worker call when ``n_tasks`` are left: up to
    :data:`MAX_TASKS_PER_BATCH`, and at most a share of what is left such that it makes
    :data:`BATCHES_PER_WORKER` batches per worker (1 task per call at the end)."""
    share = -(-n_tasks // max(1, n_workers * BATCHES_PER_WORKER))  # rounded up
    return max(1, min(MAX_TASKS_PER_BATCH, share))


def batches(tasks: Sequence[StudyTask], n_workers: int) -> Iterator[tuple[StudyTask, ...]]:
    """``tasks`` cut into batches of :func:`batch_size` of what is left: full batches
    first, then smaller and smaller ones, so no worker is left with a long batch while
    the others idle at the end (guided self-scheduling)."""
    position = 0
    while position < len(tasks):
        size = batch_size(len(tasks) - position, n_workers)
        yield tuple(tasks[position : position + size])
        position += size


def execute_study(
    study: Study,
    out_dir: Path | str,
    *,
    executor: str | Executor | None = None,
    n_jobs: int | None = None,
    dask_scheduler: str | None = None,
    progress: bool = False,
    check: bool = True,
    dry_run: bool = False,
) -> StudyReport:
    """Run every unfinished task of ``study`` into ``out_dir`` and report how it went.

    Args:
        executor: where tasks run: an executor object (see
            :class:`benchmarking.executors.Executor`; used as is, left open), or a name:
            ``"inprocess"``, ``"processes"``, ``"dask"`` (default: a LocalCluster unless
            ``dask_scheduler`` names an existing cluster), an entry point of the group
            ``simtune.executors``, or a ``package.module:factory`` reference.
        n_jobs: local worker processes (process pool or Dask LocalCluster; default 2);
            passed to a plug-in executor's factory.
        dask_scheduler: ``tcp://host:port`` of an existing Dask scheduler.
        progress: show a progress bar of tasks done, failed and remaining.
        check: validate every benchmark definition against its blackbox first.
        dry_run: only count what is done and what would run; write and start nothing.
    """
    started = time.perf_counter()
    layout = StudyLayout(Path(out_dir))
    tasks = study.tasks()
    if dry_run:
        todo = tasks_to_run(tasks, layout)
        return StudyReport(
            layout.root, len(tasks), len(tasks) - len(todo), 0, (), "none (dry run)",
            time.perf_counter() - started, n_to_run=len(todo),
        )  # fmt: skip
    if check:
        check_benchmarks(study)
    # what to run is read before anything starts, so that nothing (not even a cluster) is
    # started for a finished study, and an executor that cannot start leaves no trace
    todo = tasks_to_run(tasks, layout)
    failed: list[TaskOutcome] = []
    loads: dict[int, int] = {}
    n_completed = 0
    description = "nothing started: every task was done"
    with _started(executor, n_jobs, dask_scheduler, bool(todo)) as pool, layout.exclusive():
        run_token = layout.begin_run()
        layout.clear_staging()
        layout.add_to_manifest(tasks)
        if pool is not None:
            description = pool.description
            n_workers = getattr(pool, "n_workers", None) or n_jobs or 2
            function = functools.partial(execute_tasks, root=str(layout.root), run_token=run_token)
            with _TaskProgress(progress, len(todo), len(tasks) - len(todo)) as bar:
                for batch, outcomes, error in pool.map_unordered(
                    function, batches(todo, n_workers)
                ):
                    if error is not None:  # the worker died or could not run the batch
                        outcomes = [_lost(task, layout, error, run_token) for task in batch]
                    for outcome in outcomes:
                        if outcome.process_id:
                            loads[outcome.process_id] = max(
                                loads.get(outcome.process_id, 0), outcome.blackbox_loads
                            )
                        if outcome.status == "completed":
                            n_completed += 1
                        else:
                            failed.append(outcome)
                        bar.advance(outcome.status == "completed")
    n_skipped = len(tasks) - len(todo)
    return StudyReport(
        out_dir=layout.root,
        n_tasks=len(tasks),
        n_skipped=n_skipped,
        n_completed=n_completed,
        failed=tuple(failed),
        executor=description,
        wall_seconds=time.perf_counter() - started,
        blackbox_loads=loads,
        n_to_run=len(todo),
    )


def _started(
    executor: str | Executor | None, n_jobs: int | None, dask_scheduler: str | None, needed: bool
) -> contextlib.AbstractContextManager[Executor | None]:
    if not needed:
        return contextlib.nullcontext(None)
    return resolve_executor(executor, n_jobs, dask_scheduler)


def _lost(
    task: StudyTask, layout: StudyLayout, error: BaseException, run_token: str
) -> TaskOutcome:
    """Record the failure of a task whose worker died (or could not run it)."""
    with layout.staging_folder(task.key) as staging:
        try:
            return _failed(task, layout, staging, error, run_token)
        except StaleRunError as stale:
            return TaskOutcome(task.key, "discarded", error=str(stale))


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
    executor: str | Executor | None = None,
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
