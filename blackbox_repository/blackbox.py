"""The blackbox model shared by tabular and surrogate blackboxes.

A blackbox answers "metric values of config c at fidelity f and seed s". It has a
ConfigSpace search space, one fidelity (a name and its increasing values), the seeds it
knows, named objectives each with a mode, and one elapsed-time objective: the cumulative
training time, in seconds, from the start of a trial to the report at each fidelity.
"""

from __future__ import annotations

import abc
import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from blackbox_repository.errors import FidelityNotOnGridError, SeedNotFoundError

if TYPE_CHECKING:  # ConfigSpace (with scipy) adds ~75 MB to a process: import it when used
    from ConfigSpace import ConfigurationSpace

MODES = ("min", "max")


@dataclass(frozen=True)
class Objective:
    """One named output of a blackbox. ``mode`` is ``"min"`` or ``"max"``."""

    name: str
    mode: str
    unit: str = ""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(
                f"objective {self.name!r} has mode {self.mode!r}; mode must be 'min' or 'max'"
            )


class LearningCurve(Protocol):
    """The objectives of one (config, seed) at each fidelity, indexed by fidelity position.

    ``curve[i]`` is a float array with one value per objective, in
    ``Blackbox.objective_names`` order. Tabular curves are numpy views; surrogate curves
    compute each row on first access.
    """

    def __getitem__(self, fidelity_index: int) -> np.ndarray: ...


