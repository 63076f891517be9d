"""Where a trained surrogate's curves end: recorded curves that stop early stop on it too.

Some tables record curves that end before the top fidelity: 23 % of the TaskSet IRNN curves
diverged (NaN from epoch 2 on, mostly), 8 % of the LSTM ones. On the table a trial of such a
configuration reports NaN from there on, which every scheduler ranks worst; a surrogate
trained on the recorded rows only would answer a full, finite curve for every configuration,
so the methods meet a different problem (on taskset-imdb-irnn64-relu-avg-bs128 ASHA, which
promotes from epoch 1, fell behind random search on the surrogate and not on the table).

The model keeps what the table recorded: for every configuration the published model was
fitted on (train + validation) its encoded configuration and the **last fidelity position
with a recorded value** of the objective. A configuration asked of the surrogate ends where
the median of its :data:`DEFAULT_NEIGHBOURS` nearest stored configurations (Euclidean
distance of the encoded configurations) ends, rounded down: beyond that position the
surrogate answers NaN for the objective. On the two TaskSet tables above, 5 neighbours
predict whether a held-out configuration's curve ends early for 89-93 % of them. The answer
is a pure function of the configuration, so studies stay reproducible bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from blackbox_repository.surrogate_training.seed_noise import decoded_array, encoded_array

DEFAULT_NEIGHBOURS = 5


@dataclass(frozen=True, eq=False)
class CurveEnds:
    """Encoded configurations (configurations, features) and the last recorded fidelity
    position of each (``-1``: nothing recorded)."""

    encoded_configurations: np.ndarray
    last_positions: np.ndarray
    neighbours: int = DEFAULT_NEIGHBOURS

    def __post_init__(self) -> None:
        configs, last = self.encoded_configurations, self.last_positions
        if configs.ndim != 2 or last.ndim != 1 or len(configs) != len(last) or len(last) == 0:
            raise ValueError(
                f"curve ends need encoded configurations (configurations, features) and one "
                f"last position per configuration; got {configs.shape} and {last.shape}"
            )
        if self.neighbours < 1:
            raise ValueError(f"curve ends need at least one neighbour, got {self.neighbours}")

    def last_position(self, encoded_configuration: np.ndarray) -> int:
        """The last fidelity position the surrogate answers for this configuration."""
        distances = np.sum((self.encoded_configurations - encoded_configuration[None, :]) ** 2, 1)
        distances = np.where(np.isfinite(distances), distances, np.inf)
        k = min(self.neighbours, len(distances))
        nearest = np.argsort(distances, kind="stable")[:k]
        return int(np.floor(np.median(self.last_positions[nearest])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "neighbours": self.neighbours,
            "encoded_configurations": encoded_array(self.encoded_configurations),
            "last_positions": [int(p) for p in self.last_positions],
        }

    @classmethod
    def from_dict(cls, parameters: Mapping[str, Any]) -> CurveEnds:
        return cls(
            encoded_configurations=decoded_array(parameters["encoded_configurations"]),
            last_positions=np.asarray(parameters["last_positions"], dtype=int),
            neighbours=int(parameters.get("neighbours", DEFAULT_NEIGHBOURS)),
        )


def curve_ends_from_table(
    values: np.ndarray, encoded_configurations: np.ndarray, neighbours: int = DEFAULT_NEIGHBOURS
) -> CurveEnds | None:
    """The curve ends of recorded ``values`` (configurations, fidelities, seeds) of one
    objective; ``None`` when every recorded curve reaches the top fidelity (nothing to
    model)."""
    recorded = np.isfinite(np.asarray(values, dtype=float)).any(axis=2)
    n_fidelities = recorded.shape[1]
    last = np.where(
        recorded.any(axis=1), n_fidelities - 1 - np.argmax(recorded[:, ::-1], axis=1), -1
    )
    if np.all(last == n_fidelities - 1):
        return None
    stored = np.asarray(encoded_configurations, dtype=float).astype("<f4").astype(float)
    return CurveEnds(stored, last.astype(int), neighbours)
