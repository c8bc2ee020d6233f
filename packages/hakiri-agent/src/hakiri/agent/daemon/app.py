"""The daemon's ASGI application: the JSON API, the event stream, OpenAPI, health and MCP.

Requests pass a guard first: with a token, every path but ``/healthz`` needs
``Authorization: Bearer <token>``; on loopback without a token, the ``Host`` header must name
the loopback (so a web page cannot reach the API through DNS rebinding).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hakiri.agent.daemon.endpoints import ENDPOINTS, route
from hakiri.agent.daemon.errors import error_response
from hakiri.agent.daemon.events import run_events
from hakiri.agent.daemon.openapi import openapi_document
from hakiri.agent.daemon.state import Daemon

__all__ = ["LOOPBACK", "build_app"]

log = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})


def build_app(daemon: Daemon) -> ASGIApp:
    from hakiri.agent.ops import version

    config = daemon.config
    document = openapi_document(version(), token=config.token is not None)

    async def health(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(daemon.health))

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def events(request: Request) -> Response:
        return await run_events(request, daemon)

    routes: list[BaseRoute] = [
        Route("/healthz", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/v1/runs/{run_id}/events", events, methods=["GET"]),
    ]
    routes += [route(endpoint, daemon) for endpoint in ENDPOINTS]
    mcp_server = None
    if config.mcp:
        from hakiri.agent.server import build_server

        mcp_server = build_server(daemon.root)
        # The SDK's own app holds the /mcp route; its session manager runs in our lifespan.
        mcp_app = mcp_server.streamable_http_app(streamable_http_path="/mcp", host=config.host)
        routes += list(mcp_app.routes)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(daemon.start)
        _on_sighup(daemon)
        async with AsyncExitStack() as stack:
            if mcp_server is not None:
                await stack.enter_async_context(mcp_server.session_manager.run())
            yield
        log.info("draining: waiting for runs in flight")
        await anyio.to_thread.run_sync(daemon.stop)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    return Guard(app, token=config.token, loopback=config.host in LOOPBACK)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(code, str(exc.detail), status=exc.status_code)


def _on_sighup(daemon: Daemon) -> None:
    """SIGHUP reloads the manifest (on a thread: it reads files and the catalog)."""

    def reload() -> None:
        threading.Thread(target=daemon.reload, name="hakiri-reload", daemon=True).start()

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)
    except (NotImplementedError, RuntimeError):  # not the main thread (tests), or Windows
        log.debug("SIGHUP reload not available here")


class Guard:
    """Bearer token and loopback Host checks in front of every HTTP route."""

    def __init__(self, app: ASGIApp, *, token: str | None, loopback: bool) -> None:
        self.app = app
        self._token = token.encode() if token else None
        self._loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refuse(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refuse(self, scope: Scope) -> Response | None:
        headers = {k.decode("latin-1"): v for k, v in scope["headers"]}
        if self._loopback and self._token is None:
            host = headers.get("host", b"127.0.0.1").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in _LOOPBACK_HOSTS:
                return error_response(
                    "host_not_allowed",
                    f"Host {host!r} is not this machine's loopback",
                    hint="call the daemon as http://127.0.0.1:<port>",
                    status=403,
                )
        if self._token is None or scope["path"] == "/healthz":
            return None
        given = headers.get("authorization", b"")
        scheme, _, credentials = given.strip().partition(b" ")
        # The scheme is case-insensitive (RFC 9110 § 11.1); the token is compared in
        # constant time.
        if scheme.lower() != b"bearer" or not hmac.compare_digest(credentials.strip(), self._token):
            return error_response(
                "unauthorized",
                "a bearer token is required" if not given else "wrong bearer token",
                hint="send 'Authorization: Bearer <token>' (the token the daemon started with)",
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None
