"""Secrets reach the server resolved and are never stored: not in pages, not in errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hakiri.connectors.http import connector
from hakiri.core.errors import HakiriError, SecretError, SourceHttpError, SourceUnreachable
from hakiri.core.records import Page
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.host import DictSecrets, TestHost
from hakiri.testing.net import free_port
from hakiri.testing.sources import read_all


def _stored(pages: list[Page]) -> str:
    """The page descriptors as they would be stored."""
    return json.dumps([page.to_dict() for page in pages])


def test_header_secret_reaches_the_server_resolved(host: TestHost, secret_value: str) -> None:
    with DemoApi(issues=12) as api:
        options = {
            "url": f"{api.url}/issues",
            "params": {"style": "link", "per_page": 5},
            "headers": {"Authorization": "Bearer secret://TOKEN"},
            "pagination": {"kind": "link_header"},
        }
        with connector.create(options, host) as source:
            result = read_all(source)
        sent = {r.headers["authorization"] for r in api.requests}
    assert sent == {f"Bearer {secret_value}"}
    assert len(result.pages) == 3
    assert secret_value not in _stored(result.pages)
    assert secret_value not in result.plan.description


def test_a_secret_echoed_in_next_links_is_stored_as_a_reference(
    host: TestHost, secret_value: str
) -> None:
    # The Link header repeats every query parameter, the API key included.
    with DemoApi(issues=12) as api:
        options = {
            "url": f"{api.url}/issues",
            "params": {"style": "link", "per_page": 5, "api_key": "secret://TOKEN"},
            "pagination": {"kind": "link_header"},
        }
        with connector.create(options, host) as source:
            result = read_all(source)
        keys = [r.param("api_key") for r in api.requests]
    assert keys == [secret_value] * 3
    stored = _stored(result.pages)
    assert secret_value not in stored
    assert "secret://TOKEN" in json.dumps(result.pages[1].to_dict())
    assert result.column("id") == list(range(1, 13))


def test_post_body_and_url_secrets(demo_api: DemoApi, host: TestHost, secret_value: str) -> None:
    options = {
        "url": f"{demo_api.url}/anything/secret://TOKEN",
        "method": "POST",
        "body": {"auth": {"key": "secret://TOKEN"}},
        "records": "json",
    }
    with connector.create(options, host) as source:
        result = read_all(source)
    # The server echoed the body it got: the rows hold the reference, never the value.
    assert result.rows == [{"auth": {"key": "secret://TOKEN"}}]
    assert demo_api.requests[0].path == f"/anything/{secret_value}"
    assert secret_value.encode() in demo_api.requests[0].body
    assert secret_value not in _stored(result.pages)


def test_an_echoed_secret_is_scrubbed_in_every_form(
    demo_api: DemoApi, host: TestHost, secret_value: str
) -> None:
    options = {
        "url": f"{demo_api.url}/anything",
        "params": {"api_key": "secret://TOKEN"},
        "headers": {"Authorization": "Bearer secret://TOKEN"},
    }
    with connector.create(options, host) as source:
        result = read_all(source)
    assert demo_api.requests[0].headers["authorization"] == f"Bearer {secret_value}"
    [row] = result.rows
    assert row["headers"]["Authorization"] == "Bearer secret://TOKEN"
    assert row["args"] == {"api_key": "secret://TOKEN"}
    assert "api_key=secret://TOKEN" in row["url"]
    assert secret_value not in json.dumps(result.rows)


def test_a_missing_secret_fails_before_any_request(demo_api: DemoApi, tmp_path: Path) -> None:
    host = TestHost(tmp_path, secrets={})
    options = {"url": f"{demo_api.url}/anything", "headers": {"X-Key": "k=secret://NOPE"}}
    with pytest.raises(SecretError, match="NOPE"):
        connector.create(options, host)
    assert demo_api.requests == []
    assert isinstance(host.secrets, DictSecrets)
    assert host.secrets.lookups == ["NOPE"]


def _assert_clean(error: HakiriError, secret_value: str) -> None:
    everything = json.dumps(error.to_dict()) + str(error) + error.one_line()
    assert secret_value not in everything
    assert "\n" not in error.one_line()


def test_http_errors_never_contain_the_secret(
    demo_api: DemoApi, host: TestHost, secret_value: str
) -> None:
    demo_api.fail_next(401)
    options = {
        "url": f"{demo_api.url}/anything",
        "params": {"key": "secret://TOKEN"},
        "headers": {"Authorization": "Bearer secret://TOKEN"},
    }
    with connector.create(options, host) as source, pytest.raises(SourceHttpError) as caught:
        read_all(source)
    assert "401" in caught.value.message
    assert caught.value.hint is not None and "secret" in caught.value.hint
    _assert_clean(caught.value, secret_value)


def test_unreachable_errors_never_contain_the_secret(host: TestHost, secret_value: str) -> None:
    options = {
        "url": f"http://127.0.0.1:{free_port()}/x",
        "params": {"key": "secret://TOKEN"},
        "retry": {"max_attempts": 1},
    }
    with connector.create(options, host) as source, pytest.raises(SourceUnreachable) as caught:
        read_all(source)
    _assert_clean(caught.value, secret_value)
