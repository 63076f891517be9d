"""What a scheduler may suggest: any configuration of a ConfigSpace, or one of a finite grid.

A :class:`SearchSpace` wraps a ``ConfigSpace.ConfigurationSpace`` and, for tabular
blackboxes, the finite list of candidate configurations the blackbox recorded. It samples
configurations deterministically from a ``numpy.random.Generator``, draws candidates
without replacement, and encodes configurations as numeric vectors for model-based
searchers (BOHB's kernel density estimators).

Encoding (``encode``): one column per hyperparameter, in ``hyperparameter_names`` order,
as described in :mod:`~simulated_backend.schedulers.hyperparameter_encoding` (numeric
values in [0, 1] on their (log) scale, categorical values as their index, inactive NaN).

``dimensions`` tells, per column, its kind and cardinality, so a density model can use a
categorical kernel where it should.
"""

from __future__ import annotations

import copy
import functools
from array import array
from collections.abc import Callable, Mapping, Sequence
from operator import getitem
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from ConfigSpace import Configuration, ConfigurationSpace
from ConfigSpace.util import deactivate_inactive_hyperparameters

from blackbox_repository.blackbox import native, native_config
from simulated_backend.schedulers.draws_without_replacement import draw_batch
from simulated_backend.schedulers.hyperparameter_encoding import (
    CATEGORICAL,
    NUMERIC,
    ORDINAL,
    Dimension,
    HyperparameterCodec,
)
from simulated_backend.schedulers.protocol import GridConfigs

__all__ = ["CATEGORICAL", "NUMERIC", "ORDINAL", "Candidate", "Dimension", "SearchSpace"]

SMALL_DRAW_BATCH = 16
"""Fewer draws than this at once are made one swap at a time (``draw_indices``)."""


class Candidate(NamedTuple):
    """A configuration for a new trial and, if it is a row of the blackbox's grid, that row
    (``config_index``, passed on to the engine in the :class:`TrialSuggestion`)."""

    config: dict[str, Any]
    config_index: int | None = None


new_candidate = functools.partial(tuple.__new__, Candidate)
"""``new_candidate((config, config_index))``: a :class:`Candidate` made without the named
tuple's Python-level ``__new__`` (both fields given; for searchers' per-trial paths)."""


