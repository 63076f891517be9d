"""The dump folder of a tabulation run: file naming, stable hashes and atomic writes.

Layout of a dump folder (shared by every task and seed that writes into it)::

    manifests/<task>.json                    the study spec of each task and its hash
    dumps/<task>/c<config>-f<fidelity>-s<seed>.json          one finished evaluation
    dumps/<task>/c<config>-f<fidelity>-s<seed>.failed.json   one failed evaluation
    logs/worker-<host>-<pid>.log             one line per evaluation, failures' tracebacks

``<config>`` is a sha256 prefix of the configuration's canonical JSON and ``<fidelity>`` one
of the fidelity value (or of the whole fidelity list, for objectives that return a learning
curve), so names do not depend on the order of configurations, and a re-run finds what is
done by name alone. Every file is written to a temporary name and renamed: a file that
exists is complete.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarking.tabulation.errors import CorruptDumpFileError
from blackbox_repository import atomic_files
from blackbox_repository.blackbox import native_config

CONFIG_HASH_LENGTH = 16
FIDELITY_HASH_LENGTH = 10
FAILED_SUFFIX = ".failed.json"
DONE_SUFFIX = ".json"


def plain_value(value: Any) -> Any:
    """``value`` as plain JSON types (numpy scalars and tuples converted); NaN is an error."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} has no canonical JSON form; use finite numbers")
    if isinstance(value, Mapping):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain_value(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """The one JSON text of ``value``: sorted keys, no spaces, shortest float repr."""
    return json.dumps(
        plain_value(value),
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
        ensure_ascii=True,
    )


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_hash(config: Mapping[str, Any]) -> str:
    """Stable hash of a configuration (inactive entries dropped, key order irrelevant).

    Example:
        >>> config_hash({"alpha": 0.1, "n_layers": 2}) == config_hash({"n_layers": 2, "alpha": 0.1})
        True
    """
    return sha256_text(canonical_json(native_config(config)))[:CONFIG_HASH_LENGTH]


def fidelity_hash(fidelity: float | Sequence[float]) -> str:
    """Stable hash of one fidelity value, or of the list of fidelities of a learning curve."""
    return sha256_text(canonical_json(fidelity))[:FIDELITY_HASH_LENGTH]


def evaluation_stem(config_digest: str, fidelity_digest: str, seed: int) -> str:
    """File name stem of one evaluation: ``c<config hash>-f<fidelity hash>-s<seed>``."""
    return f"c{config_digest}-f{fidelity_digest}-s{int(seed)}"


@dataclass(frozen=True)
class DumpFolder:
    """Paths inside one dump folder (see the module docstring for the layout)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())

    @property
    def manifests_dir(self) -> Path:
        return self.root / "manifests"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def manifest_path(self, task_name: str) -> Path:
        return self.manifests_dir / f"{task_name}.json"

    def task_dir(self, task_name: str) -> Path:
        return self.root / "dumps" / task_name

    def done_path(self, task_name: str, stem: str) -> Path:
        return self.task_dir(task_name) / f"{stem}{DONE_SUFFIX}"

    def failed_path(self, task_name: str, stem: str) -> Path:
        return self.task_dir(task_name) / f"{stem}{FAILED_SUFFIX}"

    def task_names(self) -> list[str]:
        """Names of the tasks that have a manifest in this folder."""
        if not self.manifests_dir.exists():
            return []
        return sorted(p.stem for p in self.manifests_dir.glob("*.json"))

    def check_is_dump_folder(self) -> None:
        """Refuse a non-empty folder that is not a dump folder (so nothing else is mixed in)."""
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"dump folder {self.root} is a file; pass a folder path")
        if self.root.exists() and any(self.root.iterdir()) and not self.manifests_dir.is_dir():
            raise FileExistsError(
                f"{self.root} is not empty and holds no manifests/ folder, so it is not a "
                "tabulation dump folder; pass a new or empty folder"
            )


def write_json_atomically(path: Path, content: Any) -> None:
    """Write ``content`` as compact JSON (no NaN allowed) atomically: no file or the whole file.

    A reader sees either no file or the whole file, even if the writer is killed.
    """
    atomic_files.write_json_atomically(
        path, content, allow_nan=False, indent=None, separators=(",", ":")
    )


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in a file written by :func:`write_json_atomically`.

    Raises :class:`CorruptDumpFileError` naming the file if it is not a JSON object
    (``FileNotFoundError`` passes through).
    """
    try:
        with open(path, "rb") as stream:
            content = json.loads(stream.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptDumpFileError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(content, dict):
        raise CorruptDumpFileError(
            f"{path} holds a JSON {type(content).__name__}, not the object simtune writes"
        )
    return content
