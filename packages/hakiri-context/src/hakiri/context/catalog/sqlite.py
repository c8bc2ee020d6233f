"""The SQLite catalog: the local default, ``<store>/catalog.db``.

Durability and concurrency settings, and why:

- WAL journal: readers never block the writer, and the writer never blocks readers.
- ``synchronous = FULL``: WAL with ``NORMAL`` may lose the last commits on power loss; a
  commit that returned must survive, so every commit syncs the WAL.
- ``BEGIN IMMEDIATE`` for write transactions: two writers serialize at BEGIN instead of
  failing half-way with ``SQLITE_BUSY`` on lock upgrade; ``busy_timeout`` lets the second
  wait up to 10 s.
- foreign keys on: the schema's references are enforced, not decorative.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import URL, Connection, create_engine, event, inspect

from hakiri.context.catalog._schema import add_columns, metadata, missing_columns
from hakiri.context.catalog._sql import SqlCatalog
from hakiri.core.errors import CatalogError, ConfigError

__all__ = ["BUSY_TIMEOUT_MS", "SqliteCatalog", "open_sqlite_catalog", "parse_sqlite_url"]

BUSY_TIMEOUT_MS = 10_000

_IMMEDIATE = "hakiri_begin_immediate"


class SqliteCatalog(SqlCatalog):
    """The catalog in one SQLite file.

    ``read_only`` opens an existing file without writing anything to it (no schema
    creation, no journal-mode change): what queries use. Write methods then fail with
    ``CatalogError``.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only:
            if not self.path.is_file():
                raise CatalogError(f"no catalog at {self.path}")
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
        super().__init__(engine, writer=engine.execution_options(**{_IMMEDIATE: True}))
        if not read_only:
            try:
                self._create_schema()
            except BaseException:
                engine.dispose()
                raise

    def _create_schema(self) -> None:
        # Look before taking the write lock: opening an existing catalog (every command
        # does) must not wait behind a long commit.
        with self._read() as conn:
            existing = set(inspect(conn).get_table_names())
            missing = missing_columns(conn) if set(metadata.tables) <= existing else None
        if missing is None:
            with self._write() as conn:
                metadata.create_all(conn)
        elif missing:
            with self._write() as conn:
                add_columns(conn, missing)

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"SqliteCatalog({str(self.path)!r}{mode})"


def _pragmas(*, read_only: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event (below): pysqlite's own
        # implicit BEGIN is always DEFERRED and skips DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not read_only:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    return on_connect


def _begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


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
