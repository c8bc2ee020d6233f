"""Copy a whole catalog from one SQL backend to another, verified (``hakiri catalog copy``).

The source is read in one snapshot transaction, the destination written in one transaction:
every table of ``_schema.metadata`` in dependency order, streamed in primary-key order in
batches, then each table's row count and checksum read back from the destination (still
inside its transaction) and compared with the source's. Anything wrong — a non-empty
destination, a constraint, a mismatch, a killed process — leaves the destination without a
row. docs/catalog.md § Copying a catalog.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    PrimaryKeyConstraint,
    Row,
    String,
    Table,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from hakiri.context.catalog import open_catalog
from hakiri.context.catalog._schema import JsonText, dumps, metadata
from hakiri.context.catalog._sql import SqlCatalog
from hakiri.core.errors import CatalogError, ConfigError
from hakiri.core.failpoints import failpoint
from hakiri.core.plugins import read_only_catalog_url
from hakiri.core.ports import SecretResolver

__all__ = ["BATCH_ROWS", "CopyReport", "TableCopy", "copy_catalog"]

BATCH_ROWS = 5_000
"""Rows read and inserted at a time: no table is ever held in memory whole."""

ALEMBIC_VERSION = "alembic_version"

# Alembic's own definition of its version table, for a destination that has none yet.
_alembic_version = Table(
    ALEMBIC_VERSION,
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


@dataclass(frozen=True, slots=True)
class TableCopy:
    """One copied table: its rows and the checksum both sides agree on."""

    table: str
    rows: int
    checksum: str


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What ``copy_catalog`` copied and verified (the URLs hold no password: the Postgres
    adapter refuses one written into its URL)."""

    source: str
    destination: str
    tables: tuple[TableCopy, ...]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "tables": [
                {"table": t.table, "rows": t.rows, "checksum": t.checksum} for t in self.tables
            ],
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
        }


def copy_catalog(
    src_url: str,
    dst_url: str,
    *,
    batch_rows: int = BATCH_ROWS,
    src_secrets: SecretResolver | None = None,
    dst_secrets: SecretResolver | None = None,
) -> CopyReport:
    """Copy the catalog at ``src_url`` into the empty catalog at ``dst_url`` (created if
    missing), in one destination transaction, verified by row counts and checksums. The
    source is opened read-only (``mode=ro``): copying never writes to it, not even a schema
    upgrade, nor creates it. ``*_secrets`` resolve each URL's ``secret://`` references (a
    project's, when the URL came from one)."""
    started = time.perf_counter()
    source = _open_sql(read_only_catalog_url(src_url), "source", src_secrets)
    try:
        destination = _open_sql(dst_url, "destination", dst_secrets)
        try:
            with source._read() as src, destination._write() as dst:
                copies = _copy_all(src, dst, dst_url, batch_rows)
        finally:
            destination.close()
    finally:
        source.close()
    return CopyReport(src_url, dst_url, copies, time.perf_counter() - started)


def _open_sql(url: str, role: str, secrets: SecretResolver | None) -> SqlCatalog:
    catalog = open_catalog(url, secrets=secrets)
    if isinstance(catalog, SqlCatalog):
        return catalog
    catalog.close()
    raise ConfigError(
        f"cannot copy the {role} catalog {url!r}: only SQL catalogs can be copied",
        hint="give sqlite:///… or postgres://… URLs, or a project directory",
    )


def _copy_all(
    src: Connection, dst: Connection, label: str, batch_rows: int
) -> tuple[TableCopy, ...]:
    _snapshot(src)
    _lock(dst)
    occupied = [t.name for t in metadata.sorted_tables if _has_rows(dst, t)]
    if occupied:
        raise CatalogError(
            f"the destination catalog {label} already holds a project "
            f"(rows in {', '.join(occupied)})",
            hint="copy into an empty database, or remove that catalog first",
        )
    copies = [_copy_table(src, dst, table, batch_rows) for table in metadata.sorted_tables]
    version = _copy_revision(src, dst)
    if version is not None:
        copies.append(version)
    _advance_sequences(dst)
    for copied in copies:
        rows, checksum = _digest(_ordered_rows(dst, copied.table, batch_rows), copied.table)
        if (rows, checksum) != (copied.rows, copied.checksum):
            raise CatalogError(
                f"copy of table {copied.table!r} does not match its source: {rows} rows "
                f"({checksum}) in the destination, {copied.rows} ({copied.checksum}) in the "
                "source; nothing was copied",
                hint="report this as a bug, with both catalogs' backends",
            )
    return tuple(copies)


def _snapshot(src: Connection) -> None:
    """Read every table from one snapshot. SQLite's read transaction (BEGIN at the first
    statement, WAL) is one already; Postgres' default READ COMMITTED is not."""
    if src.dialect.name == "postgresql":
        src.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)


