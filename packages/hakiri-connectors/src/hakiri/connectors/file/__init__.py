"""The file connector: local CSV, JSON Lines, JSON and Parquet files as a source.

``connector`` is the ``hakiri.connectors`` entry point. Importing this package loads the
config model only; pyarrow is imported when files are read. ``formats`` (the readers) and
``tracking`` (incremental reading by file) are shared with the s3 connector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakiri.connectors._factory import SourceConnector
from hakiri.connectors.file.config import CsvOptions, FileSourceConfig, FormatSettings, JsonOptions

if TYPE_CHECKING:
    from hakiri.connectors.file.source import FileSource

__all__ = [
    "CsvOptions",
    "FileSourceConfig",
    "FormatSettings",
    "JsonOptions",
    "connector",
]

connector: SourceConnector[FileSourceConfig, FileSource] = SourceConnector(
    name="file",
    description=(
        "Local CSV, JSON Lines, JSON or Parquet files (a path or a glob), one page per file, "
        "incremental by content hash."
    ),
    model=FileSourceConfig,
    source="hakiri.connectors.file.source:FileSource",
)
