"""Study specifications: which methods, benchmarks and seeds, from Python or a YAML file.

A :class:`Study` is a plain record of what to run; :class:`StudyTask` is one (method,
benchmark, seed) of it. Running them is :mod:`benchmarking.study`'s job.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarking.benchmark_definitions import BenchmarkDefinition, benchmark_definition
from blackbox_repository.errors import SimtuneError

STUDY_FORMAT_VERSION = 1
SEED_PREFIX = "seed-"
MAX_SEED = 2**32 - 1  # what every random number generator simtune drives accepts
MAX_SEEDS = 100_000  # seeds per study: far more than any study runs, small enough to list


class StudyError(SimtuneError, ValueError):
    """A study that cannot run as given (bad names, a busy output folder, ...)."""


# --------------------------------------------------------------------- records
def _json_normalized(value: Any) -> Any:
    """``value`` after a JSON round trip, so that specs compare equal to what was stored."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@dataclass(frozen=True)
class MethodVariant:
    """A method of the baselines registry with its keyword arguments, under a label.

    The label names the method in folders, tables and plots: e.g. ``ASHA-eta2`` for
    ``MethodVariant("ASHA-eta2", "ASHA", (("reduction_factor", 2),))``.
    """

    label: str
    method: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        pairs = self.kwargs.items() if isinstance(self.kwargs, Mapping) else self.kwargs
        object.__setattr__(self, "kwargs", tuple(sorted((str(k), v) for k, v in pairs)))
        _check_path_name(self.label, "method label")

    @classmethod
    def parse(
        cls, entry: str | Mapping[str, Any], kwargs: Mapping[str, Any] | None = None
    ) -> MethodVariant:
        """From a registry name (canonical spelling used as label) or a mapping
        ``{"label": ..., "method": ..., "kwargs": {...}}``; names are checked."""
        if isinstance(entry, str):
            canonical = canonical_method_name(entry)
            return cls(method_label(canonical), canonical, tuple((kwargs or {}).items()))
        if not isinstance(entry, Mapping) or "method" not in entry:
            raise StudyError(
                f"a method entry must be a name or a mapping with 'method' (and optional "
                f"'label', 'kwargs'), got {entry!r}"
            )
        unknown = sorted(set(entry) - set(METHOD_ENTRY_KEYS))
        if unknown:
            raise StudyError(
                f"method entry {dict(entry)} has unknown keys {unknown}."
                f"{did_you_mean(unknown, METHOD_ENTRY_KEYS)} Use label, method, kwargs"
            )
        canonical = canonical_method_name(entry["method"])
        return cls(
            str(entry.get("label") or method_label(canonical)),
            canonical,
            tuple(dict(entry.get("kwargs") or {}).items()),
        )


def canonical_method_name(name: str) -> str:
    """The registry's spelling of method ``name`` (any case, or an alias), as worker
    processes can resolve it: a method registered at run time becomes its
    ``module:factory`` reference. An unknown name lists the known ones and close matches."""
    from benchmarking.baselines import MethodError, methods

    try:
        return methods.portable_name(name)
    except MethodError as error:
        raise StudyError(str(error)) from None


def method_label(method: str) -> str:
    """The default label of a method: its name, or ``module.factory`` for a reference."""
    return method.replace(":", ".")


def _check_path_name(name: str, what: str) -> None:
    if (
        not name
        or name.startswith(".")
        or any(c in name for c in '/\\\0:*?"<>|=')
        or name != name.strip()
    ):
        raise StudyError(
            f"{what} {name!r} cannot name a folder (or a dataset partition): use letters, "
            "digits, '-', '_' and '.'"
        )


@dataclass(frozen=True)
class StudyTask:
    """One simulated run of a study: a method variant on a benchmark with a seed."""

    method: MethodVariant
    benchmark: BenchmarkDefinition
    seed: int

    @property
    def key(self) -> str:
        """``<benchmark>/<method label>/seed-<seed>``: the task's folder below ``runs/``."""
        return f"{self.benchmark.name}/{self.method.label}/{SEED_PREFIX}{self.seed}"

    def spec(self) -> dict[str, Any]:
        """Everything that determines the task's results, as stored in its metadata."""
        return _json_normalized(
            {
                "method": self.method.label,
                "method_name": self.method.method,
                "method_kwargs": dict(self.method.kwargs),
                "benchmark": self.benchmark.to_dict(),
                "seed": self.seed,
            }
        )


