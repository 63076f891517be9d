"""Blackboxes "of a user's own" for tests: a real blackbox copied under another name."""

from __future__ import annotations

from blackbox_repository import TabularBlackbox, load_blackbox


def renamed_blackbox(name: str, source: str = "sklearn-mlp-digits") -> TabularBlackbox:
    """The real tabular blackbox ``source`` under the name ``name`` (values shared)."""
    blackbox = load_blackbox(source)
    return TabularBlackbox(
        name=name,
        configuration_space=blackbox.configuration_space,
        configurations=blackbox.configurations,
        fidelity_name=blackbox.fidelity_name,
        fidelity_values=blackbox.fidelity_values,
        seeds=blackbox.seeds,
        objectives=blackbox.objectives,
        elapsed_time_objective=blackbox.elapsed_time_objective,
        values=blackbox.values,
        description=f"{source} under another name, standing in for a user's own benchmark",
    )
