"""Training surrogate benchmarks of tabular blackboxes: data, model families, ONNX export,
the published surrogate blackbox (kind ``"trained-onnx"``) and test scores.

This is the data layer's half of ``simtune surrogate``; tuning the models with simtune's
schedulers lives in :mod:`benchmarking.surrogates`.
"""

from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from blackbox_repository.surrogate_training.training_data import (
    ConfigurationSplit,
    SurrogateTrainingData,
    split_configurations,
)

__all__ = [
    "ConfigurationSplit",
    "SurrogateTrainingData",
    "SurrogateTrainingError",
    "split_configurations",
]
