"""``simtune surrogate evaluate``: the published surrogate scored on its held-out test set.

Writes into ``OUT``: ``predictions.parquet`` (objective, configuration, fidelity, true,
predicted), ``scores.json`` and ``scores.md`` (Kendall tau, Spearman rho, R², MAE, RMSE per
objective and per fidelity, ``all`` = every test row), and ``predicted-vs-true.png`` /
``.pdf`` (one panel per objective, highest fidelity). Predictions come from the installed
entry (its ONNX files, checksums verified), with the split recorded in its metadata.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarking.surrogates.pipeline import load_source_blackbox
from blackbox_repository.atomic_files import write_json_atomically
from blackbox_repository.cache import BlackboxCache
from blackbox_repository.file_format import read_blackbox
from blackbox_repository.surrogate_training.errors import SurrogateTrainingError
from blackbox_repository.surrogate_training.evaluation import (
    ALL_FIDELITIES,
    score_predictions,
    test_predictions,
)
from blackbox_repository.surrogate_training.scores import SCORE_NAMES
from blackbox_repository.surrogate_training.trained_surrogate import TrainedSurrogateBlackbox
from blackbox_repository.surrogate_training.training_data import (
    DEFAULT_SPLIT_FRACTIONS,
    ConfigurationSplit,
    SurrogateTrainingData,
)


def load_trained_surrogate(
    name: str, cache_dir: Path | str | None = None
) -> TrainedSurrogateBlackbox:
    """The installed surrogate ``name`` (every file's sha256 verified)."""
    cache = BlackboxCache(cache_dir)
    if not cache.has_entry(name):
        raise SurrogateTrainingError(
            f"no surrogate {name!r} in the cache {cache.root}; run `simtune surrogate fit` first"
        )
    surrogate = read_blackbox(cache.entry_path(name))
    if not isinstance(surrogate, TrainedSurrogateBlackbox):
        raise SurrogateTrainingError(
            f"{name!r} is a {surrogate.kind!r} blackbox, not a trained surrogate"
        )
    return surrogate


def recorded_split(surrogate: TrainedSurrogateBlackbox) -> ConfigurationSplit:
    """The train/validation/test split recorded in the surrogate's metadata."""
    split = surrogate.source.get("split") or {}
    try:
        return ConfigurationSplit(
            seed=int(split["seed"]),
            train=np.asarray(split["train"], dtype=int),
            validation=np.asarray(split["validation"], dtype=int),
            test=np.asarray(split["test"], dtype=int),
            fractions=tuple(split.get("fractions", DEFAULT_SPLIT_FRACTIONS)),
        )
    except KeyError as error:
        raise SurrogateTrainingError(
            f"surrogate {surrogate.name!r} records no split ({error}); fit it again"
        ) from None


def evaluate_surrogate(
    name: str, out: Path | str, *, cache_dir: Path | str | None = None
) -> pd.DataFrame:
    """Score surrogate ``name`` on its test set; write the report files into ``out``."""
    surrogate = load_trained_surrogate(name, cache_dir)
    blackbox = load_source_blackbox(surrogate.source["blackbox"], cache_dir)
    data = SurrogateTrainingData(blackbox, recorded_split(surrogate))
    predictions = test_predictions(surrogate, data)
    scores = score_predictions(predictions)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write_parquet(predictions, out / "predictions.parquet")
    write_json_atomically(
        out / "scores.json",
        {
            "surrogate": name,
            "blackbox": blackbox.name,
            "split_seed": data.split.seed,
            "models": {
                m.objective: {"family": m.family, **dict(m.hyperparameters)}
                for m in surrogate.models
            },
            "scores": json.loads(scores.to_json(orient="records")),
        },
        indent=1,
    )
    _write_text(out / "scores.md", scores_markdown(name, blackbox.name, surrogate, scores))
    plot_predicted_vs_true(predictions, out / "predicted-vs-true", title=name)
    return scores


def scores_markdown(
    name: str, blackbox: str, surrogate: TrainedSurrogateBlackbox, scores: pd.DataFrame
) -> str:
    """The report: models, then scores over all test rows, then per fidelity."""
    lines = [
        f"# Test scores of {name} (trained on {blackbox})",
        "",
        "| objective | model |",
        "|---|---|",
    ]
    lines += [f"| {m.objective} | {m.family} {dict(m.hyperparameters)} |" for m in surrogate.models]
    header = "| objective | fidelity | " + " | ".join(SCORE_NAMES) + " | n |"
    rule = "|---" * (len(SCORE_NAMES) + 3) + "|"
    lines += ["", "## Over every test row and per fidelity", "", header, rule]
    for row in scores.itertuples(index=False):
        values = " | ".join(f"{getattr(row, s):.4g}" for s in SCORE_NAMES)
        label = "**all**" if row.fidelity == ALL_FIDELITIES else row.fidelity
        lines.append(f"| {row.objective} | {label} | {values} | {row.n} |")
    return "\n".join(lines) + "\n"


def plot_predicted_vs_true(predictions: pd.DataFrame, stem: Path, title: str = "") -> None:
    """Predicted against true at the highest fidelity, one panel per objective (PNG + PDF)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objectives = list(dict.fromkeys(predictions["objective"]))
    figure, axes = plt.subplots(
        1, len(objectives), figsize=(3.2 * len(objectives), 3.2), squeeze=False
    )
    for axis, objective in zip(axes[0], objectives):
        rows = predictions[predictions["objective"] == objective]
        rows = rows[rows["fidelity"] == rows["fidelity"].max()]
        axis.scatter(rows["true"], rows["predicted"], s=6, alpha=0.6)
        low = float(min(rows["true"].min(), rows["predicted"].min()))
        high = float(max(rows["true"].max(), rows["predicted"].max()))
        axis.plot([low, high], [low, high], color="grey", linewidth=0.8)
        axis.set_title(objective, fontsize=9)
        axis.set_xlabel("true")
        axis.set_ylabel("predicted")
    figure.suptitle(f"{title} (highest fidelity, test set)", fontsize=10)
    figure.tight_layout()
    for suffix in (".png", ".pdf"):
        temporary = stem.with_name(f".{stem.name}{suffix}.tmp")
        figure.savefig(temporary, format=suffix[1:], dpi=120)
        os.replace(temporary, stem.with_name(stem.name + suffix))
    plt.close(figure)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(temporary, index=False)
    os.replace(temporary, path)


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
