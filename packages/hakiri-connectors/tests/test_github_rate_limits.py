"""Rate limits are waited out, not failed on: 403/429 with ``x-ratelimit-remaining: 0``
until the reset, ``Retry-After``, and a success that used the last request. Most tests give
the client a sleep that records and moves a manual clock; two wait for real (~1-3 s)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hakiri.connectors._http.client import RetryingClient
from hakiri.connectors.github import GithubSourceConfig, connector
from hakiri.connectors.github.source import GithubSource, retry_config
from hakiri.connectors.http import HttpSourceConfig
from hakiri.connectors.http.source import HttpSource
from hakiri.core.clock import ManualClock
from hakiri.core.errors import SourceHttpError
from hakiri.testing.github_api import GithubApi
from hakiri.testing.host import TestHost
from hakiri.testing.sources import read_all

HELLO = "octo/hello"


@pytest.fixture
def api(github_api: GithubApi) -> GithubApi:
    github_api.add_repo(HELLO)
    github_api.add_issues(HELLO, 5)
    return github_api


class FakeTime:
    """A manual clock that starts now, and a sleep that records and moves it."""

    def __init__(self) -> None:
        self.clock = ManualClock(datetime.now(UTC))
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


def _source(api: GithubApi, tmp_path: Path, fake: FakeTime, **options: Any) -> GithubSource:
    config = GithubSourceConfig.model_validate(
        {"repos": [HELLO], "base_url": api.url, "per_page": 2} | options
    )
    client = RetryingClient(
        timeout=config.timeout,
        retry=retry_config(config),
        clock=fake.clock,
        sleep=fake.sleep,
    )
    return GithubSource(config, TestHost(tmp_path, clock=fake.clock), client=client)


def _statuses(api: GithubApi) -> list[int]:
    return [r.status for r in api.requests]


def test_403_rate_limited_waits_until_the_reset_then_succeeds(
    api: GithubApi, tmp_path: Path
) -> None:
    fake = FakeTime()
    reset = api.rate_limit_next(times=1, reset_in=30)
    with _source(api, tmp_path, fake) as source:
        result = read_all(source)
    assert len(result.rows) == 5
    assert _statuses(api) == [403, 200, 200, 200]
    # One wait, long enough to reach the reset the 403 announced (plus the margin).
    assert len(fake.sleeps) == 1
    assert fake.clock.now().timestamp() >= reset


def test_the_wait_is_real_and_the_retry_comes_after_the_reset(
    api: GithubApi, tmp_path: Path
) -> None:
    reset = api.rate_limit_next(times=1, reset_in=1)
    options = {"repos": [HELLO], "base_url": api.url}
    with connector.create(options, TestHost(tmp_path)) as source:
        result = read_all(source)
    assert len(result.rows) == 5
    refused, retried = api.requests
    assert (refused.status, retried.status) == (403, 200)
    assert retried.at >= reset  # on the server's own clock


def test_rate_limit_waits_do_not_use_up_retry_attempts(api: GithubApi, tmp_path: Path) -> None:
    fake = FakeTime()
    api.rate_limit_next(times=7, reset_in=5)  # more than the 5 attempts a request gets
    with _source(api, tmp_path, fake) as source:
        result = read_all(source)
    assert len(result.rows) == 5
    assert _statuses(api)[:8] == [403] * 7 + [200]
    assert len(fake.sleeps) == 7
    assert fake.sleeps[0] >= 4  # to the reset; later ones the margin, as it has passed
    assert all(wait >= 1 for wait in fake.sleeps)


def test_a_reset_beyond_max_wait_fails_saying_when(api: GithubApi, tmp_path: Path) -> None:
    fake = FakeTime()
    reset = api.rate_limit_next(times=1, reset_in=3600)
    with _source(api, tmp_path, fake, max_rate_limit_wait=60) as source:
        with pytest.raises(SourceHttpError) as caught:
            read_all(source)
    error = caught.value
    resets = datetime.fromtimestamp(reset, UTC)
    assert error.message.startswith("github: the rate limit is used up reading octo/hello")
    assert f"resets at {resets:%Y-%m-%dT%H:%M:%SZ}" in error.message
    assert "max_rate_limit_wait = 60 s" in error.message
    assert "max_rate_limit_wait" in (error.hint or "")
    assert error.details["repository"] == HELLO
    assert "\n" not in error.one_line()
    assert fake.sleeps == []
    assert len(api.requests) == 1


def test_429_with_retry_after(api: GithubApi, tmp_path: Path) -> None:
    fake = FakeTime()
    api.retry_after_next(times=1, seconds=3)
    with _source(api, tmp_path, fake) as source:
        result = read_all(source)
    assert len(result.rows) == 5
    assert fake.sleeps == [3.0]
    assert _statuses(api)[:2] == [429, 200]


def test_secondary_limit_403_with_retry_after(api: GithubApi, tmp_path: Path) -> None:
    fake = FakeTime()
    api.retry_after_next(times=2, seconds=2, status=403)
    with _source(api, tmp_path, fake) as source:
        read_all(source)
    assert fake.sleeps == [2.0, 2.0]
    assert _statuses(api)[:3] == [403, 403, 200]


def test_a_server_that_never_lets_go_fails_after_ten_waits(api: GithubApi, tmp_path: Path) -> None:
    fake = FakeTime()
    api.rate_limit_next(times=100, reset_in=1)
    with _source(api, tmp_path, fake) as source:
        with pytest.raises(SourceHttpError, match="still refused after waiting 10 times"):
            read_all(source)
    assert len(api.requests) == 11


def test_a_plain_403_is_not_a_rate_limit(api: GithubApi, tmp_path: Path) -> None:
    fake = FakeTime()
    api.fail_next(403, message="Resource not accessible by integration")
    with _source(api, tmp_path, fake) as source:
        with pytest.raises(SourceHttpError, match="access to octo/hello refused"):
            read_all(source)
    assert fake.sleeps == []
    assert len(api.requests) == 1


def test_a_success_that_used_the_last_request_waits_before_the_next(
    api: GithubApi, tmp_path: Path
) -> None:
    # A real quota: one request left, then refused until the window resets.
    reset = api.set_quota(1, reset_in=1)
    options = {"repos": [HELLO], "base_url": api.url, "per_page": 3}
    with connector.create(options, TestHost(tmp_path)) as source:
        result = read_all(source)
    assert len(result.rows) == 5
    first, second = api.requests
    assert (first.status, second.status) == (200, 200)  # never refused: it waited first
    assert second.at >= reset  # the first answer said 0 left; the next came after the reset


def test_a_used_up_quota_resetting_too_late_fails_before_the_next_request(
    api: GithubApi, tmp_path: Path
) -> None:
    fake = FakeTime()
    reset = api.set_quota(1, reset_in=3600)
    with _source(api, tmp_path, fake, per_page=3, max_rate_limit_wait=60) as source:
        plan = source.plan(None)
        first = source.read(plan.pages[0])  # served, and said no request is left
        assert first.table.num_rows == 3
        with pytest.raises(SourceHttpError) as caught:
            source.read(first.next_pages[0])
    resets = datetime.fromtimestamp(reset, UTC)
    assert f"resets at {resets:%Y-%m-%dT%H:%M:%SZ}" in caught.value.message
    assert "max_rate_limit_wait = 60 s" in caught.value.message
    assert len(api.requests) == 1  # the request that could only be refused was not sent
    assert fake.sleeps == []


def _http_source(
    api: GithubApi, tmp_path: Path, fake: FakeTime, retry: dict[str, Any]
) -> HttpSource:
    config = HttpSourceConfig.model_validate(
        {"url": f"{api.url}/repos/{HELLO}/issues", "retry": retry}
    )
    client = RetryingClient(
        timeout=config.timeout, retry=config.retry, clock=fake.clock, sleep=fake.sleep
    )
    return HttpSource(config, TestHost(tmp_path, clock=fake.clock), client=client)


@pytest.mark.parametrize(
    "with_limit", [True, False], ids=["rate_limit enabled", "rate_limit off (default)"]
)
def test_the_http_connector_can_turn_it_on(
    api: GithubApi, tmp_path: Path, with_limit: bool
) -> None:
    fake = FakeTime()
    api.rate_limit_next(times=1, reset_in=10)
    retry: dict[str, Any] = {"rate_limit": {"max_wait": 60}} if with_limit else {}
    with _http_source(api, tmp_path, fake, retry) as source:
        if with_limit:
            assert len(read_all(source).rows) == 5
            assert len(fake.sleeps) == 1 and fake.sleeps[0] >= 9
        else:
            with pytest.raises(SourceHttpError, match="HTTP 403"):
                read_all(source)
            assert fake.sleeps == []


def test_http_rate_limit_beyond_max_wait_names_the_http_option(
    api: GithubApi, tmp_path: Path
) -> None:
    fake = FakeTime()
    api.rate_limit_next(times=1, reset_in=600)
    source = _http_source(api, tmp_path, fake, {"rate_limit": {"max_wait": 30}})
    with source, pytest.raises(SourceHttpError) as caught:
        read_all(source)
    assert "resets at" in caught.value.message
    assert "source.retry.rate_limit.max_wait" in (caught.value.hint or "")
    assert caught.value.details["rate_limited"] is True


def test_http_rate_limit_with_a_delta_seconds_reset(api: GithubApi, tmp_path: Path) -> None:
    # Other APIs send "seconds until the reset" under their own header name.
    fake = FakeTime()
    api.rate_limit_next(times=1, reset_in=3600, extra_headers={"ratelimit-reset": "7"})
    rate_limit = {"reset_header": "ratelimit-reset", "reset_format": "delta_seconds"}
    with _http_source(api, tmp_path, fake, {"rate_limit": rate_limit}) as source:
        assert len(read_all(source).rows) == 5
    assert fake.sleeps == [8.0]  # 7 s and the 1 s margin
