"""The github source's options, plan and discover: checked before any request is made."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from hakiri.connectors.github import GithubSourceConfig, connector
from hakiri.core.cursor import CursorKind
from hakiri.core.errors import ConfigError, SecretError
from hakiri.testing.github_api import GithubApi
from hakiri.testing.host import TestHost

BASE = "http://127.0.0.1:1"  # never contacted: these tests make no request


@pytest.fixture
def host(tmp_path: Path) -> TestHost:
    return TestHost(tmp_path, secrets={"GITHUB_TOKEN": "ghp_not_sent_anywhere"})


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "missing required option 'repos'"),
        ({"repos": []}, "option 'repos'"),
        ({"repos": "octo/hello"}, "option 'repos'"),
        ({"repos": ["octo"]}, "option 'repos': 'octo' is not a repository name"),
        ({"repos": ["octo/hello/extra"]}, "option 'repos'"),
        ({"repos": ["-octo/hello"]}, "option 'repos'"),
        ({"repos": ["octo/.."]}, "option 'repos'"),
        ({"repos": ["octo/hello", "Octo/Hello"]}, "'Octo/Hello' is listed twice"),
        ({"repos": ["octo/hello"], "resource": "stars"}, "option 'resource'"),
        ({"repos": ["octo/hello"], "token": "ghp_literal"}, "option 'token': must be a secret"),
        ({"repos": ["octo/hello"], "base_url": "ftp://x"}, "option 'base_url'"),
        ({"repos": ["octo/hello"], "per_page": 101}, "option 'per_page'"),
        ({"repos": ["octo/hello"], "per_page": 0}, "option 'per_page'"),
        ({"repos": ["octo/hello"], "state": "merged"}, "option 'state'"),
        ({"repos": ["octo/hello"], "since": "last tuesday"}, "option 'since'"),
        ({"repos": ["octo/hello"], "max_rate_limit_wait": -1}, "option 'max_rate_limit_wait'"),
        ({"repos": ["octo/hello"], "labels": "bug"}, "unknown option 'labels'"),
    ],
)
def test_bad_options_fail_with_one_line_naming_the_option(
    options: dict[str, Any], expected: str, host: TestHost
) -> None:
    with pytest.raises(ConfigError) as caught:
        connector.create(options, host)
    error = caught.value
    assert error.message.startswith("github connector: ")
    assert expected in error.message
    assert "\n" not in error.one_line()
    assert error.code == "config_invalid"


def test_a_literal_token_is_not_echoed_in_the_error(host: TestHost) -> None:
    with pytest.raises(ConfigError) as caught:
        connector.create({"repos": ["octo/hello"], "token": "ghp_literal_value"}, host)
    assert "ghp_literal_value" not in json.dumps(caught.value.to_dict())


def test_a_missing_token_secret_fails_before_any_request(
    github_api: GithubApi,
    tmp_path: Path,
) -> None:
    options = {"repos": ["octo/hello"], "token": "secret://NOPE", "base_url": github_api.url}
    with pytest.raises(SecretError, match="NOPE"):
        connector.create(options, TestHost(tmp_path))
    assert github_api.requests == []


def test_defaults_and_normalisation() -> None:
    config = GithubSourceConfig.model_validate(
        {"repos": ["octo/hello"], "since": "2024-03-01", "base_url": "https://ghe.example/api/v3/"}
    )
    assert config.resource == "issues"
    assert config.state == "all"
    assert config.per_page == 100
    assert config.max_rate_limit_wait == 900
    assert config.token is None
    # GitHub's own format, so the first since orders against the updated_at it returns.
    assert config.since == "2024-03-01T00:00:00Z"
    assert config.base_url == "https://ghe.example/api/v3"
    offset = GithubSourceConfig.model_validate(
        {"repos": ["octo/hello"], "since": "2024-03-01T02:00:00+02:00"}
    )
    assert offset.since == "2024-03-01T00:00:00Z"


def test_spec_is_a_json_schema() -> None:
    schema = connector.config_model.model_json_schema()
    assert schema["title"] == "github source"
    assert schema["required"] == ["repos"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["resource"]["enum"] == [
        "issues",
        "pull_requests",
        "comments",
        "releases",
    ]
    for name in ("repos", "token", "base_url", "per_page", "state", "since"):
        assert schema["properties"][name]["description"]
    assert connector.name == "github" and connector.kind == "source"


def test_plan_has_one_independent_first_page_per_repo(host: TestHost) -> None:
    options = {"repos": ["octo/hello", "octo/world"], "base_url": BASE, "per_page": 50}
    with connector.create(options, host) as source:
        plan = source.plan(None)
    assert plan.cursor_kind is CursorKind.MONOTONIC
    assert [page.key for page in plan.pages] == ["octo/hello/page-1", "octo/world/page-1"]
    for page, repo in zip(plan.pages, ["octo/hello", "octo/world"], strict=True):
        assert json.loads(json.dumps(page.to_dict())) == page.to_dict()
        assert page.params["repo"] == repo
        request = page.params["request"]
        assert request["url"] == f"{BASE}/repos/{repo}/issues"
        assert request["params"] == {
            "state": "all",
            "sort": "updated",
            "direction": "desc",
            "per_page": 50,
        }


def test_plan_asks_each_repo_from_its_own_watermark(host: TestHost) -> None:
    options = {
        "repos": ["octo/hello", "octo/world", "octo/new"],
        "base_url": BASE,
        "since": "2024-01-01T00:00:00Z",
    }
    cursor = {"octo/hello": "2024-05-01T10:00:00Z", "octo/world": "2024-04-01T09:00:00Z"}
    with connector.create(options, host) as source:
        plan = source.plan(cursor)
    sinces = [page.params["request"]["params"]["since"] for page in plan.pages]
    # A repository added to the list later starts from the configured since.
    assert sinces == ["2024-05-01T10:00:00Z", "2024-04-01T09:00:00Z", "2024-01-01T00:00:00Z"]


def test_pulls_have_no_since_parameter_and_releases_are_a_snapshot(host: TestHost) -> None:
    options = {"repos": ["octo/hello"], "base_url": BASE, "resource": "pull_requests"}
    with connector.create(options, host) as source:
        page = source.plan({"octo/hello": "2024-05-01T10:00:00Z"}).pages[0]
    assert page.params["request"]["url"].endswith("/repos/octo/hello/pulls")
    assert "since" not in page.params["request"]["params"]
    assert page.params["since"] == "2024-05-01T10:00:00Z"  # filtered by the source instead
    options["resource"] = "releases"
    with connector.create(options, host) as source:
        plan = source.plan(None)
    assert plan.cursor_kind is CursorKind.SNAPSHOT_ID
    assert plan.pages[0].params["request"] == {
        "url": f"{BASE}/repos/octo/hello/releases",
        "params": {"per_page": 100},
    }


def test_token_is_a_reference_in_every_page(host: TestHost) -> None:
    options = {"repos": ["octo/hello"], "base_url": BASE, "token": "secret://GITHUB_TOKEN"}
    with connector.create(options, host) as source:
        plan = source.plan(None)
    stored = json.dumps([page.to_dict() for page in plan.pages]) + plan.description
    assert "ghp_not_sent_anywhere" not in stored


def test_discover_lists_every_resource_without_a_request(
    github_api: GithubApi,
    host: TestHost,
) -> None:
    options = {
        "repos": ["octo/hello"],
        "base_url": github_api.url,
        "resource": "issues",
        "state": "open",
        "since": "2024-01-01T00:00:00Z",
    }
    with connector.create(options, host) as source:
        streams = source.discover()
    assert [s.name for s in streams] == ["issues", "pull_requests", "comments", "releases"]
    assert [s.options for s in streams] == [
        {"resource": "issues"},
        {"resource": "pull_requests"},
        {"resource": "comments"},
        {"resource": "releases"},
    ]
    assert {s.primary_key for s in streams} == {("id",)}
    assert [s.cursor_field for s in streams] == ["updated_at"] * 3 + [None]
    assert all("octo/hello" in s.description for s in streams)
    # Every stream can be created by merging its options over the configured ones, even
    # where an option does not apply (state and since mean nothing to releases).
    for stream in streams:
        connector.create(options | stream.options, host).close()
    assert github_api.requests == []


def test_the_entry_point_loads_the_factory_and_importing_it_is_light() -> None:
    (entry,) = [ep for ep in entry_points(group="hakiri.connectors") if ep.name == "github"]
    assert entry.load() is connector
    code = (
        "import sys, hakiri.connectors.github; "
        "heavy = [m for m in ('pyarrow', 'urllib3', 'orjson') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
