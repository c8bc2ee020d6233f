"""The SQLite catalog: the local default, ``<store>/catalog.db``.

Durability and concurrency settings, and why:

- WAL journal: readers never block the writer, and the writer never blocks readers.
- ``synchronous = FULL``: WAL with ``NORMAL`` may lose the last commits on power loss; a
  commit that returned must survive, so every commit syncs the WAL.
- ``BEGIN IMMEDIATE`` for write transactions: two writers serialize at BEGIN instead of
  failing half-way with ``SQLITE_BUSY`` on lock upgrade; ``busy_timeout`` lets the second
  wait up to 10 s.
- foreign keys on: the schema's references are enforced, not decorative.

A read-only catalog (``?mode=ro``: queries, ``pipeline list/describe``, ``plan``, the agent's
read tools) writes nothing, not even to bring an older catalog's schema up to date: columns
and tables an older Hakiri did not write are supplied by TEMP views on the connection, which
live in memory. SQLite in WAL mode makes a ``mode=ro`` reader create ``catalog.db-wal`` and
``-shm`` and cannot delete them when it closes; so when the reader created them, closing it
opens one ``query_only`` connection that reads and closes, and SQLite's own last-connection
logic checkpoints and removes them — only if no one else has the database open (a running
writer keeps its files), and a checkpoint never changes what the catalog holds.

The schema is managed by the revisions of ``catalog.migrations``: a writable open brings an
older catalog to the head revision (and adopts one written before revisions existed), a
catalog at a revision this Hakiri does not know — written by a newer one — is refused on
every open, before anything is written, not even the switch to WAL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import URL, Column, Connection, Table, create_engine, event, text

from hakiri.context.catalog._direct import Direct
from hakiri.context.catalog._schema import metadata, sql_literal
from hakiri.context.catalog._sql import SqlCatalog, database_errors
from hakiri.context.catalog.migrations import (
    HEAD,
    SchemaStatus,
    schema_status,
    stored_revision,
    upgrade_schema,
)
from hakiri.core.errors import CatalogError, ConfigError
from hakiri.core.ports import Clock

__all__ = ["BUSY_TIMEOUT_MS", "SqliteCatalog", "open_sqlite_catalog", "parse_sqlite_url"]

BUSY_TIMEOUT_MS = 10_000

_IMMEDIATE = "hakiri_begin_immediate"
_SIDECARS = ("-wal", "-shm")


class SqliteCatalog(SqlCatalog):
    """The catalog in one SQLite file.

    ``read_only`` opens an existing file without writing anything to it (no schema
    creation, no journal-mode change): what queries use. Write methods then fail with
    ``CatalogError``. ``clock`` is the catalog's time, by which a commit's lease is judged
    expired (the wall clock by default).
    """

    def __init__(
        self, path: Path | str, *, read_only: bool = False, clock: Clock | None = None
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._sidecars_before: set[Path] = set()
        if read_only:
            if not self.path.is_file():
                raise CatalogError(f"no catalog at {self.path}")
            self._sidecars_before = _sidecars(self.path)
            url = URL.create(
                "sqlite",
                database="file:" + quote(str(self.path.resolve())),
                query={"mode": "ro", "uri": "true"},
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            url = URL.create("sqlite", database=str(self.path))
        engine = create_engine(url)
        event.listen(engine, "connect", _pragmas(read_only=read_only))
        event.listen(engine, "begin", _begin)
        writer = engine.execution_options(**{_IMMEDIATE: True})
        super().__init__(engine, writer=writer, clock=clock)
        try:
            if read_only:
                self._check_schema()
            else:
                self._create_schema()
        except BaseException:
            self.close()
            raise

    def _check_schema(self) -> SchemaStatus | None:
        """None when the catalog is at the head revision (read without loading Alembic);
        else its status. ``CatalogError`` for a catalog newer than this Hakiri."""
        with self._read() as conn:
            if stored_revision(conn) == HEAD:
                return None
            return schema_status(conn, where=str(self.path))

    def _create_schema(self) -> None:
        # Look before taking the write lock: opening an existing catalog (every command
        # does) must not wait behind a long commit. And before the switch to WAL, which
        # writes to the file: a newer catalog is refused as it was found.
        status = self._check_schema()
        self._use_wal()
        if status is None or status.up_to_date:
            return
        # Looks again under the write lock, in case another process upgraded it meanwhile.
        self.upgrade_schema()

    def _use_wal(self) -> None:
        # The journal mode can change only outside a transaction, and SQLAlchemy opens one
        # for every statement: set it on the driver's connection. It is stored in the file,
        # so every later connection (this process's or another's) uses WAL too.
        with database_errors():
            raw = self._engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA journal_mode = WAL")  # type: ignore[union-attr]
        except sqlite3.Error as exc:  # locked past busy_timeout, disk full, read-only file…
            raise CatalogError(f"catalog database error: {exc}") from exc
        finally:
            raw.close()

    def schema_status(self) -> SchemaStatus:
        """The catalog's schema revision against this Hakiri's; reads only."""
        with self._read() as conn:
            return schema_status(conn, where=str(self.path))

    def upgrade_schema(self) -> SchemaStatus:
        """Apply the pending schema revisions in one write transaction; the status found."""
        with self._write() as conn:
            return upgrade_schema(conn, where=str(self.path))

    def close(self) -> None:
        super().close()
        if self.read_only and _sidecars(self.path) - self._sidecars_before:
            _remove_sidecars(self.path)

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"SqliteCatalog({str(self.path)!r}{mode})"


def _sidecars(path: Path) -> set[Path]:
    """The WAL files of the database at ``path`` that exist now."""
    return {p for p in (path.with_name(path.name + s) for s in _SIDECARS) if p.exists()}


def _remove_sidecars(path: Path) -> None:
    """Let SQLite remove the WAL files a read-only connection left, if no one else has the
    database open: the last connection to close checkpoints the WAL and deletes both."""
    uri = "file:" + quote(str(path.resolve())) + "?mode=rw"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=1.0)
    except sqlite3.Error:
        return  # gone, or not writable here: the files stay, which is harmless
    try:
        con.execute("PRAGMA query_only = ON")
        # A connection only takes part in the WAL once it has read; then its close counts.
        con.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.Error:
        pass
    finally:
        con.close()


def _older_schema_views(dbapi_connection: Any) -> None:
    """On a read-only connection to a catalog an older Hakiri wrote, TEMP views (searched
    before the file's own tables) add the columns and tables it lacks, with their defaults:
    reading needs no upgrade, and the file stays as it is."""
    cursor = dbapi_connection.cursor()
    try:
        for table in metadata.sorted_tables:
            rows = cursor.execute(f'PRAGMA main.table_info("{table.name}")').fetchall()
            present = {row[1] for row in rows}
            if present and all(column.name in present for column in table.columns):
                continue
            cursor.execute("PRAGMA temp_store = MEMORY")
            cursor.execute(f'CREATE TEMP VIEW "{table.name}" AS {_view_sql(table, present)}')
    finally:
        cursor.close()


def _view_sql(table: Table, present: set[str]) -> str:
    columns = ", ".join(
        f'o."{c.name}"' if c.name in present else f'{_default_sql(c)} AS "{c.name}"'
        for c in table.columns
    )
    if not present:  # the whole table is newer than the catalog: an empty one
        return f"SELECT {columns} WHERE 0"
    return f'SELECT {columns} FROM main."{table.name}" AS o'


def _default_sql(column: Column[Any]) -> str:
    default = column.default
    if default is not None and default.is_scalar:
        return sql_literal(default.arg)  # type: ignore[attr-defined]
    return "NULL"


def _pragmas(*, read_only: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event (below): pysqlite's own
        # implicit BEGIN is always DEFERRED and skips DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()
        if read_only:
            _older_schema_views(dbapi_connection)

    return on_connect


# On the DBAPI cursor (``_direct``): every commit begins, so it costs no more than it must.
_BEGIN = Direct(text("BEGIN"))
_BEGIN_IMMEDIATE = Direct(text("BEGIN IMMEDIATE"))


def _begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    (_BEGIN_IMMEDIATE if immediate else _BEGIN).rowcount(conn, {})


def parse_sqlite_url(url: str) -> tuple[Path, bool]:
    """``(path, read_only)`` of ``sqlite:////abs/catalog.db`` (or ``sqlite:///rel.db``).

    ``?mode=ro`` opens read-only. The path is taken literally (not percent-decoded), as
    ``Project.catalog_url`` writes it.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0].lower() != "sqlite":
        raise ConfigError(f"not a SQLite catalog URL: {url!r}")
    read_only = False
    head, qmark, query = rest.rpartition("?")
    if qmark and query in ("mode=ro", "mode=rw", "mode=rwc"):
        rest, read_only = head, query == "mode=ro"
    path = rest[1:] if rest.startswith("/") else ""
    if not path or path == ":memory:":
        raise ConfigError(
            f"SQLite catalog URL {url!r} names no file",
            hint="use sqlite:////absolute/path/catalog.db, or memory:// for a throwaway catalog",
        )
    return Path(path), read_only


def open_sqlite_catalog(url: str) -> SqliteCatalog:
    """The ``hakiri.catalogs`` entry point for ``sqlite://`` URLs; creates the file, its
    directory and the schema on first open (unless ``?mode=ro``)."""
    path, read_only = parse_sqlite_url(url)
    return SqliteCatalog(path, read_only=read_only)
