"""Pages linked by the server: a page's request, and the page a ``Link`` header names.

A page's request is a small JSON object, ``{"url": ..., "params": {...}}``: the URL as
configured or as the server linked it, and the query parameters to add to it. Parameters
already present in the URL's query string are replaced by ``params`` of the same name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urljoin, urlsplit

from hakiri.core.cursor import JsonValue

if TYPE_CHECKING:
    from hakiri.connectors._http.client import HttpResponse

__all__ = ["PageRequest", "follow", "next_by_link", "next_link", "request_params"]

PageRequest = dict[str, JsonValue]
"""``{"url": str, "params": dict}``: what a page descriptor holds."""

_NEXT_LINK = re.compile(r'<([^>]*)>\s*;[^,]*?\brel="?next"?', re.IGNORECASE)


def request_params(request: PageRequest) -> dict[str, JsonValue]:
    """A copy of the query parameters of ``request`` (none when it holds no dict)."""
    params = request.get("params")
    return dict(params) if isinstance(params, dict) else {}


def follow(url: str, current: PageRequest) -> PageRequest:
    """Request ``url``; carry over the current parameters its query string does not set
    (a bare ``?cursor=…`` link must still send the API key and the filters)."""
    present = {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    carried = {k: v for k, v in request_params(current).items() if k not in present}
    return {"url": url, "params": carried}


def next_link(response: HttpResponse) -> str | None:
    """The ``rel="next"`` target of the response's ``Link`` header, made absolute (or None)."""
    header = response.headers.get("link")
    match = _NEXT_LINK.search(header) if header else None
    if match is None or not match.group(1).strip():
        return None
    target: str = match.group(1).strip()
    if target.startswith(("http://", "https://")):
        return target  # the common case; skips a URL parse per page
    return urljoin(response.url, target)


def next_by_link(current: PageRequest, link: str | None) -> PageRequest | None:
    """The request of the page ``link`` names after ``current``, or None when there is no
    link or it names ``current`` again (a server doing so would make a run loop forever)."""
    if not link:
        return None
    following = follow(link, current)
    return None if following == current else following
