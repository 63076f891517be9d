"""simtune's blackbox repository: benchmarks in one Parquet format, cached and mirrored.

Example:
    >>> from blackbox_repository import load_blackbox
    >>> bb = load_blackbox("sklearn-mlp-digits")
    >>> sorted(bb.lookup(bb.configuration(0), fidelity=bb.max_fidelity))[:2]
    ['elapsed_time', 'test_error']
"""

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
