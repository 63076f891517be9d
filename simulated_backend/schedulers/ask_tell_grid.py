"""Proposals of an ask/tell optimizer placed on a tabular blackbox's grid, with their row.

:class:`GridConfigs` answers "which recorded configuration is this, and which row of the
grid?" with one dict lookup for a configuration given exactly as recorded (the common case:
optimizers that search the grid). Any other is translated by a
:class:`~simulated_backend.schedulers.ask_tell_adapter.ConfigTranslator` (unknown keys
dropped, snapped to the nearest recorded configuration). The row goes to the engine in
``TrialSuggestion.config_index``, so that it need not look the configuration up again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from blackbox_repository import TabularBlackbox
from blackbox_repository.blackbox import native


class GridConfigs:
    """Configurations of a tabular blackbox's grid, with a fast path for exact ones.

    Args:
        blackbox: the tabular blackbox whose grid proposals must land on.
        translate: turns any other proposal into a recorded configuration (default: a
            ``ConfigTranslator`` over ``SearchSpace.from_blackbox(blackbox)``, built on the
            first proposal that needs it).
    """

    def __init__(
        self,
        blackbox: TabularBlackbox,
        translate: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.blackbox = blackbox
        self.names = frozenset(blackbox.hyperparameter_names)
        self._translate = translate

    @property
    def translate(self) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        if self._translate is None:  # built on first need: most optimizers stay on the grid
            from simulated_backend.schedulers.ask_tell_adapter import ConfigTranslator
            from simulated_backend.schedulers.search_space import SearchSpace

            self._translate = ConfigTranslator(SearchSpace.from_blackbox(self.blackbox))
        return self._translate

    def index_and_config(self, config: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """Row of the grid and the configuration as recorded (plain Python values)."""
        try:
            index = self.blackbox.config_index(config)
        except (KeyError, ValueError, TypeError):
            config = self.translate(config)
            return self.blackbox.config_index(config), config
        names = self.names
        if config.keys() == names:  # the common case: exactly the grid's names, plain values
            for value in config.values():
                kind = type(value)
                if kind is not int and kind is not str and (kind is not float or value != value):
                    break
            else:
                return index, dict(config)
        return index, {k: native(v) for k, v in config.items() if k in names and v is not None}

    def __call__(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return self.index_and_config(config)[1]

    def is_recorded(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` is exactly a recorded configuration (extra keys ignored)."""
        try:
            self.blackbox.config_index(config)
        except (KeyError, ValueError, TypeError):
            return False
        return True
