"""Reading the local GitHub-compatible API: every resource, several repositories, Link
pages, pull requests left out of issues, and incremental reads per repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from hakiri.connectors.github import connector
from hakiri.connectors.github.source import GithubSource
from hakiri.core.cursor import CursorKind
from hakiri.testing.github_api import GithubApi
from hakiri.testing.host import TestHost
from hakiri.testing.sources import ReadResult, read_all

HELLO, WORLD = "octo/hello", "octo/world"


@pytest.fixture
def host(tmp_path: Path) -> TestHost:
    return TestHost(tmp_path)


@pytest.fixture
def api(github_api: GithubApi) -> Iterator[GithubApi]:
    """Two repositories: hello has 7 issues and 2 pull requests, world 4 issues."""
    github_api.add_repo(HELLO)
    github_api.add_repo(WORLD)
    github_api.add_issues(HELLO, 5)
    github_api.add_pull(HELLO, "Add a feature", labels=["enhancement"])
    github_api.add_issue(HELLO, "Crash on start", labels=["bug", "p1"], body="It crashes.")
    github_api.add_pull(HELLO, "Fix the crash", state="closed")
    github_api.add_issue(HELLO, "Docs", state="closed")
    github_api.add_issues(WORLD, 4)
    yield github_api


def _source(api: GithubApi, host: TestHost, **options: Any) -> GithubSource:
    base = {"repos": [HELLO, WORLD], "base_url": api.url}
    return connector.create(base | options, host)


def _read(api: GithubApi, host: TestHost, cursor: Any = None, **options: Any) -> ReadResult:
    with _source(api, host, **options) as source:
        return read_all(source, cursor)


def _by_repo(result: ReadResult, column: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for row in result.rows:
        out.setdefault(row["repository"], []).append(row[column])
    return {repo: sorted(values) for repo, values in out.items()}


def test_issues_of_every_repo_without_pull_requests(api: GithubApi, host: TestHost) -> None:
    result = _read(api, host)
    assert _by_repo(result, "number") == {HELLO: [1, 2, 3, 4, 5, 7, 9], WORLD: [1, 2, 3, 4]}
    table = result.table()
    assert table.column_names[0] == "repository"
    assert "pull_request" not in table.column_names and "draft" not in table.column_names
    assert len(set(result.column("id"))) == 11  # ids are global, as on GitHub
    # Both states by default.
    assert sorted(set(result.column("state"))) == ["closed", "open"]


def test_nested_objects_stay_structs_and_lists(api: GithubApi, host: TestHost) -> None:
    table = _read(api, host).table()
    assert pa.types.is_struct(table.schema.field("user").type)
    labels = table.schema.field("labels").type
    assert pa.types.is_list(labels) and pa.types.is_struct(labels.value_type)
    crash = next(r for r in table.to_pylist() if r["title"] == "Crash on start")
    assert crash["user"]["login"] == "octocat"
    assert [label["name"] for label in crash["labels"]] == ["bug", "p1"]
    assert crash["body"] == "It crashes."
    # Timestamps stay GitHub's text: a cursor sent back as since must be the API's own.
    assert pa.types.is_string(table.schema.field("updated_at").type)


def test_link_pagination_per_repo(api: GithubApi, host: TestHost) -> None:
    result = _read(api, host, per_page=2)
    keys = [page.key for page in result.pages]
    assert keys[:2] == [f"{HELLO}/page-1", f"{WORLD}/page-1"]
    assert sorted(keys) == sorted(
        [f"{HELLO}/page-{n}" for n in range(1, 6)] + [f"{WORLD}/page-{n}" for n in range(1, 3)]
    )
    pages = [(r.path, r.param("page")) for r in api.requests]
    # The Link URLs GitHub sends name the repository by id; they are followed as given.
    assert pages.count(("/repos/octo/hello/issues", None)) == 1
    followed = [page for path, page in pages if path.startswith("/repositories/")]
    assert sorted(followed) == ["2", "2", "3", "4", "5"]
    assert all(r.param("per_page") == "2" for r in api.requests)
    assert len(result.rows) == 11


def test_state_filter(api: GithubApi, host: TestHost) -> None:
    result = _read(api, host, state="closed")
    assert _by_repo(result, "number") == {HELLO: [9]}
    assert {r.param("state") for r in api.requests} == {"closed"}


def test_pull_requests(api: GithubApi, host: TestHost) -> None:
    result = _read(api, host, resource="pull_requests")
    assert _by_repo(result, "number") == {HELLO: [6, 8]}
    assert {r.path for r in api.requests} == {
        "/repos/octo/hello/pulls",
        "/repos/octo/world/pulls",
    }
    row = next(r for r in result.rows if r["number"] == 6)
    assert row["head"]["ref"] == "feature-6"
    assert [label["name"] for label in row["labels"]] == ["enhancement"]


def test_comments(api: GithubApi, host: TestHost) -> None:
    api.add_comment(HELLO, 1, "First!")
    api.add_comment(HELLO, 6, "Looks good")
    api.add_comment(WORLD, 2, "Same here")
    result = _read(api, host, resource="comments")
    assert _by_repo(result, "body") == {HELLO: ["First!", "Looks good"], WORLD: ["Same here"]}
    urls = sorted(result.column("issue_url"))
    assert urls[0].endswith("/repos/octo/hello/issues/1")
    assert {r.path for r in api.requests} == {
        "/repos/octo/hello/issues/comments",
        "/repos/octo/world/issues/comments",
    }


def test_releases_are_a_snapshot(api: GithubApi, host: TestHost) -> None:
    api.add_release(HELLO, "v1.0.0")
    api.add_release(HELLO, "v1.1.0", prerelease=True)
    api.add_release(WORLD, "v0.1.0", name="First")
    with _source(api, host, resource="releases") as source:
        first = read_all(source)
        again = read_all(source, first.cursor)
    assert first.plan.cursor_kind is CursorKind.SNAPSHOT_ID
    assert first.cursor is None
    assert _by_repo(first, "tag_name") == {HELLO: ["v1.0.0", "v1.1.0"], WORLD: ["v0.1.0"]}
    assert _by_repo(again, "tag_name") == _by_repo(first, "tag_name")  # whole every time


def test_an_empty_repository_reads_nothing(github_api: GithubApi, host: TestHost) -> None:
    github_api.add_repo("octo/empty")
    result = _read(github_api, host, repos=["octo/empty"])
    assert result.rows == []
    assert result.cursor is None


def test_incremental_reads_ask_each_repo_with_its_own_since(api: GithubApi, host: TestHost) -> None:
    with _source(api, host, per_page=3) as source:
        first = read_all(source)
        assert set(first.cursor) == {HELLO, WORLD}
        api.clear_requests()
        api.update_issue(HELLO, 2, title="Edited", updated_at="2025-01-01T00:00:00Z")
        api.add_issue(WORLD, "Brand new", created_at="2025-02-01T00:00:00Z")
        second = read_all(source, first.cursor)
    sinces = {r.path: r.param("since") for r in api.requests if r.path.startswith("/repos/")}
    assert sinces == {
        "/repos/octo/hello/issues": first.cursor[HELLO],
        "/repos/octo/world/issues": first.cursor[WORLD],
    }
    # since is inclusive: the newest item of the last read comes back (merge keeps one row).
    titles = _by_repo(second, "title")
    assert "Edited" in titles[HELLO] and "Brand new" in titles[WORLD]
    assert len(second.rows) <= 4
    assert second.cursor == {HELLO: "2025-01-01T00:00:00Z", WORLD: "2025-02-01T00:00:00Z"}


def test_configured_since_starts_the_first_read(github_api: GithubApi, host: TestHost) -> None:
    github_api.add_repo(HELLO)
    for day in range(1, 6):
        stamp = f"2024-03-0{day}T12:00:00Z"
        github_api.add_issue(HELLO, f"Day {day}", created_at=stamp)
    result = _read(github_api, host, repos=[HELLO], since="2024-03-03T12:00:00Z")
    assert sorted(result.column("title")) == ["Day 3", "Day 4", "Day 5"]
    assert github_api.requests[0].param("since") == "2024-03-03T12:00:00Z"


def test_pulls_incremental_stops_at_the_first_older_page(
    github_api: GithubApi,
    host: TestHost,
) -> None:
    github_api.add_repo(HELLO)
    for n in range(1, 11):
        github_api.add_pull(HELLO, f"PR {n}", created_at=f"2024-01-{n:02d}T00:00:00Z")
    options = {"repos": [HELLO], "resource": "pull_requests", "per_page": 3}
    with _source(github_api, host, **options) as source:
        first = read_all(source)
        assert len(first.rows) == 10
        github_api.update_issue(HELLO, 4, title="PR 4 again", updated_at="2024-02-01T00:00:00Z")
        github_api.clear_requests()
        second = read_all(source, first.cursor)
    # Newest first: PR 4 (updated), PR 10 (the inclusive boundary), then PR 9 is older than
    # the watermark, so the read stops on the first page.
    assert sorted(second.column("title")) == ["PR 10", "PR 4 again"]
    assert len(github_api.requests) == 1
    assert github_api.requests[0].param("direction") == "desc"
    assert second.cursor == {HELLO: "2024-02-01T00:00:00Z"}


def test_page_cursors_never_go_back_along_a_repo(api: GithubApi, host: TestHost) -> None:
    result = _read(api, host, per_page=2)
    last: dict[str, str] = {}
    for page, data in zip(result.pages, result.data, strict=True):
        repo = page.params["repo"]
        value = data.cursor[repo]
        assert value >= last.get(repo, "")
        last[repo] = value
    assert result.cursor == last


def test_a_read_can_resume_from_any_stored_page(api: GithubApi, host: TestHost) -> None:
    # A page descriptor is all a read needs: a fresh source (another worker) reads it.
    with _source(api, host, per_page=2) as source:
        plan = source.plan(None)
        second = source.read(plan.pages[0]).next_pages[0]
    with _source(api, host, per_page=2) as other:
        data = other.read(second)
    assert [row["number"] for row in data.table.to_pylist()] == [7]  # page 2 minus a PR
    assert data.next_pages[0].key == f"{HELLO}/page-3"
