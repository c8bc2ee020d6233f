"""The ``postgres`` entry point: validates options, checks secrets, builds a source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from hakiri.connectors._options import validate_options
from hakiri.connectors.postgres.config import PostgresSourceConfig
from hakiri.core.ports import ConnectorFactory, Host, Source
from hakiri.core.secrets import find_secret_refs

if TYPE_CHECKING:
    from hakiri.connectors.postgres.source import PostgresSource

__all__ = ["PostgresConnector", "connector"]


class PostgresConnector:
    """Factory of postgres sources (a ``hakiri.core.ports.ConnectorFactory``)."""

    name: str = "postgres"
    kind: Literal["source", "destination"] = "source"
    description: str = (
        "A PostgreSQL table, view or SELECT: keyset pages, incremental on a growing column, "
        "types mapped to Arrow from the catalog."
    )

    @property
    def config_model(self) -> type[PostgresSourceConfig]:
        return PostgresSourceConfig

    def create(self, options: Mapping[str, Any], host: Host) -> PostgresSource:
        """A ``PostgresSource`` for ``options``; no connection is made yet.

        Raises ``ConfigError`` for invalid options and ``SecretError`` when a referenced
        secret is not set.
        """
        config = validate_options(PostgresSourceConfig, options, self.name)
        for name in find_secret_refs(config.model_dump(mode="json")):
            host.secrets.resolve(name)  # the value is dropped: only its existence matters
        # Imported here so that loading the entry point stays cheap (psycopg and pyarrow
        # load when a source is built and used).
        from hakiri.connectors.postgres.source import PostgresSource

        return PostgresSource(config, host)


connector = PostgresConnector()

if TYPE_CHECKING:  # the type checker proves both sides of the port are honoured
    _factory: ConnectorFactory = connector

    def _is_source(source: PostgresSource) -> Source:
        return source
