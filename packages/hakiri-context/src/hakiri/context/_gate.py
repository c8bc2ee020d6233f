"""The statement gate: exactly one read-only SELECT (or EXPLAIN of one) gets through.

DuckDB's own settings stop file access outside the store, but not a ``COPY … TO`` into the
store, a ``CREATE``, or a second statement after a harmless first one. Those are refused
here, from DuckDB's parse of the text, before anything runs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from hakiri.core.errors import QueryRefused

if TYPE_CHECKING:
    import duckdb

__all__ = ["admit"]

_ALLOWED = "only one read-only SELECT (or EXPLAIN of one) is allowed"

# EXPLAIN's own prefix: the keyword, then ANALYZE or a parenthesised option list. What
# follows is the explained statement, which must pass the gate too — EXPLAIN ANALYZE runs it.
_EXPLAIN = re.compile(
    r"""\A\s*explain\b
        (?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*
        (?:analy[sz]e\b|\((?:[^()'"]|'[^']*'|"[^"]*")*\))?""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_FIRST_WORD = re.compile(r"\A\s*(\w+)")


def admit(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """The one statement of ``sql`` if it only reads; ``QueryRefused`` otherwise.

    Syntax errors propagate as DuckDB raises them (the caller translates them).
    """
    statement = _one_statement(con, sql)
    kind = statement.type.name
    if kind == "EXPLAIN":
        _explained(con, statement.query)
    elif kind != "SELECT":
        raise QueryRefused(f"{_ALLOWED}, not {_keyword(statement.query, kind)}")
    if _writes(con, statement):
        raise QueryRefused(f"{_ALLOWED}; this SELECT writes (a data-modifying WITH clause)")
    return statement


def _one_statement(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    statements = con.extract_statements(sql)
    if not statements:
        raise QueryRefused(f"{_ALLOWED}; the query is empty")
    if len(statements) > 1:
        raise QueryRefused(f"{_ALLOWED}, not {len(statements)} statements")
    return statements[0]


def _explained(con: duckdb.DuckDBPyConnection, text: str) -> None:
    prefix = _EXPLAIN.match(text)
    inner = con.extract_statements(text[prefix.end() :]) if prefix else []
    if len(inner) != 1:
        raise QueryRefused(f"{_ALLOWED}; cannot tell what this EXPLAIN explains")
    if inner[0].type.name != "SELECT":
        what = _keyword(inner[0].query, inner[0].type.name)
        raise QueryRefused(f"{_ALLOWED}, not EXPLAIN of {what}")


def _keyword(text: str, fallback: str) -> str:
    """The statement's first word as the user wrote it (INSTALL parses as a LOAD)."""
    match = _FIRST_WORD.match(text)
    return match.group(1).upper() if match else fallback


def _writes(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> bool:
    """Whether DuckDB's binder says the statement changes a database.

    DuckDB 2.0 accepts ``WITH x AS (INSERT … RETURNING *) SELECT …`` and parses it as a
    SELECT. The store's views cannot be written to, so this is defence in depth; the probe
    is DuckDB's internal ``_bind`` and is skipped where a DuckDB version lacks it.
    """
    bind = getattr(con, "_bind", None)
    if bind is None:
        return False
    try:
        signature = bind(statement, with_writes=True)
    except TypeError:
        return False
    return bool(signature[-1])
