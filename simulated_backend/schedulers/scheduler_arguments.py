"""Argument checks and random streams shared by the schedulers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from blackbox_repository.blackbox import native_config
from simulated_backend.schedulers.search_space import SearchSpace

SCHEDULER_TYPES = ("stopping", "promotion")


def check_seed(seed: Any) -> int:
    """A seed is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def random_streams(seed: int, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``seed`` (one per concern, so drawing
    more from one never shifts another)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def check_search_space(search_space: Any) -> SearchSpace:
    if not isinstance(search_space, SearchSpace):
        raise TypeError(
            "search_space must be a simulated_backend.schedulers.SearchSpace, got "
            f"{type(search_space).__name__}; build one with SearchSpace.from_blackbox(blackbox)"
        )
    return search_space


def check_scheduler_type(type: Any) -> str:
    if type not in SCHEDULER_TYPES:
        raise ValueError(f"type must be 'stopping' or 'promotion', got {type!r}")
    return type


def points_metadata(points: Sequence[Mapping[str, Any]] | None) -> list[dict] | None:
    """JSON-able copy of ``points_to_evaluate``."""
    return None if points is None else [native_config(p) for p in points]


def missing_key_error(
    scheduler: Any, trial_id: int, result: Mapping[str, Any], known: bool
) -> Exception:
    """The error for a result a scheduler cannot use: unknown trial or missing key."""
    if not known:
        return ValueError(
            f"{type(scheduler).__name__} got a result for trial {trial_id}, which it does not "
            "track: it was never added (on_trial_add), or it already stopped, completed, "
            "failed or is paused"
        )
    missing = [k for k in (scheduler.metric, "fidelity") if k not in result]
    return ValueError(
        f"the result of trial {trial_id} has no {missing}; its keys are {sorted(result)}. "
        "Check the metric (an objective of the blackbox); results must carry the fidelity "
        "value under the key 'fidelity'"
    )
