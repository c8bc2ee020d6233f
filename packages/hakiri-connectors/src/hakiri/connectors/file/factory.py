"""The ``file`` entry point: validates options, builds a ``FileSource`` (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from hakiri.connectors._options import validate_options
from hakiri.connectors.file.config import FileSourceConfig
from hakiri.core.ports import ConnectorFactory, Host, Source

if TYPE_CHECKING:
    from hakiri.connectors.file.source import FileSource

__all__ = ["FileConnector", "connector"]


class FileConnector:
    """Factory of file sources (a ``hakiri.core.ports.ConnectorFactory``)."""

    name: str = "file"
    kind: Literal["source", "destination"] = "source"
    description: str = (
        "Local CSV, JSON Lines, JSON or Parquet files (a path or a glob), one page per file, "
        "incremental by content hash."
    )

    @property
    def config_model(self) -> type[FileSourceConfig]:
        return FileSourceConfig

    def create(self, options: Mapping[str, Any], host: Host) -> FileSource:
        """A ``FileSource`` for ``options``; raises ``ConfigError`` for invalid options.
        Nothing is opened until the source plans, reads or discovers."""
        config = validate_options(FileSourceConfig, options, self.name)
        from hakiri.connectors.file.source import FileSource

        return FileSource(config, host)


connector = FileConnector()

if TYPE_CHECKING:  # the type checker proves both sides of the port are honoured
    _factory: ConnectorFactory = connector

    def _is_source(source: FileSource) -> Source:
        return source
