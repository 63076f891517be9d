"""Neural machine translation HPO (NMTHPO + NMTLC): Transformer configurations on 6 language pairs.

Raw format (Este1le/hpo_nmt):

* ``datasets/<pair>.hyps``: one configuration per line, 6 whitespace-separated numbers:
  bpe_symbols, num_layers, num_embed, transformer_feed_forward_num_hidden,
  transformer_attention_heads, initial_learning_rate.
* ``datasets/<pair>.evals``: the same lines' results: dev_bleu, dev_gpu_time (the time to
  decode the dev set, the benchmark's speed objective), dev_ppl (best dev perplexity),
  num_updates, gpu_memory (0 = not recorded), num_param.
* ``lc_datasets/nmtlc.pkl`` (plain Python values; loaded with an unpickler that allows no
  globals): a list of runs with ``dataset_name``, ``hyperparams`` (without the number of
  attention heads), ``perplexity_curve`` (dev perplexity at each checkpoint) and
  ``perplexity_optimal``.

A checkpoint is every 2,000 updates (``num_updates == 2000 * len(perplexity_curve)`` for
every run that matches). A curve is attached to a configuration when its five shared
hyperparameters, its length and its best perplexity (to 5e-6) all agree; configurations
without such a curve keep NaN perplexities. Runs stopped at different checkpoints (the
original training stopped early), so a configuration has no values after its last
checkpoint (NaN, including elapsed time: the simulator ends such a trial there).

NMTHPO records no training time. Elapsed time is an assumption: a constant
:data:`SECONDS_PER_CHECKPOINT` per checkpoint for every configuration.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ConfigSpace import ConfigurationSpace, OrdinalHyperparameter

from blackbox_repository.blackbox import Objective
from blackbox_repository.recipes._raw_parsing import (
    RecipeWithOwnFiles,
    check_configurations,
    conversion_error,
    float_list,
    github_raw_url,
    load_plain_pickle,
    numeric_column,
    read_csv,
)
from blackbox_repository.recipes.recipe import BenchmarkDefaults, RawFile
from blackbox_repository.tabular import TabularBlackbox

FAMILY = "hpo_nmt"
REPOSITORY = "Este1le/hpo_nmt"
COMMIT = "7bd0a402"  # the commit named by the data README; the full hash was not available offline
CURVES_FILE = f"{FAMILY}/lc_datasets/nmtlc.pkl"
CURVES_SHA256 = "42ecab6a7f3c93c7697714cf1082318274e232e04d79bf4400bfc55d6a766eca"

UPDATES_PER_CHECKPOINT = 2000
SECONDS_PER_CHECKPOINT = 600.0
"""Assumed training cost of one checkpoint (NMTHPO has no training times)."""
PERPLEXITY_TOLERANCE = 5e-6

HYPERPARAMETERS = (
    "bpe_symbols",
    "num_layers",
    "num_embed",
    "transformer_feed_forward_num_hidden",
    "transformer_attention_heads",
    "initial_learning_rate",
)
EVALUATIONS = ("dev_bleu", "dev_gpu_time", "dev_ppl", "num_updates", "gpu_memory", "num_param")
# NMTLC's names of the hyperparameters shared with NMTHPO (it has no attention heads)
CURVE_HYPERPARAMETERS = {
    "bpe_symbols": "bpe",
    "num_layers": "num_layers",
    "num_embed": "model_size",
    "transformer_feed_forward_num_hidden": "ff_num_hidden",
    "initial_learning_rate": "initial_lr",
}
NMTLC_BPE_UNIT = 1000  # NMTLC gives BPE merge operations in thousands

_HIGH_RESOURCE = {"bpe_symbols": (10_000, 30_000, 50_000), "num_layers": (2, 4)}
_LOW_RESOURCE_BPE = (1_000, 2_000, 4_000, 8_000, 16_000, 32_000)
# pair -> (NMTLC dataset name, pair-specific domains from the NMTHPO README, sha256 of .hyps, .evals)
PAIRS: dict[str, tuple[str, dict[str, tuple], str, str]] = {
    "zh-en": (
        "ted-zh-en",
        _HIGH_RESOURCE,
        "4ce4f95cf0ccf0beb6ff36b19be2ba98070bb05c7dfc49cb44f882314a2dfd73",
        "4b09d2f5f593f8ff70de7ccf2e7990584282a2fb204142c31dec2d2e506983f2",
    ),
    "ru-en": (
        "ted-ru-en",
        _HIGH_RESOURCE,
        "0a96d2b1f10e4a22721cc81befa7b2cf875b761da23ced4c0ac0085be29fbd76",
        "1ddeb9a42d8dad6340d83ba427d375e66f1b2c030360877b6963180ee559f3ab",
    ),
    "ja-en": (
        "robust19-ja-en",
        _HIGH_RESOURCE,
        "df4a452ceabb9134f4c469778d14de2f6333e92b175cce21d9f9ade194beead6",
        "6e3cb9be3d2cc097fe1fcbe8e5b15c933a5195684ec5a86e0a57ae921de24866",
    ),
    "en-ja": (
        "robust19-en-ja",
        _HIGH_RESOURCE,
        "cdfd7c8c1bf3e3eac16bca04ad9b1f5c5755e2a5170a06edc3d074ae2a481798",
        "1385c842ae3f6a7f3ee8b5cb554f81f707a4f7502f7806e048bc46c36a3157d5",
    ),
    "sw-en": (
        "material-sw-en",
        {"bpe_symbols": _LOW_RESOURCE_BPE, "num_layers": (1, 2, 4, 6)},
        "e2642bc6f6ed6afe060e13fe699fa2dcd569f5311ee72eea55db87e37f25b725",
        "a2be8d462a621948afe782e2ad398a8832c98c26d8ca5992357af9278e0f1d4f",
    ),
    "so-en": (
        "material-so-en",
        {"bpe_symbols": _LOW_RESOURCE_BPE, "num_layers": (1, 2, 4)},
        "0564b44e795d22b6a8f660bd6672e210fa544b0cacf03b913cbec50d95e93d7e",
        "4e95d872c15a0af35a1b7672ae979c794c9022ee1b53c821d7a8b646dd023bb7",
    ),
}
SHARED_DOMAINS: dict[str, tuple] = {
    "num_embed": (256, 512, 1024),
    "transformer_feed_forward_num_hidden": (1024, 2048),
    "transformer_attention_heads": (8, 16),
    "initial_learning_rate": (0.0003, 0.0006, 0.001),
}
INTEGER_HYPERPARAMETERS = HYPERPARAMETERS[:5]

OBJECTIVES = (
    Objective("dev_perplexity", "min"),
    Objective("dev_bleu", "max"),
    Objective("best_dev_perplexity", "min"),
    Objective("dev_decode_time", "min", "s"),
    Objective("num_parameters", "min"),
    Objective("gpu_memory", "min"),
    Objective("elapsed_time", "min", "s"),
)
_OBJECTIVE = {o.name: k for k, o in enumerate(OBJECTIVES)}


def blackbox_name(pair: str) -> str:
    return f"nmt-{pair}"


def hyps_path(pair: str) -> str:
    return f"{FAMILY}/datasets/{pair}.hyps"


def evals_path(pair: str) -> str:
    return f"{FAMILY}/datasets/{pair}.evals"


def search_space(pair: str) -> ConfigurationSpace:
    """The grid NMTHPO trained for ``pair``: every hyperparameter is ordinal."""
    domains = {**PAIRS[pair][1], **SHARED_DOMAINS}
    return ConfigurationSpace(
        name=blackbox_name(pair),
        space=[OrdinalHyperparameter(name, list(domains[name])) for name in HYPERPARAMETERS],
    )


def _whitespace_table(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    table = read_csv(path, (), sep=r"\s+", header=None)
    if table.shape[1] != len(columns):
        raise conversion_error(
            path, f"lines have {table.shape[1]} fields, expected {len(columns)}: {columns}"
        )
    table.columns = list(columns)
    return pd.DataFrame({c: numeric_column(table, c, path) for c in columns})


def parse_configurations(hyps: Path, evals: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The configurations of ``<pair>.hyps`` and the results of ``<pair>.evals``, line by line."""
    configurations = _whitespace_table(hyps, HYPERPARAMETERS)
    results = _whitespace_table(evals, EVALUATIONS)
    if len(configurations) != len(results):
        raise conversion_error(
            evals,
            f"it has {len(results)} lines but {hyps.name} has {len(configurations)}; they must match",
        )
    for name in INTEGER_HYPERPARAMETERS:
        column = configurations[name].to_numpy()
        if not np.all(column == np.round(column)):
            raise conversion_error(hyps, f"{name} holds non-integer values")
        configurations[name] = column.astype(np.int64)
    updates = results["num_updates"].to_numpy()
    bad = (updates <= 0) | (updates % UPDATES_PER_CHECKPOINT != 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise conversion_error(
            evals,
            f"line {row + 1} has num_updates {updates[row]:g}, not a positive multiple of "
            f"{UPDATES_PER_CHECKPOINT} (one checkpoint)",
        )
    return configurations, results


def _curve_key(hyperparameters: dict[str, Any], length: int) -> tuple:
    return (
        int(hyperparameters["bpe_symbols"]),
        int(hyperparameters["num_layers"]),
        int(hyperparameters["num_embed"]),
        int(hyperparameters["transformer_feed_forward_num_hidden"]),
        round(float(hyperparameters["initial_learning_rate"]), 10),
        int(length),
    )


def parse_curves(
    path: Path, dataset_name: str
) -> dict[tuple, list[tuple[float, tuple[float, ...]]]]:
    """NMTLC's trained-from-scratch curves of ``dataset_name``, keyed by their shared
    hyperparameters and length: key -> [(best perplexity, curve), ...]."""
    runs = load_plain_pickle(path)
    if not isinstance(runs, list):
        raise conversion_error(path, f"expected a list of runs, got {type(runs).__name__}")
    curves: dict[tuple, list[tuple[float, tuple[float, ...]]]] = defaultdict(list)
    for position, run in enumerate(runs):
        if not isinstance(run, dict) or "dataset_name" not in run:
            raise conversion_error(path, f"run {position} is not a dict with a 'dataset_name'")
        if run["dataset_name"] != dataset_name or run.get("task") != "scratch":
            continue
        hyperparameters = run.get("hyperparams")
        if not isinstance(hyperparameters, dict) or not set(CURVE_HYPERPARAMETERS.values()) <= set(
            hyperparameters
        ):
            raise conversion_error(
                path,
                f"run {position} has no 'hyperparams' with {sorted(CURVE_HYPERPARAMETERS.values())}",
            )
        curve = float_list(run.get("perplexity_curve"), path, f"run {position} perplexity_curve")
        best = float_list(
            [run.get("perplexity_optimal")], path, f"run {position} perplexity_optimal"
        )[0]
        shared = {name: hyperparameters[raw] for name, raw in CURVE_HYPERPARAMETERS.items()}
        shared["bpe_symbols"] = shared["bpe_symbols"] * NMTLC_BPE_UNIT
        curves[_curve_key(shared, len(curve))].append((float(best), tuple(curve)))
    return curves


def match_curves(
    configurations: pd.DataFrame, results: pd.DataFrame, curves: dict[tuple, list]
) -> tuple[list[tuple[float, ...] | None], int]:
    """The curve of each configuration (None if no curve, or several different ones, match)
    and the number of ambiguous configurations."""
    matched: list[tuple[float, ...] | None] = []
    ambiguous = 0
    lengths = (results["num_updates"].to_numpy() // UPDATES_PER_CHECKPOINT).astype(int)
    best_perplexities = results["dev_ppl"].to_numpy()
    for row, length, best in zip(configurations.to_dict("records"), lengths, best_perplexities):
        candidates = {
            curve
            for curve_best, curve in curves.get(_curve_key(row, length), ())
            if abs(curve_best - best) <= PERPLEXITY_TOLERANCE
        }
        ambiguous += len(candidates) > 1
        matched.append(candidates.pop() if len(candidates) == 1 else None)
    return matched, ambiguous


def convert_nmt(name: str, raw_dir: Path) -> TabularBlackbox:
    """Build ``nmt-<pair>`` from the NMTHPO tables and NMTLC curves below ``raw_dir``."""
    pair = name.removeprefix("nmt-")
    raw_dir = Path(raw_dir)
    hyps, evals = raw_dir / hyps_path(pair), raw_dir / evals_path(pair)
    configurations, results = parse_configurations(hyps, evals)
    space = search_space(pair)
    check_configurations(configurations, space, hyps)
    curves, ambiguous = match_curves(
        configurations, results, parse_curves(raw_dir / CURVES_FILE, PAIRS[pair][0])
    )
    lengths = (results["num_updates"].to_numpy() // UPDATES_PER_CHECKPOINT).astype(int)
    n_checkpoints = int(lengths.max())
    checkpoints = np.arange(1, n_checkpoints + 1)
    values = np.full((len(configurations), n_checkpoints, 1, len(OBJECTIVES)), np.nan)
    gpu_memory = results["gpu_memory"].to_numpy()
    gpu_memory = np.where(gpu_memory == 0, np.nan, gpu_memory)  # 0 = not recorded (NMTHPO README)
    for i, (length, curve) in enumerate(zip(lengths, curves)):
        recorded = values[i, :length, 0]
        recorded[:, _OBJECTIVE["elapsed_time"]] = checkpoints[:length] * SECONDS_PER_CHECKPOINT
        recorded[:, _OBJECTIVE["num_parameters"]] = results["num_param"].iat[i]
        recorded[:, _OBJECTIVE["gpu_memory"]] = gpu_memory[i]
        if curve is not None:
            recorded[:, _OBJECTIVE["dev_perplexity"]] = curve
        final = recorded[length - 1]
        final[_OBJECTIVE["dev_bleu"]] = results["dev_bleu"].iat[i]
        final[_OBJECTIVE["best_dev_perplexity"]] = results["dev_ppl"].iat[i]
        final[_OBJECTIVE["dev_decode_time"]] = results["dev_gpu_time"].iat[i]
    n_curves = sum(curve is not None for curve in curves)
    return TabularBlackbox(
        name=name,
        configuration_space=space,
        configurations=configurations,
        fidelity_name="checkpoint",
        fidelity_values=checkpoints,
        seeds=[0],
        objectives=OBJECTIVES,
        elapsed_time_objective="elapsed_time",
        values=values,
        description=(
            f"NMT HPO {pair}: {len(configurations)} Transformer configurations (NMTHPO), checkpoints "
            f"every {UPDATES_PER_CHECKPOINT} updates up to {n_checkpoints}; {n_curves} have a dev "
            f"perplexity curve from NMTLC ({ambiguous} ambiguous matches left out), the others NaN "
            "perplexities. A run has values only up to its own last checkpoint (NaN after). "
            "dev_bleu, best_dev_perplexity and dev_decode_time are measured on the final model and "
            "given at the run's last checkpoint only. No training times were recorded: elapsed time "
            f"ASSUMES {SECONDS_PER_CHECKPOINT:g} s per checkpoint for every configuration."
        ),
    )


def _raw_files() -> tuple[RawFile, ...]:
    files = []
    for pair, (_, _, hyps_sha256, evals_sha256) in PAIRS.items():
        for path, sha256 in ((hyps_path(pair), hyps_sha256), (evals_path(pair), evals_sha256)):
            files.append(
                RawFile(
                    path=path,
                    url=github_raw_url(REPOSITORY, COMMIT, path.removeprefix(f"{FAMILY}/")),
                    sha256=sha256,
                )
            )
    files.append(
        RawFile(
            path=CURVES_FILE,
            url=github_raw_url(REPOSITORY, COMMIT, "lc_datasets/nmtlc.pkl"),
            sha256=CURVES_SHA256,
        )
    )
    return tuple(files)


RECIPES = [
    RecipeWithOwnFiles(
        family=FAMILY,
        benchmark_defaults=(
            BenchmarkDefaults(
                metric="dev_bleu",
                mode="max",
                elapsed_time_objective="elapsed_time",
                fidelity_name="checkpoint",
                max_wallclock_time=216_000.0,
            ),
        ),
        names=tuple(blackbox_name(pair) for pair in PAIRS),
        raw_files=_raw_files(),
        convert=convert_nmt,
        description=(
            "Neural machine translation HPO: 1,983 Transformer configurations on 6 language pairs "
            "(BLEU, decoding time, perplexity, size), with NMTLC's dev perplexity curves per "
            "checkpoint. Elapsed time is an assumed constant per checkpoint."
        ),
        license="MIT",
        citation=(
            "Zhang, Duh: Reproducible and Efficient Benchmarks for Hyperparameter Optimization of "
            "Neural Machine Translation Systems, TACL 8 (2020). Zhang, Duh: Best Practices of "
            "Successive Halving on Neural Machine Translation and Large Language Models, AMTA 2024."
        ),
        files_by_name=tuple(
            (blackbox_name(pair), (hyps_path(pair), evals_path(pair), CURVES_FILE))
            for pair in PAIRS
        ),
    )
]