def native(value: Any) -> Any:
    """Turn numpy scalars into Python values (so configs compare, hash and dump to JSON).

    NaN (an inactive hyperparameter in a table) becomes ``None``.
    """
    kind = type(value)
    if kind is str or kind is int:  # the common case, on the path of every trial start
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def native_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A plain-Python copy of a configuration; inactive (NaN/None) entries are dropped."""
    result = {}
    for key, value in config.items():
        value = native(value)
        if value is not None:
            result[key] = value
    return result


class Blackbox(abc.ABC):
    """Common metadata and validation of tabular and surrogate blackboxes."""

    kind: str = ""

    def __init__(
        self,
        *,
        name: str,
        configuration_space: ConfigurationSpace | Callable[[], ConfigurationSpace],
        fidelity_name: str,
        fidelity_values: Sequence[float] | np.ndarray,
        seeds: Sequence[int] | np.ndarray,
        objectives: Sequence[Objective],
        elapsed_time_objective: str,
        description: str = "",
        hyperparameter_names: Sequence[str] | None = None,
    ) -> None:
        """``configuration_space`` may be a function building it on first use (parsing a
        stored space costs about 10 ms); then pass ``hyperparameter_names`` (in the space's
        order) so that lookups never need the space."""
        self.name = name
        if hasattr(configuration_space, "keys"):  # a ConfigurationSpace, not a function
            self._configuration_space, self._build_space = configuration_space, None
        else:
            self._configuration_space, self._build_space = None, configuration_space
        self._hyperparameter_names = (
            tuple(hyperparameter_names) if hyperparameter_names is not None else None
        )
        self.fidelity_name = fidelity_name
        self.fidelity_values = np.asarray(fidelity_values)
        self.seeds = np.asarray(seeds, dtype=np.int64)
        self.objectives = tuple(objectives)
        self.elapsed_time_objective = elapsed_time_objective
        self.description = description
        self._validate_metadata()
        self.objective_names = tuple(o.name for o in self.objectives)
        self.elapsed_time_index = self.objective_names.index(elapsed_time_objective)
        self._fidelity_positions = {native(v): i for i, v in enumerate(self.fidelity_values)}
        self._seed_positions = {int(s): i for i, s in enumerate(self.seeds)}

    def _validate_metadata(self) -> None:
        if self.fidelity_values.ndim != 1 or len(self.fidelity_values) == 0:
            raise ValueError(
                f"blackbox {self.name!r}: fidelity_values must be a non-empty 1-d array"
            )
        if np.any(np.diff(self.fidelity_values) <= 0):
            raise ValueError(
                f"blackbox {self.name!r}: fidelity_values must be strictly increasing, "
                f"got {self.fidelity_values.tolist()[:10]}..."
            )
        if len(self.seeds) == 0 or len(set(self.seeds.tolist())) != len(self.seeds):
            raise ValueError(f"blackbox {self.name!r}: seeds must be non-empty and unique")
        names = [o.name for o in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"blackbox {self.name!r}: objective names repeat: {names}")
        if self.elapsed_time_objective not in names:
            raise ValueError(
                f"blackbox {self.name!r}: elapsed_time_objective {self.elapsed_time_objective!r} "
                f"is not one of the objectives {names}"
            )

    # ----------------------------------------------------------------- metadata helpers
    @property
    def configuration_space(self) -> ConfigurationSpace:
        """The ConfigSpace search space (built on first access for blackboxes read from disk)."""
        if self._configuration_space is None:
            self._configuration_space = self._build_space()
        return self._configuration_space

    @property
    def hyperparameter_names(self) -> tuple[str, ...]:
        if self._hyperparameter_names is not None:
            return self._hyperparameter_names
        return tuple(self.configuration_space.keys())

    @property
    def max_fidelity(self) -> float:
        return native(self.fidelity_values[-1])

    @property
    def min_fidelity(self) -> float:
        return native(self.fidelity_values[0])

    def objective(self, name: str) -> Objective:
        """The objective called ``name``; a clear error lists the known ones."""
        return self.objectives[self.objective_index(name)]

    def objective_index(self, name: str) -> int:
        try:
            return self.objective_names.index(name)
        except ValueError:
            close = difflib.get_close_matches(name, self.objective_names, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(
                f"blackbox {self.name!r} has no objective {name!r}; its objectives are "
                f"{list(self.objective_names)}.{hint}"
            ) from None

    def fidelity_index(self, fidelity: float) -> int:
        """Position of ``fidelity`` in ``fidelity_values``; off-grid values are an error."""
        position = self._fidelity_positions.get(native(fidelity))
        if position is None:
            values = self.fidelity_values
            raise FidelityNotOnGridError(
                f"fidelity {self.fidelity_name}={fidelity!r} is not on the grid of blackbox "
                f"{self.name!r}: it has {len(values)} values from {native(values[0])} to "
                f"{native(values[-1])} (see blackbox.fidelity_values)"
            )
        return position

    def seed_index(self, seed: int | None) -> int:
        """Position of ``seed`` in ``seeds``; ``None`` means the first seed."""
        if seed is None:
            return 0
        position = self._seed_positions.get(int(seed))
        if position is None:
            raise SeedNotFoundError(
                f"seed {seed!r} is not recorded in blackbox {self.name!r}; "
                f"its seeds are {self.seeds.tolist()}"
            )
        return position

    def describe(self) -> str:
        """A human-readable summary: space, fidelities, seeds and objectives."""
        lines = [f"{self.name} ({self.kind})"]
        if self.description:
            lines.append(f"  {self.description}")
        lines.append(f"  search space ({len(self.hyperparameter_names)} hyperparameters):")
        for hp in self.configuration_space.values():
            lines.append(f"    {hp}")
        values = self.fidelity_values
        shown = ", ".join(str(native(v)) for v in values[:5])
        if len(values) > 5:
            shown += f", ..., {native(values[-1])}"
        lines.append(f"  fidelity: {self.fidelity_name}, {len(values)} values: {shown}")
        lines.append(f"  seeds: {self.seeds.tolist()}")
        lines.append("  objectives:")
        for o in self.objectives:
            marker = "  (elapsed time)" if o.name == self.elapsed_time_objective else ""
            unit = f" [{o.unit}]" if o.unit else ""
            lines.append(f"    {o.name}{unit}: {o.mode}{marker}")
        lines.extend(self._describe_extra())
        return "\n".join(lines)

    def _describe_extra(self) -> list[str]:
        return []

    # ----------------------------------------------------------------- lookups
    @abc.abstractmethod
    def lookup(
        self, config: Mapping[str, Any], fidelity: float, seed: int | None = None
    ) -> dict[str, float]:
        """All objectives of ``config`` at ``fidelity`` for ``seed`` (default: first seed)."""

    @abc.abstractmethod
    def curve(self, config: Mapping[str, Any], seed_index: int = 0) -> LearningCurve:
        """The learning curve of ``config``: ``curve[fidelity_index]`` -> objective values."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, {len(self.hyperparameter_names)} hps, "
            f"{self.fidelity_name} x {len(self.fidelity_values)}, seeds={len(self.seeds)}, "
            f"objectives={list(self.objective_names)})"
        )
