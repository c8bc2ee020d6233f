"""What the local test servers share: ``with`` support, and an ``http.server`` on a background
thread that stops promptly however many keep-alive connections are open and logs every
request.

``DemoApi`` and ``GithubApi`` are ``ThreadedHttpServer`` subclasses whose handlers are
``TrackedHandler`` subclasses; ``S3Server`` and ``SyntheticServer`` only use ``Serving``.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "HttpRequest",
    "HttpServer",
    "Serving",
    "ThreadedHttpServer",
    "TrackedHandler",
    "serve_until_signalled",
    "take_next",
]


class Serving:
    """Mixin: ``with server:`` starts it and stops it on the way out, however the block ends."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request a test server received (each server logs a subclass of it)."""

    method: str
    path: str
    query: dict[str, list[str]]
    """Query parameters; every value is a list (a parameter may repeat)."""
    headers: dict[str, str]
    """Request headers with lower-case names."""

    def param(self, name: str) -> str | None:
        """The last value of query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[-1] if values else None


_Request = TypeVar("_Request", bound=HttpRequest)
_Api_co = TypeVar("_Api_co", bound="ThreadedHttpServer[Any]", covariant=True)


class HttpServer(ThreadingHTTPServer, Generic[_Api_co]):
    """The ``http.server`` a ``ThreadedHttpServer`` runs; its handlers reach that object as
    ``self.server.api``."""

    daemon_threads = True
    api: _Api_co

    def __init__(
        self, address: tuple[str, int], handler: type[TrackedHandler[Any]], api: _Api_co
    ) -> None:
        super().__init__(address, handler)
        self.api = api

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-response (the crash tests do it on purpose) is not an error.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class ThreadedHttpServer(Serving, Generic[_Request]):
    """An ``http.server`` on a background thread, with a log of the requests it received.
    ``port=0`` picks a free port; ``url`` tells which. Use it as a context manager or call
    ``start()`` / ``stop()``.

    A subclass passes its ``TrackedHandler`` subclass and a thread name, guards its own state
    with ``_lock``, has its handler ``_log`` each request, and overrides ``_on_stop`` to let
    go of anything a handler waits on.
    """

    def __init__(
        self, *, host: str, port: int, handler: type[TrackedHandler[Any]], thread_name: str
    ) -> None:
        self._host = host
        self._port = port
        self._handler = handler
        self._thread_name = thread_name
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._accepted = 0
        self._requests: list[_Request] = []
        self._server: HttpServer[ThreadedHttpServer[_Request]] | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and start serving; returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = HttpServer((self._host, self._port), self._handler, self)
        self._server = server
        self._port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name=f"{self._thread_name}:{self._port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join every thread. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        with self._lock:
            self._stopping.set()
            connections = list(self._connections)
        self._on_stop()
        server.shutdown()
        # Idle keep-alive connections would otherwise keep their handler threads (which
        # server_close joins) waiting for a next request that never comes.
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = None
        self._thread = None

    def _on_stop(self) -> None:
        """Called by ``stop`` once stopping is set, before the server shuts down: wake any
        handler waiting on something only a test would have released."""

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8765`` (no trailing slash)."""
        return f"http://{self._host}:{self._port}"

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far (keep-alive clients reuse one)."""
        with self._lock:
            return self._accepted

    # -- the request log -------------------------------------------------------------------

    @property
    def requests(self) -> list[_Request]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[_Request]:
        """The logged requests whose path is ``path``."""
        return [r for r in self.requests if r.path == path]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- used by the handler ---------------------------------------------------------------

    def _log(self, request: _Request) -> None:
        with self._lock:
            self._requests.append(request)

    def _register(self, connection: socket.socket) -> bool:
        """Track a connection; False when the server is stopping (serve one request)."""
        with self._lock:
            self._connections.add(connection)
            self._accepted += 1
            return not self._stopping.is_set()

    def _unregister(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)


class TrackedHandler(BaseHTTPRequestHandler, Generic[_Api_co]):
    """A keep-alive HTTP/1.1 handler whose connection its ``ThreadedHttpServer`` tracks, so
    that ``stop`` can close it; once the server is stopping it serves no further request.
    Subclass ``TrackedHandler[YourServer]`` to reach it typed as ``self.server.api``."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30  # an idle keep-alive connection is dropped after this many seconds
    server: HttpServer[_Api_co]

    def setup(self) -> None:
        super().setup()
        self._keep_alive = self.server.api._register(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.api._unregister(self.connection)

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()
        while self._keep_alive and not self.close_connection:
            if self.server.api._stopping.is_set():
                break
            self.handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests and the demo read the request log instead of stderr

    def _target(self) -> tuple[str, dict[str, list[str]], dict[str, str]]:
        """The request's path, query parameters and headers (with lower-case names)."""
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        headers = {name.lower(): value for name, value in self.headers.items()}
        return split.path or "/", query, headers

    def _base_url(self) -> str:
        """The server's URL as the client addressed it (its ``Host`` header)."""
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"


class _Counted(Protocol):
    remaining: int


_Counted_T = TypeVar("_Counted_T", bound=_Counted)


def take_next(queue: list[_Counted_T]) -> _Counted_T | None:
    """Count one use off the first entry of ``queue`` that has uses left and return it (None
    when none has), dropping spent entries: how the "answer the next N requests with …"
    controls count down. The caller holds the lock that guards ``queue``."""
    while queue:
        first = queue[0]
        if first.remaining <= 0:
            queue.pop(0)
            continue
        first.remaining -= 1
        return first
    return None


def serve_until_signalled(server: ThreadedHttpServer[Any], what: str) -> int:
    """A server's ``main``: serve until SIGTERM or SIGINT; 1 when it cannot listen."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        server.start()
    except OSError as exc:
        where = f"{server._host}:{server.port}"
        print(f"error: cannot listen on {where}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        print(f"{what} listening on {server.url}", flush=True)
        # Waiting in short slices keeps the main thread responsive to signals.
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
    return 0
