"""Assembling one model per objective into a trained surrogate blackbox, and installing it
in the blackbox cache (atomically: staged, verified, renamed; nothing half-written)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from blackbox_repository.cache import BlackboxCache
from blackbox_repository.file_format import read_blackbox, write_blackbox
from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from blackbox_repository.surrogate_training.trained_surrogate import (
    ObjectiveModel,
    TrainedSurrogateBlackbox,
)
from blackbox_repository.surrogate_training.training_data import SurrogateTrainingData


def surrogate_name(blackbox_name: str) -> str:
    """The default name of the surrogate of ``blackbox_name``."""
    return f"{blackbox_name}-surrogate"


def assemble_surrogate(
    data: SurrogateTrainingData,
    models: Sequence[ObjectiveModel],
    *,
    name: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> TrainedSurrogateBlackbox:
    """A trained surrogate of ``data.blackbox`` answering with ``models`` (one per objective)."""
    blackbox = data.blackbox
    objectives = [o for o in blackbox.objectives if o.name in {m.objective for m in models}]
    if blackbox.elapsed_time_objective not in {o.name for o in objectives}:
        raise SurrogateTrainingError(
            f"a surrogate of {blackbox.name!r} needs a model of its elapsed-time objective "
            f"{blackbox.elapsed_time_objective!r}"
        )
    noisy = any(model.seed_noise is not None for model in models)
    return TrainedSurrogateBlackbox(
        name=name or surrogate_name(blackbox.name),
        seeds=blackbox.seeds if noisy else (0,),
        configuration_space=blackbox.configuration_space,
        fidelity_name=blackbox.fidelity_name,
        fidelity_values=blackbox.fidelity_values,
        objectives=objectives,
        elapsed_time_objective=blackbox.elapsed_time_objective,
        models=models,
        source={"blackbox": blackbox.name, "split": data.split.to_dict(), **dict(source or {})},
        description=f"trained surrogate of {blackbox.name} (one ONNX model per objective)",
    )


def install_surrogate(
    surrogate: TrainedSurrogateBlackbox, cache_dir: Path | str | None = None
) -> Path:
    """Write ``surrogate`` into the cache under its name; returns the entry folder.

    The entry is written into a staging folder, read back with every checksum verified,
    and only then renamed into place, under the entry's lock: an interrupted or failed
    write leaves no entry behind, and an existing entry of that name is replaced whole.
    """
    cache = BlackboxCache(cache_dir)
    name = surrogate.name
    with cache.lock(name):
        cache.remove_stale_staging(name)
        with cache.staging(name) as staged:
            write_blackbox(
                surrogate, staged, source=f"trained surrogate of {surrogate.source.get('blackbox')}"
            )
            read_blackbox(staged)
            return cache.install(name, staged)
