"""Collection: evaluate every (configuration, fidelity, seed) of some tasks on Dask.

Each evaluation runs as one Dask task that writes its own dump file, so whatever finished
before a crash, a kill or Ctrl-C is kept, and running the same call again evaluates only
what is missing. Several collections (other tasks, other seeds) may write into one dump
folder at the same time. By default a ``distributed.LocalCluster`` is started; pass
``scheduler_address`` to use a running cluster whose workers see the dump folder.

Every evaluation runs in a sandbox process of its Dask worker
(:mod:`benchmarking.tabulation.sandbox`): an objective that ends its process, or runs past
``time_limit``, is recorded as a failed combination and the worker goes on. The summary
counts what the dump folder holds at the end, so an evaluation Dask ran twice (or that
another collection finished) is counted once. A "done" dump that is not sound (garbage,
another spec) does not count as done: it is moved aside as ``*.corrupt-<id>`` and its
combination evaluated again.

Example:
    >>> summary = collect(task, "dumps/")  # doctest: +SKIP
    >>> blackbox = collate_task("dumps/", task.name)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarking.tabulation.dump_files import DumpFolder, evaluation_stem
from benchmarking.tabulation.evaluation import (
    EvaluationOutcome,
    EvaluationRequest,
    done_dump_problem,
    evaluate_in_sandbox,
    record_failure,
)
from benchmarking.tabulation.manifest import Manifest, register_task
from benchmarking.tabulation.task import TabulationTask

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectionSummary:
    """Counts and throughput of one :func:`collect` call."""

    n_evaluations: int
    n_already_done: int
    n_previously_failed: int
    n_evaluated: int
    n_failed: int
    n_fidelity_results: int
    wall_seconds: float
    n_workers: int
    n_corrupt: int = 0
    """"Done" dumps found unsound (moved aside as ``*.corrupt-<id>``) and evaluated again."""

    @property
    def evaluations_per_second(self) -> float:
        """Evaluations finished (done or failed) by this call per wall-clock second."""
        finished = self.n_evaluated + self.n_failed
        return finished / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def fidelity_results_per_second(self) -> float:
        """(config, fidelity, seed) results written by this call per wall-clock second."""
        return self.n_fidelity_results / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"{self.n_evaluations} evaluations: {self.n_already_done} already done, "
            f"{self.n_previously_failed} failed before (not retried), {self.n_evaluated} "
            f"evaluated now, {self.n_failed} failed now; {self.n_fidelity_results} fidelity "
            f"results in {self.wall_seconds:.1f}s on {self.n_workers} workers "
            f"({self.evaluations_per_second:.2f} evaluations/s, "
            f"{self.fidelity_results_per_second:.1f} fidelity results/s)"
        )


@dataclass(frozen=True)
class EvaluationPlan:
    """The evaluations still to run for one task, and what was found already."""

    requests: tuple[EvaluationRequest, ...]
    n_evaluations: int
    n_already_done: int
    n_previously_failed: int
    n_corrupt: int = 0


def plan_evaluations(
    task: TabulationTask,
    folder: DumpFolder,
    manifest: Manifest,
    *,
    retry_failed: bool = False,
    time_limit: float | None = None,
) -> EvaluationPlan:
    """Every evaluation of ``task`` without a sound dump (failed ones only if ``retry_failed``).

    Seeds vary fastest, so an interrupted run has covered whole configurations.
    """
    requests = []
    n_done = n_failed = n_corrupt = 0
    for index, (config, digest) in enumerate(zip(task.configurations, task.config_hashes)):
        for unit in task.evaluation_units:
            for seed in task.seeds:
                stem = evaluation_stem(digest, unit.fidelity_digest, seed)
                done_path = folder.done_path(task.name, stem)
                failed_path = folder.failed_path(task.name, stem)
                if done_path.exists():
                    problem = done_dump_problem(done_path, manifest.spec_hash, len(unit.fidelities))
                    if problem is None:
                        n_done += 1
                        continue
                    logger.warning("evaluating again: %s", problem)
                    os.replace(
                        done_path,
                        done_path.with_name(f"{done_path.name}.corrupt-{uuid.uuid4().hex[:8]}"),
                    )
                    n_corrupt += 1
                if failed_path.exists() and not retry_failed:
                    n_failed += 1
                    continue
                requests.append(
                    EvaluationRequest(
                        task_name=task.name,
                        spec_hash=manifest.spec_hash,
                        objective=task.objective,
                        objective_kind=task.objective_kind,
                        config=config,
                        config_hash=digest,
                        config_index=index,
                        fidelities=unit.fidelities,
                        seed=seed,
                        metric_names=task.metric_names,
                        elapsed_time_key=task.elapsed_time_key,
                        done_path=str(done_path),
                        failed_path=str(failed_path),
                        logs_dir=str(folder.logs_dir),
                        time_limit=time_limit,
                    )
                )
    return EvaluationPlan(tuple(requests), task.n_evaluations, n_done, n_failed, n_corrupt)


@contextlib.contextmanager
def dask_client(scheduler_address: str | None, n_workers: int, threads_per_worker: int) -> Iterator:
    """A client of the cluster at ``scheduler_address``, or of a new LocalCluster."""
    from distributed import Client, LocalCluster

    if scheduler_address is not None:
        with Client(scheduler_address) as client:
            yield client
        return
    if n_workers < 1 or threads_per_worker < 1:
        raise ValueError(
            f"n_workers={n_workers}, threads_per_worker={threads_per_worker}: both must be >= 1"
        )
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address=None,
            # no dashboard; its HTTP server (health checks) on a free port, not 8787
            scheduler_kwargs={"dashboard_address": ":0"},
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def collect(
    tasks: TabulationTask | Sequence[TabulationTask],
    dump_dir: Path | str,
    *,
    scheduler_address: str | None = None,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    retry_failed: bool = False,
    progress: bool = False,
    time_limit: float | None = None,
) -> CollectionSummary:
    """Evaluate every missing combination of ``tasks`` on Dask, one dump file each.

    Args:
        tasks: one task or several (their evaluations share the cluster).
        dump_dir: the dump folder (created); re-runs skip what it holds.
        scheduler_address: e.g. ``"tcp://127.0.0.1:8786"``; default: a new LocalCluster.
        n_workers, threads_per_worker: size of the LocalCluster (one thread per worker
            keeps measured training times free of contention between threads).
        retry_failed: evaluate again the combinations that failed in an earlier run.
        progress: show a progress bar.
        time_limit: seconds one evaluation may take; a longer one is ended (its sandbox
            process killed) and recorded as failed with a ``TimeoutError``. Default: none.

    Raises:
        StudySpecMismatchError: the folder holds one of the tasks for another spec.
        ObjectiveContractError: an objective's output misses a declared metric (such as the
            elapsed time) or has the wrong shape.
    """
    tasks = [tasks] if isinstance(tasks, TabulationTask) else list(tasks)
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"task names repeat: {names}; give each task its own name")
    folder = DumpFolder(Path(dump_dir))
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit={time_limit!r}: give a positive number of seconds or None")
    plans = [
        plan_evaluations(
            t, folder, register_task(folder, t), retry_failed=retry_failed, time_limit=time_limit
        )
        for t in tasks
    ]
    requests = [r for plan in plans for r in plan.requests]
    start = time.perf_counter()
    n_workers_used = 0
    if requests:
        with dask_client(scheduler_address, n_workers, threads_per_worker) as client:
            n_workers_used = len(client.scheduler_info().get("workers", {}))
            logger.info(
                "collecting %d evaluations on %d Dask workers", len(requests), n_workers_used
            )
            for _ in _run_on_cluster(client, requests, progress):
                pass
    n_evaluated, n_failed, n_fidelity_results = _count_dumps(requests)
    return CollectionSummary(
        n_evaluations=sum(p.n_evaluations for p in plans),
        n_already_done=sum(p.n_already_done for p in plans),
        n_previously_failed=sum(p.n_previously_failed for p in plans),
        n_evaluated=n_evaluated,
        n_failed=n_failed,
        n_fidelity_results=n_fidelity_results,
        wall_seconds=time.perf_counter() - start,
        n_workers=n_workers_used,
        n_corrupt=sum(p.n_corrupt for p in plans),
    )


def _count_dumps(requests: list[EvaluationRequest]) -> tuple[int, int, int]:
    """(done, failed, fidelity results) of ``requests`` as their dumps say after the run."""
    n_done = n_failed = n_fidelity_results = 0
    for request in requests:
        done = Path(request.done_path)
        if (
            done.exists()
            and done_dump_problem(done, request.spec_hash, len(request.fidelities)) is None
        ):
            n_done += 1
            n_fidelity_results += len(request.fidelities)
        elif os.path.exists(request.failed_path):
            n_failed += 1
    return n_done, n_failed, n_fidelity_results


def _run_on_cluster(
    client, requests: list[EvaluationRequest], progress: bool
) -> Iterator[EvaluationOutcome]:
    """Submit every request and yield outcomes as they finish.

    A worker that dies on an evaluation (Dask gives up after retries) records a failure for
    it; any other error (a broken objective contract, a full disk) stops the collection.
    """
    from distributed import KilledWorker, as_completed

    futures = client.map(evaluate_in_sandbox, requests, pure=False)
    request_of = {future.key: request for future, request in zip(futures, requests)}
    bar = _progress_bar() if progress else None
    with bar if bar is not None else contextlib.nullcontext():
        bar_task = bar.add_task("evaluations", total=len(futures)) if bar is not None else None
        for future in as_completed(futures):
            request = request_of[future.key]
            try:
                outcome = future.result()
            except KilledWorker as error:
                outcome = record_failure(
                    request, f"KilledWorker: {error}", traceback.format_exc(), seconds=None
                )
            if bar is not None:
                bar.update(bar_task, advance=1)
            yield outcome


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )
