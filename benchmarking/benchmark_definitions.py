"""Benchmark definitions: which blackbox, which metric, which budget, as plain frozen records.

A :class:`BenchmarkDefinition` names everything a simulated run needs besides the method:
the blackbox, the metric and its mode, the elapsed-time objective and the fidelity
(max resource attribute and value), the default number of workers, the simulated
wall-clock budget, an optional cap on the number of results, and an optional surrogate
model that replaces table lookups (e.g. ``"knn"``).

The registry holds one definition for every blackbox name the repository's recipes
provide, made from per-family defaults (:data:`FAMILY_DEFAULTS`, refined for some names by
:data:`NAME_PREFIX_DEFAULTS`). A recipe family that has no defaults yet is a clear error
when one of its names is used. Defaults are overridden per study with
:func:`dataclasses.replace` (or the study's CLI flags and YAML file).

Example:
    >>> import dataclasses
    >>> definition = benchmark_definition("xgboost-mnist")  # doctest: +SKIP
    >>> dataclasses.replace(definition, n_workers=8, max_wallclock_time=600.0)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from blackbox_repository import Blackbox, FidelityNotOnGridError, TabularBlackbox
from blackbox_repository.blackbox import native
from blackbox_repository.recipes import Recipe, all_recipes

MODES = ("min", "max")


class BenchmarkDefinitionError(ValueError):
    """A benchmark setting that does not apply (to the blackbox, or at all)."""


class UnknownBenchmarkError(ValueError):
    """A benchmark name that is neither a recipe's blackbox nor a known definition."""


class MissingFamilyDefaultsError(BenchmarkDefinitionError):
    """A recipe family for which no benchmark defaults were written yet."""


def _frozen_kwargs(kwargs: Mapping[str, Any] | tuple | None) -> tuple[tuple[str, Any], ...]:
    """Keyword arguments as a sorted tuple of pairs, so that definitions stay hashable."""
    if not kwargs:
        return ()
    pairs = kwargs.items() if isinstance(kwargs, Mapping) else kwargs
    return tuple(sorted((str(k), v) for k, v in pairs))


@dataclass(frozen=True)
class BenchmarkDefinition:
    """Everything a simulated run needs to know about its benchmark.

    Args:
        name: the benchmark's name (by default the blackbox name).
        blackbox: name of the blackbox (see ``simtune blackbox list``).
        metric: the objective the methods optimize.
        mode: ``"min"`` or ``"max"``; must equal the objective's mode.
        elapsed_time_attr: the blackbox's elapsed-time objective.
        max_resource_attr: the blackbox's fidelity name.
        max_resource_value: the largest fidelity a trial is trained to; ``None`` means the
            last value of the blackbox's fidelity grid. A smaller value must lie on the grid
            (the grid is cut there; tabular blackboxes only).
        n_workers: default number of parallel simulated workers.
        max_wallclock_time: default simulated wall-clock budget of a run, in seconds.
        max_num_evaluations: optional cap on the number of reported results of a run.
        surrogate: ``None`` for exact table lookups, else the model of
            ``blackbox_repository.surrogate.make_surrogate`` (e.g. ``"knn"``).
        surrogate_kwargs: keyword arguments of that model (stored as sorted pairs).
        family: the recipe family the blackbox comes from.
    """

    name: str
    blackbox: str
    metric: str
    mode: str
    elapsed_time_attr: str
    max_resource_attr: str
    max_resource_value: float | None = None
    n_workers: int = 4
    max_wallclock_time: float | None = 3600.0
    max_num_evaluations: int | None = None
    surrogate: str | None = None
    surrogate_kwargs: tuple[tuple[str, Any], ...] = ()
    family: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "surrogate_kwargs", _frozen_kwargs(self.surrogate_kwargs))
        budget = self.max_wallclock_time
        if isinstance(budget, int) and not isinstance(budget, bool):
            object.__setattr__(self, "max_wallclock_time", float(budget))
        self.check_settings()

    # ------------------------------------------------------------------ validation
    def check_settings(self) -> None:
        """Checks that need no blackbox: mode, worker count, budgets."""
        where = f"benchmark {self.name!r}"
        if self.mode not in MODES:
            raise BenchmarkDefinitionError(
                f"{where}: mode must be 'min' or 'max', got {self.mode!r}"
            )
        if (
            isinstance(self.n_workers, bool)
            or not isinstance(self.n_workers, int)
            or self.n_workers < 1
        ):
            raise BenchmarkDefinitionError(
                f"{where}: n_workers must be an integer >= 1, got {self.n_workers!r}"
            )
        budget = self.max_wallclock_time
        if budget is not None and not (
            isinstance(budget, (int, float))
            and not isinstance(budget, bool)
            and math.isfinite(budget)
            and budget > 0
        ):
            raise BenchmarkDefinitionError(
                f"{where}: max_wallclock_time must be a positive number of simulated seconds, "
                f"got {budget!r}; a budget <= 0 can never be reached"
            )
        evaluations = self.max_num_evaluations
        if evaluations is not None and (
            isinstance(evaluations, bool) or not isinstance(evaluations, int) or evaluations < 1
        ):
            raise BenchmarkDefinitionError(
                f"{where}: max_num_evaluations must be a positive integer or None, got {evaluations!r}"
            )
        if budget is None and evaluations is None:
            raise BenchmarkDefinitionError(
                f"{where}: set max_wallclock_time or max_num_evaluations, otherwise a run never stops"
            )

    def validate(self, blackbox: Blackbox) -> None:
        """Check every setting against ``blackbox``; raise on the first that does not apply."""
        where = f"benchmark {self.name!r} (blackbox {blackbox.name!r})"
        if self.metric not in blackbox.objective_names:
            close = difflib.get_close_matches(self.metric, blackbox.objective_names, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise BenchmarkDefinitionError(
                f"{where}: metric {self.metric!r} is not an objective; the objectives are "
                f"{list(blackbox.objective_names)}.{hint}"
            )
        objective_mode = blackbox.objective(self.metric).mode
        if self.mode != objective_mode:
            raise BenchmarkDefinitionError(
                f"{where}: mode {self.mode!r} contradicts objective {self.metric!r}, which is to be "
                f"{'minimized' if objective_mode == 'min' else 'maximized'}; use mode={objective_mode!r}"
            )
        if self.elapsed_time_attr != blackbox.elapsed_time_objective:
            raise BenchmarkDefinitionError(
                f"{where}: elapsed_time_attr {self.elapsed_time_attr!r} is not the blackbox's "
                f"elapsed-time objective {blackbox.elapsed_time_objective!r}"
            )
        if self.max_resource_attr != blackbox.fidelity_name:
            raise BenchmarkDefinitionError(
                f"{where}: max_resource_attr {self.max_resource_attr!r} is not the blackbox's "
                f"fidelity {blackbox.fidelity_name!r}"
            )
        if self.max_resource_value is not None:
            try:
                position = blackbox.fidelity_index(self.max_resource_value)
            except FidelityNotOnGridError as error:
                raise BenchmarkDefinitionError(f"{where}: max_resource_value: {error}") from None
            if position < len(blackbox.fidelity_values) - 1 and not isinstance(
                blackbox, TabularBlackbox
            ):
                raise BenchmarkDefinitionError(
                    f"{where}: max_resource_value={self.max_resource_value!r} below the largest "
                    f"fidelity {blackbox.max_fidelity!r} is supported for tabular blackboxes only; "
                    f"this one is {blackbox.kind!r}: leave max_resource_value unset"
                )

    # ------------------------------------------------------------------ records
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``surrogate_kwargs`` as a dict); :meth:`from_dict` reads it back."""
        described = dataclasses.asdict(self)
        described["surrogate_kwargs"] = dict(self.surrogate_kwargs)
        return json.loads(json.dumps(described, default=native))

    @classmethod
    def from_dict(cls, described: Mapping[str, Any]) -> BenchmarkDefinition:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(described) - fields)
        if unknown:
            raise BenchmarkDefinitionError(
                f"unknown benchmark settings {unknown}; the settings are {sorted(fields)}"
            )
        return cls(**described)

    def with_overrides(self, **overrides: Any) -> BenchmarkDefinition:
        """:func:`dataclasses.replace` that ignores ``None`` values and names bad keys clearly."""
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise BenchmarkDefinitionError(
                f"unknown benchmark settings {unknown}; the settings are {sorted(fields)}"
            )
        given = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **given) if given else self


@dataclass(frozen=True)
class FamilyDefaults:
    """The settings shared by the benchmarks of one recipe family (or of a name prefix)."""

    metric: str
    mode: str
    elapsed_time_attr: str
    max_resource_attr: str
    max_wallclock_time: float | None
    n_workers: int = 4
    max_resource_value: float | None = None
    max_num_evaluations: int | None = None
    surrogate: str | None = None
    surrogate_kwargs: tuple[tuple[str, Any], ...] = ()

    def definition(self, name: str, family: str) -> BenchmarkDefinition:
        """The definition of blackbox ``name`` with these defaults."""
        return BenchmarkDefinition(
            name=name,
            blackbox=name,
            family=family,
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
        )


# Default budgets: about 15 full-fidelity evaluations of a mean configuration per worker
# (4 workers), rounded, where this machine could measure the family's runtimes; Syne
# Tune's budgets for FCNet, NAS-Bench-201 and LCBench; a cap on results for PD1 (its
# elapsed time sums evaluation times only). See docs/studies.md, "Default budgets".
FAMILY_DEFAULTS: Mapping[str, FamilyDefaults] = MappingProxyType(
    {
        "taskset": FamilyDefaults(
            metric="valid_loss",
            mode="min",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="step",
            max_wallclock_time=43_200.0,
        ),
        "xgboost_mnist": FamilyDefaults(
            metric="test_error",
            mode="min",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="train_size",
            max_wallclock_time=3_600.0,
        ),
        "tabrepo_lightgbm_2022": FamilyDefaults(
            metric="metric_error",
            mode="min",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="fidelity",
            max_wallclock_time=30.0,
        ),
        "hpo_nmt": FamilyDefaults(
            metric="dev_bleu",
            mode="max",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="checkpoint",
            max_wallclock_time=216_000.0,
        ),
        "lcdb": FamilyDefaults(
            metric="valid_accuracy",
            mode="max",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="train_size",
            max_wallclock_time=30.0,
        ),
        "fcnet": FamilyDefaults(
            metric="valid_mse",
            mode="min",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="epoch",
            max_wallclock_time=1_200.0,
        ),
        "nasbench201": FamilyDefaults(
            metric="valid_error",
            mode="min",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="epoch",
            max_wallclock_time=72_000.0,
        ),
        "lcbench": FamilyDefaults(
            metric="val_accuracy",
            mode="max",
            elapsed_time_attr="time",
            max_resource_attr="epoch",
            max_wallclock_time=7_200.0,
        ),
        "embedded": FamilyDefaults(
            metric="valid_error",
            mode="min",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="epoch",
            max_wallclock_time=30.0,
        ),
        "pd1": FamilyDefaults(
            metric="valid_error_rate",
            mode="min",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="global_step",
            max_wallclock_time=None,
            max_num_evaluations=5_000,
        ),
    }
)
"""Recipe family -> defaults of its benchmarks."""

NAME_PREFIX_DEFAULTS: Mapping[str, FamilyDefaults] = MappingProxyType(
    {
        # YAHPO Gym scenarios (one recipe family) differ in objectives, fidelity and cost
        "yahpo-lcbench-": FamilyDefaults(
            metric="val_accuracy",
            mode="max",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="epoch",
            max_wallclock_time=3_600.0,
        ),
        "yahpo-rbv2_xgboost-": FamilyDefaults(
            metric="acc",
            mode="max",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="trainsize",
            max_wallclock_time=1_800.0,
        ),
        "yahpo-rbv2_rpart-": FamilyDefaults(
            metric="acc",
            mode="max",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="trainsize",
            max_wallclock_time=120.0,
        ),
        # The embedded MLP tables hold 300 configurations: with 4 workers ASHA tries all of
        # them after 5.0 s (digits) and 1.8 s (breast cancer) at the earliest (seeds 0-19);
        # these budgets stop every method before its search space is used up.
        "sklearn-mlp-digits": FamilyDefaults(
            metric="valid_error",
            mode="min",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="epoch",
            max_wallclock_time=4.0,
        ),
        "sklearn-mlp-breast-cancer": FamilyDefaults(
            metric="valid_error",
            mode="min",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="epoch",
            max_wallclock_time=1.5,
        ),
        "yahpo-iaml_glmnet-": FamilyDefaults(
            metric="mmce",
            mode="min",
            elapsed_time_attr="elapsed_time",
            max_resource_attr="trainsize",
            max_wallclock_time=10.0,
        ),
    }
)
"""Blackbox-name prefix -> defaults; the longest matching prefix wins over the family's."""


