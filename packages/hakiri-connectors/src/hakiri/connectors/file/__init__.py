"""The file connector: local CSV, JSON Lines, JSON and Parquet files as a source.

``connector`` is the ``hakiri.connectors`` entry point. Importing this package loads the
config model only; pyarrow is imported when files are read. ``formats`` (the readers) and
``tracking`` (incremental reading by file) are shared with the s3 connector.
"""

from hakiri.connectors.file.config import CsvOptions, FileSourceConfig, FormatSettings, JsonOptions
from hakiri.connectors.file.factory import connector

__all__ = [
    "CsvOptions",
    "FileSourceConfig",
    "FormatSettings",
    "JsonOptions",
    "connector",
]
