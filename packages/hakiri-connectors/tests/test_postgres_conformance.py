"""The postgres source passes the connector conformance suite against a real server."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from hakiri.connectors.testing import SourceConformance, SourceHarness
from hakiri.testing.postgres import PostgresDatabase

_SECRET = "PG_CONFORMANCE_DSN"


class PostgresHarness(SourceHarness):
    """Rows live in table ``items`` (primary key ``id``); the DSN is passed as a secret."""

    connector = "postgres"

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    def env(self) -> dict[str, str]:
        return {_SECRET: self.database.url}

    def _insert(self, con: psycopg.Connection[Any], rows: list[dict[str, Any]]) -> None:
        with con.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO items (id, name, score, updated_at) VALUES (%s, %s, %s, %s)",
                [(r["id"], r["name"], r["score"], r["updated_at"]) for r in rows],
            )

    def seed(self, rows: list[dict[str, Any]], *, page_rows: int) -> dict[str, Any]:
        with psycopg.connect(self.database.url, autocommit=True) as con:
            con.execute(
                "DROP TABLE IF EXISTS items; CREATE TABLE items (id bigint PRIMARY KEY, "
                "name text NOT NULL, score integer, updated_at timestamptz NOT NULL)"
            )
            self._insert(con, rows)
        return {
            "dsn": f"secret://{_SECRET}",
            "table": "public.items",
            "incremental_column": "updated_at",
            "batch_rows": page_rows,
        }

    def add(self, rows: list[dict[str, Any]]) -> None:
        with psycopg.connect(self.database.url, autocommit=True) as con:
            self._insert(con, rows)

    def bad_options(self) -> list[dict[str, Any]]:
        return [
            {"table": "items"},  # nowhere to connect
            {"dsn": f"secret://{_SECRET}"},  # nothing to read
            {"dsn": f"secret://{_SECRET}", "query": "UPDATE items SET score = 0"},
            {"dsn": f"secret://{_SECRET}", "table": "items", "batch_rows": -1},
            {"host": "127.0.0.1", "password": "plain-text", "table": "items"},
        ]


class TestPostgresConformance(SourceConformance):
    @pytest.fixture
    def harness(self, postgres_db: PostgresDatabase) -> SourceHarness:
        return PostgresHarness(postgres_db)
