"""``load_blackbox(name)``: the local cache first, then the S3 mirror, then conversion.

Every path ends with the same verified read, and every write goes through a staging folder
and a rename under the entry's file lock, so concurrent loads of one benchmark all succeed
and none ever sees a half-written entry. A corrupt entry (bad checksum, truncated file) is
reported by name, removed and fetched again; it is never used.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from blackbox_repository.blackbox import Blackbox
from blackbox_repository.cache import BlackboxCache, cache_writes
from blackbox_repository.errors import CorruptBlackboxError, UnknownBlackboxError
from blackbox_repository.file_format import (
    read_blackbox,
    read_metadata,
    verify_files,
    write_blackbox,
)
from blackbox_repository.raw_files import fetch_raw_files_unpinned
from blackbox_repository.recipes import Recipe, RecipePluginError, find_recipe

if TYPE_CHECKING:
    from blackbox_repository.s3_mirror import S3Mirror

logger = logging.getLogger(__name__)


def _mirror_from_argument(s3_mirror: S3Mirror | str | None) -> S3Mirror | None:
    from blackbox_repository.s3_mirror import S3Mirror

    if s3_mirror is None:
        return S3Mirror.from_env()
    if isinstance(s3_mirror, str):
        return S3Mirror(s3_mirror)
    return s3_mirror


def load_blackbox(
    name: str,
    *,
    cache_dir: Path | str | None = None,
    s3_mirror: S3Mirror | str | None = None,
    raw_data_dir: Path | str | None = None,
    progress: bool = False,
    recipe: Recipe | None = None,
) -> Blackbox:
    """Return the blackbox ``name``, fetching and converting it on first use.

    Args:
        name: a name from ``simtune blackbox list``; an unknown one suggests close names.
        cache_dir: cache root; default ``$SIMTUNE_CACHE_DIR`` or the user's cache dir.
        s3_mirror: an ``S3Mirror`` or ``s3://bucket/prefix`` URL to fetch converted entries
            from; default ``$SIMTUNE_S3_MIRROR`` (with ``$SIMTUNE_S3_ENDPOINT_URL``), if set.
        raw_data_dir: a folder that already holds the recipe's original raw files; default
            ``$SIMTUNE_RAW_DATA_DIR``. Otherwise raw files are downloaded.
        progress: show progress bars for downloads and conversions.
        recipe: an explicit recipe (e.g. a user-defined benchmark) instead of the registry's.

    The cache comes first: a blackbox you converted or tabulated yourself into the cache
    loads by its name although no recipe provides it.

    Example:
        >>> bb = load_blackbox("sklearn-mlp-digits")
        >>> bb.fidelity_name, bb.max_fidelity
        ('epoch', 30)
    """
    cache = BlackboxCache(cache_dir)
    if cache.has_entry(name):
        try:
            return read_blackbox(cache.entry_path(name), expected_name=name)
        except CorruptBlackboxError as error:
            logger.warning(
                "cached blackbox %s is corrupt and will be fetched again if a recipe or "
                "mirror provides it: %s",
                name,
                error,
            )
    with cache.lock(name):
        cache.remove_stale_staging(name)
        if recipe is None:
            recipe = _recipe_or_none(name)
        mirror = _mirror_from_argument(s3_mirror)
        if cache.has_entry(name):
            try:  # another process may have installed it while we waited for the lock
                return read_blackbox(cache.entry_path(name), expected_name=name)
            except CorruptBlackboxError as error:
                if recipe is None and mirror is None:
                    # the entry is its only copy (a trained surrogate, a table of your
                    # own): kept as it is, never removed for a copy nothing can provide
                    raise CorruptBlackboxError(
                        f"{error}. No recipe or S3 mirror provides {name!r}, so its cache "
                        f"entry {cache.entry_path(name)} was left as it is: restore the "
                        "file, or remove the entry and install the blackbox again (e.g. "
                        "`simtune surrogate fit` for a trained surrogate)"
                    ) from error
                logger.warning("removing corrupt cache entry %s: %s", name, error)
                cache.remove(name)
        if recipe is None and mirror is None:
            find_recipe(name)  # raises: the name is neither cached nor a recipe's
        if mirror is not None:
            blackbox = _download_and_install(name, mirror, cache, progress=progress)
            if blackbox is not None:
                return blackbox
        return _convert_and_install(
            name, recipe or find_recipe(name), cache, raw_data_dir=raw_data_dir, progress=progress
        )


def _recipe_or_none(name: str) -> Recipe | None:
    try:
        return find_recipe(name)
    except UnknownBlackboxError:
        return None


def convert_blackbox(
    name: str,
    *,
    cache_dir: Path | str | None = None,
    raw_data_dir: Path | str | None = None,
    progress: bool = False,
    force: bool = False,
    recipe: Recipe | None = None,
) -> Path:
    """Convert ``name`` from its raw files into the cache (again if ``force``); returns the entry."""
    recipe = recipe or find_recipe(name)
    cache = BlackboxCache(cache_dir)
    with cache.lock(name):
        cache.remove_stale_staging(name)
        if cache.has_entry(name) and not force:
            try:  # a corrupt entry is converted again, not returned as if it were fine
                entry = cache.entry_path(name)
                verify_files(entry, read_metadata(entry, expected_name=name))
                return entry
            except CorruptBlackboxError as error:
                logger.warning("converting %s again: its cache entry is corrupt: %s", name, error)
        _convert_and_install(name, recipe, cache, raw_data_dir=raw_data_dir, progress=progress)
        return cache.entry_path(name)


def _download_and_install(
    name: str, mirror: S3Mirror, cache: BlackboxCache, *, progress: bool
) -> Blackbox | None:
    """The mirror's entry ``name``, verified and installed; None if it has no usable one.

    A corrupt or incomplete mirror entry is reported (naming the S3 object) and None is
    returned so that the caller converts the blackbox from its raw files instead.
    """
    with cache.staging(name) as staged:
        try:
            if not mirror.download(name, staged, progress=progress):
                logger.info(
                    "blackbox %s is not on mirror %s; converting it from raw files",
                    name,
                    mirror.url,
                )
                return None
            read_blackbox(staged, expected_name=name)  # verify before it becomes visible
        except CorruptBlackboxError as error:
            logger.warning(
                "the entry %s on mirror %s is unusable, converting it from raw files instead: %s",
                name,
                mirror.url,
                error,
            )
            return None
        return read_blackbox(cache.install(name, staged), verify=False, expected_name=name)


def _convert_and_install(
    name: str,
    recipe: Recipe,
    cache: BlackboxCache,
    *,
    raw_data_dir: Path | str | None,
    progress: bool,
) -> Blackbox:
    """Fetch raw files, convert, write into staging, verify, rename into place. Lock held."""
    if not recipe.provides(name):
        raise RecipePluginError(
            f"recipe {recipe.family!r} does not provide {name!r}; it provides {list(recipe.names)}"
        )
    bar = _progress_bar() if progress else None
    with bar if bar is not None else contextlib.nullcontext():
        with cache_writes(cache.root, f"fetching the raw files of {name}"):
            fetched = fetch_raw_files_unpinned(
                recipe.raw_files_for(name),
                cache.raw_dir,
                raw_data_dir=raw_data_dir,
                progress=bar,
            )
        task = (
            bar.add_task(f"convert {name}", total=None, counts_bytes=False)
            if bar is not None
            else None
        )
        try:
            blackbox = recipe.convert(name, fetched.directory)
        except BaseException:
            # a first download that does not convert is not trusted: never pin its sha256
            fetched.discard_untrusted_downloads()
            raise
        with cache.staging(name) as staged:
            with cache_writes(cache.root, f"writing {name}"):
                write_blackbox(blackbox, staged, source=f"recipe {recipe.family}")
            read_blackbox(staged, expected_name=name)
            entry = cache.install(name, staged)
        fetched.pin_trusted()  # only now: the files converted into a sound entry
        if task is not None:
            bar.update(task, total=1, completed=1)
    return read_blackbox(entry, verify=False, expected_name=name)


def _progress_bar():
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class AmountColumn(DownloadColumn):
        """Bytes for downloads; nothing for tasks created with ``counts_bytes=False``."""

        def render(self, task):
            return super().render(task) if task.fields.get("counts_bytes", True) else Text("")

    return Progress(
        TextColumn("{task.description}"), BarColumn(), AmountColumn(), TimeElapsedColumn()
    )
