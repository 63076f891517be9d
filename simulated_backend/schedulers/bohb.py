"""BOHB (Falkner et al., 2018): Hyperband brackets whose new configurations come from a
TPE-style density model instead of uniform sampling.

The bracket machinery is synchronous Hyperband (:mod:`~simulated_backend.schedulers.hyperband`,
brackets overlapping as in HpBandSter) or, with ``asynchronous=True``, asynchronous Hyperband;
the model is :class:`~simulated_backend.schedulers.kde_searcher.KernelDensitySearcher`, which
the brackets ask for every new configuration and tell every result at a rung level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from simulated_backend.schedulers.async_hyperband import AsynchronousHyperband
from simulated_backend.schedulers.hyperband import Hyperband
from simulated_backend.schedulers.kde_searcher import KernelDensitySearcher
from simulated_backend.schedulers.protocol import TrialScheduler
from simulated_backend.schedulers.scheduler_arguments import random_streams
from simulated_backend.schedulers.search_space import SearchSpace
from simulated_backend.schedulers.settings import FidelitySettings, SchedulerSettings

__all__ = ["BOHB", "KernelDensitySearcher"]


class BOHB(TrialScheduler):
    """BOHB: Hyperband with a kernel-density model proposing new configurations.

    Args:
        search_space, metric, mode, fidelity_values, min_fidelity, max_fidelity,
            reduction_factor, seed, points_to_evaluate: as for Hyperband.
        min_points_in_model: ``N_min`` (default ``d + 1``, d = number of hyperparameters).
        top_n_percent: share of observations in the good set (default 15).
        num_samples: candidates scored per model-based suggestion (default 64).
        random_fraction: share of suggestions drawn at random (default 1/3).
        bandwidth_factor: bandwidth multiplier when sampling candidates (default 3).
        min_bandwidth: bandwidth floor (default 1e-3).
        asynchronous: ``False`` (default): synchronous Hyperband brackets, as in the paper
            (overlapping as in HpBandSter); ``True``: asynchronous Hyperband (ASHA brackets)
            of type ``async_type``.
        async_type: ``"promotion"`` (default) or ``"stopping"``; only with ``asynchronous=True``.
        num_brackets: use only the first brackets (default: all).
    """

    def __init__(
        self,
        search_space: SearchSpace,
        metric: str,
        mode: str,
        fidelity_values: Sequence[Any],
        *,
        min_fidelity: Any = None,
        max_fidelity: Any = None,
        reduction_factor: Any = 3,
        min_points_in_model: int | None = None,
        top_n_percent: float = 15,
        num_samples: int = 64,
        random_fraction: float = 1 / 3,
        bandwidth_factor: float = 3,
        min_bandwidth: float = 1e-3,
        asynchronous: bool = False,
        async_type: str | None = None,
        num_brackets: int | None = None,
        seed: int = 0,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        settings = SchedulerSettings(search_space, metric, mode, seed, points_to_evaluate)
        super().__init__(metric, mode)
        if not isinstance(asynchronous, bool):
            raise ValueError(f"asynchronous must be True or False, got {asynchronous!r}")
        if async_type is not None and not asynchronous:
            raise ValueError(
                f"async_type={async_type!r} only applies with asynchronous=True; "
                "synchronous BOHB has no stopping/promotion variant"
            )
        self.settings = settings
        self.seed = settings.seed
        # stream 2: the bracket machinery uses streams 0 and 1 of the same seed
        searcher_rng = random_streams(self.seed, 3)[2]
        self.searcher = KernelDensitySearcher(
            search_space,
            mode,
            searcher_rng,
            min_points_in_model=min_points_in_model,
            top_n_percent=top_n_percent,
            num_samples=num_samples,
            random_fraction=random_fraction,
            bandwidth_factor=bandwidth_factor,
            min_bandwidth=min_bandwidth,
            points_to_evaluate=points_to_evaluate,
        )
        fidelity = FidelitySettings(fidelity_values, min_fidelity, max_fidelity, reduction_factor)
        # the searcher holds the points to evaluate: the bracket machinery gets none
        brackets_settings = replace(settings, points_to_evaluate=None)
        if asynchronous:
            self.brackets: TrialScheduler = AsynchronousHyperband.from_settings(
                brackets_settings,
                fidelity,
                type=async_type or "promotion",
                num_brackets=num_brackets,
                searcher=self.searcher,
            )
        else:
            self.brackets = Hyperband.from_settings(
                brackets_settings, fidelity, num_brackets=num_brackets, searcher=self.searcher
            )
        self.asynchronous = asynchronous
        # the bracket machinery answers every callback: bind them once
        self.suggest = self.brackets.suggest
        self.on_trial_add = self.brackets.on_trial_add
        self.on_trial_result = self.brackets.on_trial_result
        self.on_trial_complete = self.brackets.on_trial_complete
        self.on_trial_error = self.brackets.on_trial_error
        self.on_trial_remove = self.brackets.on_trial_remove

    @property
    def exhausted(self) -> bool:
        return self.searcher.exhausted

    def decision_fidelities(self) -> frozenset[Any] | None:
        """The bracket machinery's (its searcher observes only results at those levels);
        ``None`` when ``on_trial_result`` was replaced on the instance."""
        if self.on_trial_result != self.brackets.on_trial_result:
            return None
        return self.brackets.decision_fidelities()

    def metadata(self) -> dict[str, Any]:
        inner = self.brackets.metadata()
        inner.pop("scheduler_name")
        return {
            **inner,
            **self.settings.metadata(),
            "scheduler_name": "BOHB",
            "asynchronous": self.asynchronous,
            "async_type": inner.get("type"),
        }
