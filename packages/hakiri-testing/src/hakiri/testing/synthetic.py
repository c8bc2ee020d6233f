"""A synthetic paginated REST API for benchmarks, fast enough never to be the bottleneck.

As a process (serves until SIGTERM or SIGINT)::

    python -m hakiri.testing.synthetic --rows 1000000 --port 0
    # prints: synthetic API listening on http://127.0.0.1:PORT

From Python, in its own process so it does not share the client's GIL::

    with SyntheticServer(1_000_000) as server:
        httpx.get(f"{server.url}/issues?per_page=1000")

``GET /issues?page=P&per_page=M`` (defaults 1 and 100, at most 1000) answers a JSON array of
the records ``(P-1)*M+1 … min(P*M, rows)`` with a GitHub-style ``Link`` header (``next`` and
``last``) while more remain; ``GET /healthz`` answers ``{"status":"ok"}``; anything else is
a 404. Records are GitHub-issue-like, ~770 bytes each, and a pure function of their id
(see ``hakiri.testing._synthetic_records``): two servers serve byte-identical bodies.

The server is one thread around a ``selectors`` loop with a minimal HTTP/1.1 parser
(keep-alive, pipelining, ``Connection: close``): every microsecond it spends is one the
client under test does not get on a small machine.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from hakiri.testing._server import Serving
from hakiri.testing._synthetic_records import render_page

__all__ = ["DEFAULT_PER_PAGE", "MAX_PER_PAGE", "SyntheticServer", "main", "serve"]

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
_MAX_HEAD = 64 * 1024
_READY = "synthetic API listening on "


class _BadRequest(ValueError):
    pass


def _response(status: bytes, body: bytes, *, close: bool, link: str | None = None) -> bytes:
    head = [
        b"HTTP/1.1 " + status,
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(body),
    ]
    if link:
        head.append(b"Link: " + link.encode())
    if close:
        head.append(b"Connection: close")
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def _int(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if not text:
        return default
    # Only plain digits are valid here, so there is nothing to percent-decode.
    if not text.isdigit() or int(text) < 1:
        raise _BadRequest(name)
    return int(text)


class _Api:
    """Answers requests: a pure function of (rows, base URL, request target)."""

    def __init__(self, rows: int, base_url: str) -> None:
        self.rows = rows
        self.base_url = base_url

    def answer(self, method: bytes, target: bytes, *, close: bool) -> bytes:
        path, _, query_text = target.decode("latin-1").partition("?")
        if method != b"GET":
            return _response(b"404 Not Found", b'{"message":"Not Found"}', close=close)
        if path == "/healthz":
            return _response(b"200 OK", b'{"status":"ok"}', close=close)
        if path != "/issues":
            return _response(b"404 Not Found", b'{"message":"Not Found"}', close=close)
        # The last value of a repeated parameter wins, as with most servers.
        query = dict(part.partition("=")[::2] for part in query_text.split("&"))
        try:
            page = _int(query, "page", 1)
            per_page = min(_int(query, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
        except _BadRequest as exc:
            body = b'{"message":"%s must be a positive integer"}' % str(exc).encode()
            return _response(b"400 Bad Request", body, close=close)
        first = (page - 1) * per_page + 1
        count = max(0, min(per_page, self.rows - first + 1))
        link = None
        if first + count <= self.rows:
            last = -(-self.rows // per_page)
            url = f"{self.base_url}/issues?per_page={per_page}&page="
            link = f'<{url}{page + 1}>; rel="next", <{url}{last}>; rel="last"'
        return _response(b"200 OK", render_page(first, count), close=close, link=link)


class _Connection:
    """One client socket: bytes in, requests parsed, one response at a time out."""

    def __init__(self, sock: socket.socket, api: _Api) -> None:
        self.sock = sock
        self.api = api
        self.inbox = bytearray()
        self.outbox: memoryview | None = None
        self.closing = False

    def handle(self, events: int) -> bool:
        """Make progress after ``events``; False when the connection is done."""
        if events & selectors.EVENT_WRITE and not self._flush():
            return False
        if events & selectors.EVENT_READ:
            try:
                data = self.sock.recv(256 * 1024)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                return False
            if data == b"":
                return False
            if data:
                self.inbox += data
        # One response in flight at most: a pipelining client cannot make the server
        # buffer more than one page per connection.
        while self.outbox is None and not self.closing:
            response = self._next_response()
            if response is None:
                break
            self.outbox = memoryview(response)
            if not self._flush():
                return False
        return self.outbox is not None or not self.closing

    def _next_response(self) -> bytes | None:
        """The answer to the next complete request in the inbox, or None."""
        end = self.inbox.find(b"\r\n\r\n")
        if end < 0:
            if len(self.inbox) > _MAX_HEAD:
                self.closing = True
                return _response(b"431 Request Header Fields Too Large", b"{}", close=True)
            return None
        lines = bytes(self.inbox[:end]).split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        try:
            body_length = int(headers.get(b"content-length", b"0"))
        except ValueError:
            body_length = -1
        parts = lines[0].split(b" ")
        if len(parts) != 3 or body_length < 0:
            self.closing = True
            return _response(b"400 Bad Request", b"{}", close=True)
        if len(self.inbox) < end + 4 + body_length:
            return None  # a request body (never used) is still arriving
        del self.inbox[: end + 4 + body_length]
        method, target, version = parts
        connection = headers.get(b"connection", b"")
        self.closing = connection == b"close" or (
            version == b"HTTP/1.0" and connection != b"keep-alive"
        )
        return self.api.answer(method, target, close=self.closing)

    def _flush(self) -> bool:
        """Send what the socket takes now; False on a broken connection."""
        if self.outbox is None:
            return True
        try:
            sent = self.sock.send(self.outbox)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        self.outbox = self.outbox[sent:] if sent < len(self.outbox) else None
        return True

    @property
    def wanted(self) -> int:
        """The events to wait for next."""
        return selectors.EVENT_READ if self.outbox is None else selectors.EVENT_WRITE


def _tune_malloc() -> None:
    """Keep freed page buffers in glibc's heap instead of returning them to the kernel.

    A 1000-record page is ~0.8 MB; above glibc's mmap threshold every page would be fresh
    memory, and the page faults would cost several times the rendering (seen on a VM).
    """
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return
    mallopt(-1, 256 * 1024 * 1024)  # M_TRIM_THRESHOLD
    mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD (glibc's maximum)


def serve(listener: socket.socket, rows: int, wakeup: socket.socket) -> None:
    """Serve on ``listener`` until ``wakeup`` becomes readable."""
    host, port = listener.getsockname()[:2]
    api = _Api(rows, f"http://{host}:{port}")
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    selector.register(wakeup, selectors.EVENT_READ, wakeup)
    connections: dict[int, _Connection] = {}
    try:
        while True:
            for key, events in selector.select():
                if key.data is wakeup:
                    return
                if key.data is None:
                    _accept(listener, selector, connections, api)
                    continue
                connection: _Connection = key.data
                if not connection.handle(events):
                    selector.unregister(connection.sock)
                    connections.pop(connection.sock.fileno(), None)
                    connection.sock.close()
                elif key.events != connection.wanted:
                    selector.modify(connection.sock, connection.wanted, connection)
    finally:
        for connection in connections.values():
            connection.sock.close()
        selector.close()


def _accept(
    listener: socket.socket,
    selector: selectors.BaseSelector,
    connections: dict[int, _Connection],
    api: _Api,
) -> None:
    try:
        sock, _ = listener.accept()
    except (BlockingIOError, InterruptedError):
        return
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connection = _Connection(sock, api)
    connections[sock.fileno()] = connection
    selector.register(sock, selectors.EVENT_READ, connection)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the synthetic API until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m hakiri.testing.synthetic", description="Serve the synthetic issues API."
    )
    parser.add_argument("--rows", type=int, required=True, help="number of records to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error("--rows must be >= 0")
    _tune_malloc()
    try:
        listener = socket.create_server((args.host, args.port), backlog=128)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    # A signal writes to this socket pair (set_wakeup_fd), which wakes the selector at once.
    wake_read, wake_write = socket.socketpair()
    wake_write.setblocking(False)
    signal.set_wakeup_fd(wake_write.fileno())

    def _ignore(signum: int, frame: FrameType | None) -> None:
        pass  # the wakeup fd does the work; a handler must exist for it to be written

    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    with listener, wake_read, wake_write:
        host, port = listener.getsockname()[:2]
        print(f"{_READY}http://{host}:{port}", flush=True)
        serve(listener, args.rows, wake_read)
    return 0


class SyntheticServer(Serving):
    """``python -m hakiri.testing.synthetic`` as a subprocess, for a ``with`` block.

    Entering starts it and waits until it listens (``url`` tells where); leaving stops it
    with SIGTERM and waits for it to exit.
    """

    def __init__(self, rows: int, *, host: str = "127.0.0.1", timeout: float = 30) -> None:
        if rows < 0:
            raise ValueError("rows must be >= 0")
        self.rows = rows
        self._host = host
        self._timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:40123`` (no trailing slash)."""
        if self._url is None:
            raise RuntimeError("the server is not running")
        return self._url

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    def start(self) -> SyntheticServer:
        """Start the process and wait for its ``listening`` line; returns self."""
        if self._process is not None:
            return self
        argv = [sys.executable, "-m", "hakiri.testing.synthetic", "--rows", str(self.rows)]
        process = subprocess.Popen(
            [*argv, "--host", self._host, "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        self._process = process
        try:
            line = _read_line(process, self._timeout)
            if not line.startswith(_READY):
                raise RuntimeError(f"synthetic API did not start: {line!r}")
        except BaseException:
            self.stop()
            raise
        self._url = line[len(_READY) :].strip()
        return self

    def stop(self) -> None:
        """SIGTERM, then wait (SIGKILL after ``timeout``). Idempotent."""
        process, self._process, self._url = self._process, None, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(self._timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line the process prints, waiting at most ``timeout`` seconds."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("synthetic API did not say it listens in time")
        readable, _, _ = select.select([fd], [], [], remaining)
        if readable:
            chunk = os.read(fd, 1)
            if not chunk:
                raise RuntimeError(f"synthetic API exited with {process.wait()}")
            line += chunk
    return line.decode()


if __name__ == "__main__":
    raise SystemExit(main())
