"""The token reaches GitHub and nothing else; failures are one line naming the repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hakiri.connectors._http.client import RetryingClient
from hakiri.connectors._http.retry import RetryConfig
from hakiri.connectors.github import GithubSourceConfig, connector
from hakiri.connectors.github.source import GithubSource
from hakiri.core.errors import SourceHttpError, SourceUnreachable
from hakiri.core.records import Page
from hakiri.testing.github_api import GithubApi
from hakiri.testing.host import TestHost
from hakiri.testing.net import free_port
from hakiri.testing.sources import read_all

TOKEN = "ghp_s3cr3t-t0ken-value"
HELLO = "octo/hello"


@pytest.fixture
def api(github_api: GithubApi) -> GithubApi:
    github_api.add_repo(HELLO)
    github_api.add_issues(HELLO, 5)
    github_api.require_token(TOKEN)
    return github_api


@pytest.fixture
def host(tmp_path: Path) -> TestHost:
    return TestHost(tmp_path, secrets={"GITHUB_TOKEN": TOKEN, "OLD_TOKEN": "ghp_revoked"})


def _options(api: GithubApi, **extra: object) -> dict[str, object]:
    return {"repos": [HELLO], "base_url": api.url, "token": "secret://GITHUB_TOKEN"} | extra


def _stored(pages: list[Page]) -> str:
    return json.dumps([page.to_dict() for page in pages])


def test_the_token_is_sent_as_a_bearer_header_and_never_stored(
    api: GithubApi, host: TestHost
) -> None:
    with connector.create(_options(api, per_page=2), host) as source:
        result = read_all(source)
    assert len(result.rows) == 5
    assert api.authorizations == [f"Bearer {TOKEN}"] * 3
    assert {r.headers["x-github-api-version"] for r in api.requests} == {"2022-11-28"}
    assert {r.headers["accept"] for r in api.requests} == {"application/vnd.github+json"}
    assert TOKEN not in _stored(result.pages)
    assert TOKEN not in result.plan.description
    for data in result.data:
        assert not any(TOKEN in str(value) for value in data.table.to_pylist())


def test_a_bad_token_is_one_line_naming_the_repo_and_the_secret(
    api: GithubApi, host: TestHost
) -> None:
    options = _options(api, token="secret://OLD_TOKEN")
    with connector.create(options, host) as source, pytest.raises(SourceHttpError) as caught:
        read_all(source)
    error = caught.value
    assert error.message.startswith("github: the token was rejected reading octo/hello")
    assert "HTTP 401" in error.message
    assert "OLD_TOKEN" in (error.hint or "")
    assert "ghp_revoked" not in json.dumps(error.to_dict())
    assert "\n" not in error.one_line()
    assert len(api.requests) == 1  # a 401 is not retried


def test_no_token_where_one_is_needed_says_how_to_set_it(api: GithubApi, host: TestHost) -> None:
    options = {"repos": [HELLO], "base_url": api.url}
    with connector.create(options, host) as source, pytest.raises(SourceHttpError) as caught:
        read_all(source)
    assert "secret://GITHUB_TOKEN" in (caught.value.hint or "")
    assert api.authorizations == [None]


def test_an_unknown_repo_is_404_naming_it(api: GithubApi, host: TestHost) -> None:
    options = _options(api, repos=[HELLO, "octo/missing"])
    with connector.create(options, host) as source, pytest.raises(SourceHttpError) as caught:
        read_all(source)
    error = caught.value
    assert error.message.startswith("github: repository 'octo/missing' not found (HTTP 404")
    assert "/repos/octo/missing/issues" in error.message
    assert "repos" in (error.hint or "")
    assert error.details["repository"] == "octo/missing"
    assert error.code == "source_http_error"
    assert TOKEN not in json.dumps(error.to_dict())


def test_a_server_error_is_retried_then_named(api: GithubApi, host: TestHost) -> None:
    api.fail_next(502, times=1)
    with connector.create(_options(api), host) as source:
        assert len(read_all(source).rows) == 5
    assert [r.status for r in api.requests] == [502, 200]


def test_an_unreachable_api_names_the_url(host: TestHost) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    config = GithubSourceConfig.model_validate({"repos": [HELLO], "base_url": base})
    fast = RetryConfig(max_attempts=2, backoff=0.01, max_backoff=0.01)
    client = RetryingClient(timeout=2, retry=fast, clock=host.clock)
    with GithubSource(config, host, client=client) as source:
        with pytest.raises(SourceUnreachable) as caught:
            read_all(source)
    error = caught.value
    assert error.message.startswith("github: cannot reach ")
    assert f"{base}/repos/octo/hello/issues" in error.message
    assert "connection refused" in error.message
    assert error.hint == "check base_url"
