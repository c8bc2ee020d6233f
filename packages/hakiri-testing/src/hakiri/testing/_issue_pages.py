"""The ``/issues`` endpoint of the demo API as a pure function: query in, page out.

Five pagination styles cover what REST APIs do in the wild: an RFC 8288 ``Link`` header
(GitHub), a next URL in the body, an opaque continuation token, page numbers with a page
count, and offset/limit with a total.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from hakiri.testing._issues import first_id_since, make_issue, parse_time

__all__ = ["STYLES", "BadRequest", "IssuePage", "issues_page"]

STYLES = ("link", "next_url", "token", "page", "offset")
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 1000


class BadRequest(ValueError):
    """A query parameter the endpoint cannot use; answered with HTTP 422."""


@dataclass(frozen=True, slots=True)
class IssuePage:
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers (``Link``)."""


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _int_param(query: dict[str, list[str]], name: str, default: int, minimum: int) -> int:
    text = _single(query, name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {text!r}") from None
    if value < minimum:
        raise BadRequest(f"{name} must be >= {minimum}, got {value}")
    return value


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "o":
            raise ValueError(raw)
        return int(number)
    except ValueError:
        raise BadRequest(f"token {token!r} is not a token this API issued") from None


def _url_with(base_url: str, query: dict[str, list[str]], **changes: object) -> str:
    """``base_url`` with the request's query, ``changes`` applied (None removes a key)."""
    merged = {k: list(v) for k, v in query.items()}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = [str(value)]
    return f"{base_url}?{urlencode(merged, doseq=True)}"


def issues_page(query: dict[str, list[str]], *, count: int, base_url: str, path: str) -> IssuePage:
    """The page of issues ``query`` asks for, out of ``count`` issues.

    ``base_url`` is the endpoint's absolute URL as the client addressed it (used in links);
    ``path`` is its path (used for relative next URLs).
    """
    style = _single(query, "style") or "link"
    if style not in STYLES:
        raise BadRequest(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    per_page = _int_param(query, "per_page", DEFAULT_PER_PAGE, 1)
    per_page = min(per_page, MAX_PER_PAGE)
    since = _single(query, "since")
    first = 1
    if since:
        try:
            first = first_id_since(parse_time(since))
        except ValueError:
            raise BadRequest(f"since must be an ISO-8601 timestamp, got {since!r}") from None
    total = max(0, count - first + 1)

    def window(offset: int, size: int) -> list[dict[str, Any]]:
        start = first + offset
        stop = min(count, start + size - 1)
        return [make_issue(i) for i in range(start, stop + 1)]

    if style == "offset":
        offset = _int_param(query, "offset", 0, 0)
        limit = min(_int_param(query, "limit", per_page, 1), MAX_PER_PAGE)
        return IssuePage({"records": window(offset, limit), "total": total})
    if style == "token":
        token = _single(query, "token")
        offset = _decode_token(token) if token else 0
        items = window(offset, per_page)
        after = offset + len(items)
        return IssuePage(
            {"items": items, "next_token": _encode_token(after) if after < total else None}
        )
    if style == "next_url":
        # Keyset pagination: the next URL says "after this id", like many cursor APIs.
        after_id = _int_param(query, "after", first - 1, 0)
        offset = max(0, after_id - first + 1)
        items = window(offset, per_page)
        next_url = None
        if items and items[-1]["id"] < count:
            relative = _single(query, "next_relative") in ("1", "true")
            target = path if relative else base_url
            next_url = _url_with(target, query, after=items[-1]["id"])
        return IssuePage({"data": items, "next": next_url})

    page = _int_param(query, "page", 1, 1)
    items = window((page - 1) * per_page, per_page)
    total_pages = math.ceil(total / per_page)
    if style == "page":
        return IssuePage({"results": items, "total_pages": total_pages})
    links = []
    if page < total_pages:
        links.append(f'<{_url_with(base_url, query, page=page + 1)}>; rel="next"')
        links.append(f'<{_url_with(base_url, query, page=total_pages)}>; rel="last"')
    if page > 1:
        links.append(f'<{_url_with(base_url, query, page=1)}>; rel="first"')
        links.append(f'<{_url_with(base_url, query, page=page - 1)}>; rel="prev"')
    return IssuePage(items, {"Link": ", ".join(links)} if links else {})
