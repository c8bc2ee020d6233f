"""What the daemon refuses from web pages and from broken, slow or greedy clients.

One real ``hakiri serve`` on loopback, started with an allowed origin, a 1-second read
timeout and a small body cap so that the bounds are reached quickly. Requests are sent with
``http.client`` or a raw socket, so that exactly the headers and bytes a browser or a hostile
client would send go out; every wait of a test is bounded (a bound for a hang, not a timing).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from hakiri.agent.daemon.app import HANDLER_THREADS
from hakiri.testing.daemon import DaemonProcess, HttpAnswer
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import store_fingerprint, write_manifest

pytestmark = pytest.mark.timeout(180)

_WAIT = 30.0
"""Seconds any awaited answer or state may take before a test fails."""
_READ_TIMEOUT = 1.0
_MAX_BODY = 100_000
_ALLOWED = "http://app.example:8080"
_BUSY = 40
"""Pipelines pulled at once to fill every handler thread (anyio's default pool has 40)."""


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[DemoApi]:
    with DemoApi(issues=30) as server:
        yield server


@pytest.fixture(scope="module")
def held_api() -> Iterator[DemoApi]:
    """The source of the ``busy_*`` pipelines, whose answers a test holds back."""
    with DemoApi(issues=30) as server:
        yield server


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, api: DemoApi, held_api: DemoApi) -> Path:
    root = tmp_path_factory.mktemp("serve-hardening") / "project"
    busy = "".join(
        f"""
[pipelines.busy_{n:02d}.source]
connector = "http"
url = "{held_api.url}/issues"
params = {{ style = "link", per_page = 10 }}
pagination = {{ kind = "link_header" }}
"""
        for n in range(_BUSY)
    )
    write_manifest(
        root,
        f"""
[pipelines.issues.source]
connector = "http"
url = "{api.url}/issues"
params = {{ style = "link", per_page = 10 }}
pagination = {{ kind = "link_header" }}
{busy}""",
    )
    return root


@pytest.fixture(scope="module")
def daemon(project: Path) -> Iterator[DaemonProcess]:
    args = ["--allow-origin", _ALLOWED, "--read-timeout", str(_READ_TIMEOUT)]
    server = DaemonProcess(project, args=[*args, "--max-body", str(_MAX_BODY)]).start()
    try:
        started = server.post("/v1/pipelines/issues/runs")
        assert started.status == 202, started
        assert server.wait_run(started.json()["run_id"], timeout=_WAIT)["status"] == "succeeded"
        yield server
    finally:
        status = server.stop(timeout=30)
    log = server.log()
    assert status == 0, log
    assert "Traceback" not in log, log


# -- helpers ----------------------------------------------------------------------------------