def _dict_maker(names: tuple[str, ...]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """``row -> dict(zip(names, row))`` made as one dict display by a generated lambda (as
    ``collections.namedtuple`` generates its methods): half the cost of ``dict(zip(...))``,
    which goes through the generic merge of key/value pairs; on the path of trial starts."""
    items = ", ".join(f"_key{i}: row[{i}]" for i in range(len(names)))
    keys = {f"_key{i}": name for i, name in enumerate(names)}
    return eval(f"lambda row: {{{items}}}", keys)  # noqa: S307 - our own names, no input


class _CandidateTable:
    """The immutable part of a finite search space, shared by all copies of one SearchSpace."""

    def __init__(self, candidates: pd.DataFrame, names: Sequence[str]) -> None:
        # plain Python values, NaN (inactive) as None, converted once and kept row by row:
        # config() is on the path of every trial start
        columns = [[native(v) for v in candidates[name].tolist()] for name in names]
        self.columns = columns
        self.rows: list[tuple] = list(zip(*columns))
        self.names = tuple(names)
        self.size = len(candidates)
        self.has_inactive = any(None in column for column in columns)
        self.encoded: np.ndarray | None = None
        self._positions: dict[tuple, int] | None = None
        # the config dict of each candidate drawn more than once (draws with replacement),
        # kept to be copied: a dict copy costs a ninth of building the dict again. A cache
        # (the same values whoever fills it), not part of the table's meaning.
        self._configs: list[dict[str, Any] | bool] = [False] * self.size
        self._dict_of_row = _dict_maker(self.names)
        self.grid: GridConfigs | None = None  # made on first use (SearchSpace.grid_configs)

    def config(self, index: int) -> dict[str, Any]:
        config = self._configs[index]
        if config is True:  # the second draw: keep a config to copy from now on
            config = self._configs[index] = self._make_config(index)
        elif config is False:  # the first draw (the only one when drawing without replacement)
            self._configs[index] = True
            row = self.rows[index]
            if self.has_inactive and None in row:
                return self._make_config(index)
            return self._dict_of_row(row)
        return config.copy()

    def _make_config(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        if self.has_inactive and None in row:  # inactive hyperparameters are left out
            return {name: value for name, value in zip(self.names, row) if value is not None}
        return self._dict_of_row(row)

    def position_of(self, key: tuple) -> int | None:
        if self._positions is None:
            self._positions = {row: i for i, row in enumerate(self.rows)}
        return self._positions.get(key)


class SearchSpace:
    """The configurations a scheduler may suggest.

    Args:
        configuration_space: the ConfigSpace search space (it is copied, never reseeded).
        candidates: optional finite list of configurations (one column per hyperparameter,
            inactive values NaN/None), e.g. the rows of a tabular blackbox. When given, only
            these are suggested, each at most once.

    Sampling state (which candidates were drawn) belongs to one SearchSpace object;
    schedulers draw from their own :meth:`fresh` copy, so one SearchSpace can be shared.

    Example:
        >>> space = SearchSpace(ConfigurationSpace({"lr": (1e-4, 1e-1)}))
        >>> configs = space.sample(np.random.default_rng(0), 2)
        >>> sorted(configs[0])
        ['lr']
    """

    def __init__(
        self, configuration_space: ConfigurationSpace, candidates: pd.DataFrame | None = None
    ) -> None:
        if not isinstance(configuration_space, ConfigurationSpace):
            raise TypeError(
                "configuration_space must be a ConfigSpace.ConfigurationSpace, got "
                f"{type(configuration_space).__name__}"
            )
        if len(configuration_space) == 0:
            raise ValueError("configuration_space has no hyperparameters; add at least one")
        self.configuration_space = configuration_space
        # a private copy to seed and sample from, made on first use: spaces with a grid of
        # candidates never sample from ConfigSpace, and a deep copy costs milliseconds
        self._sampling_space: ConfigurationSpace | None = None
        self.hyperparameter_names: tuple[str, ...] = tuple(configuration_space.keys())
        self._codecs = [
            HyperparameterCodec(configuration_space[name]) for name in self.hyperparameter_names
        ]
        self.dimensions: tuple[Dimension, ...] = tuple(c.dimension for c in self._codecs)
        # every hyperparameter encoded by one dict lookup (none numeric), else None
        lookups = [codec.value_encodings for codec in self._codecs]
        self._value_encodings = None if None in lookups else lookups
        self._table: _CandidateTable | None = None
        self._candidates_are_grid_rows = False
        if candidates is not None:
            self._table = self._make_table(candidates)
        self._reset_draws()

    # ------------------------------------------------------------------ construction
    def _make_table(self, candidates: pd.DataFrame) -> _CandidateTable:
        if not isinstance(candidates, pd.DataFrame):
            raise TypeError(
                f"candidates must be a pandas DataFrame, got {type(candidates).__name__}"
            )
        names = list(self.hyperparameter_names)
        missing = [n for n in names if n not in candidates.columns]
        extra = [c for c in candidates.columns if c not in names]
        if missing or extra:
            raise ValueError(
                "candidates must have one column per hyperparameter of the configuration "
                f"space; missing {missing}, unexpected {extra}"
            )
        if len(candidates) == 0:
            raise ValueError("candidates is empty; give at least one configuration or None")
        return _CandidateTable(candidates, names)

    @classmethod
    def from_blackbox(cls, blackbox: Any, restrict_to_grid: bool | None = None) -> SearchSpace:
        """The search space of ``blackbox``.

        Tabular blackboxes give their recorded configurations as candidates (the engine
        can only replay those); surrogate blackboxes give their ConfigSpace.
        ``restrict_to_grid=False`` on a tabular blackbox samples from its ConfigSpace
        instead, which only works if every sampled configuration is on the grid.
        """
        from blackbox_repository.tabular import TabularBlackbox

        is_tabular = isinstance(blackbox, TabularBlackbox)
        if restrict_to_grid is None:
            restrict_to_grid = is_tabular
        if restrict_to_grid and not is_tabular:
            raise ValueError(
                f"restrict_to_grid=True needs a tabular blackbox, but {blackbox.name!r} is "
                f"{getattr(blackbox, 'kind', type(blackbox).__name__)}; it has no grid of "
                "configurations, use restrict_to_grid=None or False"
            )
        candidates = blackbox.configurations if restrict_to_grid else None
        space = cls(blackbox.configuration_space, candidates)
        space._candidates_are_grid_rows = bool(restrict_to_grid)
        return space

    def fresh(self) -> SearchSpace:
        """A copy with no candidates drawn yet (shares the immutable parts)."""
        # attribute by attribute rather than copy.copy: a copy made through its __dict__
        # keeps a dict-backed layout, whose attribute reads Python cannot specialize (the
        # draw path of every trial start reads several)
        other = object.__new__(type(self))
        for name, value in vars(self).items():
            setattr(other, name, value)
        other._sampling_space = None
        other._reset_draws()
        return other

    def _reset_draws(self) -> None:
        n = self._table.size if self._table is not None else 0
        # remaining candidates in pool[:n_remaining], and each candidate's position in it:
        # arrays of int64 (a draw touches a few items, which a Python list of ints costs the
        # same; a batch of draws reads them as numpy arrays without a copy, see draw_indices)
        self._pool = array("q", np.arange(n, dtype=np.int64).tobytes())
        self._pool_position = array("q", self._pool)
        self._n_remaining = n

    # ------------------------------------------------------------------ finite grid
    @property
    def is_finite(self) -> bool:
        """Whether suggestions come from a finite list of candidates."""
        return self._table is not None

    @property
    def n_candidates(self) -> int | None:
        """Number of candidate configurations, or ``None`` for a ConfigSpace without grid."""
        return self._table.size if self._table is not None else None

    @property
    def n_remaining(self) -> int | None:
        """Candidates not drawn yet (``None`` for a space without grid)."""
        return self._n_remaining if self._table is not None else None

    @property
    def exhausted(self) -> bool:
        """True once every candidate was drawn (never for a space without grid)."""
        return self._table is not None and self._n_remaining == 0

    @property
    def candidates_are_grid_rows(self) -> bool:
        """True if candidate ``i`` is row ``i`` of the tabular blackbox the space was built
        from (:meth:`from_blackbox`): schedulers then tell the engine the row with the config
        (``TrialSuggestion.config_index``), so a trial start needs no lookup."""
        return self._candidates_are_grid_rows

    def candidate(self, index: int) -> dict[str, Any]:
        """Candidate ``index`` as a plain dict (inactive hyperparameters left out)."""
        return self._require_table().config(int(index))

    def grid_configs(self) -> GridConfigs | None:
        """The candidates as a :class:`~simulated_backend.schedulers.protocol.GridConfigs` (row
        ``i``: candidate ``i``), or ``None`` without grid: for schedulers whose suggestions
        name a trial's grid row and leave its config to be built when read."""
        table = self._table
        if table is None:
            return None
        if table.grid is None:
            table.grid = GridConfigs(table.names, table.rows, table._make_config)
        return table.grid

    def candidate_config_function(self) -> Callable[[int], dict[str, Any]] | None:
        """``candidate`` without its checks (for the trial-start path), or ``None`` without grid."""
        return None if self._table is None else self._table.config

    def candidate_encodings(self) -> np.ndarray:
        """The encoding of every candidate, shape (n_candidates, d), computed once."""
        table = self._require_table()
        if table.encoded is None:
            table.encoded = np.column_stack(
                [codec.encode(column) for codec, column in zip(self._codecs, table.columns)]
            )
        return table.encoded

    def peek(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Up to ``n`` distinct random candidate indices not drawn yet, without drawing them."""
        self._require_table()
        m = min(int(n), self._n_remaining)
        positions = rng.choice(self._n_remaining, size=m, replace=False)
        pool = self._pool
        return np.array([pool[p] for p in positions.tolist()], dtype=np.int64)

    def peek_at(self, uniforms: Sequence[float]) -> list[int]:
        """The candidates at relative positions ``uniforms`` (each in [0, 1)) among those not
        drawn yet, without drawing them; a position may repeat. Cheaper than :meth:`peek`
        (the caller draws the uniforms in batches, as for :meth:`draw`); [] once exhausted."""
        self._require_table()
        n, pool = self._n_remaining, self._pool
        return [pool[int(uniform * n)] for uniform in uniforms] if n else []

    def was_drawn(self, index: int) -> bool:
        """Whether candidate ``index`` was drawn (suggested) already."""
        return self._pool_position[index] >= self._n_remaining

    def take(self, index: int) -> dict[str, Any]:
        """Draw candidate ``index`` (it is not suggested again); error if already drawn."""
        self._require_table()
        index = int(index)
        position = self._pool_position[index]
        if position >= self._n_remaining:
            raise ValueError(f"candidate {index} was already drawn from this search space")
        self._remove_position(position)
        return self._table.config(index)

    def draw(self, uniform: float) -> int:
        """Draw the candidate at relative position ``uniform`` in [0, 1) of those not drawn
        yet (the caller draws ``uniform`` from its generator, in batches: one
        ``Generator.integers`` call per trial would cost more than the rest of a trial start).
        Returns its index; ValueError once exhausted."""
        n = self._n_remaining
        if n == 0:
            raise ValueError("every candidate of this search space was drawn already")
        position = int(uniform * n)
        if position >= n:  # uniform rounds up to 1.0 only for n near 2**53
            position = n - 1
        index = self._pool[position]
        self._remove_position(position)
        return index

    def draw_candidate(self, uniform: float) -> Candidate | None:
        """:meth:`draw` and :meth:`candidate` in one call: the candidate at relative position
        ``uniform`` of those not drawn yet, with its index if :attr:`candidates_are_grid_rows`;
        ``None`` once every one was drawn."""
        drawn = self.draw_config_and_index(uniform)
        return None if drawn is None else Candidate(*drawn)

    def draw_index(self, uniform: float) -> int | None:
        """:meth:`draw` without its error: the index of the candidate drawn, ``None`` once
        every one was drawn (its config is not built: see :meth:`grid_configs`)."""
        n = self._n_remaining
        if n == 0:
            self._require_table()
            return None
        position = int(uniform * n)
        if position >= n:  # uniform rounds up to 1.0 only for n near 2**53
            position = n - 1
        pool, where = self._pool, self._pool_position
        last = n - 1
        index, moved = pool[position], pool[last]
        pool[position], pool[last] = moved, index
        where[moved], where[index] = position, last
        self._n_remaining = last
        return index

    def draw_indices(self, uniforms: Sequence[float] | np.ndarray) -> list[int]:
        """:meth:`draw_index` for each of ``uniforms`` taken from its end (``pop()`` order),
        in one call: the indices drawn, the last drawn first (for ``pop()``); fewer than
        ``len(uniforms)`` if the candidates run out. The same draws, in the same order, and
        the same pool afterwards as calling :meth:`draw_index` once per uniform; a batch is
        worked out in a few array operations, not one step per draw (see
        :mod:`~simulated_backend.schedulers.draws_without_replacement`). ``uniforms`` may be
        a list or a numpy array (a reversed view of a generator's batch needs no copy)."""
        n = self._n_remaining
        if n == 0:
            self._require_table()
            return []
        m = min(len(uniforms), n)
        if m < SMALL_DRAW_BATCH:  # a few draws: one step each costs less than the arrays
            return self._draw_one_by_one(uniforms, m)
        drawn = draw_batch(
            np.frombuffer(self._pool, dtype=np.int64),
            np.frombuffer(self._pool_position, dtype=np.int64),
            n,
            np.asarray(uniforms[len(uniforms) - m :], dtype=np.float64)[::-1],
        )
        self._n_remaining = n - m
        return drawn

    def _draw_one_by_one(self, uniforms: Sequence[float] | np.ndarray, m: int) -> list[int]:
        """:meth:`draw_indices` of the last ``m`` uniforms (``m`` candidates are left), one
        swap per draw."""
        n = self._n_remaining
        pool, where = self._pool, self._pool_position
        drawn = []
        for uniform in uniforms[len(uniforms) - m :][::-1]:
            position = int(uniform * n)
            if position >= n:  # uniform rounds up to 1.0 only for n near 2**53
                position = n - 1
            n -= 1
            index, moved = pool[position], pool[n]
            pool[position], pool[n] = moved, index
            where[moved], where[index] = position, n
            drawn.append(index)
        self._n_remaining = n
        drawn.reverse()
        return drawn

    def draw_config_and_index(self, uniform: float) -> tuple[dict[str, Any], int | None] | None:
        """:meth:`draw_candidate` as a plain ``(config, config_index)`` tuple (the path of a
        trial start with its config: a plain tuple costs a sixth of a :class:`Candidate`, whose
        creation goes through ``tuple.__new__`` of a subclass); ``None`` once every candidate
        was drawn."""
        index = self.draw_index(uniform)
        if index is None:
            return None
        return (self._table.config(index), index if self._candidates_are_grid_rows else None)

    def index_of(self, config: Mapping[str, Any]) -> int:
        """Position of ``config`` among the candidates; ValueError if it is not one."""
        table = self._require_table()
        key = tuple(native(config.get(name)) for name in self.hyperparameter_names)
        position = table.position_of(key)
        if position is None:
            raise ValueError(
                f"configuration {dict(config)} is not one of the {table.size} candidates of "
                "this search space; give one of its rows (search_space.candidate(i))"
            )
        return position

    def _remove_position(self, position: int) -> None:
        last = self._n_remaining - 1
        pool, where = self._pool, self._pool_position
        moved, removed = pool[last], pool[position]
        pool[position], pool[last] = moved, removed
        where[moved], where[removed] = position, last
        self._n_remaining = last

    def _require_table(self) -> _CandidateTable:
        if self._table is None:
            raise ValueError(
                "this search space has no finite list of candidates; build it with "
                "candidates=... or SearchSpace.from_blackbox(tabular_blackbox)"
            )
        return self._table

    # ------------------------------------------------------------------ sampling
    def sample(self, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
        """``n`` random configurations as plain-Python dicts, deterministic given ``rng``.

        Finite spaces draw candidates without replacement: once exhausted, fewer than ``n``
        (possibly none) come back and :attr:`exhausted` is True.
        """
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        n = int(n)
        if self._table is not None:
            drawn = []
            for _ in range(min(n, self._n_remaining)):
                position = int(rng.integers(self._n_remaining))
                index = self._pool[position]
                self._remove_position(position)
                drawn.append(self._table.config(index))
            return drawn
        if n == 0:
            return []
        # ConfigSpace samples with its own RandomState: seed our private copy from rng
        if self._sampling_space is None:
            self._sampling_space = copy.deepcopy(self.configuration_space)
        sampling_space = self._sampling_space
        sampling_space.seed(int(rng.integers(2**31 - 1)))
        if n == 1:  # ConfigSpace 1.2 deprecates size=1 (it returns one Configuration)
            sampled = [sampling_space.sample_configuration()]
        else:
            sampled = sampling_space.sample_configuration(size=n)
        return [native_config(dict(config)) for config in sampled]

    # ------------------------------------------------------------------ encoding
    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Numeric matrix (len(configs), d) of ``configs`` (see the module docstring)."""
        if len(configs) == 0:
            return np.empty((0, len(self._codecs)))
        columns = [
            codec.encode([config.get(codec.name) for config in configs]) for codec in self._codecs
        ]
        return np.column_stack(columns)

    def encode_config(self, config: Mapping[str, Any]) -> tuple[float, ...]:
        """The encoding of one configuration: a row of :meth:`encode` as a tuple of floats,
        without building arrays (model-based searchers encode every trial they observe)."""
        lookups = self._value_encodings
        if lookups is not None:  # no numeric hyperparameter: one dict lookup per value
            try:
                return tuple(map(getitem, lookups, map(config.get, self.hyperparameter_names)))
            except (KeyError, TypeError):  # not one of the choices: encode_value says why
                pass
        return tuple([codec.encode_value(config.get(codec.name)) for codec in self._codecs])

    def decode(self, vector: Sequence[float]) -> dict[str, Any] | None:
        """The configuration nearest to encoded ``vector``, inactive values dropped.

        Returns ``None`` if the configuration violates a forbidden clause of the space.
        """
        values = {codec.name: codec.decode(x) for codec, x in zip(self._codecs, vector)}
        try:
            config = deactivate_inactive_hyperparameters(values, self.configuration_space)
        except ValueError:  # ConfigSpace's ForbiddenValueError / IllegalValueError
            return None
        return native_config(dict(config))

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A plain copy of ``config`` if it belongs to the space; ValueError otherwise."""
        if self._table is not None:
            return self._table.config(self.index_of(config))
        try:
            Configuration(self.configuration_space, values=dict(config))
        except (ValueError, KeyError) as error:
            raise ValueError(
                f"configuration {dict(config)} is not valid in the search space: {error}"
            ) from None
        return native_config(config)

    def metadata(self) -> dict[str, Any]:
        """JSON-able summary: hyperparameter names and the number of candidates."""
        return {
            "hyperparameters": list(self.hyperparameter_names),
            "n_candidates": self.n_candidates,
        }

    def __repr__(self) -> str:
        grid = f", {self.n_candidates} candidates" if self.is_finite else ""
        return f"SearchSpace({len(self.hyperparameter_names)} hyperparameters{grid})"
