"""The files of a study's output folder: lock, manifest, run token, staging, task folders.

Layout::

    out/study.json                        key -> spec digest of every task run into this folder
    out/.study.lock                       held by the one `simtune run` writing into the folder
    out/.run-token                        the token of that run: only it may install results
    out/.install.lock                     serialises installs against a new run's token
    out/runs/<benchmark>/<method>/seed-<seed>/
        results.parquet, metadata.json    a finished task (the Tuner's atomic writes)
        failed.json                       a failed task: error and traceback
    out/.staging/<task>-<id>/             a task being written, locked by its writer
    out/.staging/<task>-<id>.lock         held (flock) by that writer while it runs

A task is written into its own staging folder and moved into ``runs/`` by one rename, only
while the run token it was started with is still the folder's current one (checked under
the install lock). So after a ``kill -9`` of a run, a worker that survived it cannot
replace the results of the next run: the next run wrote a new token first. Clearing the
staging area removes only folders whose writer is gone (their lock is free).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from benchmarking.study_spec import StudyError, StudyTask
from blackbox_repository.atomic_files import fsync_directory, write_json_atomically
from blackbox_repository.file_format import sha256_file

MANIFEST_FILE = "study.json"
FAILED_FILE = "failed.json"
MANIFEST_FORMAT_VERSION = 2
"""Version 2 stores a digest of each task's spec (version 1 stored the whole spec)."""
INSTALL_LOCK_TIMEOUT = 120.0
"""Seconds a worker waits for the install lock (held for well under a millisecond)."""
INSTALL_LOCK_POLL_SECONDS = 0.0005
_LOCK_SUFFIX = ".lock"
_REPLACED_SUFFIX = ".replaced"


class StudyFileError(StudyError):
    """A file of a study folder that cannot be read (not JSON, wrong shape)."""


class StaleRunError(StudyError):
    """A task result from a run that no longer owns the study folder (it was killed)."""


def spec_digest(spec: Any) -> str:
    """A short stable digest of a task spec (as returned by :meth:`StudyTask.spec`)."""
    if not isinstance(spec, dict):
        return _digest(_canonical(spec), None)
    return _digest(_canonical({k: v for k, v in spec.items() if k != "seed"}), spec.get("seed"))


def task_spec_digests(tasks: Iterable[StudyTask]) -> Iterator[tuple[str, str]]:
    """``(key, spec digest)`` of each task; the seedless part is serialised once per
    (method, benchmark), so a study of 100,000 tasks is digested in about a second."""
    seedless: dict[tuple[str, str], str] = {}
    for task in tasks:
        pair = (task.method.label, task.benchmark.name)
        if pair not in seedless:
            spec = task.spec()
            del spec["seed"]
            seedless[pair] = _canonical(spec)
        yield task.key, _digest(seedless[pair], task.seed)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _digest(seedless_text: str, seed: Any) -> str:
    return hashlib.sha256(f"{seedless_text}|seed={seed!r}".encode()).hexdigest()[:24]


