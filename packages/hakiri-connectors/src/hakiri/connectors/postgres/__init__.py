"""The postgres connector: a PostgreSQL table, view or query as a source.

``connector`` is the ``hakiri.connectors`` entry point. Importing this package loads the
config model only; psycopg (the ``postgres`` extra) and pyarrow load when a source is used.
"""

from hakiri.connectors.postgres.config import PostgresSourceConfig
from hakiri.connectors.postgres.factory import connector

__all__ = ["PostgresSourceConfig", "connector"]
