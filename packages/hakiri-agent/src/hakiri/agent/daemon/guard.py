"""The checks in front of every HTTP route, before anything is routed or read.

In order: the ``Host`` header (on loopback without a token it must name the loopback, so a
web page cannot reach the daemon through DNS rebinding); the ``Origin`` (a request a web
page of another origin sends is refused, whatever else it carries: browsers send
``Origin`` on every cross-origin request that could change something); the bearer token;
the ``Content-Type`` of a request that can change something (``application/json`` only:
a page cannot send that cross-site without a CORS preflight, which the daemon does not
grant); then the body, read whole with a size cap and a deadline (``body.py``).
``/healthz`` is open to all but the Host check.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hakiri.agent.daemon.body import read_body, replay
from hakiri.agent.daemon.errors import error_response

__all__ = ["Guard", "GuardRules", "normalize_origin", "origins"]

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_OPEN = "/healthz"


@dataclass(frozen=True, slots=True)
class GuardRules:
    token: str | None
    loopback: bool
    """Bound to the loopback: without a token, the Host header must name it."""
    allow_origins: frozenset[str] = frozenset()
    """Origins (as ``normalize_origin`` spells them) allowed besides the daemon's own."""
    max_body: int = 1 << 20
    read_timeout: float = 10.0


def normalize_origin(value: str) -> str:
    """``value`` as ``scheme://host[:port]``, lower-cased, without its scheme's default port.
    Raises ``ValueError`` if it is not an http(s) origin."""
    parts = urlsplit(value.strip())
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(f"{value!r} is not an origin (scheme://host[:port])")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} has no valid port") from None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def origins(values: Iterable[str]) -> frozenset[str]:
    """The allow-list of ``--allow-origin`` values. Raises ``ValueError`` for one that is not
    an origin."""
    return frozenset(normalize_origin(value) for value in values)


class Guard:
    """Host, Origin, bearer token, Content-Type and body checks in front of ``app``."""

    def __init__(self, app: ASGIApp, rules: GuardRules) -> None:
        self.app = app
        self.rules = rules
        self._token = rules.token.encode() if rules.token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refuse(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if scope["method"] in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        body = await read_body(
            scope, receive, limit=self.rules.max_body, timeout=self.rules.read_timeout
        )
        if body is None:  # the client went away: nobody to answer
            return
        if isinstance(body, Response):
            await body(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)

    def _refuse(self, scope: Scope) -> Response | None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._host(headers)
        if refusal is not None or scope["path"] == _OPEN:
            return refusal
        refusal = self._origin(scope, headers)
        if refusal is not None:
            return refusal
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            return None  # an allowed origin's CORS preflight carries no token: CORS answers
        return self._bearer(headers) or self._content_type(scope, headers)

    def _host(self, headers: dict[str, str]) -> Response | None:
        if not self.rules.loopback or self._token is not None:
            return None
        host = headers.get("host", "127.0.0.1")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name in _LOOPBACK_HOSTS:
            return None
        return error_response(
            "host_not_allowed",
            f"Host {host!r} is not this machine's loopback",
            hint="call the daemon as http://127.0.0.1:<port>",
            status=403,
        )

    def _origin(self, scope: Scope, headers: dict[str, str]) -> Response | None:
        origin = headers.get("origin")
        if origin is None:
            # A browser's no-cors request (an <img>, a <script>) carries no Origin, but says
            # where it comes from.
            if headers.get("sec-fetch-site", "").lower() != "cross-site":
                return None
        elif _canonical(origin) in self._allowed(scope, headers):
            return None
        source = f"the web origin {origin!r}" if origin is not None else "another site"
        return error_response(
            "origin_not_allowed",
            f"requests from {source} are refused",
            hint="call the daemon from a script or the CLI, or start it with "
            "--allow-origin <scheme://host:port> for a web app you trust",
            status=403,
        )

    def _allowed(self, scope: Scope, headers: dict[str, str]) -> frozenset[str]:
        own = _canonical(f"{scope.get('scheme', 'http')}://{headers.get('host', '')}")
        return self.rules.allow_origins | ({own} if own else set())

    def _bearer(self, headers: dict[str, str]) -> Response | None:
        if self._token is None:
            return None
        given = headers.get("authorization", "").encode("latin-1")
        scheme, _, credentials = given.strip().partition(b" ")
        # The scheme is case-insensitive (RFC 9110 § 11.1); the token is compared in
        # constant time.
        if scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._token):
            return None
        return error_response(
            "unauthorized",
            "a bearer token is required" if not given else "wrong bearer token",
            hint="send 'Authorization: Bearer <token>' (the token the daemon started with)",
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    def _content_type(self, scope: Scope, headers: dict[str, str]) -> Response | None:
        method, path = scope["method"], scope["path"]
        if method in _SAFE_METHODS:
            return None
        if not (path.startswith("/v1/") or (path == "/mcp" and method == "POST")):
            return None
        given = headers.get("content-type", "")
        if given.split(";", 1)[0].strip().lower() == "application/json":
            return None
        return error_response(
            "unsupported_media_type",
            f"{method} {path} takes application/json, not {given or 'a body without a type'!r}",
            hint="send 'Content-Type: application/json' (and a JSON body, {} if none is needed)",
            status=415,
        )


def _canonical(origin: str) -> str | None:
    """An Origin header as ``normalize_origin`` spells it; None for ``null`` or junk."""
    try:
        return normalize_origin(origin)
    except ValueError:
        return None
