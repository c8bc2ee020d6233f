"""Pages of a paginated JSON API: which URL a page is, what its answer holds, what comes next.

Pure Python (no host calls), so it reads like any other module and can be tried outside
WebAssembly. A page's params are `{"url": …, "n": …}`: the URL alone is enough to read it
again, in another process or on another machine, which is what the run protocol needs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from config import Options

__all__ = [
    "Fetched",
    "SourceFailure",
    "build_url",
    "cursor_reached",
    "decode_records",
    "display_url",
    "first_page",
    "json_lines",
    "next_page",
]

_LINK = re.compile(r"<([^>]*)>([^<]*)")
_REL_NEXT = re.compile(r"""rel\s*=\s*"?[^";,]*\bnext\b""", re.IGNORECASE)

PageRef = tuple[str, dict[str, Any]]
"""A page as (key, params)."""


class SourceFailure(RuntimeError):
    """The API answered something this connector cannot use."""


@dataclass(frozen=True)
class Fetched:
    """What the host's `fetch` returned, as plain values."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str


def display_url(url: str) -> str:
    """`url` without its query string: what messages show (queries may hold references)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def build_url(url: str, params: dict[str, Any]) -> str:
    """`url` with `params` set in its query string (same-named parameters replaced)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    for name, value in params.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        kept.append((name, str(value)))
    return urlunsplit(parts._replace(query=urlencode(kept)))


def first_page(options: Options, cursor: Any) -> PageRef:
    """The page a sweep starts with: records at or after `cursor` (or `start`)."""
    params = dict(options.params)
    params[options.per_page_param] = options.per_page
    if options.pagination == "page_number":
        params[options.page_param] = 1
    since = cursor if cursor is not None else options.start
    if options.cursor_field is not None and since is not None:
        params[options.since_param] = since
    return "page:1", {"url": build_url(options.url, params), "n": 1}


def decode_records(options: Options, fetched: Fetched) -> list[dict[str, Any]]:
    """The records of a `2xx` answer (a JSON array, or the array under `records`)."""
    where = display_url(fetched.url)
    if not 200 <= fetched.status < 300:
        snippet = fetched.body[:200].decode("utf-8", "replace").replace("\n", " ")
        raise SourceFailure(f"GET {where} answered HTTP {fetched.status}: {snippet}")
    try:
        body = json.loads(fetched.body)
    except ValueError:
        raise SourceFailure(f"GET {where} did not answer JSON") from None
    if options.records is not None:
        if not isinstance(body, dict) or not isinstance(body.get(options.records), list):
            raise SourceFailure(f"GET {where}: no array under {options.records!r}")
        body = body[options.records]
    elif isinstance(body, dict):
        arrays = [key for key, value in body.items() if isinstance(value, list)]
        hint = f"; set records = {arrays[0]!r}" if arrays else ""
        raise SourceFailure(f"GET {where} answered an object, not an array{hint}")
    if not isinstance(body, list):
        raise SourceFailure(f"GET {where} answered {type(body).__name__}, not an array")
    for index, record in enumerate(body):
        if not isinstance(record, dict):
            raise SourceFailure(f"GET {where}: record {index} is not an object")
    return body


def json_lines(records: list[dict[str, Any]]) -> bytes:
    """One buffer for the whole page: the host decodes it in bulk, no call per row."""
    return "\n".join(
        json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records
    ).encode()


def cursor_reached(options: Options, records: list[dict[str, Any]]) -> str | None:
    """JSON of the newest `cursor_field` value on the page (None: the cursor stays)."""
    field = options.cursor_field
    if field is None or not records:
        return None
    values = [r[field] for r in records if r.get(field) is not None]
    if not values:
        raise SourceFailure(
            f"cursor_field {field!r} is in no record; name the field that orders the records,"
            " or set cursor_field = null to read everything every run"
        )
    try:
        newest = max(values)
    except TypeError:  # mixed types: compare as text, as the host's cursor does
        newest = max(values, key=str)
    return json.dumps(newest)


def _link_next(headers: dict[str, str]) -> str | None:
    for target, attributes in _LINK.findall(headers.get("link", "")):
        if _REL_NEXT.search(attributes):
            return str(target)
    return None


def next_page(
    options: Options, params: dict[str, Any], fetched: Fetched, rows: int
) -> PageRef | None:
    """The page this one reveals, if any."""
    n = int(params["n"]) + 1
    if options.pagination == "page_number":
        # A full page may have a successor; a short (or empty) one is the last.
        if rows < options.per_page:
            return None
        return f"page:{n}", {"url": build_url(params["url"], {options.page_param: n}), "n": n}
    target = _link_next(fetched.headers)
    if target is None:
        return None
    return f"page:{n}", {"url": urljoin(fetched.url, target), "n": n}