def _defaults_for(name: str, family: str) -> FamilyDefaults | None:
    prefixes = sorted(
        (p for p in NAME_PREFIX_DEFAULTS if name.startswith(p)), key=len, reverse=True
    )
    if prefixes:
        return NAME_PREFIX_DEFAULTS[prefixes[0]]
    return FAMILY_DEFAULTS.get(family)


def _recipe_families(recipes: tuple[Recipe, ...]) -> dict[str, str]:
    return {name: recipe.family for recipe in recipes for name in recipe.names}


def benchmark_definitions(
    recipes: tuple[Recipe, ...] | None = None,
) -> dict[str, BenchmarkDefinition]:
    """Definitions of every blackbox name whose family has defaults, by name."""
    families = _recipe_families(all_recipes() if recipes is None else recipes)
    definitions = {}
    for name, family in sorted(families.items()):
        defaults = _defaults_for(name, family)
        if defaults is not None:
            definitions[name] = defaults.definition(name, family)
    return definitions


def names_without_definition(recipes: tuple[Recipe, ...] | None = None) -> dict[str, str]:
    """Blackbox names whose family has no defaults yet: name -> family."""
    families = _recipe_families(all_recipes() if recipes is None else recipes)
    return {n: f for n, f in sorted(families.items()) if _defaults_for(n, f) is None}


