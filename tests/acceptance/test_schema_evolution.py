"""Schema evolution, end to end: a source changes shape over four runs, under each policy.

Run 1 is the baseline {id, name, score: int}; run 2 adds a column ``tag``; run 3 makes
``score`` a float (1.5 …, and one 2.0); run 4 makes it a string ("high" …). Each run is a real
``hakiri run`` subprocess reading two pages from a local HTTP server; the decisions are read
back through ``hakiri pipeline describe`` and the data through ``hakiri query``. An
``added`` / ``widened`` decision counts the values of the page that brought the change; a
``discarded`` / ``variant`` one sums its pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hakiri.context.store import open_store
from hakiri.testing.cli import CliResult, run_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import store_fingerprint, write_manifest

RUNS: list[list[dict[str, Any]]] = [
    [
        {"id": 1, "name": "one", "score": 10},
        {"id": 2, "name": "two", "score": 20},
        {"id": 3, "name": "three", "score": 30},
    ],
    [
        {"id": 4, "name": "four", "score": 40, "tag": "new"},
        {"id": 5, "name": "five", "score": 50, "tag": None},
        {"id": 6, "name": "six", "score": 60, "tag": "x"},
    ],
    [
        {"id": 7, "name": "seven", "score": 1.5},
        {"id": 8, "name": "eight", "score": 2.0},
        {"id": 9, "name": "nine", "score": 3.25},
    ],
    [
        {"id": 10, "name": "ten", "score": "high"},
        {"id": 11, "name": "eleven", "score": "low"},
        {"id": 12, "name": "twelve", "score": "n/a"},
    ],
]

# Two pages per run (2 + 1 records), so decisions of several pages ride on one commit.
MANIFEST = """[pipelines.shapes]
[pipelines.shapes.source]
connector = "http"
url = "{url}/shapes"
pagination = {{ kind = "page_number", size_param = "per_page", size = 2 }}

