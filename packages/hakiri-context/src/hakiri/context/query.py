"""The query layer: DuckDB over the committed files, read-only, bounded in rows and time.

``open_connection`` builds an in-memory DuckDB with one view per catalog table, then locks
it down — file access limited to the committed files, no extension loading, the
configuration frozen — and ``QueryConnection.run_query`` admits one read-only statement
(see ``_gate``), streams at most ``limit`` rows and cancels the query at ``timeout``.

An agent's SQL can read the context and nothing else. What a view shows is fixed when the
connection is opened; open a new one (``ContextStore.refresh``) to see later commits.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hakiri.context._duckdb import import_duckdb, import_polars
from hakiri.context._gate import admit
from hakiri.context._views import create_views, first_line, literal
from hakiri.context.errors import QuerySyntaxError, UnknownName
from hakiri.core.closing import Closing
from hakiri.core.errors import HakiriError, QueryError, QueryRefused, QueryTimeout, StoreError

if TYPE_CHECKING:
    import duckdb
    import polars
    import pyarrow as pa

    from hakiri.core.ports import Catalog

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_TIMEOUT",
    "QueryConnection",
    "QueryResult",
    "open_connection",
]

DEFAULT_LIMIT = 1000
DEFAULT_TIMEOUT = 30.0

# Settings that must hold before anything runs (some DuckDB accepts only at startup).
_STARTUP: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    # Python variables are not tables here.
    "python_enable_replacements": False,
    # No spill files: an in-memory database would spill into ./.tmp of whatever directory
    # the process runs in, and that directory would become readable too.
    "temp_directory": "",
}

_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist")


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The rows of a query (at most ``limit``), whether more existed, and how long it took."""

    table: pa.Table
    truncated: bool
    elapsed: float
    """Seconds, for display only."""

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    def to_pylist(self) -> list[dict[str, Any]]:
        """The rows as dicts, column name → Python value."""
        return self.table.to_pylist()

    def to_polars(self) -> polars.DataFrame:
        """The rows as a Polars DataFrame (needs the ``polars`` extra)."""
        frame: polars.DataFrame = import_polars().from_arrow(self.table)
        return frame


