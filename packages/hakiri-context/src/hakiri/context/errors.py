"""Query errors more precise than core's ``QueryError``, for people and agents to act on."""

from __future__ import annotations

from hakiri.core.errors import QueryError

__all__ = ["QuerySyntaxError", "UnknownName"]


class QuerySyntaxError(QueryError):
    """DuckDB could not parse the SQL."""

    code = "query_syntax_error"
    exit_code = 2


class UnknownName(QueryError):
    """The SQL names a table, column or function the context store does not have."""

    code = "query_unknown_name"
    exit_code = 2
