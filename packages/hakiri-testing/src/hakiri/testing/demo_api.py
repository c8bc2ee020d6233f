"""A small, fast REST API with deterministic data, for tests and the demo.

In-process::

    with DemoApi(issues=120) as api:
        httpx.get(f"{api.url}/issues?style=token&per_page=20")

As a process (serves until SIGTERM or SIGINT)::

    python -m hakiri.testing.demo_api --host 127.0.0.1 --port 8765 --issues 500

Endpoints: ``/issues`` (paginated issues, see ``hakiri.testing._issue_pages``),
``/anything[/...]`` (an httpbin-compatible echo), ``/html`` (a page that is not JSON),
``/redirect-to?url=…[&status_code=302]`` (as httpbin), ``/shapes[?page=N&per_page=M]`` (the
records last given to ``set_shapes``, whose shape a test switches between runs) and
``/healthz``. Tests steer the server through thread-safe controls: ``fail_next``,
``hold_page`` / ``release``, ``add_issues``, ``set_delay``, ``set_shapes``; every request is
logged in ``requests``.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

import orjson

from hakiri.testing._issue_pages import BadRequest, issues_page
from hakiri.testing._server import (
    HttpRequest,
    ThreadedHttpServer,
    TrackedHandler,
    serve_until_signalled,
    take_next,
)

__all__ = ["DemoApi", "LoggedRequest", "main"]


@dataclass(frozen=True, slots=True)
class LoggedRequest(HttpRequest):
    """One request the demo API received."""

    body: bytes = b""


@dataclass(slots=True)
class _Failure:
    status: int
    remaining: int
    retry_after: str | None


@dataclass(slots=True)
class _Hold:
    nth: int
    seen: int = 0
    held: threading.Event = field(default_factory=threading.Event)
    every: bool = False
    """Hold the ``nth`` request and every one after it."""
    holding: int = 0
    """How many responses are being held now."""


class DemoApi(ThreadedHttpServer[LoggedRequest]):
    """The demo API server, running on a background thread.

    ``port=0`` picks a free port; ``url`` tells which. Use it as a context manager or call
    ``start()`` / ``stop()``.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, issues: int = 100) -> None:
        if issues < 0:
            raise ValueError("issues must be >= 0")
        super().__init__(host=host, port=port, handler=_Handler, thread_name="demo-api")
        self._issues = issues
        self._failures: list[_Failure] = []
        self._hold: _Hold | None = None
        self._released = threading.Event()
        self._delay = 0.0
        self._shapes: list[dict[str, Any]] = []

    def _on_stop(self) -> None:
        self._released.set()  # a held response goes out so its handler thread can end

    # -- observation -----------------------------------------------------------------------

    @property
    def issue_count(self) -> int:
        with self._lock:
            return self._issues

    # -- controls --------------------------------------------------------------------------

    def fail_next(
        self, status: int, times: int = 1, retry_after: int | float | str | None = None
    ) -> None:
        """Answer the next ``times`` requests (except ``/healthz``) with ``status``,
        sending ``Retry-After: retry_after`` (seconds or an HTTP date) when given."""
        header = None if retry_after is None else str(retry_after)
        with self._lock:
            self._failures.append(_Failure(status, times, header))

    def hold_page(self, n: int = 1) -> None:
        """Block the response of the ``n``-th ``/issues`` request from now on until
        ``release()`` (or ``stop()``); ``wait_held()`` tells when it is being held."""
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            self._hold = _Hold(n)
            self._released.clear()

    def hold_all(self) -> None:
        """Block the response of every ``/issues`` request from now on until ``release()``
        (or ``stop()``); ``holding`` tells how many are being held."""
        with self._lock:
            self._hold = _Hold(1, every=True)
            self._released.clear()

    @property
    def holding(self) -> int:
        """How many responses ``hold_page`` / ``hold_all`` are holding back now."""
        with self._lock:
            return self._hold.holding if self._hold is not None else 0

    def wait_held(self, timeout: float | None = None) -> bool:
        """Wait until the request chosen by ``hold_page`` is being held."""
        with self._lock:
            hold = self._hold
        if hold is None:
            raise RuntimeError("hold_page() was not called")
        return hold.held.wait(timeout)

    def release(self) -> None:
        """Let a held response go (and disarm ``hold_page``)."""
        with self._lock:
            self._hold = None
            self._released.set()

    def add_issues(self, k: int) -> None:
        """Append ``k`` newer issues (the source grows between runs)."""
        if k < 0:
            raise ValueError("k must be >= 0")
        with self._lock:
            self._issues += k

    def set_shapes(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Serve ``records`` at ``/shapes`` from now on, as a JSON array (paged by
        ``page`` / ``per_page`` when asked), whatever their shape."""
        with self._lock:
            self._shapes = [dict(record) for record in records]

    def _shapes_page(self, page: int | None, per_page: int) -> list[dict[str, Any]]:
        with self._lock:
            if page is None:
                return list(self._shapes)
            start = (page - 1) * per_page
            return self._shapes[start : start + per_page]

    def set_delay(self, seconds: float) -> None:
        """Delay every response (except ``/healthz``) by ``seconds``."""
        with self._lock:
            self._delay = max(0.0, float(seconds))

    # -- used by the handler ---------------------------------------------------------------

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            return take_next(self._failures)

    def _current_delay(self) -> float:
        with self._lock:
            return self._delay

    def _wait_if_held(self) -> None:
        with self._lock:
            hold = self._hold
            if hold is None:
                return
            hold.seen += 1
            if hold.seen != hold.nth and not (hold.every and hold.seen > hold.nth):
                return
            hold.holding += 1
        hold.held.set()
        try:
            while not self._released.wait(0.05):
                if self._stopping.is_set():
                    return
        finally:
            with self._lock:
                hold.holding -= 1


def _title_case(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


class _Handler(TrackedHandler[DemoApi]):
    server_version = "HakiriDemoApi/0.1"

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    # -- plumbing --------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        payload: Any,
        *,
        headers: dict[str, str] | None = None,
        head: bool = False,
    ) -> None:
        self._send_raw(status, orjson.dumps(payload), "application/json", headers, head=head)

    def _send_raw(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        head: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _dispatch(self, *, head: bool = False) -> None:
        api = self.server.api
        body = self._read_body()
        path, query, headers = self._target()
        api._log(LoggedRequest(self.command, path, query, headers, body))
        if path == "/healthz":
            self._send(200, {"status": "ok"}, head=head)
            return
        failure = api._take_failure()
        if failure is not None:
            extra = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            reason = HTTPStatus(failure.status).phrase if failure.status in _KNOWN else "error"
            self._send(failure.status, {"message": reason}, headers=extra, head=head)
            return
        delay = api._current_delay()
        if delay and api._stopping.wait(delay):
            return
        if path == "/issues":
            self._issues(query, head=head)
        elif path == "/anything" or path.startswith("/anything/"):
            self._anything(body, query, head=head)
        elif path == "/shapes":
            self._shapes(query, head=head)
        elif path == "/html":
            self._send_raw(200, _HTML, "text/html; charset=utf-8", head=head)
        elif path == "/redirect-to" and query.get("url"):
            status = int((query.get("status_code") or ["302"])[-1])
            self._send_raw(status, b"", "text/plain", {"Location": query["url"][-1]}, head=head)
        else:
            self._send(404, {"message": "Not Found", "path": path}, head=head)

    def _issues(self, query: dict[str, list[str]], *, head: bool) -> None:
        api = self.server.api
        try:
            page = issues_page(
                query,
                count=api.issue_count,
                base_url=f"{self._base_url()}/issues",
                path="/issues",
            )
        except BadRequest as exc:
            self._send(422, {"message": str(exc)}, head=head)
            return
        api._wait_if_held()
        self._send(200, page.body, headers=page.headers, head=head)

    def _shapes(self, query: dict[str, list[str]], *, head: bool) -> None:
        try:
            page = int(query["page"][-1]) if "page" in query else None
            per_page = int((query.get("per_page") or ["100"])[-1])
        except ValueError:
            self._send(422, {"message": "page and per_page must be integers"}, head=head)
            return
        if (page is not None and page < 1) or per_page < 1:
            self._send(422, {"message": "page and per_page must be >= 1"}, head=head)
            return
        self._send(200, self.server.api._shapes_page(page, per_page), head=head)

    def _anything(self, body: bytes, query: dict[str, list[str]], *, head: bool) -> None:
        text = body.decode("utf-8", errors="replace")
        try:
            parsed: Any = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        form: dict[str, Any] = {}
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = _flatten(parse_qs(text, keep_blank_values=True))
            text = ""
        echo = {
            "args": _flatten(query),
            "data": text,
            "files": {},
            "form": form,
            "headers": _echo_headers(self.headers),
            "json": parsed,
            "method": self.command,
            "origin": self.client_address[0],
            "url": f"{self._base_url()}{self.path}",
        }
        self._send(200, echo, head=head)


_KNOWN = {int(status) for status in HTTPStatus}
_HTML = b"<!DOCTYPE html>\n<html><body><h1>Not JSON</h1><p>An HTML page.</p></body></html>\n"


def _flatten(query: dict[str, list[str]]) -> dict[str, str | list[str]]:
    """httpbin's shape: a single value as a string, a repeated one as a list."""
    return {k: v[0] if len(v) == 1 else v for k, v in query.items()}


def _echo_headers(headers: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = _title_case(name)
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo API until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m hakiri.testing.demo_api", description="Serve the Hakiri demo API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--issues", type=int, default=100, help="number of issues to serve")
    args = parser.parse_args(argv)
    api = DemoApi(host=args.host, port=args.port, issues=args.issues)
    return serve_until_signalled(api, "demo API")


if __name__ == "__main__":
    raise SystemExit(main())