def benchmark_names(recipes: tuple[Recipe, ...] | None = None) -> list[str]:
    """Every benchmark name that has a definition."""
    return sorted(benchmark_definitions(recipes))


def benchmark_definition(
    name: str, recipes: tuple[Recipe, ...] | None = None
) -> BenchmarkDefinition:
    """The definition of benchmark ``name``.

    An unknown name lists close known names; a name of a family without defaults says
    where to add them.
    """
    families = _recipe_families(all_recipes() if recipes is None else recipes)
    family = families.get(name)
    if family is None:
        known = sorted(families)
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownBenchmarkError(
            f"unknown benchmark {name!r}.{hint} Known benchmarks ({len(known)}): "
            f"{_shorten(known)}; see `simtune blackbox list`"
        )
    defaults = _defaults_for(name, family)
    if defaults is None:
        raise MissingFamilyDefaultsError(
            f"benchmark {name!r} comes from recipe family {family!r}, which has no benchmark "
            "defaults yet: add a FamilyDefaults entry for it to FAMILY_DEFAULTS (or for a name "
            "prefix to NAME_PREFIX_DEFAULTS) in benchmarking/benchmark_definitions.py, or pass "
            "a BenchmarkDefinition explicitly"
        )
    return defaults.definition(name, family)


def _shorten(names: list[str], limit: int = 30) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names) - limit} more)"


def truncate_fidelity(blackbox: Blackbox, max_resource_value: float | None) -> Blackbox:
    """``blackbox`` with its fidelity grid cut at ``max_resource_value`` (tabular only).

    Returns the blackbox itself when nothing is cut; otherwise a TabularBlackbox sharing
    the original's memory (a numpy view), so that trials complete at the new maximum.
    """
    if max_resource_value is None:
        return blackbox
    position = blackbox.fidelity_index(max_resource_value)
    if position == len(blackbox.fidelity_values) - 1:
        return blackbox
    if not isinstance(blackbox, TabularBlackbox):
        raise BenchmarkDefinitionError(
            f"cannot cut the fidelity grid of {blackbox.kind!r} blackbox {blackbox.name!r} at "
            f"{max_resource_value!r}: only tabular blackboxes can be cut"
        )
    return TabularBlackbox(
        name=blackbox.name,
        configuration_space=blackbox.configuration_space,
        configurations=blackbox.configurations,
        fidelity_name=blackbox.fidelity_name,
        fidelity_values=blackbox.fidelity_values[: position + 1],
        seeds=blackbox.seeds,
        objectives=blackbox.objectives,
        elapsed_time_objective=blackbox.elapsed_time_objective,
        values=blackbox.values[:, : position + 1],
        description=blackbox.description,
    )
