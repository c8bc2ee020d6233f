"""Compaction keeps a table exactly as it was typed, and a compaction that dies is cleaned up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hakiri.testing.cli import run_hakiri
from hakiri.testing.project import write_manifest

_MANIFEST = """
[pipelines.accounts.source]
connector = "file"
path = "accounts.jsonl"

[pipelines.accounts.destination]
write = "merge"
primary_key = ["id"]
schema_policy = "freeze"
"""


def _append(project: Path, *records: dict[str, Any]) -> None:
    with (project / "accounts.jsonl").open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in records)


def _describe(project: Path) -> dict[str, Any]:
    described: dict[str, Any] = (
        run_hakiri("pipeline", "describe", "accounts", "--json", cwd=project).check().json()
    )
    return described


def test_compaction_creates_no_schema_version(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_manifest(project, _MANIFEST)
    # Lists and structs are what DuckDB spells differently from Arrow's defaults.
    _append(project, {"id": 1, "tags": ["a", "b"], "meta": {"x": 1}}, {"id": 2, "tags": []})
    run_hakiri("run", "accounts", cwd=project).check()
    before = _describe(project)["table"]["columns"]
    for round_ in range(3):
        _append(project, {"id": 1, "tags": [f"r{round_}"], "meta": {"x": round_}})
        run_hakiri("run", "accounts", cwd=project).check()  # freeze: would fail on a new type
        run_hakiri("compact", "accounts", cwd=project).check()
    described = _describe(project)
    assert described["table"]["schema_version"] == 1
    assert described["table"]["columns"] == before
    versions = [e for e in described["events"] if e["kind"] == "schema_version"]
    assert len(versions) == 1, versions
    rows = (
        run_hakiri(
            "query",
            "select id, tags, meta from accounts order by id",
            "--format",
            "json",
            cwd=project,
        )
        .check()
        .json()["rows"]
    )
    assert rows == [[1, ["r2"], {"x": 2}], [2, [], None]]


def test_a_replace_deletes_the_generation_it_replaced(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_manifest(
        project,
        """
[pipelines.accounts]
chunk_rows = 1

[pipelines.accounts.source]
connector = "file"
path = "accounts.jsonl"

[pipelines.accounts.destination]
write = "replace"
""",
    )
    _append(project, {"id": 1}, {"id": 2})
    run_hakiri("run", "accounts", cwd=project).check()
    data = project / ".hakiri" / "context" / "accounts"
    first = sorted(data.iterdir())
    _append(project, {"id": 3})
    second = run_hakiri("run", "accounts", "--json", cwd=project).check().json()
    # The old generation is gone as soon as the new one is visible, and said so — not left
    # for the next run to report as "uncommitted".
    assert second["superseded_files"] == len(first) and second["removed_files"] == 0
    assert not set(first) & set(data.iterdir())
    third = run_hakiri("run", "accounts", "--json", cwd=project).check().json()
    assert third["removed_files"] == 0
    rows = (
        run_hakiri("query", "select count(*) from accounts", "--format", "json", cwd=project)
        .check()
        .json()["rows"]
    )
    assert rows == [[3]]


def test_a_killed_compaction_is_cleaned_up_by_the_next_one(tmp_path: Path) -> None:
    import signal

    project = tmp_path / "project"
    write_manifest(project, _MANIFEST)
    _append(project, {"id": 1, "tags": ["a"]}, {"id": 2, "tags": ["b"]})
    run_hakiri("run", "accounts", cwd=project).check()
    _append(project, {"id": 1, "tags": ["c"]})
    run_hakiri("run", "accounts", cwd=project).check()
    data = project / ".hakiri" / "context" / "accounts"
    committed = set(data.iterdir())

    killed = run_hakiri(
        "compact", "accounts", cwd=project, env={"HAKIRI_FAILPOINTS": "compact_staged"}
    )
    assert killed.returncode == -signal.SIGKILL
    leftovers = set(data.iterdir()) - committed
    assert leftovers, "the killed compaction staged a file first"
    dead = _describe(project)["runs"][0]
    assert (dead["trigger"], dead["status"]) == ("compact", "running")

    done = run_hakiri("compact", "accounts", "--json", cwd=project).check().json()
    assert done[0]["files_after"] == 1
    runs = _describe(project)["runs"]
    closed = next(r for r in runs if r["run_id"] == dead["run_id"])
    # It committed nothing: failed, not partial_failure; its staged file is gone.
    assert closed["status"] == "failed" and closed["error"]["code"] == "interrupted", closed
    assert not leftovers & set(data.iterdir())
    assert len(list(data.iterdir())) == 1