def _lock(dst: Connection) -> None:
    """No one else commits to the destination while it is checked empty and filled.
    SQLite's write transaction (BEGIN IMMEDIATE) holds the database's one write lock."""
    if dst.dialect.name == "postgresql":
        names = ", ".join(
            dst.dialect.identifier_preparer.quote(t.name) for t in metadata.sorted_tables
        )
        dst.exec_driver_sql(f"LOCK TABLE {names} IN EXCLUSIVE MODE")


def _has_rows(conn: Connection, table: Table) -> bool:
    return conn.execute(select(table).limit(1)).first() is not None


def _order(conn: Connection, table: Table) -> list[ColumnElement[Any]]:
    """Primary-key order, the same on every backend: text keys in byte order (SQLite's
    BINARY; Postgres' "C" collation — a database's own collation may sort otherwise)."""
    keys: list[ColumnElement[Any]] = []
    for column in table.primary_key.columns:
        if conn.dialect.name == "postgresql" and isinstance(column.type, String):
            keys.append(column.collate("C"))
        else:
            keys.append(column)
    return keys


def _ordered_rows(
    conn: Connection, table_name: str, batch_rows: int
) -> Iterable[Sequence[Row[Any]]]:
    table = _table(table_name)
    query = select(table).order_by(*_order(conn, table))
    # yield_per streams: a server-side cursor on Postgres, step-by-step fetches on SQLite.
    result = conn.execution_options(yield_per=batch_rows).execute(query)
    return result.partitions()


def _copy_table(src: Connection, dst: Connection, table: Table, batch_rows: int) -> TableCopy:
    digest = _Digest(table)
    for batch in _ordered_rows(src, table.name, batch_rows):
        digest.update(batch)
        dst.execute(insert(table), [dict(row._mapping) for row in batch])
        failpoint("catalog_copy_batch")
    return TableCopy(table.name, digest.rows, digest.hexdigest())


def _digest(batches: Iterable[Sequence[Row[Any]]], table_name: str) -> tuple[int, str]:
    digest = _Digest(_table(table_name))
    for batch in batches:
        digest.update(batch)
    return digest.rows, digest.hexdigest()


class _Digest:
    """sha256 over a table's rows in order, each row a canonical JSON array of its values,
    so the same row hashes the same whichever backend it was read from."""

    def __init__(self, table: Table) -> None:
        self._hash = hashlib.sha256()
        self._json = [isinstance(c.type, JsonText) for c in table.columns]
        self.rows = 0

    def update(self, batch: Sequence[Row[Any]]) -> None:
        for row in batch:
            values = [_canonical(v, is_json) for v, is_json in zip(row, self._json, strict=True)]
            self._hash.update(json.dumps(values, separators=(",", ":")).encode())
            self._hash.update(b"\n")
        self.rows += len(batch)

    def hexdigest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


def _canonical(value: Any, is_json: bool) -> Any:
    if is_json:
        return dumps(value)  # the decoded value, canonically re-encoded
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def _table(name: str) -> Table:
    return metadata.tables[name] if name in metadata.tables else _alembic_version


def _copy_revision(src: Connection, dst: Connection) -> TableCopy | None:
    """Put the destination at the source's Alembic revision. A destination the adapter
    already stamped must be at that revision: its tables were created by this Hakiri."""
    if not inspect(src).has_table(ALEMBIC_VERSION):
        return None
    wanted = _revisions(src)
    if not inspect(dst).has_table(ALEMBIC_VERSION):
        _alembic_version.create(dst)
    present = _revisions(dst)
    if not present:
        dst.execute(insert(_alembic_version), [{"version_num": v} for v in wanted])
    elif present != wanted:
        raise CatalogError(
            f"the source catalog is at schema revision {', '.join(wanted) or 'none'}, the "
            f"destination at {', '.join(present)}; nothing was copied",
            hint="bring the source to this Hakiri's revision first: hakiri catalog upgrade",
        )
    rows, checksum = _digest(_ordered_rows(src, ALEMBIC_VERSION, BATCH_ROWS), ALEMBIC_VERSION)
    return TableCopy(ALEMBIC_VERSION, rows, checksum)


def _revisions(conn: Connection) -> list[str]:
    column = _alembic_version.c.version_num
    return list(conn.execute(select(column).order_by(*_order(conn, _alembic_version))).scalars())


def _advance_sequences(dst: Connection) -> None:
    """Postgres hands out ids from a sequence that explicit inserts do not move: set it past
    the copied ids, or the next commit's file or event would collide with one."""
    if dst.dialect.name != "postgresql":
        return
    quote = dst.dialect.identifier_preparer.quote
    for table in metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        dst.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f"COALESCE((SELECT MAX({quote(column.name)}) FROM {quote(table.name)}), 0) + 1, "
                "false)"
            ),
            {"table": quote(table.name), "column": column.name},
        )
