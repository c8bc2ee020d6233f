"""Statements run on the DBAPI cursor, with SQL that SQLAlchemy compiled once per dialect.

The commit is the catalog's hot path, and SQLAlchemy's execution layer (an execution
context, parameter and result set-up, events) costs 30-60 µs a statement: on SQLite more
than the statement itself. A ``Direct`` statement keeps SQLAlchemy for what it is for —
the SQL text of each dialect, the types' bind and result processing (``UtcDateTime``,
``JsonText``) — and runs the compiled text on the connection's DBAPI cursor.

Driver errors are turned into SQLAlchemy's (``DBAPIError.instance``, so ``IntegrityError``
is caught as everywhere else and ``database_errors`` makes its one line), and a lost
connection is invalidated, as SQLAlchemy's own execution does.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, SelectBase

__all__ = ["Direct"]

_Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # parameter names in place order; None: passed by name
    constants: dict[str, Any]  # parameters the statement itself holds (LIMIT 1, a 0)
    binds: dict[str, _Processor]
    columns: tuple[str, ...]
    results: tuple[_Processor | None, ...]


class Direct:
    """``statement`` (a Core construct with ``bindparam``s, no expanding ones), compiled the
    first time it runs on each dialect."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: weakref.WeakKeyDictionary[Dialect, _Compiled] = weakref.WeakKeyDictionary()

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run the statement in ``conn``'s transaction; the DBAPI cursor it ran on."""
        dialect = conn.dialect
        compiled = self._compiled.get(dialect) or self._compile(dialect)
        values = {**compiled.constants, **params}
        for name, process in compiled.binds.items():
            values[name] = process(values[name])
        args: Any = values if compiled.order is None else [values[n] for n in compiled.order]
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(compiled.sql, args)
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, dbapi_connection, cursor)
            if lost:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                compiled.sql,
                args,
                exc,
                dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=dialect,
            ) from exc
        return cursor

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run the statement; the number of rows it changed."""
        cursor = self.execute(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def one(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any]:
        """Run the query, which returns one row; the row by column name, processed."""
        compiled = self._compiled.get(conn.dialect) or self._compile(conn.dialect)
        cursor = self.execute(conn, params)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        assert row is not None, "the query returns one row"
        return {
            name: value if process is None else process(value)
            for name, value, process in zip(compiled.columns, row, compiled.results, strict=True)
        }

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        binds = {name: bind.type.dialect_impl(dialect) for name, bind in compiled.binds.items()}
        processors = {name: type_.bind_processor(dialect) for name, type_ in binds.items()}
        columns: tuple[Any, ...] = ()
        if isinstance(self._statement, SelectBase):
            columns = tuple(self._statement.selected_columns)
        positional = dialect.positional and compiled.positiontup is not None
        done = _Compiled(
            sql=compiled.string,
            order=tuple(compiled.positiontup or ()) if positional else None,
            constants={
                name: bind.value
                for name, bind in compiled.binds.items()
                if not bind.required and bind.callable is None
            },
            binds={name: p for name, p in processors.items() if p is not None},
            columns=tuple(str(c.key) for c in columns),
            results=tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            ),
        )
        self._compiled[dialect] = done
        return done
