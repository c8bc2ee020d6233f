"""The query layer: DuckDB over the committed files, read-only, bounded in rows and bytes.

``open_connection`` builds an in-memory DuckDB with one view per table of a ``StorePlan``,
then locks it down — file access limited to the committed files, no extension loading, a
memory limit, the configuration frozen — and ``QueryConnection.run_query`` admits one
read-only statement (see ``_gate``), streams at most ``limit`` rows and ``max_bytes`` bytes,
and interrupts the query at ``timeout``.

This runs in the process that asks, for a notebook's own SQL (``ContextStore``). SQL from
an agent or any other caller runs through ``hakiri.context.sandbox`` instead: the same
connection, inside a worker process the kernel does not let write any file, whose memory is
bounded and which is killed when an interrupt is not enough.

What a view shows is fixed when the connection is opened; open a new one
(``ContextStore.refresh``) to see later commits.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hakiri.context._duckdb import import_duckdb, import_polars
from hakiri.context._gate import admit
from hakiri.context._views import StorePlan, create_views, first_line, literal
from hakiri.context.errors import QuerySyntaxError, UnknownName
from hakiri.core.closing import Closing
from hakiri.core.duckdb_lockdown import LOCK_STATEMENTS, STARTUP_SETTINGS
from hakiri.core.errors import (
    HakiriError,
    QueryError,
    QueryMemoryExceeded,
    QueryRefused,
    QueryTimeout,
    StoreError,
)

if TYPE_CHECKING:
    import duckdb
    import polars
    import pyarrow as pa

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_TIMEOUT",
    "QueryConnection",
    "QueryResult",
    "memory_error",
    "open_connection",
    "timeout_error",
]

DEFAULT_LIMIT = 1000
DEFAULT_TIMEOUT = 30.0

_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist")


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The rows of a query (at most ``limit``), whether more existed, and how long it took."""

    table: pa.Table
    truncated: bool
    elapsed: float
    """Seconds, for display only."""
    truncated_by: str | None = None
    """What cut the answer short: ``"rows"`` (the row limit) or ``"bytes"`` (the byte cap)."""

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
        tables: list[str],
        problems: dict[str, str],
    ) -> None:
        self._con = con
        self._lock = threading.Lock()
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
        max_bytes: int | None = None,
    ) -> QueryResult:
        """Run one read-only SELECT; return at most ``limit`` rows (None: all of them) and
        at most ``max_bytes`` bytes of Arrow data (None: no cap).

        Raises ``QueryRefused`` for anything but a single SELECT / EXPLAIN and for reads
        outside the store, ``QueryTimeout`` when ``timeout`` seconds pass (DuckDB stops at
        its next interrupt check), ``QueryMemoryExceeded`` past the memory limit, and
        another ``QueryError`` for what DuckDB rejects.
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
                    table, cut = _fetch(cursor.sql(statement), limit, max_bytes)
                except (ddb.Error, pa.ArrowException, OSError, MemoryError) as exc:
                    if deadline.fired:
                        raise timeout_error(timeout) from None
                    raise self._translate(exc) from None
        finally:
            cursor.close()
        return QueryResult(table, cut is not None, time.perf_counter() - started, cut)

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
        # pyarrow's ArrowMemoryError is a MemoryError too; DuckDB reports an allocation that
        # failed while it builds the Arrow answer as another error class, by its message.
        if isinstance(exc, MemoryError | ddb.OutOfMemoryException) or message.startswith(
            "Out of Memory Error"
        ):
            return memory_error(message)
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


def _fetch(
    relation: duckdb.DuckDBPyRelation | None, limit: int | None, max_bytes: int | None
) -> tuple[pa.Table, str | None]:
    """Stream the result, stopping after ``limit`` rows plus one (to know if there is more)
    or once ``max_bytes`` are held; say what cut it short, if anything."""
    import pyarrow as pa

    if relation is None:
        return pa.table({}), None
    batch_size = 131_072 if limit is None else min(max(limit + 1, 2048), 131_072)
    if max_bytes is not None:
        batch_size = min(batch_size, 8192)  # a byte cap is checked a batch at a time
    reader = relation.to_arrow_reader(batch_size)
    cut: str | None = None
    try:
        if limit is None and max_bytes is None:
            return reader.read_all(), None
        batches: list[pa.RecordBatch] = []
        rows = held = 0
        for batch in reader:
            if max_bytes is not None and held + batch.nbytes > max_bytes:
                fitting = _rows_within(batch, max_bytes - held)
                batches.append(batch.slice(0, fitting))
                rows += fitting
                cut = "bytes"
                break
            batches.append(batch)
            rows += batch.num_rows
            held += batch.nbytes
            if limit is not None and rows > limit:
                break
        table = pa.Table.from_batches(batches, schema=reader.schema)
    finally:
        reader.close()
    if limit is not None and table.num_rows > limit:
        return table.slice(0, limit), "rows"
    return table, cut


def _rows_within(batch: pa.RecordBatch, budget: int) -> int:
    """How many leading rows of ``batch`` fit in ``budget`` bytes (binary search)."""
    low, high = 0, batch.num_rows
    while low < high:
        middle = (low + high + 1) // 2
        if batch.slice(0, middle).nbytes <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def timeout_error(timeout: float | None) -> QueryTimeout:
    return QueryTimeout(
        f"query stopped after {timeout:g} s" if timeout is not None else "query stopped",
        hint="narrow the query or raise the timeout "
        "(--timeout; `timeout` over MCP/HTTP; [query] timeout in hakiri.toml)",
    )


def memory_error(detail: str | None = None) -> QueryMemoryExceeded:
    why = f" ({detail})" if detail else ""
    return QueryMemoryExceeded(
        f"the query needed more memory than it may use{why}",
        hint="aggregate or filter more in SQL, or raise [query] memory in hakiri.toml",
    )


def open_connection(
    plan: StorePlan, *, memory_limit: int | None = None, threads: int | None = None
) -> QueryConnection:
    """A locked-down DuckDB connection with the views of ``plan``.

    ``memory_limit`` (bytes) bounds DuckDB's own memory; needs the ``duckdb`` extra.
    """
    ddb = import_duckdb()
    config: dict[str, Any] = dict(STARTUP_SETTINGS)
    if memory_limit is not None:
        config["memory_limit"] = f"{max(memory_limit // (1 << 20), 16)}MiB"
    if threads is not None:
        config["threads"] = threads
    con: duckdb.DuckDBPyConnection = ddb.connect(":memory:", config=config)
    try:
        try:
            con.execute("SET TimeZone = 'UTC'")
        except ddb.Error:
            pass  # a DuckDB built without ICU has no time zones to set
        views = create_views(con, plan)
        # Only the committed files may be opened — not the whole context/ directory, where
        # staged files of a running pipeline would be readable by path. Order matters: the
        # list can only be set while external access is still on, and nothing can change
        # once the configuration is locked.
        if views.paths:
            allowed = ", ".join(literal(path) for path in views.paths)
            con.execute(f"SET allowed_paths = [{allowed}]")
        for statement in LOCK_STATEMENTS:
            con.execute(statement)
        names = con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name"
        ).fetchall()
    except BaseException:
        con.close()
        raise
    return QueryConnection(con, tables=[str(name) for (name,) in names], problems=views.problems)
