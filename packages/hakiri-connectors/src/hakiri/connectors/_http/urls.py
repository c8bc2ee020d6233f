"""URLs of requests: the query string a request is sent with, and the URL messages show."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

__all__ = ["build_url", "display_url", "query_value"]


def display_url(url: str) -> str:
    """``url`` without its query string and credentials: what messages show."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def query_value(value: Any) -> str:
    """``value`` as a query parameter's text (booleans as ``true``/``false``, other
    non-scalars as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def build_url(url: str, params: dict[str, Any]) -> str:
    """``url`` with ``params`` set in its query string (same-named parameters replaced,
    lists repeated, None dropped)."""
    if not params:
        return url
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    for name, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        kept.extend((name, query_value(item)) for item in values)
    return urlunsplit(parts._replace(query=urlencode(kept)))
