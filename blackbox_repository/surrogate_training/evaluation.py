"""Test-set predictions of a surrogate and their scores per objective and fidelity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from blackbox_repository.surrogate_training.scores import SCORE_NAMES, regression_scores
from blackbox_repository.surrogate_training.trained_surrogate import TrainedSurrogateBlackbox
from blackbox_repository.surrogate_training.training_data import SurrogateTrainingData

ALL_FIDELITIES = "all"


def test_predictions(
    surrogate: TrainedSurrogateBlackbox, data: SurrogateTrainingData, split: str = "test"
) -> pd.DataFrame:
    """One row per (objective, configuration, fidelity) of ``split`` with true and predicted.

    Predictions come from the published ONNX models through the surrogate's own curve
    prediction (elapsed time positive and non-decreasing), exactly what studies see.
    """
    configs = data.split.indices(split)
    if len(configs) == 0:
        raise SurrogateTrainingError(
            f"the {split} set of {data.blackbox.name!r} is empty: nothing to evaluate"
        )
    table = data.blackbox.configurations.iloc[configs]
    records = [{name: table[name].iloc[i] for name in table.columns} for i in range(len(table))]
    checked = [
        {k: v for k, v in config.items() if not (isinstance(v, float) and np.isnan(v))}
        for config in records
    ]
    curves = surrogate.predict_curves(checked)  # (configs, fidelities, objectives)
    position = {int(c): i for i, c in enumerate(configs)}
    frames = []
    for k, objective in enumerate(surrogate.objective_names):
        _, true, config_of_row, fidelity_of_row = data.rows(objective, split)
        rows = np.array([position[int(c)] for c in config_of_row], dtype=int)
        frames.append(
            pd.DataFrame(
                {
                    "objective": objective,
                    "configuration": config_of_row.astype(np.int64),
                    "fidelity": np.asarray(data.blackbox.fidelity_values)[fidelity_of_row],
                    "true": true,
                    "predicted": curves[rows, fidelity_of_row, k],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def score_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Scores per objective and per fidelity, plus ``fidelity == "all"`` over every row."""
    if predictions.empty:
        raise SurrogateTrainingError("no test predictions to score: the test set is empty")
    rows = []
    for objective, group in predictions.groupby("objective", sort=False):
        rows.append(
            {"objective": objective, "fidelity": ALL_FIDELITIES}
            | regression_scores(group["true"].to_numpy(), group["predicted"].to_numpy())
        )
        for fidelity, at in group.groupby("fidelity", sort=True):
            rows.append(
                {"objective": objective, "fidelity": str(fidelity)}
                | regression_scores(at["true"].to_numpy(), at["predicted"].to_numpy())
            )
    return pd.DataFrame(rows, columns=["objective", "fidelity", *SCORE_NAMES, "n"])
