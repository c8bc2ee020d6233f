"""The postgres connector: a PostgreSQL table, view or query as a source.

``connector`` is the ``hakiri.connectors`` entry point. Importing this package loads the
config model only; psycopg (the ``postgres`` extra) and pyarrow load when a source is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakiri.connectors._factory import SourceConnector
from hakiri.connectors.postgres.config import PostgresSourceConfig

if TYPE_CHECKING:
    from hakiri.connectors.postgres.source import PostgresSource

__all__ = ["PostgresSourceConfig", "connector"]

connector: SourceConnector[PostgresSourceConfig, PostgresSource] = SourceConnector(
    name="postgres",
    description=(
        "A PostgreSQL table, view or SELECT: keyset pages, incremental on a growing column, "
        "types mapped to Arrow from the catalog."
    ),
    model=PostgresSourceConfig,
    source="hakiri.connectors.postgres.source:PostgresSource",
)