def _send(
    daemon: DaemonProcess,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpAnswer:
    """One request with exactly these headers (``http.client`` adds only Host and
    Content-Length)."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=_WAIT)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        return HttpAnswer(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


def _error(answer: HttpAnswer, status: int, code: str) -> dict[str, Any]:
    assert answer.status == status, answer
    content_type = {k.lower(): v for k, v in answer.headers.items()}.get("content-type", "")
    assert content_type.startswith("application/json"), answer.headers
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code, error
    assert error["message"] and "\n" not in error["message"], error
    return error


def _header(answer: HttpAnswer, name: str) -> str | None:
    return {k.lower(): v for k, v in answer.headers.items()}.get(name.lower())


def _state(daemon: DaemonProcess, project: Path) -> tuple[list[str], str]:
    """The runs the daemon lists and a fingerprint of every byte of the store."""
    runs = daemon.get("/v1/runs?limit=100").json()["runs"]
    return [run["run_id"] for run in runs], store_fingerprint(project / ".hakiri")


def _raw(daemon: DaemonProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", daemon.port), timeout=_WAIT)


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (within ``_WAIT``)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- cross-origin requests --------------------------------------------------------------------


def _foreign(daemon: DaemonProcess) -> list[str]:
    return [
        "http://evil.example",
        "null",
        f"http://127.0.0.1:{daemon.port + 1}",  # another port of this machine
        f"https://127.0.0.1:{daemon.port}",  # another scheme
        f"http://localhost:{daemon.port}",  # another host than the one the request names
    ]


def test_a_cross_origin_post_is_403_and_changes_nothing(
    daemon: DaemonProcess, project: Path
) -> None:
    before = _state(daemon, project)
    for origin in _foreign(daemon):
        for content_type in ("text/plain", "application/json", None):
            headers = {"Origin": origin}
            if content_type:
                headers["Content-Type"] = content_type
            started = _send(daemon, "POST", "/v1/pipelines/issues/runs", b"{}", headers)
            error = _error(started, 403, "origin_not_allowed")
            assert repr(origin) in error["message"] and "--allow-origin" in error["hint"]
            query = b'{"sql": "select count(*) from issues"}'
            _error(_send(daemon, "POST", "/v1/query", query, headers), 403, "origin_not_allowed")
    assert daemon.get("/healthz").json()["running"] == []
    assert _state(daemon, project) == before


def test_a_foreign_origin_is_refused_on_every_path_but_healthz(daemon: DaemonProcess) -> None:
    origin = {"Origin": "http://evil.example"}
    initialize = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
    mcp = {**origin, "Content-Type": "application/json", "Accept": "application/json"}
    for method, path, body, headers in [
        ("GET", "/v1/pipelines", None, origin),
        ("GET", "/v1/runs", None, origin),
        ("GET", "/v1/runs/nope/events", None, origin),
        ("GET", "/openapi.json", None, origin),
        ("GET", "/mcp", None, origin),
        ("POST", "/mcp", initialize, mcp),
        ("DELETE", "/mcp", None, origin),
        ("GET", "/no/such/path", None, origin),
    ]:
        _error(_send(daemon, method, path, body, headers), 403, "origin_not_allowed")
    assert _send(daemon, "GET", "/healthz", headers=origin).status == 200
    # A no-cors request (an <img> or <script> of another site) has no Origin, but says so.
    cross_site = {"Sec-Fetch-Site": "cross-site"}
    _error(_send(daemon, "GET", "/v1/pipelines", headers=cross_site), 403, "origin_not_allowed")
    for site in ("same-origin", "none"):  # the daemon's own page; an address typed by hand
        assert _send(daemon, "GET", "/v1/pipelines", headers={"Sec-Fetch-Site": site}).status == 200


def test_same_origin_and_no_origin_requests_are_served(
    daemon: DaemonProcess, project: Path
) -> None:
    json_type = {"Content-Type": "application/json"}
    query = b'{"sql": "select count(distinct id) as n from issues"}'
    for extra in (
        {},
        {"Origin": f"http://127.0.0.1:{daemon.port}"},
        {"Origin": f"http://localhost:{daemon.port}", "Host": f"localhost:{daemon.port}"},
        {"Origin": f"HTTP://127.0.0.1:{daemon.port}"},  # origins compare case-insensitively
    ):
        answer = _send(daemon, "POST", "/v1/query", query, {**json_type, **extra})
        assert answer.status == 200, (extra, answer)
        assert answer.json()["rows"] == [[30]]
    same = {"Origin": f"http://127.0.0.1:{daemon.port}", "Content-Type": "application/json"}
    started = _send(daemon, "POST", "/v1/pipelines/issues/runs", b"", same)
    assert started.status == 202, started
    assert daemon.wait_run(started.json()["run_id"], timeout=_WAIT)["status"] == "succeeded"


def test_an_allowed_origin_is_served_with_cors(daemon: DaemonProcess) -> None:
    origin = {"Origin": _ALLOWED}
    query = b'{"sql": "select 1 as one"}'
    answer = _send(
        daemon, "POST", "/v1/query", query, {**origin, "Content-Type": "application/json"}
    )
    assert answer.status == 200, answer
    assert _header(answer, "access-control-allow-origin") == _ALLOWED
    # The browser's preflight for that JSON POST is granted (it carries no token).
    preflight = {
        **origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    granted = _send(daemon, "OPTIONS", "/v1/query", headers=preflight)
    assert granted.status == 200, granted
    assert _header(granted, "access-control-allow-origin") == _ALLOWED
    assert "POST" in (_header(granted, "access-control-allow-methods") or "")
    # Nobody else's: a foreign page's preflight is refused like its requests.
    foreign = {**preflight, "Origin": "http://evil.example"}
    _error(_send(daemon, "OPTIONS", "/v1/query", headers=foreign), 403, "origin_not_allowed")


def test_the_mcp_client_keeps_working(daemon: DaemonProcess) -> None:
    async def session() -> Any:
        with anyio.fail_after(_WAIT):
            async with (
                streamable_http_client(f"{daemon.url}/mcp") as (read, write),
                ClientSession(read, write) as client,
            ):
                await client.initialize()
                result = await client.call_tool(
                    "context.query", {"sql": "select count(distinct id) as n from issues"}
                )
                assert not result.is_error, result.content
                assert result.structured_content is not None
                return result.structured_content["rows"]

    assert anyio.run(session) == [[30]]


# -- content types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_a_post_that_is_not_json_is_415_and_does_nothing(
    daemon: DaemonProcess, project: Path, content_type: str | None
) -> None:
    before = _state(daemon, project)
    headers = {"Content-Type": content_type} if content_type else {}
    for path, body in [
        ("/v1/pipelines/issues/runs", b""),  # a POST that takes no body needs it too
        ("/v1/pipelines/issues/runs", b"{}"),
        ("/v1/pipelines/issues/plan", b"{}"),
        ("/v1/query", b'{"sql": "select 1"}'),
        ("/mcp", b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}'),
    ]:
        error = _error(_send(daemon, "POST", path, body, headers), 415, "unsupported_media_type")
        assert "application/json" in error["hint"], error
    assert _state(daemon, project) == before


def test_json_with_parameters_is_json(daemon: DaemonProcess) -> None:
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        answer = _send(
            daemon, "POST", "/v1/query", b'{"sql": "select 1"}', {"Content-Type": content_type}
        )
        assert answer.status == 200, (content_type, answer)


# -- bodies -----------------------------------------------------------------------------------

_JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,  # RecursionError in json.loads, once a plain-text 500
        b'{"sql": ' + b"[" * 65 + b"]" * 65 + b"}",  # valid JSON, nested past the bound
        b'{"sql": "select 1"',
        b'{"sql": "select 1", "timeout": NaN}',
        b"\xff\xfe not utf-8",
    ],
    ids=["deep-invalid", "deep-valid", "truncated", "nan", "not-utf8"],
)
def test_a_malformed_body_is_400_json(daemon: DaemonProcess, body: bytes) -> None:
    for path in ("/v1/query", "/v1/pipelines/issues/plan"):
        _error(_send(daemon, "POST", path, body, _JSON), 400, "invalid_json")


def test_a_body_that_is_not_the_expected_one_is_422(daemon: DaemonProcess) -> None:
    _error(_send(daemon, "POST", "/v1/query", b"", _JSON), 422, "invalid_request")
    _error(_send(daemon, "POST", "/v1/query", b"[]", _JSON), 422, "invalid_request")
    # An endpoint that takes no body takes an object (ignored) or nothing, not another value.
    for other in (b"[]", b"null", b'"x"'):
        answer = _send(daemon, "POST", "/v1/pipelines/nope/plan", other, _JSON)
        _error(answer, 422, "invalid_request")
    ignored = _send(daemon, "POST", "/v1/pipelines/nope/plan", b'{"x": 1}', _JSON)
    _error(ignored, 404, "unknown_pipeline")


def test_an_oversized_body_is_413_json(daemon: DaemonProcess) -> None:
    big = json.dumps({"sql": "select 1 -- " + "x" * _MAX_BODY}).encode()
    for path in ("/v1/query", "/mcp"):
        error = _error(_send(daemon, "POST", path, big, _JSON), 413, "payload_too_large")
        assert str(_MAX_BODY) in error["message"], error


def test_a_declared_oversized_body_is_refused_before_it_is_sent(daemon: DaemonProcess) -> None:
    with _raw(daemon) as sock:
        sock.sendall(
            b"POST /v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {_MAX_BODY + 1}\r\n\r\n".encode()
        )
        answer = _read_all(sock)  # the daemon answers and closes without reading a byte
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_a_chunked_oversized_body_is_counted_and_refused(daemon: DaemonProcess) -> None:
    chunk = b"x" * 10_000
    with _raw(daemon) as sock:
        sock.sendall(
            b"POST /v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(_MAX_BODY // len(chunk) + 1):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = _read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert json.loads(body)["error"]["code"] == "payload_too_large"


# -- slow clients -----------------------------------------------------------------------------


def test_a_stalled_body_is_408_and_the_connection_closed(daemon: DaemonProcess) -> None:
    with _raw(daemon) as sock:
        sock.sendall(
            b"POST /v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"s'
        )
        answer = _read_all(sock)  # returns once the daemon closes (a hang fails at _WAIT)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer[:300]
    error = json.loads(body)["error"]
    assert error["code"] == "request_timeout" and f"{_READ_TIMEOUT:g}s" in error["message"]


@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /v1/query HTTP/1.1\r\n", b"GET /v1/pipelines HTTP/1.1\r\nHost: 127.0.0.1\r\n"],
    ids=["nothing", "request-line", "unfinished-headers"],
)
def test_a_connection_whose_headers_never_end_is_closed(daemon: DaemonProcess, sent: bytes) -> None:
    with _raw(daemon) as sock:
        sock.sendall(sent)
        assert _read_all(sock) == b""  # closed, nothing to answer (a hang fails at _WAIT)
    assert daemon.get("/healthz").status == 200


def test_a_slow_loris_sending_header_bytes_is_still_closed(daemon: DaemonProcess) -> None:
    with _raw(daemon) as sock:
        sock.sendall(b"GET /v1/pipelines HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        deadline = time.monotonic() + _WAIT
        try:
            while time.monotonic() < deadline:  # a byte now and then never resets the deadline
                sock.sendall(b"X")
                time.sleep(_READ_TIMEOUT / 4)
        except OSError:  # BrokenPipe / ConnectionReset: the daemon closed it
            return
    raise AssertionError(f"a connection still sending headers was held for {_WAIT}s")


def test_oversized_headers_are_refused(daemon: DaemonProcess) -> None:
    # h11 refuses incomplete headers past 16 KiB; one read (at most 256 KiB) may complete them.
    with _raw(daemon) as sock:
        sock.sendall(b"GET /v1/pipelines HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        try:
            sock.sendall(b"x" * 1_000_000 + b"\r\n\r\n")
            answer = _read_all(sock)
        except (BrokenPipeError, ConnectionResetError):  # answered and closed mid-send
            return
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]


def test_keep_alive_connections_serve_requests_after_one_another(daemon: DaemonProcess) -> None:
    # The header deadline is per request: a pause shorter than the keep-alive does no harm.
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=_WAIT)
    try:
        for _ in range(3):
            conn.request("GET", "/v1/pipelines")
            resp = conn.getresponse()
            assert resp.status == 200
            resp.read()
            time.sleep(_READ_TIMEOUT * 1.5)
    finally:
        conn.close()


# -- a daemon whose handlers are all busy -----------------------------------------------------


def test_healthz_answers_while_every_handler_thread_is_busy(
    daemon: DaemonProcess, held_api: DemoApi
) -> None:
    names = [f"busy_{n:02d}" for n in range(_BUSY)]
    pages = {}
    for name in names:
        planned = daemon.post(f"/v1/pipelines/{name}/plan")
        assert planned.status == 200, planned
        pages[name] = planned.json()["pages"][0]["id"]
    answers: dict[str, HttpAnswer] = {}

    def pull(name: str) -> None:
        answers[name] = daemon.post(f"/v1/pipelines/{name}/pull?page={pages[name]}", timeout=120)

    held_api.hold_all()
    threads = [threading.Thread(target=pull, args=(name,), daemon=True) for name in names]
    try:
        for thread in threads:
            thread.start()
        # Every handler thread now waits on the source; the other pulls wait for a thread.
        _eventually(
            lambda: held_api.holding >= HANDLER_THREADS or bool(answers),
            "the handler threads to block",
        )
        assert not answers, answers  # no pull may end while the source holds them all
        health = daemon.get("/healthz", timeout=_WAIT)
        assert health.status == 200 and health.json()["status"] == "ok", health
        assert held_api.holding == HANDLER_THREADS  # the handlers' own limiter holds the rest
    finally:
        held_api.release()
        for thread in threads:
            thread.join(120)
    assert sorted(answers) == names
    assert {answer.status for answer in answers.values()} == {200}, answers
