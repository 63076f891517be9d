"""The held-out, grid-matched faithfulness study: the same study on the same candidates.

:func:`~benchmarking.surrogates.faithfulness.faithfulness` runs the study on the table (its
recorded configurations are the candidates) and on the surrogate (its whole, continuous search
space). On a finite table that compares two different search problems: on xgboost-mnist BOHB's
first bracket draws 729 of the 1,000 recorded configurations and always finds the grid's best,
which no method can do in a continuous space.

Here both sides get the **same finite candidate set: the configurations of the surrogate's
held-out test split**, which no model fit, tuning run, quantile knot, calibration or seed-noise
donor has seen:

* the *table side* is the table restricted to those configurations (:func:`restricted_table`);
* the *surrogate side* is a table of the surrogate's own answers for exactly those
  configurations at every fidelity of the grid and every seed of the surrogate (seed noise on,
  curve ends on; :func:`surrogate_answer_table`).

The same methods, seeds, budgets and statistic (Kendall tau-b of the methods' mean-best
rankings, with its noise floor: the restricted table against a replica of itself with other
seeds) then compare like with like, out of sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarking.surrogates.faithfulness import (
    FaithfulnessReport,
    StudySettings,
    compare_studies,
)
from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from blackbox_repository.surrogate_training.trained_surrogate import TrainedSurrogateBlackbox
from blackbox_repository.tabular import TabularBlackbox

MIN_HELD_OUT_CONFIGURATIONS = 2


def _check_indices(table: TabularBlackbox, indices: Sequence[int]) -> np.ndarray:
    chosen = np.asarray(indices, dtype=int)
    if len(chosen) < MIN_HELD_OUT_CONFIGURATIONS:
        raise SurrogateTrainingError(
            f"the held-out set of {table.name!r} has {len(chosen)} configurations; a study "
            f"needs at least {MIN_HELD_OUT_CONFIGURATIONS} (fit with a larger test fraction, "
            "--split-fractions)"
        )
    if chosen.min() < 0 or chosen.max() >= len(table.configurations):
        raise SurrogateTrainingError(
            f"held-out configuration indices out of range for {table.name!r} "
            f"({len(table.configurations)} configurations)"
        )
    return chosen


def restricted_table(
    table: TabularBlackbox, indices: Sequence[int], name: str | None = None
) -> TabularBlackbox:
    """``table`` with only the configurations at ``indices`` (all fidelities, seeds and
    objectives), in that order, named ``name`` (default: the table's name + "-held-out")."""
    chosen = _check_indices(table, indices)
    return _table_of_configurations(
        table,
        chosen,
        name=name or f"{table.name}-held-out",
        answers=table,
        values=np.ascontiguousarray(np.asarray(table.values)[chosen]),
    )


def surrogate_answer_table(
    surrogate: TrainedSurrogateBlackbox, table: TabularBlackbox, indices: Sequence[int]
) -> TabularBlackbox:
    """A table of ``surrogate``'s answers for the configurations of ``table`` at ``indices``:
    every fidelity of the grid, every seed of the surrogate, every objective it models
    (what a study on the surrogate would read for those configurations)."""
    chosen = _check_indices(table, indices)
    if list(surrogate.fidelity_values) != list(table.fidelity_values):
        raise SurrogateTrainingError(
            f"surrogate {surrogate.name!r} has another fidelity grid than {table.name!r}"
        )
    values = np.empty(
        (
            len(chosen),
            len(surrogate.fidelity_values),
            len(surrogate.seeds),
            len(surrogate.objectives),
        )
    )
    for row, index in enumerate(chosen):
        config = table.configuration(int(index))
        for seed_index in range(len(surrogate.seeds)):
            values[row, :, seed_index, :] = surrogate.curve(config, seed_index)
    return _table_of_configurations(
        table, chosen, name=f"{surrogate.name}-held-out-answers", answers=surrogate, values=values
    )


def _table_of_configurations(
    table: TabularBlackbox,
    chosen: np.ndarray,
    *,
    name: str,
    answers: TabularBlackbox | TrainedSurrogateBlackbox,
    values: np.ndarray,
) -> TabularBlackbox:
    """A table of ``table``'s configurations at ``chosen`` on its fidelity grid, holding
    ``values``: the answers of ``answers`` (the table itself or a surrogate of it), with
    its seeds and objectives."""
    return TabularBlackbox(
        name=name,
        configuration_space=table.configuration_space,
        configurations=table.configurations.iloc[chosen].reset_index(drop=True),
        fidelity_name=table.fidelity_name,
        fidelity_values=table.fidelity_values,
        seeds=answers.seeds,
        objectives=answers.objectives,
        elapsed_time_objective=answers.elapsed_time_objective,
        values=values,
    )


def held_out_faithfulness(
    table: TabularBlackbox,
    surrogate: TrainedSurrogateBlackbox,
    indices: Sequence[int],
    settings: StudySettings,
    *,
    study_cache: Path | None = None,
) -> FaithfulnessReport:
    """The faithfulness statistic with both studies on the held-out configurations at
    ``indices`` (the surrogate's test split): the restricted table against the surrogate's
    answers for the same configurations; the noise floor is the restricted table against a
    replica of itself with seeds ``seeds .. 2*seeds-1``."""
    return compare_studies(
        restricted_table(table, indices),
        surrogate_answer_table(surrogate, table, indices),
        settings,
        study_cache=study_cache,
        cache_surrogate=True,
    )
