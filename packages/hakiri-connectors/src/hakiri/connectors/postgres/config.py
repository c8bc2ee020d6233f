"""Options of the postgres source. The JSON Schema of ``PostgresSourceConfig`` is its spec."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hakiri.core.secrets import SECRET_REF

__all__ = ["PostgresSourceConfig", "parse_table_name", "query_is_select"]

_IDENT_PART = r'(?:"(?:[^"]|"")+"|[^".\s]+)'
_TABLE = re.compile(rf"\s*({_IDENT_PART})(?:\s*\.\s*({_IDENT_PART}))?\s*")
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_READING = ("select", "with", "values", "table")


def _unquote(part: str) -> str:
    if part.startswith('"'):
        return part[1:-1].replace('""', '"')
    # Unquoted identifiers fold to lower case in PostgreSQL.
    return part.lower()


def parse_table_name(text: str) -> tuple[str, str]:
    """``schema.table`` (or ``table``, in ``public``) as (schema, table); quoted parts keep
    their case and may hold dots. Raises ``ValueError`` for anything else."""
    match = _TABLE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a table name (expected 'schema.table' or 'table')")
    first, second = match.group(1), match.group(2)
    if second is None:
        return "public", _unquote(first)
    return _unquote(first), _unquote(second)


def query_is_select(query: str) -> bool:
    """Whether ``query`` is one read-only statement (SELECT, WITH, VALUES, TABLE).

    A first guard only: the source also wraps the query as a subquery (where PostgreSQL
    refuses INSERT/UPDATE/DELETE) and reads in a read-only transaction.
    """
    text = _COMMENTS.sub(" ", query).strip().rstrip(";").strip()
    if not text or ";" in text:
        return False
    first = re.split(r"[\s(]", text, maxsplit=1)[0].lower()
    return first in _READING


class PostgresSourceConfig(BaseModel):
    """A PostgreSQL table, view or query, read in keyset pages, optionally incremental.

    ``dsn`` may be, or contain, ``secret://NAME`` references; ``password`` must be one. They
    are resolved when the source connects and never stored or printed.
    """

    model_config = ConfigDict(extra="forbid", title="postgres source")

    dsn: str | None = Field(
        default=None,
        description="Connection string: a URL (postgresql://user@host:5432/db) or key=value "
        "pairs; may be or contain secret://NAME, e.g. dsn = 'secret://PG_DSN'.",
    )
    host: str | None = Field(default=None, description="Server host (instead of dsn).")
    port: int = Field(default=5432, ge=1, le=65535, description="Server port.")
    user: str | None = Field(default=None, description="User name.")
    password: str | None = Field(
        default=None, description="A secret://NAME reference to the password (never a literal)."
    )
    dbname: str | None = Field(default=None, description="Database name.")
    sslmode: str | None = Field(
        default=None, description="libpq sslmode (disable, prefer, require, verify-full, …)."
    )
    table: str | None = Field(
        default=None,
        description="Table or view to read: 'schema.table' or 'table' (schema public).",
    )
    query: str | None = Field(
        default=None, description="A SELECT to read instead of a table (one statement)."
    )
    columns: list[str] | None = Field(
        default=None, min_length=1, description="Columns to keep (default: all)."
    )
    incremental_column: str | None = Field(
        default=None,
        description="A column that only grows (integer id, serial, date, timestamp, "
        "timestamptz): each run reads rows above the committed cursor.",
    )
    key_columns: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Columns that identify a row, for keyset pages (default: the table's "
        "primary key). A view or query without them is streamed.",
    )
    batch_rows: int = Field(
        default=50_000, ge=1, le=5_000_000, description="Rows per page (one query each)."
    )
    stream: str | None = Field(
        default=None, description="Stream name (default: the table's name, or 'query')."
    )
    schemas: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Schemas whose tables and views discover() lists (default: the "
        "table's schema, else public).",
    )
    connect_timeout: int = Field(
        default=10, ge=1, le=600, description="Seconds to wait for a connection."
    )

    @field_validator("password")
    @classmethod
    def _password_is_a_reference(cls, value: str | None) -> str | None:
        if value is not None and not SECRET_REF.fullmatch(value):
            raise ValueError("must be a secret://NAME reference, never the password itself")
        return value

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None:
            parse_table_name(value)
        return value

    @field_validator("query")
    @classmethod
    def _select_only(cls, value: str | None) -> str | None:
        if value is not None and not query_is_select(value):
            raise ValueError("must be one SELECT (or WITH … SELECT) statement; it is only read")
        return value

    @field_validator("columns", "key_columns")
    @classmethod
    def _distinct_names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if any(not name.strip() for name in value):
                raise ValueError("column names must not be empty")
            if len(set(value)) != len(value):
                raise ValueError("a column is named twice")
        return value

    @model_validator(mode="after")
    def _one_endpoint_one_relation(self) -> PostgresSourceConfig:
        if (self.dsn is None) == (self.host is None):
            raise ValueError("set either dsn or host (with user, dbname, password)")
        if self.dsn is not None and any(
            v is not None for v in (self.user, self.password, self.dbname, self.sslmode)
        ):
            raise ValueError("user, password, dbname and sslmode go inside dsn when dsn is set")
        if (self.table is None) == (self.query is None):
            raise ValueError("set exactly one of table or query")
        return self

    @property
    def relation(self) -> tuple[str, str] | None:
        """(schema, table) of ``table``, or None for a query."""
        return parse_table_name(self.table) if self.table is not None else None
