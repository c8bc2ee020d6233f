"""The transport: compression, redirects, timeouts, request headers, connections, bad URLs.

The demo API neither compresses nor sends relative ``Link`` headers, so a few cases use
``_Odd``, a handler made for them, on a server of its own.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from hakiri.connectors._http.client import HttpRequest, RetryingClient
from hakiri.connectors._http.retry import RetryConfig
from hakiri.connectors.http import connector
from hakiri.connectors.http.config import HttpSourceConfig
from hakiri.connectors.http.source import HttpSource
from hakiri.core.errors import SourceError, SourceUnreachable
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.host import TestHost
from hakiri.testing.net import free_port
from hakiri.testing.sources import read_all

_ROWS = [{"id": 1, "name": "ä"}, {"id": 2, "name": "b"}]
_COMPRESS = {"gzip": gzip.compress, "deflate": zlib.compress}


class _Odd(BaseHTTPRequestHandler):
    """Compressed bodies, a redirect to a relative ``Link``, a redirect loop, a hang-up."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path
        if path.startswith("/compressed/"):
            encoding = path.rsplit("/", 1)[-1]
            if encoding not in self.headers.get("Accept-Encoding", ""):
                self._send(406, b"{}")
                return
            body = _COMPRESS[encoding](orjson.dumps(_ROWS))
            self._send(200, body, {"Content-Encoding": encoding})
        elif path == "/start":
            self._send(302, b"", {"Location": "/v2/items?page=1"})
        elif path == "/v2/items?page=1":
            # Relative to /v2/: resolved against /start it would be /items?page=2, a 404.
            self._send(200, b'[{"id": 1}]', {"Link": '<items?page=2>; rel="next"'})
        elif path == "/v2/items?page=2":
            self._send(200, b'[{"id": 2}]')
        elif path == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif path == "/hangup":
            self.close_connection = True  # no status line, no headers: just close
        else:
            self._send(404, b'{"message": "Not Found"}')

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def odd_api() -> Iterator[str]:
    """The base URL of a started ``_Odd`` server, stopped afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Odd)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("encoding", sorted(_COMPRESS))
def test_compressed_bodies_are_decoded(odd_api: str, host: TestHost, encoding: str) -> None:
    with connector.create({"url": f"{odd_api}/compressed/{encoding}"}, host) as source:
        assert read_all(source).rows == _ROWS


def test_a_relative_link_header_resolves_against_the_url_after_redirects(
    odd_api: str, host: TestHost
) -> None:
    options = {"url": f"{odd_api}/start", "pagination": {"kind": "link_header"}}
    with connector.create(options, host) as source:
        result = read_all(source)
    assert result.column("id") == [1, 2]
    assert result.pages[1].params["url"] == f"{odd_api}/v2/items?page=2"


def test_a_relative_next_url_resolves_against_the_redirect_target(host: TestHost) -> None:
    # The first request is redirected to another server: the next pages come from there.
    with DemoApi(issues=12) as first, DemoApi(issues=12) as second:
        target = f"{second.url}/issues?style=next_url&next_relative=1&per_page=5"
        options = {
            "url": f"{first.url}/redirect-to",
            "params": {"url": target},
            "records": "data",
            "pagination": {"kind": "next_url", "path": "next"},
        }
        with connector.create(options, host) as source:
            result = read_all(source)
        assert result.column("id") == list(range(1, 13))
        assert len(second.requests_to("/issues")) == 3
        assert first.requests_to("/issues") == []


def test_a_redirect_loop_fails_with_one_line(odd_api: str, host: TestHost) -> None:
    with connector.create({"url": f"{odd_api}/loop"}, host) as source:
        with pytest.raises(SourceError) as caught:
            read_all(source)
    assert caught.value.message == f"GET {odd_api}/loop failed: more than 20 redirects"
    assert caught.value.hint == "check source.url"


def test_a_server_hanging_up_is_retried_then_unreachable(odd_api: str, host: TestHost) -> None:
    options = {"url": f"{odd_api}/hangup", "retry": {"max_attempts": 2, "backoff": 0.01}}
    with connector.create(options, host) as source, pytest.raises(SourceUnreachable) as caught:
        read_all(source)
    assert caught.value.message == (
        f"cannot reach {odd_api}/hangup: the server closed the connection without a response"
    )
    assert caught.value.details["attempts"] == 2


def test_a_read_timeout_is_retried(demo_api: DemoApi, host: TestHost) -> None:
    demo_api.set_delay(2)
    config = HttpSourceConfig.model_validate(
        {"url": f"{demo_api.url}/anything", "timeout": 0.2, "retry": {"max_attempts": 2}}
    )
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # the server recovers while the client backs off
        sleeps.append(seconds)
        demo_api.set_delay(0)

    client = RetryingClient(
        timeout=config.timeout, retry=config.retry, clock=host.clock, sleep=sleep
    )
    with HttpSource(config, host, client=client) as source:
        result = read_all(source)
        assert source.requests_sent == 2
    assert len(sleeps) == 1
    assert result.rows[0]["method"] == "GET"


def test_a_read_timeout_after_every_attempt_is_no_response(
    demo_api: DemoApi, host: TestHost
) -> None:
    demo_api.set_delay(2)
    options = {
        "url": f"{demo_api.url}/anything",
        "timeout": 0.2,
        "retry": {"max_attempts": 2, "backoff": 0.01},
    }
    with connector.create(options, host) as source, pytest.raises(SourceUnreachable) as caught:
        read_all(source)
    demo_api.set_delay(0)
    assert caught.value.message == f"cannot reach {demo_api.url}/anything: no response within 0.2 s"
    assert caught.value.hint == "check source.url, or raise source.timeout"
    assert caught.value.details["attempts"] == 2


def test_requests_say_what_they_accept(demo_api: DemoApi, host: TestHost) -> None:
    with connector.create({"url": f"{demo_api.url}/anything"}, host) as source:
        read_all(source)
    (request,) = demo_api.requests
    assert request.headers["accept"] == "application/json"
    assert request.headers["accept-encoding"] == "gzip, deflate"
    assert request.headers["user-agent"].startswith("hakiri-http/")


def test_configured_headers_replace_the_defaults(demo_api: DemoApi, host: TestHost) -> None:
    options = {
        "url": f"{demo_api.url}/anything",
        "headers": {"accept": "application/vnd.github+json", "User-Agent": "me"},
    }
    with connector.create(options, host) as source:
        read_all(source)
    (request,) = demo_api.requests
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["user-agent"] == "me"


def test_pages_share_one_connection(host: TestHost) -> None:
    with DemoApi(issues=12) as api:
        options = {
            "url": f"{api.url}/issues",
            "params": {"per_page": 5},
            "pagination": {"kind": "link_header"},
        }
        with connector.create(options, host) as source:
            assert len(read_all(source).pages) == 3
        assert api.connections_accepted == 1


def test_an_unsupported_scheme_is_a_source_error(host: TestHost) -> None:
    # A config URL must be http(s), but a next link comes from the server.
    client = RetryingClient(timeout=1, retry=RetryConfig(), clock=host.clock)
    request = HttpRequest("GET", "ftp://example.com/page/2", "ftp://example.com/page/2")
    with pytest.raises(SourceError) as caught:
        client.send(request)
    client.close()
    assert type(caught.value) is SourceError
    assert caught.value.message == (
        "cannot request ftp://example.com/page/2: unsupported URL scheme 'ftp' (http or https)"
    )
    assert client.attempts == 0


def test_a_secret_with_a_line_break_is_not_sent_nor_shown(
    demo_api: DemoApi, tmp_path: Path
) -> None:
    secret = "tok-7c1e-with-newline\n"
    host = TestHost(tmp_path, secrets={"TOKEN": secret})
    options = {"url": f"{demo_api.url}/anything", "headers": {"X-Key": "secret://TOKEN"}}
    with connector.create(options, host) as source, pytest.raises(SourceError) as caught:
        read_all(source)
    error = caught.value
    assert "header" in error.message
    assert "source.headers" in (error.hint or "")
    assert secret.strip() not in str(error.to_dict()) + error.one_line()
    assert demo_api.requests == []


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for scheme in ("http", "https", "all", "no"):
        for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY"):
            monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_proxy_from_the_environment_is_used(
    demo_api: DemoApi, host: TestHost, no_proxies: pytest.MonkeyPatch
) -> None:
    # The demo API answers absolute-form requests too, so it can stand in for the proxy;
    # without it, hakiri.invalid would not resolve.
    no_proxies.setenv("HTTP_PROXY", demo_api.url)
    options = {"url": "http://hakiri.invalid/anything", "retry": {"max_attempts": 1}}
    with connector.create(options, host) as source:
        read_all(source)
    (request,) = demo_api.requests
    assert request.headers["host"] == "hakiri.invalid"


def test_no_proxy_bypasses_the_proxy(
    demo_api: DemoApi, host: TestHost, no_proxies: pytest.MonkeyPatch
) -> None:
    no_proxies.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens
    no_proxies.setenv("NO_PROXY", "127.0.0.1")
    options = {"url": f"{demo_api.url}/anything", "retry": {"max_attempts": 1}}
    with connector.create(options, host) as source:
        read_all(source)
    assert len(demo_api.requests) == 1


def test_proxy_credentials_are_sent_to_the_proxy(
    demo_api: DemoApi, host: TestHost, no_proxies: pytest.MonkeyPatch
) -> None:
    no_proxies.setenv("HTTP_PROXY", demo_api.url.replace("://", "://me:p%40ss@"))
    options = {"url": "http://hakiri.invalid/anything", "retry": {"max_attempts": 1}}
    with connector.create(options, host) as source:
        read_all(source)
    (request,) = demo_api.requests
    assert request.headers["proxy-authorization"] == "Basic bWU6cEBzcw=="  # me:p@ss


def test_an_unreachable_proxy_is_named(host: TestHost, no_proxies: pytest.MonkeyPatch) -> None:
    no_proxies.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    options = {"url": "http://hakiri.invalid/anything", "retry": {"max_attempts": 1}}
    with connector.create(options, host) as source, pytest.raises(SourceUnreachable) as caught:
        read_all(source)
    assert caught.value.message == (
        "cannot reach http://hakiri.invalid/anything: through the proxy: connection refused"
    )
