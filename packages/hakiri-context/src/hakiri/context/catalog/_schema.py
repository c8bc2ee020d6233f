"""The catalog's tables, as SQLAlchemy Core metadata.

Portable DDL only: the same metadata serves SQLite now and Postgres later. Datetimes go
through ``UtcDateTime`` (ISO-8601 text on SQLite, ``timestamptz`` elsewhere) and JSON
through ``JsonText`` (plain text), so no backend-specific column type leaks into the
catalog's behaviour.

The tables here are what the code reads and writes; the database gets them from the
revisions in ``migrations/``. A change here needs a revision that makes the same change
(test_catalog_migrations.py compares the two).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "JsonText",
    "UtcDateTime",
    "dumps",
    "metadata",
    "sql_literal",
]


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no datetime type and its driver hands back naive values, so there we store
    fixed-width ISO-8601 text (which also sorts correctly); other backends get
    ``TIMESTAMP WITH TIME ZONE``. Naive datetimes are refused: the catalog cannot guess
    their zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"the catalog stores timezone-aware datetimes only, got {value!r}")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.isoformat(timespec="microseconds")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(parsed, datetime)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


class JsonText(TypeDecorator[Any]):
    """A JSON value stored as text, so JSON ``null`` and SQL ``NULL`` never get confused."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str:
        return dumps(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


def dumps(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, no NaN (Postgres JSON refuses it)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


# Autoincrement ids: BIGINT where the backend has it, but SQLite only autoincrements a
# column declared exactly INTEGER PRIMARY KEY.
_Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

cursors = Table(
    "cursors",
    metadata,
    Column("pipeline", String(128), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("value", JsonText, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(128), primary_key=True),
    Column("pipeline", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("trigger", String(64), nullable=False),
    Column("pid", BigInteger, nullable=True),
    Column("host", String(255), nullable=True),
    Column("rows", BigInteger, nullable=False, default=0),
    Column("pages", BigInteger, nullable=False, default=0),
    Column("files", BigInteger, nullable=False, default=0),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("resumed_from", String(128), nullable=True),
    Index("ix_runs_pipeline_started_at", "pipeline", "started_at"),
)

run_steps = Table(
    "run_steps",
    metadata,
    Column("run_id", String(128), ForeignKey("runs.run_id"), nullable=False),
    Column("key", String(255), nullable=False),
    # Recording order within the run: created_at can tie (one clock reading for a pull and
    # its commit) and key order is not recording order ("commit:0" < "pull:0").
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
)

tables = Table(
    "tables",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("pipeline", String(128), nullable=False),
    Column("write", String(16), nullable=False),
    Column("generation", BigInteger, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("primary_key", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("schema_policy", String(16), nullable=False, default="evolve"),
)

files = Table(
    "files",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("table_name", String(128), ForeignKey("tables.name"), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("checksum", String(80), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("generation", BigInteger, nullable=False),
    Column("run_id", String(128), ForeignKey("runs.run_id"), nullable=False),
    Column("committed_at", UtcDateTime, nullable=False),
    UniqueConstraint("path", name="uq_files_path"),
    Index("ix_files_table_generation", "table_name", "generation"),
)

schema_versions = Table(
    "schema_versions",
    metadata,
    Column("table_name", String(128), ForeignKey("tables.name"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("schema", JsonText, nullable=False),
    Column("run_id", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("table_name", "version"),
)

events = Table(
    "events",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("table_name", String(128), nullable=True),
    Column("kind", String(64), nullable=False),
    Column("payload", JsonText, nullable=False),
    Column("run_id", String(128), nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_events_table_name", "table_name", "id"),
)


fences = Table(
    "fences",
    metadata,
    # The newest fencing token the catalog has seen per lease key (docs/run-protocol.md).
    Column("pipeline", String(128), nullable=False),
    # "" for a lease on the whole pipeline: a key column cannot be NULL everywhere, and a
    # lease's shard is never "".
    Column("shard", String(255), nullable=False),
    Column("token", BigInteger, nullable=False),
    Column("holder", String(255), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("pipeline", "shard"),
)


def sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
