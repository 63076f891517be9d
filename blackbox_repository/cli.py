"""``simtune blackbox ...``: list, inspect, convert, upload and download blackboxes.

    simtune blackbox list [--family lcdb]
    simtune blackbox info NAME
    simtune blackbox convert NAME [--force]
    simtune blackbox upload NAME s3://bucket/prefix [--endpoint-url URL]
    simtune blackbox download NAME [--mirror s3://bucket/prefix] [--endpoint-url URL]

Every subcommand takes ``--cache-dir`` (default ``$SIMTUNE_CACHE_DIR`` or the user's cache
dir). Handlers return an exit code; errors are raised and printed as one line by
``benchmarking.cli.main``.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from blackbox_repository.errors import BlackboxError, S3MirrorError

if TYPE_CHECKING:
    from blackbox_repository.cache import BlackboxCache
    from blackbox_repository.recipes import Recipe
    from blackbox_repository.s3_mirror import S3Mirror

# Only the standard library (and the errors module) is imported at module level: the parser
# must build, and `--help` and `list` answer, without pandas, pyarrow or ConfigSpace.
# Handlers import what they use.
S3_MIRROR_ENV_VAR = "SIMTUNE_S3_MIRROR"  # = blackbox_repository.s3_mirror.S3_MIRROR_ENV_VAR
S3_ENDPOINT_ENV_VAR = "SIMTUNE_S3_ENDPOINT_URL"  # = ...s3_mirror.S3_ENDPOINT_ENV_VAR

logger = logging.getLogger(__name__)

OWN_FAMILY = "(own, cache only)"
"""The family shown for a cached blackbox that no listed recipe provides."""


def configure_blackbox_command(group: argparse.ArgumentParser) -> None:
    """Add the subcommands of ``simtune blackbox`` to its (already created) parser."""
    commands = group.add_subparsers(dest="blackbox_command", metavar="SUBCOMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="cache root (default: $SIMTUNE_CACHE_DIR or the user's cache dir)",
    )
    endpoint = argparse.ArgumentParser(add_help=False)
    endpoint.add_argument(
        "--endpoint-url",
        default=None,
        help=f"S3-compatible endpoint, e.g. http://127.0.0.1:9000 (default: ${S3_ENDPOINT_ENV_VAR})",
    )

    listing = commands.add_parser(
        "list", parents=[common], help="every known blackbox, its family and whether it is cached"
    )
    listing.add_argument("--family", help="only this benchmark family, e.g. lcdb")
    listing.set_defaults(handler=list_command)

    info = commands.add_parser(
        "info",
        parents=[common],
        help="describe a blackbox: search space, fidelities, objectives (converts it if needed)",
    )
    info.add_argument("name")
    info.set_defaults(handler=info_command)

    convert = commands.add_parser(
        "convert", parents=[common], help="convert a blackbox from its raw files into the cache"
    )
    convert.add_argument(
        "name", help="a blackbox name, or a recipe of your own: package.module:recipe[:name]"
    )
    convert.add_argument("--force", action="store_true", help="convert again even if cached")
    convert.set_defaults(handler=convert_command)

    upload = commands.add_parser(
        "upload",
        parents=[common, endpoint],
        help="upload a cached (or freshly converted) blackbox to an S3 mirror",
    )
    upload.add_argument("name")
    upload.add_argument("mirror", metavar="S3_URL", help="s3://bucket/prefix")
    upload.set_defaults(handler=upload_command)

    download = commands.add_parser(
        "download", parents=[common, endpoint], help="download a blackbox from an S3 mirror"
    )
    download.add_argument("name")
    download.add_argument(
        "--mirror", metavar="S3_URL", help=f"s3://bucket/prefix (default: ${S3_MIRROR_ENV_VAR})"
    )
    download.add_argument(
        "--force", action="store_true", help="download again even if a sound entry is cached"
    )
    download.set_defaults(handler=download_command)


# --------------------------------------------------------------------- handlers
def list_command(args: argparse.Namespace) -> int:
    """Print every blackbox name with its family and cache state (reads no recipe)."""
    from blackbox_repository.cache import BlackboxCache
    from blackbox_repository.recipe_catalog import read_catalog

    catalog = read_catalog()
    families = sorted(catalog)
    if args.family is not None and args.family not in families:
        close = difflib.get_close_matches(args.family, families, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise BlackboxError(
            f"unknown family {args.family!r}.{hint} Families: {', '.join(families)}"
        )
    cache = BlackboxCache(args.cache_dir)
    cached = set(cache.names())
    rows = [
        (name, family, "yes" if name in cached else "no")
        for family, names in catalog.items()
        if args.family is None or family == args.family
        for name in names
    ]
    if args.family is None:  # blackboxes of your own: in the cache, from no listed recipe
        listed = {row[0] for row in rows}
        rows += [(name, OWN_FAMILY, "yes") for name in cached if name not in listed]
    rows.sort()
    header = ("NAME", "FAMILY", "CACHED")
    widths = [max(len(row[k]) for row in [header, *rows]) for k in range(2)]
    for name, family, is_cached in [header, *rows]:
        print(f"{name:<{widths[0]}}  {family:<{widths[1]}}  {is_cached}")
    n_cached = sum(row[2] == "yes" for row in rows)
    print(f"{len(rows)} blackboxes, {n_cached} cached in {cache.blackboxes_dir}")
    return 0


def info_command(args: argparse.Namespace) -> int:
    """Print ``blackbox.describe()``, loading (and if needed converting) it first."""
    from blackbox_repository.repository import load_blackbox

    recipe, name = _named_recipe(args.name)
    blackbox = load_blackbox(name, cache_dir=args.cache_dir, progress=True, recipe=recipe)
    print(blackbox.describe())
    return 0


def convert_command(args: argparse.Namespace) -> int:
    """Convert into the cache (a sound cached entry is kept unless ``--force``); NAME may be
    a recipe reference ``package.module:recipe[:name]`` of your own."""
    from blackbox_repository.repository import convert_blackbox

    recipe, name = _named_recipe(args.name)
    entry = convert_blackbox(
        name, cache_dir=args.cache_dir, progress=True, force=args.force, recipe=recipe
    )
    print(f"{name}: {entry}")
    return 0


def _named_recipe(name: str) -> tuple[Recipe | None, str]:
    """``(recipe, blackbox name)`` for a reference, ``(None, name)`` for a plain name."""
    from blackbox_repository.recipes import recipe_from_reference
    from blackbox_repository.references import is_reference

    if is_reference(name):
        return recipe_from_reference(name)
    return None, name


def upload_command(args: argparse.Namespace) -> int:
    """Upload the cached entry (converted first if needed) to the mirror."""
    from blackbox_repository.cache import BlackboxCache
    from blackbox_repository.repository import convert_blackbox
    from blackbox_repository.s3_mirror import S3Mirror

    mirror = S3Mirror(args.mirror, endpoint_url=_endpoint_url(args))
    cache = BlackboxCache(args.cache_dir)
    if not cache.has_entry(args.name):
        convert_blackbox(args.name, cache_dir=args.cache_dir, progress=True)
    with cache.lock(args.name):  # no `convert --force` may replace the files mid-upload
        mirror.upload(args.name, cache.entry_path(args.name), progress=True)
    print(f"uploaded {args.name} to {mirror.url}/{args.name}")
    return 0


def download_command(args: argparse.Namespace) -> int:
    """Download the entry from the mirror into the cache, verified, by one rename."""
    from blackbox_repository.cache import BlackboxCache
    from blackbox_repository.errors import DownloadError
    from blackbox_repository.file_format import read_blackbox

    mirror = _mirror_from_arguments(args)
    cache = BlackboxCache(args.cache_dir)
    with cache.lock(args.name):
        cache.remove_stale_staging(args.name)
        if not args.force and _is_sound(cache, args.name):
            print(
                f"{args.name} is already cached at {cache.entry_path(args.name)} (--force to replace)"
            )
            return 0
        with cache.staging(args.name) as staged:
            if not mirror.download(args.name, staged, progress=True):
                available = mirror.list()
                close = difflib.get_close_matches(args.name, available, n=3)
                hint = f" Did you mean: {', '.join(close)}?" if close else ""
                raise DownloadError(
                    f"mirror {mirror.url} does not hold {args.name!r}.{hint} "
                    f"It holds {len(available)} blackboxes: {', '.join(available) or 'none'}"
                )
            read_blackbox(staged)  # the whole entry reads before it becomes visible
            entry = cache.install(args.name, staged)
    print(f"downloaded {args.name} from {mirror.url} into {entry}")
    return 0


# --------------------------------------------------------------------- helpers
def _endpoint_url(args: argparse.Namespace) -> str | None:
    return args.endpoint_url or os.environ.get(S3_ENDPOINT_ENV_VAR) or None


def _mirror_from_arguments(args: argparse.Namespace) -> S3Mirror:
    from blackbox_repository.s3_mirror import S3Mirror

    url = args.mirror or os.environ.get(S3_MIRROR_ENV_VAR)
    if not url:
        raise S3MirrorError(
            f"no S3 mirror given: pass --mirror s3://bucket/prefix or set ${S3_MIRROR_ENV_VAR}"
        )
    return S3Mirror(url, endpoint_url=_endpoint_url(args))


def _is_sound(cache: BlackboxCache, name: str) -> bool:
    from blackbox_repository.errors import CorruptBlackboxError
    from blackbox_repository.file_format import read_metadata, verify_files

    if not cache.has_entry(name):
        return False
    try:
        verify_files(
            cache.entry_path(name), read_metadata(cache.entry_path(name), expected_name=name)
        )
        return True
    except CorruptBlackboxError as error:
        logger.warning("replacing corrupt cache entry %s: %s", name, error)
        return False
