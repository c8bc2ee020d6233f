"""The ``postgres`` entry point (see ``hakiri.connectors._factory``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakiri.connectors._factory import SourceConnector
from hakiri.connectors.postgres.config import PostgresSourceConfig
from hakiri.core.ports import Host, Source

if TYPE_CHECKING:
    from hakiri.connectors.postgres.source import PostgresSource

__all__ = ["connector"]


def _build(config: PostgresSourceConfig, host: Host) -> PostgresSource:
    from hakiri.connectors.postgres.source import PostgresSource

    return PostgresSource(config, host)


connector = SourceConnector(
    name="postgres",
    description=(
        "A PostgreSQL table, view or SELECT: keyset pages, incremental on a growing column, "
        "types mapped to Arrow from the catalog."
    ),
    model=PostgresSourceConfig,
    build=_build,
)

if TYPE_CHECKING:  # the type checker proves the source honours the port

    def _is_source(source: PostgresSource) -> Source:
        return source
