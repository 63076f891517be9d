"""The manifest of each task in a dump folder: its study spec, the spec's hash, its seeds.

The spec (objective, kind, search space, configurations, fidelities, metrics) is fixed when
the first run writes the manifest; a later run of the same task with another spec is
refused with the fields that differ, so dumps of two different studies never mix. Seeds are
not part of the spec: runs of other seeds may write into the same folder at the same time,
and the manifest keeps the union of the seeds asked for (updated under a file lock).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ConfigSpace import ConfigurationSpace
from filelock import FileLock

from benchmarking.tabulation.dump_files import (
    DumpFolder,
    canonical_json,
    read_json,
    sha256_text,
    write_json_atomically,
)
from benchmarking.tabulation.errors import CorruptDumpFileError, StudySpecMismatchError
from benchmarking.tabulation.task import TabulationTask, callable_identity
from blackbox_repository.blackbox import Objective

MANIFEST_FORMAT_VERSION = 1


def study_spec(task: TabulationTask) -> dict[str, Any]:
    """The JSON-able spec of ``task`` that its dumps depend on (seeds excluded)."""
    return {
        "task": task.name,
        "objective": callable_identity(task.objective),
        "objective_kind": task.objective_kind,
        "configuration_space": task.configuration_space.to_serialized_dict(),
        "configurations": list(task.configurations),
        "fidelity_name": task.fidelity_name,
        "fidelity_values": list(task.fidelity_values),
        "metrics": [{"name": m.name, "mode": m.mode, "unit": m.unit} for m in task.metrics],
        "elapsed_time_key": task.elapsed_time_key,
    }


def spec_hash(spec: dict[str, Any]) -> str:
    """sha256 of the spec's canonical JSON."""
    return sha256_text(canonical_json(spec))


@dataclass(frozen=True)
class Manifest:
    """A task's manifest as read back from a dump folder."""

    task_name: str
    spec: dict[str, Any]
    spec_hash: str
    seeds: tuple[int, ...]
    description: str

    @property
    def configuration_space(self) -> ConfigurationSpace:
        # from_serialized_dict consumes its argument (pops keys): give it a copy
        return ConfigurationSpace.from_serialized_dict(
            copy.deepcopy(self.spec["configuration_space"])
        )

    @property
    def configurations(self) -> list[dict[str, Any]]:
        return self.spec["configurations"]

    @property
    def fidelity_values(self) -> list[float]:
        return self.spec["fidelity_values"]

    @property
    def metrics(self) -> tuple[Objective, ...]:
        return tuple(Objective(**m) for m in self.spec["metrics"])


SHOWN_CHARACTERS = 120


def _shorten(value: Any) -> str:
    text = canonical_json(value)
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."


def _first_difference(old: Any, new: Any, path: str) -> tuple[str, str, str]:
    """(path, stored, requested) of the first difference, descending into long values."""
    fits = (
        len(canonical_json(old)) <= SHOWN_CHARACTERS
        and len(canonical_json(new)) <= SHOWN_CHARACTERS
    )
    if not fits and isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if canonical_json(old.get(key)) != canonical_json(new.get(key)):
                return _first_difference(old.get(key), new.get(key), f"{path}.{key}")
    if not fits and isinstance(old, list) and isinstance(new, list):
        for index, (a, b) in enumerate(zip(old, new)):
            if canonical_json(a) != canonical_json(b):
                return _first_difference(a, b, f"{path}[{index}]")
        return path, f"{len(old)} items", f"{len(new)} items"
    return path, _shorten(old), _shorten(new)


def spec_differences(stored: dict[str, Any], requested: dict[str, Any]) -> list[str]:
    """One line per top-level field that differs between two specs, with its first difference."""
    lines = []
    for key in sorted(set(stored) | set(requested)):
        old, new = stored.get(key), requested.get(key)
        if canonical_json(old) == canonical_json(new):
            continue
        path, shown_old, shown_new = _first_difference(old, new, key)
        where = "" if path == key else f" at {path}"
        prefix = key
        if key == "configurations" and isinstance(old, list) and isinstance(new, list):
            prefix = f"configurations differ: {len(old)} stored, {len(new)} requested;"
            lines.append(
                f"{prefix} first difference{where}: stored {shown_old}, requested {shown_new}"
            )
            continue
        lines.append(f"{prefix} differs{where}: stored {shown_old}, requested {shown_new}")
    return lines


def read_manifest(folder: DumpFolder, task_name: str) -> Manifest:
    """The manifest of ``task_name``; a clear error lists the tasks the folder does hold."""
    path = folder.manifest_path(task_name)
    if not path.exists():
        raise FileNotFoundError(
            f"no task {task_name!r} in dump folder {folder.root} (no {path.name}); its tasks "
            f"are {folder.task_names()}"
        )
    try:
        content = read_json(path)
    except CorruptDumpFileError as error:
        raise CorruptDumpFileError(
            f"the manifest of task {task_name!r} is unreadable: {error}; collect into a new "
            "folder (the dumps cannot be matched to a spec without it)"
        ) from None
    if content.get("format_version") != MANIFEST_FORMAT_VERSION:
        raise StudySpecMismatchError(
            f"{path} has format version {content.get('format_version')!r}; this simtune reads "
            f"version {MANIFEST_FORMAT_VERSION}. Collect into a new folder"
        )
    try:
        return Manifest(
            task_name=content["task"],
            spec=content["spec"],
            spec_hash=content["spec_hash"],
            seeds=tuple(content["seeds"]),
            description=content.get("description", ""),
        )
    except (KeyError, TypeError) as error:
        raise CorruptDumpFileError(
            f"the manifest {path} of task {task_name!r} lacks or garbles {error}; collect into "
            "a new folder"
        ) from None


def register_task(folder: DumpFolder, task: TabulationTask) -> Manifest:
    """Write the manifest of ``task`` or check it against the stored one; add its seeds.

    Raises :class:`StudySpecMismatchError` naming the differing fields if the folder holds
    dumps of the same task name for another spec.
    """
    folder.check_is_dump_folder()
    folder.manifests_dir.mkdir(parents=True, exist_ok=True)
    spec = study_spec(task)
    digest = spec_hash(spec)
    path = folder.manifest_path(task.name)
    with FileLock(str(folder.manifests_dir / f".{task.name}.lock"), timeout=600):
        if path.exists():
            stored = read_manifest(folder, task.name)
            if stored.spec_hash != digest:
                reasons = "; ".join(spec_differences(stored.spec, spec)) or "spec hash differs"
                raise StudySpecMismatchError(
                    f"dump folder {folder.root} holds task {task.name!r} collected for a "
                    f"different study spec ({reasons}). Collect into a new folder, or delete "
                    f"{folder.task_dir(task.name)} and {path} to start this task over"
                )
            seeds = tuple(sorted(set(stored.seeds) | set(task.seeds)))
            description = stored.description
        else:
            seeds = tuple(sorted(task.seeds))
            description = task.description
        manifest = Manifest(task.name, spec, digest, seeds, description)
        write_json_atomically(
            path,
            {
                "format_version": MANIFEST_FORMAT_VERSION,
                "task": task.name,
                "spec_hash": digest,
                "seeds": list(seeds),
                "description": description,
                "spec": spec,
            },
        )
    return manifest
