"""``simtune surrogate fit|evaluate|faithfulness``: train, score and check surrogates."""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path


def configure_surrogate_command(parser: argparse.ArgumentParser) -> None:
    """Add ``fit``, ``evaluate`` and ``faithfulness`` to the ``simtune surrogate`` parser."""
    commands = parser.add_subparsers(dest="surrogate_command", metavar="SUBCOMMAND", required=True)

    fit = commands.add_parser(
        "fit",
        help="tune one model per objective on the real backend and install the surrogate",
        description=(
            "Split the configurations of tabular blackbox NAME into train/validation/test "
            "(by configuration, --split-seed), tune every model family per objective with "
            "ASHA on Dask workers (--budget fits each), refit the best, export it to ONNX and "
            "install NAME-surrogate in the cache. Run again after a kill to resume."
        ),
    )
    fit.add_argument("name", help="a tabular blackbox (recipe name or cache entry)")
    fit.add_argument("--budget", type=int, default=16, help="model fits per objective and family")
    fit.add_argument(
        "--families",
        default=None,
        help="comma-separated model families (default: all but the opt-in extra_trees)",
    )
    fit.add_argument("--objectives", default=None, help="comma-separated objectives (default: all)")
    fit.add_argument("--split-seed", type=int, default=0)
    fit.add_argument(
        "--split-fractions",
        default="0.7,0.15,0.15",
        help="train,validation,test fractions of the configurations (recorded in the split)",
    )
    fit.add_argument("--seed", type=int, default=0, help="seeds the tuner and the models")
    fit.add_argument("--method", default="ASHA", help="ASHA or BOHB (any baseline name)")
    fit.add_argument("--n-workers", type=int, default=2)
    fit.add_argument("--runner", default="dask", choices=("dask", "processes", "serial"))
    fit.add_argument("--dask-address", default=None, help="tcp://host:port of a Dask scheduler")
    fit.add_argument("--max-wallclock-time", type=float, default=None, help="real s per tuning run")
    fit.add_argument("--allow-missing", action="store_true", help="train on recorded rows only")
    fit.add_argument(
        "--no-seed-noise",
        dest="seed_noise",
        action="store_false",
        help="publish seed means only (default: the table's seeds, from recorded residuals)",
    )
    fit.add_argument(
        "--no-single-seed-noise",
        dest="single_seed_noise",
        action="store_false",
        help="a table with one seed: publish the trend only (default: out-of-sample residual "
        "curves of the validation configurations as its noise)",
    )
    fit.add_argument(
        "--single-seed-noise",
        dest="single_seed_noise",
        action="store_true",
        help="the default (kept for scripts that passed it when it was opt-in)",
    )
    fit.add_argument(
        "--single-seed-noise-donors",
        dest="noise_donors",
        choices=("recorded", "predicted"),
        default=None,
        help="how the one-seed noise matches donors: by their recorded or their out-of-sample "
        "predicted values (default: the seventh session's choice, see "
        "docs/surrogate-training.md)",
    )
    fit.add_argument(
        "--single-seed-noise-bounds",
        dest="noise_bounds",
        choices=("clip", "reflect"),
        default=None,
        help="a noisy one-seed answer outside the recorded range: clipped onto or reflected "
        "at the bound (default: the seventh session's choice)",
    )
    fit.add_argument(
        "--out", type=Path, default=None, help="work folder (default surrogate-work/NAME)"
    )
    fit.add_argument("--surrogate-name", default=None, help="default NAME-surrogate")
    fit.add_argument("--cache-dir", default=None)
    fit.set_defaults(handler=_fit, single_seed_noise=True)

    evaluate = commands.add_parser(
        "evaluate",
        help="score an installed surrogate on its test set (Parquet, plots, Markdown, JSON)",
    )
    evaluate.add_argument("name", help="the surrogate (e.g. sklearn-mlp-digits-surrogate)")
    evaluate.add_argument("--out", type=Path, default=None, help="default surrogate-report/NAME")
    evaluate.add_argument("--cache-dir", default=None)
    evaluate.set_defaults(handler=_evaluate)

    faithful = commands.add_parser(
        "faithfulness",
        help="run the same study on a table and its surrogate and compare method rankings",
    )
    faithful.add_argument("name", help="the surrogate (its table is read from its metadata)")
    faithful.add_argument("--methods", default="RS,ASHA,Hyperband,BOHB")
    faithful.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds per method (default 30; 100 with --cross-fitted)",
    )
    faithful.add_argument("--max-wallclock-time", type=float, default=None, help="simulated s")
    faithful.add_argument("--n-workers", type=int, default=4)
    faithful.add_argument(
        "--held-out",
        action="store_true",
        help="the held-out, grid-matched study: the table restricted to the surrogate's test "
        "configurations against the surrogate's answers for exactly those configurations",
    )
    faithful.add_argument(
        "--cross-fitted",
        action="store_true",
        help="the cross-fitted study: the whole table against out-of-sample answers for all "
        "its configurations (each of --folds folds answered by the surrogate's models refitted "
        "without it)",
    )
    faithful.add_argument("--folds", type=int, default=5, help="cross-fit folds (default 5)")
    faithful.add_argument("--fold-seed", type=int, default=0, help="seed of the cross-fit folds")
    faithful.add_argument(
        "--answers-single-seed-noise",
        choices=("recorded", "on", "off"),
        default="recorded",
        help="with --cross-fitted: the one-seed noise model of the refitted folds, as the "
        "surrogate recorded it (default) or forced on/off",
    )
    faithful.add_argument(
        "--answers-noise-donors",
        choices=("recorded", "predicted"),
        default=None,
        help="with --cross-fitted: override how the one-seed noise matches donors (default: as "
        "the surrogate recorded it)",
    )
    faithful.add_argument(
        "--answers-noise-bounds",
        choices=("clip", "reflect"),
        default=None,
        help="with --cross-fitted: override how the one-seed noise treats the value bounds "
        "(default: as the surrogate recorded it)",
    )
    faithful.add_argument(
        "--study-cache",
        type=Path,
        default=None,
        help="folder keeping finished studies (and cross-fitted answers) for reuse",
    )
    faithful.add_argument("--out", type=Path, default=None, help="JSON report file")
    faithful.add_argument("--cache-dir", default=None)
    faithful.set_defaults(handler=_faithfulness)


