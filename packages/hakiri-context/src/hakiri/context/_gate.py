"""The statement gate: exactly one read-only SELECT (or a plain EXPLAIN of one) gets through.

Every decision comes from DuckDB's own parser and tokenizer, never from a pattern of ours:
``extract_statements`` says how many statements there are and what kind each is, and the
tokenizer (the scanner the parser uses, so it reads comments, strings and quoted names the
same way) says where an ``EXPLAIN``'s options end and its statement begins. ``EXPLAIN
ANALYZE`` is refused in every spelling: it runs the statement it explains.

The gate is one layer of several (docs/query-safety.md): the connection is locked down, and
queries from an agent run in a worker process that the kernel does not let write any file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakiri.core.errors import QueryRefused

if TYPE_CHECKING:
    import duckdb

__all__ = ["admit"]

_ALLOWED = "only one read-only SELECT (or EXPLAIN of one) is allowed"
_ANALYZE = frozenset({"analyze", "analyse"})


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


def _significant(text: str) -> list[tuple[int, str]]:
    """``(offset, lower-cased text)`` of each token DuckDB's scanner finds, comments left
    out: the parser's own view of where words begin and end."""
    import duckdb

    found = duckdb.tokenize(text)
    ends = [offset for offset, _kind in found[1:]] + [len(text)]
    return [
        (offset, text[offset:end].strip().lower())
        for (offset, kind), end in zip(found, ends, strict=True)
        if kind != duckdb.token_type.comment
    ]


def _explained(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """Refuse an EXPLAIN unless it is ``EXPLAIN [(options without ANALYZE)] <one SELECT>``."""
    unclear = QueryRefused(f"{_ALLOWED}; cannot tell what this EXPLAIN explains")
    tokens = _significant(text)
    # tokens[0] is the EXPLAIN keyword itself: the parser said this statement is one.
    position = 1
    if position < len(tokens) and tokens[position][1] in _ANALYZE:
        raise QueryRefused(f"{_ALLOWED}; EXPLAIN ANALYZE runs the statement — use EXPLAIN")
    if position < len(tokens) and tokens[position][1] == "(":
        depth = 0
        for _offset, word in tokens[position:]:
            position += 1
            if word in _ANALYZE:
                raise QueryRefused(f"{_ALLOWED}; EXPLAIN (ANALYZE) runs the statement")
            depth += {"(": 1, ")": -1}.get(word, 0)
            if depth == 0:
                break
    if position >= len(tokens):  # an option list that never closes, or nothing after it
        raise unclear
    inner = con.extract_statements(text[tokens[position][0] :])
    if len(inner) != 1:
        raise unclear
    if inner[0].type.name != "SELECT":
        what = _keyword(inner[0].query, inner[0].type.name)
        raise QueryRefused(f"{_ALLOWED}, not EXPLAIN of {what}")


def _keyword(text: str, fallback: str) -> str:
    """The statement's first word as the user wrote it (INSTALL parses as a LOAD)."""
    tokens = _significant(text)
    word = tokens[0][1] if tokens else ""
    return word.upper() if word.replace("_", "").isalnum() else fallback


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
