"""What to tabulate: one objective over configurations x fidelities x seeds.

An objective is one of two kinds, stated explicitly:

- ``"per_fidelity"``: ``objective(config, fidelity, seed) -> {metric: value}``, called once
  per (config, fidelity, seed). Right when every fidelity is a separate run (e.g. a
  training-set size).
- ``"learning_curve"``: ``objective(config, fidelities, seed) -> [{metric: value}, ...]``,
  called once per (config, seed) and returning one dict per fidelity, in order. Right for
  models trained incrementally (epochs): one run records the whole curve instead of
  training again for each fidelity.

Every dict holds every declared metric, including the elapsed time: the cumulative
training seconds from the start of the run to that fidelity.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ConfigSpace import (
    CategoricalHyperparameter,
    Configuration,
    ConfigurationSpace,
    OrdinalHyperparameter,
)

from benchmarking.tabulation.dump_files import canonical_json, config_hash, fidelity_hash
from blackbox_repository.blackbox import Objective, native, native_config
from blackbox_repository.cache import check_entry_name
from blackbox_repository.file_format import INDEX_COLUMNS

PER_FIDELITY = "per_fidelity"
LEARNING_CURVE = "learning_curve"
OBJECTIVE_KINDS = (PER_FIDELITY, LEARNING_CURVE)


@dataclass(frozen=True)
class TabulationTask:
    """One benchmark to tabulate: becomes one tabular blackbox named ``name``.

    Args:
        name: task and blackbox name (letters, digits, ``.``, ``_``, ``-``).
        objective: a picklable callable (module-level function or ``functools.partial``
            of one), run on Dask workers; see the module docstring for its signature.
        objective_kind: ``"per_fidelity"`` or ``"learning_curve"``.
        configuration_space: the search space the configurations belong to.
        configurations: the configurations to evaluate (see :func:`grid_configurations`
            and :func:`sample_configurations`).
        fidelity_name: e.g. ``"epoch"``.
        fidelity_values: strictly increasing fidelities.
        seeds: seeds passed to the objective; each (config, seed) is one run.
        metrics: the values every evaluation returns, with their modes. The elapsed-time
            metric is added (mode ``"min"``, unit ``"s"``) if not declared.
        elapsed_time_key: the metric holding cumulative training seconds.
        description: what was trained on what data; stored in the blackbox.

    Example:
        >>> space, configs = grid_configurations({"alpha": [1e-4, 1e-2]})
        >>> task = TabulationTask(
        ...     name="toy", objective=my_objective, objective_kind="learning_curve",
        ...     configuration_space=space, configurations=configs,
        ...     fidelity_name="epoch", fidelity_values=range(1, 11), seeds=[0, 1],
        ...     metrics=[Objective("valid_error", "min")],
        ... )  # doctest: +SKIP
    """

    name: str
    objective: Callable[..., Any]
    objective_kind: str
    configuration_space: ConfigurationSpace
    configurations: Sequence[Mapping[str, Any]]
    fidelity_name: str
    fidelity_values: Sequence[float]
    seeds: Sequence[int]
    metrics: Sequence[Objective]
    elapsed_time_key: str = "elapsed_time"
    description: str = ""
    config_hashes: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_entry_name(self.name)
        if not callable(self.objective):
            raise TypeError(
                f"task {self.name!r}: objective must be callable, got {self.objective!r}"
            )
        if self.objective_kind not in OBJECTIVE_KINDS:
            raise ValueError(
                f"task {self.name!r}: objective_kind={self.objective_kind!r}; use "
                f"'{PER_FIDELITY}' (one call per fidelity) or '{LEARNING_CURVE}' "
                "(one call returns every fidelity)"
            )
        set_field = functools.partial(object.__setattr__, self)
        set_field("configurations", self._checked_configurations())
        set_field("config_hashes", tuple(config_hash(c) for c in self.configurations))
        self._check_unique_configurations()
        set_field("fidelity_values", self._checked_fidelities())
        set_field("seeds", self._checked_seeds())
        set_field("metrics", self._checked_metrics())

    # ----------------------------------------------------------------- validation
    def _checked_configurations(self) -> tuple[dict[str, Any], ...]:
        if len(self.configurations) == 0:
            raise ValueError(f"task {self.name!r}: configurations is empty; give at least one")
        checked = []
        for index, config in enumerate(self.configurations):
            config = native_config(config)
            try:
                Configuration(self.configuration_space, values=config)
            except Exception as error:  # ConfigSpace raises several types for illegal values
                raise ValueError(
                    f"task {self.name!r}: configuration {index} {config} is not in the search "
                    f"space ({type(error).__name__}: {error}); fix it or the space"
                ) from None
            checked.append(config)
        return tuple(checked)

    def _check_unique_configurations(self) -> None:
        first_index: dict[str, int] = {}
        for index, digest in enumerate(self.config_hashes):
            if digest in first_index:
                raise ValueError(
                    f"task {self.name!r}: configuration {index} repeats configuration "
                    f"{first_index[digest]} ({self.configurations[index]}); remove duplicates"
                )
            first_index[digest] = index

    def _checked_fidelities(self) -> tuple[float, ...]:
        values = tuple(native(v) for v in self.fidelity_values)
        if not values:
            raise ValueError(f"task {self.name!r}: fidelity_values is empty")
        for value in values:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise ValueError(
                    f"task {self.name!r}: fidelity value {value!r} is not a finite number"
                )
        if any(b <= a for a, b in itertools.pairwise(values)):
            raise ValueError(
                f"task {self.name!r}: fidelity_values must be strictly increasing, got {list(values)}"
            )
        return values

    def _checked_seeds(self) -> tuple[int, ...]:
        seeds = tuple(native(s) for s in self.seeds)
        if not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
            raise ValueError(
                f"task {self.name!r}: seeds must be a non-empty list of ints, got {list(seeds)}"
            )
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"task {self.name!r}: seeds repeat: {list(seeds)}")
        return seeds

    def _checked_metrics(self) -> tuple[Objective, ...]:
        metrics = tuple(self.metrics)
        names = [m.name for m in metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"task {self.name!r}: metric names repeat: {names}")
        clash = sorted(set(names) & set(INDEX_COLUMNS))
        if clash:
            raise ValueError(
                f"task {self.name!r}: metric names {clash} clash with the blackbox index "
                f"columns {list(INDEX_COLUMNS)}; rename them"
            )
        if self.elapsed_time_key not in names:
            metrics += (Objective(self.elapsed_time_key, "min", "s"),)
        return metrics

    # ----------------------------------------------------------------- derived
    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)

    @property
    def evaluation_units(self) -> tuple[EvaluationUnit, ...]:
        """The fidelities one evaluation covers, with their hash (see :func:`evaluation_units`)."""
        return evaluation_units(self.objective_kind, self.fidelity_values)

    @property
    def n_evaluations(self) -> int:
        return len(self.configurations) * len(self.seeds) * len(self.evaluation_units)


@dataclass(frozen=True)
class EvaluationUnit:
    """The fidelities covered by one evaluation and the hash that names its dump file."""

    fidelities: tuple[float, ...]
    fidelity_digest: str


def evaluation_units(
    objective_kind: str, fidelity_values: Sequence[float]
) -> tuple[EvaluationUnit, ...]:
    """Each fidelity alone (``per_fidelity``), or all of them in one evaluation (``learning_curve``)."""
    values = tuple(fidelity_values)
    if objective_kind == PER_FIDELITY:
        return tuple(EvaluationUnit((f,), fidelity_hash(f)) for f in values)
    return (EvaluationUnit(values, fidelity_hash(list(values))),)


def callable_identity(function: Callable[..., Any]) -> str:
    """A stable text naming an objective (module, name and bound arguments) for the manifest.

    Example:
        >>> callable_identity(functools.partial(math.pow, 2))
        'math.pow(args=[2],keywords={})'
    """
    if isinstance(function, functools.partial):
        try:
            bound = (
                f"args={canonical_json(function.args)},keywords={canonical_json(function.keywords)}"
            )
        except (TypeError, ValueError):
            bound = f"args={function.args!r},keywords={function.keywords!r}"
        return f"{callable_identity(function.func)}({bound})"
    module = getattr(function, "__module__", None) or type(function).__module__
    qualname = getattr(function, "__qualname__", None)
    if qualname is None:  # a callable instance: its type plus its (deterministic) repr
        return f"{type(function).__module__}.{type(function).__qualname__}:{function!r}"
    return f"{module}.{qualname}"


# --------------------------------------------------------------------- search spaces
def grid_configurations(
    grid: Mapping[str, Sequence[Any]],
) -> tuple[ConfigurationSpace, list[dict[str, Any]]]:
    """A search space of exactly ``grid`` and every combination of its values.

    Numbers become ordinal hyperparameters (in the given order), anything else categorical.

    Example:
        >>> space, configs = grid_configurations({"lr": [0.1, 0.01], "act": ["relu", "tanh"]})
        >>> len(configs)
        4
    """
    if not grid:
        raise ValueError("grid is empty; give at least one hyperparameter with its values")
    space = ConfigurationSpace()
    for name, values in grid.items():
        values = [native(v) for v in values]
        if not values or len(set(values)) != len(values):
            raise ValueError(f"grid values of {name!r} must be non-empty and unique, got {values}")
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric:
            space.add(OrdinalHyperparameter(name, values))
        else:
            space.add(CategoricalHyperparameter(name, values))
    names = list(grid)
    configs = [
        dict(zip(names, combination))
        for combination in itertools.product(*([native(v) for v in grid[n]] for n in names))
    ]
    return space, configs


def sample_configurations(
    space: ConfigurationSpace, n: int, seed: int, max_draws: int | None = None
) -> list[dict[str, Any]]:
    """``n`` distinct configurations drawn from ``space`` with ``seed`` (plain Python values).

    The space itself is not reseeded: a copy is. Raises if the space has fewer than ``n``
    distinct configurations within ``max_draws`` draws (default ``20 * n``).
    """
    if n < 1:
        raise ValueError(f"n={n}: sample at least one configuration")
    sampler = ConfigurationSpace.from_serialized_dict(space.to_serialized_dict())
    sampler.seed(seed)
    configs: dict[str, dict[str, Any]] = {}
    draws = 0
    limit = max_draws if max_draws is not None else 20 * n
    while len(configs) < n:
        if draws >= limit:
            raise ValueError(
                f"only {len(configs)} distinct configurations found in {draws} draws from the "
                f"space; ask for fewer than n={n} or widen the space"
            )
        size = min(n - len(configs), limit - draws)
        # ConfigSpace returns one Configuration (and warns) when asked for a batch of one
        batch = sampler.sample_configuration(size) if size > 1 else [sampler.sample_configuration()]
        draws += len(batch)
        for config in batch:
            plain = native_config(dict(config))
            configs.setdefault(config_hash(plain), plain)
    return list(configs.values())