def read_json_file(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; :class:`StudyFileError` naming the file if it is not one.

    ``FileNotFoundError`` passes through (callers decide what a missing file means).
    """
    try:
        content = json.loads(Path(path).read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise StudyFileError(f"{what} {path} is not valid JSON ({error})") from None
    if not isinstance(content, dict):
        raise StudyFileError(f"{what} {path} holds a JSON {type(content).__name__}, not an object")
    return content


@dataclass(frozen=True)
class StudyLayout:
    """Where a study's files live below its output folder, and the operations on them."""

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
    def run_token_path(self) -> Path:
        return self.root / ".run-token"

    @property
    def collated_dir(self) -> Path:
        return self.root / "collated"

    @property
    def plots_dir(self) -> Path:
        return self.root / "plots"

    def task_dir(self, key: str) -> Path:
        return self.runs_dir / key

    def existing_task_keys(self) -> set[str]:
        """Keys of the task folders present under ``runs/`` (one directory scan)."""
        keys = set()
        for benchmark in _subfolders(self.runs_dir):
            for method in _subfolders(benchmark):
                keys.update(f"{benchmark.name}/{method.name}/{s.name}" for s in _subfolders(method))
        return keys

    @contextlib.contextmanager
    def _install_lock(self) -> Iterator[None]:
        # held for a read and two renames: poll often (the default 50 ms would dominate)
        lock = FileLock(str(self.root / ".install.lock"))
        with lock.acquire(timeout=INSTALL_LOCK_TIMEOUT, poll_interval=INSTALL_LOCK_POLL_SECONDS):
            yield

    # ----------------------------------------------------------------- the run
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

    def begin_run(self) -> str:
        """Make a new run the owner of the folder (call with :meth:`exclusive` held).

        Returns its token; results of tasks started with any earlier token are refused
        from now on.
        """
        token = uuid.uuid4().hex
        with self._install_lock():
            write_json_atomically(self.run_token_path, {"run_token": token, "pid": os.getpid()})
        return token

    def current_run_token(self) -> str | None:
        try:
            return read_json_file(self.run_token_path, "run token").get("run_token")
        except (FileNotFoundError, StudyFileError):
            return None

    # ----------------------------------------------------------------- manifest
    def read_manifest(self) -> dict[str, str]:
        """Spec digest of every task run into this folder, by task key."""
        try:
            manifest = read_json_file(self.manifest_path, "study manifest")
        except FileNotFoundError:
            return {}
        except StudyFileError as error:
            raise StudyFileError(f"{error}; delete it and run the study again") from None
        version = manifest.get("format_version")
        tasks = manifest.get("tasks")
        if version not in (1, MANIFEST_FORMAT_VERSION):
            raise StudyError(
                f"{self.manifest_path} has format version {version!r}; this simtune writes "
                f"version {MANIFEST_FORMAT_VERSION}: use a new output folder"
            )
        if not isinstance(tasks, dict):
            raise StudyFileError(
                f"study manifest {self.manifest_path} has no 'tasks' object; delete it and run "
                "the study again"
            )
        if version == 1:  # whole specs: keep their digests
            return {key: spec_digest(spec) for key, spec in tasks.items()}
        return tasks

    def add_to_manifest(self, tasks: Iterable[StudyTask]) -> None:
        digests = self.read_manifest()
        digests.update(task_spec_digests(tasks))
        write_json_atomically(
            self.manifest_path,
            {"format_version": MANIFEST_FORMAT_VERSION, "tasks": dict(sorted(digests.items()))},
            indent=0,
        )

    # ----------------------------------------------------------------- staging
    @contextlib.contextmanager
    def staging_folder(self, key: str) -> Iterator[Path]:
        """A fresh staging folder for task ``key``, locked by this process while in use.

        Whatever is left of it (not installed) is removed on exit.
        """
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        name = f"{key.replace('/', '__')}-{uuid.uuid4().hex[:12]}"
        lock_path = self.staging_dir / f"{name}{_LOCK_SUFFIX}"
        lock = FileLock(str(lock_path), timeout=0)
        lock.acquire()  # before the folder exists, so clear_staging never sees it unlocked
        folder = self.staging_dir / name
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(folder.with_name(name + _REPLACED_SUFFIX), ignore_errors=True)
            lock.release()
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()

    def clear_staging(self) -> list[Path]:
        """Remove what writers that are gone left in the staging area; returns what it removed.

        A staging folder whose writer still runs (its lock is held, e.g. by a worker of a
        killed run that has not exited yet) is left alone.
        """
        if not self.staging_dir.is_dir():
            return []
        removed = []
        names = sorted(
            {
                entry.name.removesuffix(_LOCK_SUFFIX).removesuffix(_REPLACED_SUFFIX)
                for entry in self.staging_dir.iterdir()
            }
        )
        for name in names:
            lock_path = self.staging_dir / f"{name}{_LOCK_SUFFIX}"
            lock = FileLock(str(lock_path), timeout=0)
            try:
                lock.acquire()
            except Timeout:
                continue  # a live writer
            try:
                for leftover in (name, name + _REPLACED_SUFFIX):
                    if (self.staging_dir / leftover).exists():
                        shutil.rmtree(self.staging_dir / leftover, ignore_errors=True)
                        removed.append(self.staging_dir / leftover)
            finally:
                lock.release()
                with contextlib.suppress(FileNotFoundError):
                    lock_path.unlink()
        return removed

    def install(self, staging: Path, key: str, run_token: str, *, durable: bool = True) -> None:
        """Move ``staging`` into the task folder of ``key``, replacing what is there.

        Raises :class:`StaleRunError` (and installs nothing) unless ``run_token`` is the
        token of the run that owns the folder now. ``durable`` flushes the rename to disk
        (``fsync`` of the parent folder); without it the caller flushes (once per batch).
        """
        final = self.task_dir(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        with self._install_lock():
            current = self.current_run_token()
            if current != run_token:
                raise StaleRunError(
                    f"task {key} belongs to a run of {self.root} that ended (its token is no "
                    "longer the folder's); its result is discarded"
                )
            if final.exists():
                os.rename(final, staging.with_name(staging.name + _REPLACED_SUFFIX))
            os.rename(staging, final)
        if durable:
            fsync_directory(final.parent)


def _subfolders(path: Any) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as entries:
            return [entry for entry in entries if entry.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def tasks_to_run(tasks: Iterable[StudyTask], layout: StudyLayout) -> list[StudyTask]:
    """The tasks whose folder is not complete (see :func:`task_state`); tasks without a
    folder cost no file-system call."""
    existing = layout.existing_task_keys()
    return [t for t in tasks if t.key not in existing or task_state(t, layout) != "completed"]


# --------------------------------------------------------------------- task state
def task_state(task: StudyTask, layout: StudyLayout) -> str:
    """``"completed"`` (skip it), ``"failed"``, ``"outdated"`` (other spec or format) or ``"missing"``.

    Completed means: ``metadata.json`` of the current format with status ``completed`` and
    this task's spec, and a ``results.parquet`` matching its recorded sha256. A file that
    is not valid JSON counts as missing: the task runs again and its folder is replaced.
    """
    from simulated_backend.results import RESULTS_FILE, RESULTS_FORMAT_VERSION, RUN_METADATA_FILE

    folder = layout.task_dir(task.key)
    if not folder.is_dir():
        return "missing"
    try:
        metadata = read_json_file(folder / RUN_METADATA_FILE, "run metadata")
    except (FileNotFoundError, StudyFileError):
        return "failed" if _holds_failure(folder) else "missing"
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


def _holds_failure(folder: Path) -> bool:
    try:
        read_json_file(folder / FAILED_FILE, "failure record")
    except (FileNotFoundError, StudyFileError):
        return False
    return True
