"""Write dispositions end to end: ``merge`` keeps the newest row per key, ``replace`` swaps the
whole table even when the source could read incrementally."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest

from hakiri.testing.cli import run_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import write_manifest


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving the files of a directory."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _query(project: Path, sql: str) -> list[list[Any]]:
    rows: list[list[Any]] = (
        run_hakiri("query", sql, "--format", "json", cwd=project).check().json()["rows"]
    )
    return rows


def _publish(root: Path, records: list[dict[str, Any]]) -> None:
    (root / "accounts.json").write_text(json.dumps(records))


def test_three_overlapping_runs_leave_the_newest_row_per_key(
    tmp_path: Path, served: tuple[str, Path]
) -> None:
    url, www = served
    project = tmp_path / "project"
    write_manifest(
        project,
        f"""
[pipelines.accounts.source]
connector = "http"
url = "{url}/accounts.json"

[pipelines.accounts.destination]
write = "merge"
primary_key = ["region", "id"]
""",
    )

    def account(region: str, i: int, plan: str, seats: int) -> dict[str, Any]:
        return {"region": region, "id": i, "plan": plan, "seats": seats}

    # Run 1: eu 1–4, us 1–2.
    _publish(
        www,
        [account("eu", i, "free", 1) for i in range(1, 5)]
        + [account("us", 1, "free", 1), account("us", 2, "free", 1)],
    )
    run_hakiri("run", "accounts", cwd=project).check()
    # Run 2: eu 3–6 upgraded; us 1 appears twice in one response: the later record wins.
    _publish(
        www,
        [account("eu", i, "team", 5) for i in range(3, 7)]
        + [account("us", 1, "team", 2), account("us", 1, "enterprise", 50)],
    )
    run_hakiri("run", "accounts", cwd=project).check()
    # Run 3: eu 4 and 6 change again, eu 7 is new.
    _publish(
        www,
        [
            account("eu", 4, "enterprise", 40),
            account("eu", 6, "free", 1),
            account("eu", 7, "team", 3),
        ],
    )
    run_hakiri("run", "accounts", cwd=project).check()

    rows = _query(project, "select region, id, plan, seats from accounts order by region, id")
    assert rows == [
        ["eu", 1, "free", 1],
        ["eu", 2, "free", 1],
        ["eu", 3, "team", 5],
        ["eu", 4, "enterprise", 40],
        ["eu", 5, "team", 5],
        ["eu", 6, "free", 1],
        ["eu", 7, "team", 3],
        ["us", 1, "enterprise", 50],
        ["us", 2, "free", 1],
    ]
    assert _query(project, "select count(*), count(distinct (region, id)) from accounts") == [
        [9, 9]
    ]
    # Every version stays in the store (newest wins at read time): 6 + 6 + 3 records.
    describe = run_hakiri("pipeline", "describe", "accounts", "--json", cwd=project).check().json()
    assert sum(run["rows"] for run in describe["runs"]) == 15
    before = sorted((project / ".hakiri" / "context" / "accounts").iterdir())
    assert len(before) == 3

    # Compaction materialises the view: the same answer, from one file of 9 rows.
    compacted = run_hakiri("compact", "accounts", "--json", cwd=project).check().json()
    assert compacted == [
        {
            "table": "accounts",
            "run_id": compacted[0]["run_id"],
            "files_before": 3,
            "rows_before": 15,
            "files_after": 1,
            "rows_after": 9,
            "removed_files": 3,
        }
    ]
    assert (
        _query(project, "select region, id, plan, seats from accounts order by region, id") == rows
    )
    after = sorted((project / ".hakiri" / "context" / "accounts").iterdir())
    assert len(after) == 1 and after[0] not in before
    again = run_hakiri("compact", "accounts", cwd=project).check().stdout
    assert "already compact" in again

    # The cursor and the merge carry on: a later run's rows win over the compacted ones.
    _publish(www, [account("us", 2, "team", 9)])
    run_hakiri("run", "accounts", cwd=project).check()
    assert _query(project, "select plan, seats from accounts where region = 'us' and id = 2") == [
        ["team", 9]
    ]
    assert _query(project, "select count(*) from accounts") == [[9]]


def test_compacting_a_table_that_is_not_merge_is_refused(
    tmp_path: Path,
    demo_api: DemoApi,
) -> None:
    project = tmp_path / "project"
    write_manifest(
        project,
        f"""
[pipelines.issues.source]
connector = "http"
url = "{demo_api.url}/issues"
params = {{ style = "link", per_page = 50 }}
pagination = {{ kind = "link_header" }}
""",
    )
    run_hakiri("run", "issues", cwd=project).check()
    refused = run_hakiri("compact", "issues", cwd=project)
    assert refused.returncode != 0
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error[config_invalid]: table 'issues' is written with 'append'")
    unknown = run_hakiri("compact", "nope", cwd=project)
    assert unknown.returncode != 0 and "no table named 'nope'" in unknown.stderr


def test_replace_reads_the_whole_source_every_run(tmp_path: Path, demo_api: DemoApi) -> None:
    project = tmp_path / "project"
    # The source is configured incrementally, but a replace rebuilds the table: each sweep
    # must read everything, not only what changed since the last cursor.
    write_manifest(
        project,
        f"""
[pipelines.snapshot.source]
connector = "http"
url = "{demo_api.url}/issues"
params = {{ style = "link", per_page = 40 }}
pagination = {{ kind = "link_header" }}
incremental = {{ cursor_field = "updated_at", param = "since" }}

[pipelines.snapshot.destination]
write = "replace"
""",
    )
    run_hakiri("run", "snapshot", cwd=project).check()
    demo_api.add_issues(5)
    demo_api.clear_requests()
    run_hakiri("run", "snapshot", cwd=project).check()
    assert all(r.param("since") is None for r in demo_api.requests_to("/issues"))
    total = demo_api.issue_count
    assert _query(project, "select count(*), count(distinct id) from snapshot") == [[total, total]]


def test_compacting_before_any_run_writes_nothing(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_manifest(project, "")
    result = run_hakiri("compact", "accounts", cwd=project)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"error[store_error]: no context store at {project / '.hakiri'} yet"
        " — run `hakiri run PIPELINE` first"
    ]
    assert not (project / ".hakiri").exists()
