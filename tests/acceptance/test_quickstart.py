"""The M0 happy path, as a person types it: init → run → query, each a real subprocess."""

from __future__ import annotations

import re
from pathlib import Path

from hakiri.testing.cli import run_hakiri
from hakiri.testing.demo_api import DemoApi


def _point_at(project: Path, api: DemoApi) -> None:
    """Aim the scaffolded pipelines at the local server instead of the internet / :8765."""
    manifest = project / "hakiri.toml"
    text = manifest.read_text()
    text = text.replace("https://httpbin.org", api.url).replace("http://127.0.0.1:8765", api.url)
    manifest.write_text(text)


def _count(project: Path, sql: str) -> list[list[object]]:
    result = run_hakiri("query", sql, "--format", "json", cwd=project).check()
    rows: list[list[object]] = result.json()["rows"]
    return rows


def test_init_run_query(tmp_path: Path, demo_api: DemoApi) -> None:
    init = run_hakiri("init", "demo", cwd=tmp_path).check()
    project = tmp_path / "demo"
    assert (project / "hakiri.toml").is_file()
    assert "hakiri run httpbin" in init.stdout
    _point_at(project, demo_api)

    first = run_hakiri("run", "httpbin", cwd=project).check()
    assert re.search(r"httpbin: succeeded — 1 row in 1 page → httpbin_anything", first.stdout)
    assert _count(project, "select count(*) from httpbin_anything") == [[1]]

    # Appending: a second run adds the second echoed request.
    run_hakiri("run", "httpbin", cwd=project).check()
    table = run_hakiri("query", "select count(*) from httpbin_anything", cwd=project).check()
    assert re.search(r"\b2\b", table.stdout)
    echoed = _count(project, "select method, args.source from httpbin_anything limit 1")
    assert echoed == [["GET", "hakiri"]]
    assert len(demo_api.requests_to("/anything")) == 2


def test_offline_pipelines_of_the_template(tmp_path: Path, demo_api: DemoApi) -> None:
    run_hakiri("init", "demo", cwd=tmp_path).check()
    project = tmp_path / "demo"
    _point_at(project, demo_api)
    issues = demo_api.issue_count

    run_hakiri("run", "issues", "issues_snapshot", cwd=project).check()
    assert _count(project, "select count(*), count(distinct id) from issues") == [[issues, issues]]
    assert _count(project, "select count(*) from issues_snapshot") == [[issues]]

    # The source grows; the incremental pipeline asks only for what changed since its cursor
    # and merge keeps one row per id; the snapshot is replaced whole.
    demo_api.add_issues(7)
    demo_api.clear_requests()
    run_hakiri("run", "--all", cwd=project).check()
    total = issues + 7
    assert _count(project, "select count(*), count(distinct id) from issues") == [[total, total]]
    assert _count(project, "select count(*) from issues_snapshot") == [[total]]
    since = [
        r.param("since") for r in demo_api.requests_to("/issues") if r.param("style") == "link"
    ]
    assert since and since[0] is not None

    listing = run_hakiri("pipeline", "list", "--json", cwd=project).check().json()
    assert {row["name"]: row["last_run"]["status"] for row in listing}["issues"] == "succeeded"
    described = run_hakiri("pipeline", "describe", "issues", "--json", cwd=project).check().json()
    assert described["table"]["rows"] >= total
    assert [run["status"] for run in described["runs"]] == ["succeeded", "succeeded"]
    assert described["cursor"]["position"] is not None

    plan = run_hakiri("plan", "issues", "--json", cwd=project).check().json()
    assert plan["mode"] == "incremental"
    assert plan["pages"], "a plan names the first page it would read"


def test_plan_reads_and_writes_nothing(tmp_path: Path, demo_api: DemoApi) -> None:
    run_hakiri("init", "demo", cwd=tmp_path).check()
    project = tmp_path / "demo"
    _point_at(project, demo_api)
    plan = run_hakiri("plan", "issues", cwd=project).check()
    assert "mode      full" in plan.stdout
    assert demo_api.requests_to("/issues") == []
    assert not (project / ".hakiri" / "catalog.db").exists()


def test_schema_export_is_json_schema(tmp_path: Path) -> None:
    import json

    out = run_hakiri("schema", "export", cwd=tmp_path).check()
    document = json.loads(out.stdout)
    assert document["title"] == "hakiri.toml"
    assert "pipelines" in document["properties"]
    assert "http" in document["x-hakiri-connectors"]
