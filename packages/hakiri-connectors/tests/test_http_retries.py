"""Retries against a real server: rate limits, flaky servers, dead servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from hakiri.connectors._http.client import RetryingClient, parse_retry_after
from hakiri.connectors._http.retry import RetryConfig
from hakiri.connectors.http import connector
from hakiri.connectors.http.config import HttpSourceConfig
from hakiri.connectors.http.source import HttpSource
from hakiri.core.clock import ManualClock
from hakiri.core.errors import SourceHttpError, SourceUnreachable
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.host import TestHost
from hakiri.testing.net import free_port
from hakiri.testing.sources import read_all

FAST = {"max_attempts": 3, "backoff": 0.01, "max_backoff": 0.05}


def _source(host: TestHost, url: str, sleeps: list[float], **retry: Any) -> HttpSource:
    """A source whose client records the delays it would sleep instead of sleeping."""
    config = HttpSourceConfig.model_validate({"url": url, "retry": retry})
    client = RetryingClient(
        timeout=config.timeout, retry=config.retry, clock=host.clock, sleep=sleeps.append
    )
    return HttpSource(config, host, client=client)


def test_429_with_retry_after_then_success(demo_api: DemoApi, host: TestHost) -> None:
    demo_api.fail_next(429, retry_after=1)
    with connector.create({"url": f"{demo_api.url}/anything"}, host) as source:
        result = read_all(source)
    assert len(demo_api.requests) == 2
    assert result.rows[0]["method"] == "GET"


def test_retry_after_is_honoured(demo_api: DemoApi, host: TestHost) -> None:
    demo_api.fail_next(429, retry_after=2)
    sleeps: list[float] = []
    with _source(host, f"{demo_api.url}/anything", sleeps) as source:
        read_all(source)
    assert sleeps == [2.0]


def test_retry_after_is_honoured_beyond_max_backoff(demo_api: DemoApi, host: TestHost) -> None:
    # The server's word beats our backoff ceiling: retrying sooner would only earn another
    # 429. Only max_wait bounds it.
    demo_api.fail_next(503, retry_after=120)
    sleeps: list[float] = []
    with _source(host, f"{demo_api.url}/anything", sleeps, max_backoff=5) as source:
        read_all(source)
    assert sleeps == [120.0]


def test_retry_after_beyond_max_wait_fails_clearly(demo_api: DemoApi, host: TestHost) -> None:
    demo_api.fail_next(429, retry_after=3600)
    sleeps: list[float] = []
    with _source(host, f"{demo_api.url}/anything", sleeps) as source:
        with pytest.raises(SourceHttpError, match="Retry-After") as caught:
            read_all(source)
    assert "3600" in caught.value.message and "max_wait" in caught.value.message
    assert sleeps == []
    assert len(demo_api.requests) == 1


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now) == 7
    assert parse_retry_after("3", now) == 3
    assert parse_retry_after("soon", now) is None


def test_http_date_retry_after_uses_the_host_clock(demo_api: DemoApi, tmp_path: Any) -> None:
    clock = ManualClock(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    host = TestHost(tmp_path, clock=clock)
    demo_api.fail_next(
        503, retry_after=format_datetime(clock.now() + timedelta(seconds=4), usegmt=True)
    )
    sleeps: list[float] = []
    with _source(host, f"{demo_api.url}/anything", sleeps) as source:
        read_all(source)
    assert sleeps == [4.0]


def test_503_twice_then_success(demo_api: DemoApi, host: TestHost) -> None:
    demo_api.fail_next(503, times=2)
    options = {"url": f"{demo_api.url}/anything", "retry": FAST}
    with connector.create(options, host) as source:
        result = read_all(source)
        assert source.requests_sent == 3
    assert len(demo_api.requests) == 3
    assert len(result.rows) == 1


def test_backoff_grows_and_is_capped(demo_api: DemoApi, host: TestHost) -> None:
    demo_api.fail_next(500, times=5)
    sleeps: list[float] = []
    retry = {"max_attempts": 6, "backoff": 1, "max_backoff": 4}
    with _source(host, f"{demo_api.url}/anything", sleeps, **retry) as source:
        read_all(source)
    ceilings = [1, 2, 4, 4, 4]
    assert len(sleeps) == 5
    assert all(c / 2 <= s <= c for s, c in zip(sleeps, ceilings, strict=True))


def test_persistent_500_fails_after_max_attempts(demo_api: DemoApi, host: TestHost) -> None:
    demo_api.fail_next(500, times=100)
    options = {"url": f"{demo_api.url}/anything", "retry": FAST}
    with connector.create(options, host) as source, pytest.raises(SourceHttpError) as caught:
        read_all(source)
    assert len(demo_api.requests) == 3
    error = caught.value
    assert error.code == "source_http_error"
    assert "HTTP 500" in error.message and f"{demo_api.url}/anything" in error.message
    assert "after 3 attempts" in error.message
    assert error.details["status"] == 500


def test_client_errors_are_not_retried(demo_api: DemoApi, host: TestHost) -> None:
    options = {"url": f"{demo_api.url}/missing", "retry": FAST}
    with connector.create(options, host) as source, pytest.raises(SourceHttpError) as caught:
        read_all(source)
    assert len(demo_api.requests) == 1
    assert "HTTP 404" in caught.value.message
    assert caught.value.hint == "check source.url"


def test_unreachable_port(host: TestHost) -> None:
    url = f"http://127.0.0.1:{free_port()}/anything"
    options = {"url": url, "retry": FAST}
    with connector.create(options, host) as source, pytest.raises(SourceUnreachable) as caught:
        read_all(source)
    assert source.requests_sent == 3
    error = caught.value
    assert error.message == f"cannot reach {url}: connection refused"
    assert error.hint == "check source.url"
    assert error.one_line() == f"cannot reach {url}: connection refused — check source.url"
    assert error.details["attempts"] == 3


def test_a_slow_server_times_out_as_unreachable(demo_api: DemoApi, host: TestHost) -> None:
    demo_api.set_delay(2)
    options = {"url": f"{demo_api.url}/anything", "timeout": 0.2, "retry": {"max_attempts": 1}}
    with connector.create(options, host) as source, pytest.raises(SourceUnreachable) as caught:
        read_all(source)
    demo_api.set_delay(0)
    assert "no response within 0.2 s" in caught.value.message
    assert "source.timeout" in (caught.value.hint or "")


def test_retry_config_defaults() -> None:
    retry = RetryConfig()
    assert (retry.max_attempts, retry.backoff, retry.max_backoff, retry.max_wait) == (
        5,
        0.5,
        30.0,
        300.0,
    )
