"""Recipe records: where a benchmark family's raw files live and how to convert them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from blackbox_repository.blackbox import Blackbox


@dataclass(frozen=True)
class RawFile:
    """One raw file of a benchmark, as its authors published it.

    ``path`` is where the file sits below the recipe's raw folder, and also below a local
    raw-data folder (``SIMTUNE_RAW_DATA_DIR``) that already holds the originals.
    ``sha256`` ``None`` means no checksum is published: the file is trusted on first
    download and checked against the sha256 recorded then on every later use (see
    ``raw_files.py``).
    """

    path: str
    url: str
    sha256: str | None


@dataclass(frozen=True)
class Recipe:
    """How to build the blackboxes of one benchmark family from its raw files.

    ``convert(name, raw_dir)`` returns the blackbox ``name`` (one of ``names``) built from
    the raw files found below ``raw_dir`` (each ``RawFile.path`` relative to it).
    """

    family: str
    names: tuple[str, ...]
    raw_files: tuple[RawFile, ...]
    convert: Callable[[str, Path], Blackbox]
    description: str = ""
    license: str = ""
    citation: str = ""
    extras: tuple[str, ...] = field(
        default=()
    )  # pip extras this recipe needs, e.g. ("surrogates",)

    def provides(self, name: str) -> bool:
        """Whether this recipe builds ``name``: one of ``names``, or (in a recipe that
        accepts names it cannot list, such as any YAHPO scenario) a name of its pattern."""
        return name in self.names

    def raw_files_for(self, name: str) -> tuple[RawFile, ...]:
        """Raw files needed to build ``name``; by default all of the family's files."""
        return self.raw_files
