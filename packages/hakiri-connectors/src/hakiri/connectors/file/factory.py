"""The ``file`` entry point (see ``hakiri.connectors._factory``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakiri.connectors._factory import SourceConnector
from hakiri.connectors.file.config import FileSourceConfig
from hakiri.core.ports import Host, Source

if TYPE_CHECKING:
    from hakiri.connectors.file.source import FileSource

__all__ = ["connector"]


def _build(config: FileSourceConfig, host: Host) -> FileSource:
    from hakiri.connectors.file.source import FileSource

    return FileSource(config, host)


connector = SourceConnector(
    name="file",
    description=(
        "Local CSV, JSON Lines, JSON or Parquet files (a path or a glob), one page per file, "
        "incremental by content hash."
    ),
    model=FileSourceConfig,
    build=_build,
)

if TYPE_CHECKING:  # the type checker proves the source honours the port

    def _is_source(source: FileSource) -> Source:
        return source