@dataclass(frozen=True)
class Study:
    """Methods x benchmarks x seeds. Tasks come benchmark by benchmark, so that workers
    mostly reuse the blackbox they already hold."""

    methods: tuple[MethodVariant, ...]
    benchmarks: tuple[BenchmarkDefinition, ...]
    seeds: tuple[int, ...]

    def __post_init__(self) -> None:
        for what, values in (
            ("methods", self.methods),
            ("benchmarks", self.benchmarks),
            ("seeds", self.seeds),
        ):
            if not values:
                raise StudyError(f"a study needs at least one entry in {what}")
        for what, names in (
            ("method label", [m.label for m in self.methods]),
            ("benchmark", [b.name for b in self.benchmarks]),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise StudyError(f"{what}s must be unique; repeated: {repeated}")
        for benchmark in self.benchmarks:
            _check_path_name(benchmark.name, "benchmark name")
        if len(set(self.seeds)) != len(self.seeds):
            raise StudyError(f"seeds repeat: {list(self.seeds)}")

    def tasks(self) -> list[StudyTask]:
        return [
            StudyTask(method, benchmark, seed)
            for benchmark in self.benchmarks
            for seed in self.seeds
            for method in self.methods
        ]

    @classmethod
    def from_names(
        cls,
        methods: Iterable[str | Mapping[str, Any]],
        benchmarks: Iterable[str | BenchmarkDefinition],
        seeds: Iterable[int] | str,
        *,
        n_workers: int | None = None,
        max_wallclock_time: float | None = None,
        max_num_results: int | None = None,
        method_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Study:
        """A study from names; budgets given here override every benchmark's defaults.

        ``method_kwargs`` maps a method name (any case) to its scheduler's arguments.
        Unknown method or benchmark names raise with the known ones and close matches.
        """
        kwargs_by_method = {
            canonical_method_name(k): dict(v) for k, v in (method_kwargs or {}).items()
        }
        variants = []
        for entry in methods:
            variant = MethodVariant.parse(entry)
            if isinstance(entry, str) and variant.method in kwargs_by_method:
                variant = dataclasses.replace(
                    variant, kwargs=tuple(kwargs_by_method[variant.method].items())
                )
            variants.append(variant)
        definitions = []
        for benchmark in benchmarks:
            definition = (
                benchmark
                if isinstance(benchmark, BenchmarkDefinition)
                else benchmark_definition(benchmark)
            )
            definitions.append(
                definition.with_overrides(
                    n_workers=n_workers,
                    max_wallclock_time=max_wallclock_time,
                    max_num_results=max_num_results,
                )
            )
        seed_values = parse_seeds(seeds) if isinstance(seeds, str) else checked_seeds(seeds)
        return cls(tuple(variants), tuple(definitions), seed_values)

    @classmethod
    def from_yaml(cls, path: Path | str, **overrides: Any) -> Study:
        """A study from a YAML file (see docs/studies.md); ``overrides`` win over the file."""
        return cls.from_mapping(read_study_file(path), **overrides)

    @classmethod
    def from_mapping(cls, described: Mapping[str, Any], **overrides: Any) -> Study:
        """A study from a mapping with the keys of a study file (``methods``, ``benchmarks``,
        ``seeds``, budgets, ``method_kwargs``); run settings (``out``, ``executor``...) are
        ignored here. Precedence: benchmark defaults < the file's study-wide budgets < a
        benchmark entry's own settings < ``overrides`` (the command line)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        settings = {**described, **given}
        for key in ("methods", "benchmarks", "seeds"):
            if key not in settings:
                raise StudyError(
                    f"the study lacks {key!r}; give it in the study file or on the command line"
                )
        file_budgets = {k: described.get(k) for k in BUDGET_SETTINGS}
        command_line_budgets = {k: given.get(k) for k in BUDGET_SETTINGS}
        definitions = []
        for entry in _as_list(settings["benchmarks"], "benchmarks"):
            entry = dict(entry) if isinstance(entry, Mapping) else {"name": str(entry)}
            if "name" not in entry:
                raise StudyError(f"a benchmark entry needs 'name', got {entry}")
            definition = benchmark_definition(entry.pop("name")).with_overrides(**file_budgets)
            definitions.append(
                definition.with_overrides(**entry).with_overrides(**command_line_budgets)
            )
        seeds = settings["seeds"]
        if isinstance(seeds, bool) or not isinstance(seeds, str | int | Sequence):
            raise StudyError(
                f"seeds must be a range like 0-29, a list like [0, 3, 7] or one integer, got {seeds!r}"
            )
        return cls.from_names(
            _as_list(settings["methods"], "methods"),
            definitions,
            str(seeds) if isinstance(seeds, str | int) else seeds,
            method_kwargs=settings.get("method_kwargs"),
        )


BUDGET_SETTINGS = ("n_workers", "max_wallclock_time", "max_num_results")
METHOD_ENTRY_KEYS = ("label", "method", "kwargs")
STUDY_FILE_KEYS = (
    "methods", "benchmarks", "seeds", "n_workers", "max_wallclock_time", "max_num_results",
    "method_kwargs", "out", "executor", "n_jobs", "dask_scheduler", "plot",
)  # fmt: skip


def read_study_file(path: Path | str) -> dict[str, Any]:
    """The mapping in a YAML study file; unknown keys are an error naming them."""
    import yaml

    path = Path(path)
    try:
        described = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise StudyError(f"study file {path} does not exist") from None
    except yaml.YAMLError as error:
        raise StudyError(f"study file {path} is not valid YAML: {error}") from None
    if not isinstance(described, dict):
        raise StudyError(f"study file {path} must hold a mapping with keys {STUDY_FILE_KEYS}")
    unknown = sorted(set(map(str, described)) - set(STUDY_FILE_KEYS))
    if unknown:
        from benchmarking.benchmark_definitions import RENAMED_SETTINGS

        renamed = [f"{k} is now {RENAMED_SETTINGS[k]}" for k in unknown if k in RENAMED_SETTINGS]
        hint = f" ({'; '.join(renamed)})" if renamed else ""
        raise StudyError(
            f"study file {path} has unknown keys {unknown}{hint}."
            f"{did_you_mean(unknown, STUDY_FILE_KEYS)} Known keys: {', '.join(STUDY_FILE_KEYS)}"
        )
    return described


def did_you_mean(unknown: Iterable[str], known: Iterable[str]) -> str:
    """`` Did you mean: 'seeds' for 'seed'?`` for the unknown keys close to known ones, or ``""``."""
    known = list(known)
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        if close:
            hints.append(f"{close[0]!r} for {key!r}")
    return f" Did you mean: {', '.join(hints)}?" if hints else ""


def _as_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, Sequence):
        return list(value)
    raise StudyError(f"{what} must be a list or a comma-separated string, got {value!r}")


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0-29"``, ``"0,3,7"`` or ``"0-4,10"`` -> the seeds, in order.

    Every part is checked before any seed is listed: a reversed range (``5-0``), a seed above
    :data:`MAX_SEED` or more than :data:`MAX_SEEDS` seeds in all are clear errors, so a typo
    such as ``0-999999999999`` never tries to build a list of a trillion seeds.
    """
    ranges: list[tuple[int, int]] = []
    for part in str(text).split(","):
        part = part.strip()
        match = _SEED_RANGE.match(part)
        if match is None:
            raise StudyError(
                f"cannot read seeds {text!r} (at {part!r}): use a range like 0-29, "
                "a list like 0,3,7, or both"
            )
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high < low:
            raise StudyError(
                f"cannot read seeds {text!r}: the range {part!r} is reversed; write {high}-{low}"
            )
        if high > MAX_SEED:
            raise StudyError(f"seed {high} in {text!r} is too large: seeds go from 0 to {MAX_SEED}")
        ranges.append((low, high))
    n_seeds = sum(high - low + 1 for low, high in ranges)
    if n_seeds > MAX_SEEDS:
        raise StudyError(
            f"seeds {text!r} name {n_seeds:,} seeds; a study takes at most {MAX_SEEDS:,} "
            "(did you mean a shorter range, e.g. 0-29?)"
        )
    return tuple(seed for low, high in ranges for seed in range(low, high + 1))


def checked_seeds(seeds: Iterable[Any]) -> tuple[int, ...]:
    """Seeds given as values (Python or YAML): whole numbers from 0 to :data:`MAX_SEED`,
    never rounded (``1.7`` is an error, ``2.0`` is seed 2), at most :data:`MAX_SEEDS`."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise StudyError(f"seeds must be a list of integers or a text like 0-29, got {seeds!r}")
    values = []
    for seed in seeds:
        value = seed.item() if isinstance(seed, np.generic) else seed
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise StudyError(
                f"seed {seed!r} is not a whole number: give seeds as integers like [0, 3, 7] "
                "or a range like 0-29"
            )
        if not 0 <= value <= MAX_SEED:
            raise StudyError(f"seed {value} is out of range: seeds go from 0 to {MAX_SEED}")
        values.append(value)
        if len(values) > MAX_SEEDS:
            raise StudyError(f"more than {MAX_SEEDS:,} seeds: a study takes at most {MAX_SEEDS:,}")
    return tuple(values)


_SEED_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
