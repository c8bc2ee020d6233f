"""End to end: ``hakiri run`` and ``hakiri query`` as real subprocesses against the local
GitHub-compatible API, incremental per repository, merged on ``id``."""

from __future__ import annotations

from pathlib import Path

from hakiri.testing.cli import run_hakiri
from hakiri.testing.github_api import GithubApi
from hakiri.testing.project import write_manifest

TOKEN = "ghp_e2e-token-never-stored"
ENV = {"GITHUB_TOKEN": TOKEN}


def _manifest(root: Path, api: GithubApi) -> None:
    write_manifest(
        root,
        f"""
[pipelines.gh_issues]
description = "Issues of two repositories"

[pipelines.gh_issues.source]
connector = "github"
repos = ["octo/hello", "octo/world"]
resource = "issues"
token = "secret://GITHUB_TOKEN"
base_url = "{api.url}"
per_page = 4

[pipelines.gh_issues.destination]
write = "merge"
primary_key = ["id"]
""",
    )


def _rows(root: Path, sql: str) -> list[list[object]]:
    result = run_hakiri("query", sql, "--format", "json", cwd=root).check()
    rows: list[list[object]] = result.json()["rows"]
    return rows


def test_run_query_and_run_again(tmp_path: Path, github_api: GithubApi) -> None:
    api = github_api
    api.require_token(TOKEN)
    for repo in ("octo/hello", "octo/world"):
        api.add_repo(repo)
    api.add_issues("octo/hello", 9)
    api.add_pull("octo/hello", "A pull request")
    api.add_issue("octo/hello", "Labelled", labels=["bug"])
    api.add_issues("octo/world", 6)
    _manifest(tmp_path, api)

    first = run_hakiri("run", "gh_issues", cwd=tmp_path, env=ENV).check()
    assert "succeeded" in first.stdout
    assert _rows(
        tmp_path,
        "select repository, count(*), count(distinct id) from gh_issues group by 1 order by 1",
    ) == [["octo/hello", 10, 10], ["octo/world", 6, 6]]
    # Nested objects stay structs and lists, queryable as such.
    assert _rows(
        tmp_path, "select user.login, labels[1].name from gh_issues where title = 'Labelled'"
    ) == [["octocat", "bug"]]
    described = run_hakiri("pipeline", "describe", "gh_issues", "--json", cwd=tmp_path).check()
    position = described.json()["cursor"]["position"]
    assert set(position) == {"octo/hello", "octo/world"}

    # One issue edited, one added; the next run asks each repository from its watermark.
    api.update_issue("octo/hello", 2, title="Edited title", state="closed")
    api.add_issue("octo/world", "New in world")
    api.clear_requests()
    run_hakiri("run", "gh_issues", cwd=tmp_path, env=ENV).check()
    first_pages = {r.path: r.param("since") for r in api.requests if r.path.startswith("/repos/")}
    assert first_pages == {
        "/repos/octo/hello/issues": position["octo/hello"],
        "/repos/octo/world/issues": position["octo/world"],
    }
    assert _rows(
        tmp_path,
        "select repository, count(*), count(distinct id) from gh_issues group by 1 order by 1",
    ) == [["octo/hello", 10, 10], ["octo/world", 7, 7]]
    assert _rows(
        tmp_path,
        "select title, state from gh_issues where repository = 'octo/hello' and number = 2",
    ) == [["Edited title", "closed"]]

    # The token went to the API only: not to the output, the catalog or the Parquet files.
    assert set(api.authorizations) == {f"Bearer {TOKEN}"}
    assert TOKEN not in first.stdout + first.stderr
    for path in (tmp_path / ".hakiri").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_a_bad_repo_fails_the_run_with_one_line(tmp_path: Path, github_api: GithubApi) -> None:
    github_api.add_repo("octo/hello")
    _manifest(tmp_path, github_api)  # octo/world does not exist
    result = run_hakiri("run", "gh_issues", cwd=tmp_path, env=ENV)
    assert result.returncode != 0
    assert "repository 'octo/world' not found (HTTP 404" in result.stderr
    assert "Traceback" not in result.stderr


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "github" / "hakiri.toml"


def test_the_example_manifest_runs(tmp_path: Path, github_api: GithubApi) -> None:
    api = github_api
    api.require_token(TOKEN)
    for repo in ("astral-sh/uv", "astral-sh/ruff"):
        api.add_repo(repo)
        api.add_issue(repo, "Before the example's since", created_at="2024-06-01T00:00:00Z")
        api.add_issue(repo, "Recent", created_at="2025-02-01T00:00:00Z", labels=["bug"])
        api.add_pull(repo, "A fix", created_at="2025-02-02T00:00:00Z")
        api.add_comment(repo, 2, "Confirmed", created_at="2025-02-03T00:00:00Z")
        api.add_release(repo, "v1.0.0", created_at="2025-02-04T00:00:00Z")
    # Aim the example at the local server instead of api.github.com, as its header says.
    text = EXAMPLE.read_text().replace(
        'connector = "github"\n', f'connector = "github"\nbase_url = "{api.url}"\n'
    )
    assert text.count(api.url) == 4
    (tmp_path / "hakiri.toml").write_text(text)
    counts = (
        "select 'issues', count(*) from gh_issues union all "
        "select 'pulls', count(*) from gh_pulls union all "
        "select 'comments', count(*) from gh_comments union all "
        "select 'releases', count(*) from gh_releases order by 1"
    )
    run_hakiri("run", "--all", cwd=tmp_path, env=ENV).check()
    expected = [["comments", 2], ["issues", 2], ["pulls", 2], ["releases", 2]]
    assert _rows(tmp_path, counts) == expected
    # Again: merge keeps one row per id (the boundary items came back), releases replaced.
    run_hakiri("run", "--all", cwd=tmp_path, env=ENV).check()
    assert _rows(tmp_path, counts) == expected
