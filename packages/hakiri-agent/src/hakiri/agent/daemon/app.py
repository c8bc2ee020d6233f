"""The daemon's ASGI application: the JSON API, the event stream, OpenAPI, health and MCP.

Requests pass the guard first (``guard.py``): the loopback ``Host`` check, the ``Origin``
check, the bearer token, ``application/json`` for requests that change something, and a
bounded body. Handlers run on worker threads of their own limiter, and ``/healthz`` on
another, so a daemon whose handlers are all busy still says it is up.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from hakiri.agent.daemon.endpoints import ENDPOINTS, route
from hakiri.agent.daemon.errors import error_response
from hakiri.agent.daemon.events import run_events
from hakiri.agent.daemon.guard import Guard, GuardRules
from hakiri.agent.daemon.openapi import openapi_document
from hakiri.agent.daemon.state import Daemon, ServeConfig

__all__ = ["HANDLER_THREADS", "LOOPBACK", "build_app"]

log = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

HANDLER_THREADS = 32
"""Worker threads the JSON handlers may hold at once (more requests wait their turn).
Fewer than anyio's default pool of 40, which the event stream and MCP tools share."""
_HEALTH_THREADS = 2


def build_app(daemon: Daemon) -> ASGIApp:
    from hakiri.agent.ops import version

    config = daemon.config
    document = openapi_document(version(), token=config.token is not None)

    # Limiters of their own: /healthz answers even while every handler thread is busy.
    handlers = CapacityLimiter(HANDLER_THREADS)
    health_threads = CapacityLimiter(_HEALTH_THREADS)

    async def health(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(daemon.health, limiter=health_threads))

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def events(request: Request) -> Response:
        return await run_events(request, daemon)

    routes: list[BaseRoute] = [
        Route("/healthz", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/v1/runs/{run_id}/events", events, methods=["GET"]),
    ]
    routes += [route(endpoint, daemon, limiter=handlers) for endpoint in ENDPOINTS]
    mcp_server = None
    if config.mcp:
        from mcp.server.transport_security import TransportSecuritySettings

        from hakiri.agent.server import build_server

        mcp_server = build_server(daemon.root, daemon.queries)
        # The SDK's own app holds the /mcp route; its session manager runs in our lifespan.
        mcp_app = mcp_server.streamable_http_app(
            streamable_http_path="/mcp",
            host=config.host,
            # The guard checks Host and Origin (with the allow-list) and caps the body first,
            # for every path alike; the SDK's own check would refuse the allowed origins.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
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
        middleware=_cors(config),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    rules = GuardRules(
        token=config.token,
        loopback=config.host in LOOPBACK,
        allow_origins=config.allow_origins,
        max_body=config.max_body,
        read_timeout=config.read_timeout,
    )
    return Guard(app, rules)


def _cors(config: ServeConfig) -> list[Middleware]:
    """CORS answers for the allowed origins only (the guard refuses every other origin), so
    a web app at one of them can call the API and /mcp from a browser."""
    if not config.allow_origins:
        return []
    cors = Middleware(
        CORSMiddleware,
        allow_origins=sorted(config.allow_origins),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=[
            "authorization",
            "content-type",
            "last-event-id",
            "mcp-protocol-version",
            "mcp-session-id",
        ],
        expose_headers=["mcp-protocol-version", "mcp-session-id"],
        max_age=600,
    )
    return [cors]


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