class QueryConnection(Closing):
    """A locked-down DuckDB connection over a store's committed files."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        store_root: Path,
        tables: list[str],
        problems: dict[str, str],
    ) -> None:
        self._con = con
        self._lock = threading.Lock()
        self.store_root = store_root
        self.tables = tables
        """Tables queries can read."""
        self.problems = problems
        """Tables that cannot be read, with the reason (a published file is missing…)."""

    def run_query(
        self,
        sql: str,
        *,
        limit: int | None = DEFAULT_LIMIT,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> QueryResult:
        """Run one read-only SELECT; return at most ``limit`` rows (None: all of them).

        Raises ``QueryRefused`` for anything but a single SELECT / EXPLAIN and for reads
        outside the store, ``QueryTimeout`` when ``timeout`` seconds pass, and another
        ``QueryError`` for what DuckDB rejects.
        """
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0 (or None for no limit)")
        ddb = import_duckdb()
        import pyarrow as pa

        started = time.perf_counter()
        # A cursor per query: its interrupt() cancels only this query, and queries from
        # several threads do not share a result.
        with self._lock:
            cursor = self._con.cursor()
        try:
            with _Deadline(cursor, timeout) as deadline:
                try:
                    statement = admit(cursor, sql)
                    table, truncated = _fetch(cursor.sql(statement), limit)
                except (ddb.Error, pa.ArrowException, OSError) as exc:
                    if deadline.fired:
                        raise QueryTimeout(
                            f"query cancelled after {timeout} s",
                            hint="narrow the query or raise the timeout "
                            "(--timeout; `timeout` over MCP/HTTP)",
                        ) from None
                    raise self._translate(exc) from None
        finally:
            cursor.close()
        return QueryResult(table, truncated, time.perf_counter() - started)

    def relation(self, sql: str) -> duckdb.DuckDBPyRelation:
        """A lazy DuckDB relation for one read-only SELECT, for notebooks.

        The SQL passes the same gate as ``run_query``; no row limit or timeout applies.
        """
        ddb = import_duckdb()
        try:
            with self._lock:
                statement = admit(self._con, sql)
                relation: duckdb.DuckDBPyRelation = self._con.sql(statement)
        except ddb.Error as exc:
            raise self._translate(exc) from None
        return relation

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def _translate(self, exc: BaseException) -> HakiriError:
        ddb = import_duckdb()
        message = first_line(exc)
        if isinstance(exc, ddb.PermissionException) or "Permission Error" in message:
            return QueryRefused(f"queries can only read the context store ({message})")
        if isinstance(exc, ddb.ParserException | ddb.SyntaxException):
            return QuerySyntaxError(message)
        missing = _MISSING_TABLE.search(message)
        if missing and missing.group(1).strip('"') in self.problems:
            name = missing.group(1).strip('"')
            return StoreError(
                f"table {name!r} cannot be read: {self.problems[name]}",
                hint="a file the catalog lists is missing or damaged; restore the store's files",
            )
        if isinstance(exc, ddb.CatalogException):
            known = ", ".join(self.tables) or "none yet"
            return UnknownName(message, hint=f"tables in the store: {known}")
        if isinstance(exc, ddb.BinderException) and "not found" in message:
            return UnknownName(message, hint="list a table's columns with: DESCRIBE <table>")
        return QueryError(message)


class _Deadline:
    """Interrupts a connection's running query when ``timeout`` seconds pass.

    The lock makes sure no interrupt lands after the guarded block has ended, where it
    could hit the connection's next query.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, timeout: float | None) -> None:
        self._con = con
        self._lock = threading.Lock()
        self._active = True
        self.fired = False
        self._timer = None if timeout is None else threading.Timer(timeout, self._fire)
        if self._timer is not None:
            self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._active = False
        if self._timer is not None:
            self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if self._active:
                self.fired = True
                self._con.interrupt()


def _fetch(relation: duckdb.DuckDBPyRelation | None, limit: int | None) -> tuple[pa.Table, bool]:
    """Stream the result, stopping after ``limit`` rows plus one (to know if there is more)."""
    import pyarrow as pa

    if relation is None:
        return pa.table({}), False
    batch_size = 131_072 if limit is None else min(max(limit + 1, 2048), 131_072)
    reader = relation.to_arrow_reader(batch_size)
    try:
        if limit is None:
            return reader.read_all(), False
        batches: list[pa.RecordBatch] = []
        rows = 0
        for batch in reader:
            batches.append(batch)
            rows += batch.num_rows
            if rows > limit:
                break
        table = pa.Table.from_batches(batches, schema=reader.schema)
    finally:
        reader.close()
    return table.slice(0, limit), table.num_rows > limit


def open_connection(catalog: Catalog, store_root: Path) -> QueryConnection:
    """A locked-down DuckDB connection with a view per table of ``catalog``.

    Reads the catalog only; needs the ``duckdb`` extra.
    """
    ddb = import_duckdb()
    root = Path(store_root).resolve()
    con: duckdb.DuckDBPyConnection = ddb.connect(":memory:", config=dict(_STARTUP))
    try:
        try:
            con.execute("SET TimeZone = 'UTC'")
        except ddb.Error:
            pass  # a DuckDB built without ICU has no time zones to set
        views = create_views(con, catalog, root)
        # Only the committed files may be opened — not the whole context/ directory, where
        # staged files of a running pipeline would be readable by path. Order matters: the
        # list can only be set while external access is still on, and nothing can change
        # once the configuration is locked.
        if views.paths:
            allowed = ", ".join(literal(path) for path in views.paths)
            con.execute(f"SET allowed_paths = [{allowed}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        names = con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name"
        ).fetchall()
    except BaseException:
        con.close()
        raise
    return QueryConnection(
        con, store_root=root, tables=[str(name) for (name,) in names], problems=views.problems
    )