[pipelines.shapes.destination]
schema_policy = "{policy}"
"""

# What a rejected run must leave exactly as it was: every data file and the committed
# state. The run's own ``runs`` row and its ``rejected`` event are new by design.
COMMITTED = ("cursors", "tables", "files", "schema_versions")


@pytest.fixture(scope="module")
def api() -> Iterator[DemoApi]:
    with DemoApi() as server:
        yield server


def _run_all(project: Path, api: DemoApi) -> list[CliResult]:
    """The four runs; a run that fails must not change the committed store."""
    results = []
    for records in RUNS:
        api.set_shapes(records)
        before = store_fingerprint(project / ".hakiri", catalog_tables=COMMITTED)
        result = run_hakiri("run", "shapes", cwd=project)
        if result.returncode == 0:
            assert "in 2 pages" in result.stdout, result.stdout
        else:
            after = store_fingerprint(project / ".hakiri", catalog_tables=COMMITTED)
            assert after == before, "a rejected run changed the committed store"
        results.append(result)
    return results


def _error_line(result: CliResult) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def _query(project: Path, sql: str) -> tuple[list[str], list[list[Any]]]:
    out = run_hakiri("query", sql, "--format", "json", cwd=project).check().json()
    return out["columns"], out["rows"]


def _decisions(project: Path) -> list[tuple[Any, ...]]:
    info = run_hakiri("pipeline", "describe", "shapes", "--json", cwd=project).check().json()
    return [
        (e["action"], e["column"], e["before"], e["after"], e["rows"])
        for e in info["events"]
        if e["kind"] == "schema_decision"
    ]


def _project(tmp_path: Path, api: DemoApi, policy: str) -> Path:
    write_manifest(tmp_path, MANIFEST.format(url=api.url, policy=policy))
    return tmp_path


def test_evolve_adds_and_widens_then_refuses_the_incompatible_change(
    tmp_path: Path, api: DemoApi
) -> None:
    project = _project(tmp_path, api, "evolve")
    first, second, third, fourth = _run_all(project, api)
    for result in (first, second, third):
        result.check()
    line = _error_line(fourth)
    assert line.startswith("error[schema_incompatible]:")
    assert "'score'" in line and "double → string" in line
    assert 'schema_policy = "variant"' in line

    assert _decisions(project) == [
        ("added", "tag", None, "string", 1),
        ("widened", "score", "int64", "double", 2),
        ("rejected", "score", "double", "string", 2),
    ]
    text = run_hakiri("pipeline", "describe", "shapes", cwd=project).check().stdout
    assert "schema_policy evolve" in text
    assert "score: int64 → double  widened (evolve)" in text
    assert "tag: (new) → string  added (evolve)" in text
    assert "score: double → string  rejected (evolve), the run failed" in text

    # Old rows read the widened type too; the refused run wrote nothing.
    columns, rows = _query(project, "select id, score, tag, typeof(score) from shapes order by id")
    assert columns[:3] == ["id", "score", "tag"]
    assert [r[0] for r in rows] == list(range(1, 10))
    assert [r[1] for r in rows] == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 1.5, 2.0, 3.25]
    assert [r[2] for r in rows] == [None, None, None, "new", None, "x", None, None, None]
    assert {r[3] for r in rows} == {"DOUBLE"}


def test_freeze_keeps_the_first_schema_and_fails_every_change(tmp_path: Path, api: DemoApi) -> None:
    project = _project(tmp_path, api, "freeze")
    first, *changed = _run_all(project, api)
    first.check()
    lines = [_error_line(result) for result in changed]
    assert all(line.startswith("error[schema_frozen]:") for line in lines)
    assert "column 'tag' is new (string)" in lines[0]
    assert "int64 → double" in lines[1] and "int64 → string" in lines[2]
    assert 'schema_policy = "evolve"' in lines[0]

    assert _decisions(project) == [
        ("rejected", "tag", None, "string", 1),
        ("rejected", "score", "int64", "double", 2),
        ("rejected", "score", "int64", "string", 2),
    ]
    columns, rows = _query(project, "select *, typeof(score) from shapes order by id")
    assert columns == ["id", "name", "score", "typeof(score)"]
    assert rows == [[1, "one", 10, "BIGINT"], [2, "two", 20, "BIGINT"], [3, "three", 30, "BIGINT"]]


def test_discard_row_drops_the_rows_that_do_not_fit_and_counts_them(
    tmp_path: Path, api: DemoApi
) -> None:
    project = _project(tmp_path, api, "discard_row")
    for result in _run_all(project, api):
        result.check()
    assert _decisions(project) == [
        ("discarded", "tag", None, "string", 2),
        ("discarded", "score", "int64", "double", 2),
        ("discarded", "score", "int64", "string", 3),
    ]
    text = run_hakiri("pipeline", "describe", "shapes", cwd=project).check().stdout
    assert "score: int64 → double  discarded (discard_row), 2 row(s) dropped" in text

    # Kept: the baseline, row 5 (its tag was null), row 8 (2.0 is exactly an int).
    columns, rows = _query(project, "select *, typeof(score) from shapes order by id")
    assert columns == ["id", "name", "score", "typeof(score)"]
    assert rows == [
        [1, "one", 10, "BIGINT"],
        [2, "two", 20, "BIGINT"],
        [3, "three", 30, "BIGINT"],
        [5, "five", 50, "BIGINT"],
        [8, "eight", 2, "BIGINT"],
    ]


def test_variant_loads_every_run_and_keeps_misfits_as_json(tmp_path: Path, api: DemoApi) -> None:
    project = _project(tmp_path, api, "variant")
    for result in _run_all(project, api):
        result.check()
    assert _decisions(project) == [
        ("added", "tag", None, "string", 1),
        ("widened", "score", "int64", "double", 2),
        ("variant", "score", "double", "string", 3),
    ]
    info = run_hakiri("pipeline", "describe", "shapes", "--json", cwd=project).check().json()
    assert info["table"]["schema_policy"] == "variant"
    assert [c["name"] for c in info["table"]["columns"]] == [
        "id",
        "name",
        "score",
        "tag",
        "score__variant",
    ]
    decision = [e for e in info["events"] if e["kind"] == "schema_decision"][-1]
    assert decision["variant_column"] == "score__variant"
    assert decision["before_schema"]["version"] + 1 == decision["after_schema"]["version"]

    # What an agent reads as context.schema: the policy, the versions, the decisions.
    with open_store(project) as store:
        described = store.schema("shapes").to_dict()
    assert described["schema_policy"] == "variant"
    assert [v["version"] for v in described["versions"]] == [1, 2, 3, 4]
    kinds = [(e["kind"], e["payload"].get("action")) for e in described["events"]]
    assert kinds[-2:] == [("schema_version", None), ("schema_decision", "variant")]

    columns, rows = _query(
        project,
        "select id, score, score__variant, json_extract_string(score__variant, '$') "
        "from shapes order by id",
    )
    assert [r[0] for r in rows] == list(range(1, 13))
    assert [r[1] for r in rows[-4:]] == [3.25, None, None, None]
    assert [r[2] for r in rows[-3:]] == ['"high"', '"low"', '"n/a"']
    assert [r[3] for r in rows[-3:]] == ["high", "low", "n/a"]
    assert all(r[2] is None for r in rows[:9])
