"""simtune's blackbox repository: benchmarks in one Parquet format, cached and mirrored.

Example:
    >>> from blackbox_repository import load_blackbox
    >>> bb = load_blackbox("sklearn-mlp-digits")
    >>> sorted(bb.lookup(bb.configuration(0), fidelity=bb.max_fidelity))[:2]
    ['elapsed_time', 'test_error']

The names below are imported on first use (PEP 562), so that importing a light submodule
(``blackbox_repository.errors``, the CLI's argument parser) does not import pandas,
pyarrow and ConfigSpace.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from blackbox_repository.blackbox import Blackbox, LearningCurve, Objective
    from blackbox_repository.errors import (
        BlackboxError,
        ChecksumMismatchError,
        ConfigNotFoundError,
        ConversionError,
        CorruptBlackboxError,
        DownloadError,
        FidelityNotOnGridError,
        MissingDependencyError,
        S3MirrorError,
        SeedNotFoundError,
        UnknownBlackboxError,
    )
    from blackbox_repository.file_format import read_blackbox, write_blackbox
    from blackbox_repository.recipes import blackbox_names
    from blackbox_repository.repository import convert_blackbox, load_blackbox
    from blackbox_repository.tabular import TabularBlackbox

# public name -> the module that defines it
_EXPORTS = {
    "Blackbox": "blackbox_repository.blackbox",
    "LearningCurve": "blackbox_repository.blackbox",
    "Objective": "blackbox_repository.blackbox",
    "BlackboxError": "blackbox_repository.errors",
    "ChecksumMismatchError": "blackbox_repository.errors",
    "ConfigNotFoundError": "blackbox_repository.errors",
    "ConversionError": "blackbox_repository.errors",
    "CorruptBlackboxError": "blackbox_repository.errors",
    "DownloadError": "blackbox_repository.errors",
    "FidelityNotOnGridError": "blackbox_repository.errors",
    "MissingDependencyError": "blackbox_repository.errors",
    "S3MirrorError": "blackbox_repository.errors",
    "SeedNotFoundError": "blackbox_repository.errors",
    "UnknownBlackboxError": "blackbox_repository.errors",
    "read_blackbox": "blackbox_repository.file_format",
    "write_blackbox": "blackbox_repository.file_format",
    "blackbox_names": "blackbox_repository.recipes",
    "convert_blackbox": "blackbox_repository.repository",
    "load_blackbox": "blackbox_repository.repository",
    "TabularBlackbox": "blackbox_repository.tabular",
}

__all__ = [
    "Blackbox",
    "BlackboxError",
    "ChecksumMismatchError",
    "ConfigNotFoundError",
    "ConversionError",
    "CorruptBlackboxError",
    "DownloadError",
    "FidelityNotOnGridError",
    "LearningCurve",
    "MissingDependencyError",
    "Objective",
    "S3MirrorError",
    "SeedNotFoundError",
    "TabularBlackbox",
    "UnknownBlackboxError",
    "blackbox_names",
    "convert_blackbox",
    "load_blackbox",
    "read_blackbox",
    "write_blackbox",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