def _names(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _fractions(text: str) -> tuple[float, ...]:
    from blackbox_repository.surrogate_training.errors import SurrogateTrainingError

    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise SurrogateTrainingError(
            f"--split-fractions must be three comma-separated numbers (train,validation,test), "
            f"got {text!r}"
        ) from None


def _fit(args: argparse.Namespace) -> int:
    from benchmarking.surrogates.pipeline import DEFAULT_FAMILIES, fit_surrogate
    from blackbox_repository.surrogate_training.fitting import FIT_ONE_SEED_NOISE

    summary = fit_surrogate(
        args.name,
        out=args.out,
        budget=args.budget,
        families=_names(args.families) or DEFAULT_FAMILIES,
        objectives=_names(args.objectives),
        split_seed=args.split_seed,
        seed=args.seed,
        method=args.method,
        n_workers=args.n_workers,
        runner=args.runner,
        dask_address=args.dask_address,
        max_wallclock_time=args.max_wallclock_time,
        allow_missing=args.allow_missing,
        surrogate=args.surrogate_name,
        cache_dir=args.cache_dir,
        progress=True,
        seed_noise=args.seed_noise,
        split_fractions=_fractions(args.split_fractions),
        one_seed_noise=FIT_ONE_SEED_NOISE.overridden(
            args.single_seed_noise, args.noise_donors, args.noise_bounds
        ),
    )
    for objective, model in summary.chosen.items():
        print(
            f"{objective}: {model.family} (validation 1 - mean Kendall tau per fidelity {model.validation_loss:.4f}, "
            f"fidelity {model.fidelity:g})"
        )
    print(f"installed {summary.surrogate} in {summary.entry}")
    print(f"next: simtune surrogate evaluate {summary.surrogate}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from benchmarking.surrogates.report import evaluate_surrogate

    out = args.out or Path("surrogate-report") / args.name
    scores = evaluate_surrogate(args.name, out, cache_dir=args.cache_dir)
    overall = scores[scores["fidelity"] == "all"]
    for row in overall.itertuples(index=False):
        print(
            f"{row.objective}: Kendall tau {row.kendall_tau:.3f}, Spearman {row.spearman_rho:.3f}, "
            f"R2 {row.r2:.3f}, MAE {row.mae:.4g}, RMSE {row.rmse:.4g}"
        )
    print(
        f"report in {out} (scores.md, scores.json, predictions.parquet, predicted-vs-true.png/pdf)"
    )
    return 0


def _faithfulness(args: argparse.Namespace) -> int:
    from benchmarking.surrogates.faithfulness import (
        DEFAULT_SEEDS,
        StudySettings,
        faithfulness,
        study_target,
    )
    from benchmarking.surrogates.pipeline import load_source_blackbox
    from benchmarking.surrogates.report import load_trained_surrogate
    from blackbox_repository.atomic_files import write_json_atomically

    surrogate = load_trained_surrogate(args.name, args.cache_dir)
    table = load_source_blackbox(surrogate.source["blackbox"], args.cache_dir)
    metric, mode, budget = study_target(table, args.max_wallclock_time)
    seeds = args.seeds
    if args.held_out and args.cross_fitted:
        from blackbox_repository.surrogate_training.errors import SurrogateTrainingError

        raise SurrogateTrainingError("choose one of --held-out and --cross-fitted")
    if args.cross_fitted:  # the whole table; every answer out of sample
        from benchmarking.surrogates.cross_fit import CROSS_FIT_SEEDS, cross_fitted_faithfulness
        from blackbox_repository.surrogate_training.fitting import OneSeedNoise

        seeds = CROSS_FIT_SEEDS if seeds is None else seeds
        compare = functools.partial(
            cross_fitted_faithfulness,
            folds=args.folds,
            fold_seed=args.fold_seed,
            one_seed_noise=OneSeedNoise.recorded_in(surrogate.source).overridden(
                {"recorded": None, "on": True, "off": False}[args.answers_single_seed_noise],
                args.answers_noise_donors,
                args.answers_noise_bounds,
            ),
        )
    elif args.held_out:  # same candidates on both sides: the test configurations
        from benchmarking.surrogates.held_out import held_out_faithfulness
        from benchmarking.surrogates.report import recorded_split

        indices = recorded_split(surrogate).test
        compare = functools.partial(held_out_faithfulness, indices=indices)
    else:
        compare = faithfulness
    settings = StudySettings(
        metric=metric,
        mode=mode,
        max_wallclock_time=budget,
        n_workers=args.n_workers,
        seeds=DEFAULT_SEEDS if seeds is None else seeds,
        methods=tuple(_names(args.methods)),
    )
    report = compare(table, surrogate, settings, study_cache=args.study_cache)
    record = report.to_dict()
    print(json.dumps(record, indent=1))
    for fraction, tau, (low, high), floor in zip(
        report.budget_fractions,
        report.kendall_tau,
        report.kendall_tau_interval,
        report.noise_floor,
    ):
        print(
            f"{fraction:.0%} of the budget: Kendall tau {tau:.2f} (bootstrap 5-95 % "
            f"[{low:.2f}, {high:.2f}]; table vs its replica, the noise floor: {floor:.2f})"
        )
    print("rankings agree" if report.agrees else "rankings disagree at some budget")
    if args.out is not None:
        write_json_atomically(args.out, record, indent=1)
    return 0
