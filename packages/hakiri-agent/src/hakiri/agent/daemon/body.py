"""Request bodies: read with a size cap and a deadline, then parsed as JSON with a depth bound.

The guard reads a body whole before the app sees it (``read_body`` and ``replay``), so a
client that sends more than the cap, or sends it too slowly, gets one JSON answer and a
closed connection instead of holding a worker; ``parse_json`` turns anything that is not
plain, shallow JSON into a ``BadBody`` (a 400), never a ``RecursionError``.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope

from hakiri.agent.daemon.errors import error_response

__all__ = ["MAX_DEPTH", "BadBody", "parse_json", "read_body", "replay"]

MAX_DEPTH = 64
"""How deeply arrays and objects may nest in a request body (the API's inputs use two)."""

_CLOSE = {"Connection": "close"}


class BadBody(ValueError):
    """A request body that is not the JSON it should be; ``message`` says why."""


async def read_body(
    scope: Scope, receive: Receive, *, limit: int, timeout: float
) -> bytes | JSONResponse | None:
    """The whole body (at most ``limit`` bytes, within ``timeout`` seconds); else the answer
    to send (413, 408); None if the client went away."""
    declared = _content_length(scope)
    if declared is not None and declared > limit:
        return _too_large(limit)
    body = bytearray()
    with anyio.move_on_after(timeout):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            # Chunked bodies declare no length: count them as they come.
            if len(body) > limit:
                return _too_large(limit)
            if not message.get("more_body", False):
                return bytes(body)
    return error_response(
        "request_timeout",
        f"the request body did not arrive within {timeout:g}s",
        hint="send the whole body at once, with a correct Content-Length",
        status=408,
        headers=_CLOSE,
    )


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` in one message, then what comes after
    (the disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON. Raises ``BadBody`` for an empty body, invalid JSON, ``NaN`` and the
    like, and nesting deeper than ``MAX_DEPTH``."""
    if not raw:
        raise BadBody("the request body is empty")
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise BadBody(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, _no_constant
        raise BadBody(f"the request body is not JSON: {err}") from None
    if _depth(value) > MAX_DEPTH:
        raise BadBody(f"the request body nests deeper than {MAX_DEPTH} levels")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _depth(value: Any) -> int:
    """How deeply ``value`` nests (a scalar: 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            level += 1
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((child, level) for child in item)
    return deepest


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:  # the HTTP parser refuses these before the app runs
        return None


def _too_large(limit: int) -> JSONResponse:
    return error_response(
        "payload_too_large",
        f"the request body is larger than {limit} bytes",
        hint="send a smaller body (the daemon's --max-body sets the cap)",
        status=413,
        headers=_CLOSE,
    )
