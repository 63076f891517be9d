"""Recipe records: where a benchmark family's raw files live and how to convert them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blackbox_repository.blackbox import Blackbox


@dataclass(frozen=True)
class RawFile:
    """One raw file of a benchmark, as its authors published it.

    ``path`` is where the file sits below the recipe's raw folder, and also below a local
    raw-data folder (``SIMTUNE_RAW_DATA_DIR``) that already holds the originals.
    ``sha256`` ``None`` means no checksum is published: the file is trusted on first
    download and checked against the sha256 recorded then on every later use (see
    ``raw_files.py``).
    """

    path: str
    url: str
    sha256: str | None


@dataclass(frozen=True)
class BenchmarkDefaults:
    """The default benchmark settings of a recipe's blackboxes: plain data for
    ``benchmarking.benchmark_definitions`` (the data layer imports no engine).

    Args:
        metric: the objective methods optimize; ``mode`` its ``"min"`` or ``"max"``.
        elapsed_time_objective: the objective holding cumulative training time.
        fidelity_name: the blackbox's fidelity (e.g. ``"epoch"``).
        max_wallclock_time: simulated seconds per run (``None``: capped by results only).
        max_num_results: cap on the results of a run (``None``: no cap).
        n_workers: simulated workers.
        max_fidelity: train trials up to this fidelity only (tabular blackboxes).
        surrogate: a surrogate model replacing table lookups (e.g. ``"knn"``), and its
            ``surrogate_kwargs``.
        name_prefix: these defaults apply to the recipe's names starting with it (the
            longest matching prefix wins); ``""`` for all.
    """

    metric: str
    mode: str
    elapsed_time_objective: str
    fidelity_name: str
    max_wallclock_time: float | None
    max_num_results: int | None = None
    n_workers: int = 4
    max_fidelity: float | None = None
    surrogate: str | None = None
    surrogate_kwargs: tuple[tuple[str, Any], ...] = ()
    name_prefix: str = ""


@dataclass(frozen=True)
class Recipe:
    """How to build the blackboxes of one benchmark family from its raw files.

    ``convert(name, raw_dir)`` returns the blackbox ``name`` (one of ``names``) built from
    the raw files found below ``raw_dir`` (each ``RawFile.path`` relative to it).
    """

    family: str
    names: tuple[str, ...]
    raw_files: tuple[RawFile, ...]
    convert: Callable[[str, Path], Blackbox]
    description: str = ""
    license: str = ""
    citation: str = ""
    extras: tuple[str, ...] = field(
        default=()
    )  # pip extras this recipe needs, e.g. ("surrogates",)
    benchmark_defaults: tuple[BenchmarkDefaults, ...] = ()
    """Default benchmark settings of the names (see :class:`BenchmarkDefaults`)."""

    def defaults_for(self, name: str) -> BenchmarkDefaults | None:
        """The benchmark defaults of blackbox ``name``: the longest matching prefix wins."""
        matching = [d for d in self.benchmark_defaults if name.startswith(d.name_prefix)]
        return max(matching, key=lambda d: len(d.name_prefix)) if matching else None

    def provides(self, name: str) -> bool:
        """Whether this recipe builds ``name``: one of ``names``, or (in a recipe that
        accepts names it cannot list, such as any YAHPO scenario) a name of its pattern."""
        return name in self.names

    def raw_files_for(self, name: str) -> tuple[RawFile, ...]:
        """Raw files needed to build ``name``; by default all of the family's files."""
        return self.raw_files
