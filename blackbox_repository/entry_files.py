"""File names of a blackbox entry on disk, without the readers and writers that need them.

Kept apart from :mod:`blackbox_repository.file_format` (which imports pyarrow and
ConfigSpace) so that light code, such as the cache's listing behind ``simtune blackbox
list``, can name the files without importing the heavy ones.
"""

METADATA_FILE = "metadata.json"
CONFIGURATIONS_FILE = "configurations.parquet"
OBJECTIVES_FILE = "objectives.parquet"
