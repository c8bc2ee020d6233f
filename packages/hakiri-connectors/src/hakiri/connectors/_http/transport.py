"""The one wording of a transport failure (refused, timed out, broken), for every HTTP client
of the connectors: the http and github sources' retrying client and the WebAssembly host's
fetch for its guests."""

from __future__ import annotations

from http.client import RemoteDisconnected

from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout

__all__ = ["one_line", "transport_reason"]


def one_line(text: str, limit: int = 160) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def transport_reason(exc: Exception, timeout: float) -> str:
    """Why a request got no response, in a few words (``connection refused``,
    ``no response within 5 s``); ``timeout`` is the one the request was sent with."""
    if isinstance(exc, MaxRetryError) and isinstance(exc.reason, Exception):
        return transport_reason(exc.reason, timeout)
    if isinstance(exc, ProxyError):
        return f"through the proxy: {transport_reason(exc.original_error, timeout)}"
    if isinstance(exc, NameResolutionError):
        return "host name not found"
    if isinstance(exc, NewConnectionError):  # a subclass of ConnectTimeoutError, so first
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused"
        return one_line(text.rsplit("Failed to establish a new connection: ", 1)[-1])
    if isinstance(exc, ConnectTimeoutError):
        return f"connection timed out after {timeout:g} s"
    if isinstance(exc, Urllib3Timeout):
        return f"no response within {timeout:g} s"
    if isinstance(exc, ProtocolError) and exc.args:
        # ("Connection aborted.", RemoteDisconnected(...)): the cause says what happened.
        cause = exc.args[-1]
        if isinstance(cause, RemoteDisconnected):
            return "the server closed the connection without a response"
        if isinstance(cause, BaseException):
            return one_line(str(cause)) or type(cause).__name__
    return one_line(str(exc)) or type(exc).__name__
