"""The step protocol (plan / pull × n / commit as separate calls) against real parts: the demo
API over HTTP, the file connector over files in tmp_path, the SQLite catalog and the Parquet
store. Each call opens and closes everything itself, as a stateless workflow step would.

Most tests compare a project driven by steps with a twin project run by ``run_pipeline``
over the same source: the store must end up the same.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hakiri.context.catalog.sqlite import SqliteCatalog
from hakiri.context.compact import compact_table
from hakiri.context.store import open_store
from hakiri.core.cursor import CursorKind
from hakiri.core.errors import (
    CursorConflict,
    PrimaryKeyMissing,
    SchemaFrozen,
    SourceError,
    SourceHttpError,
    UnknownPipeline,
)
from hakiri.core.manifest import Project, load_project
from hakiri.core.records import RunRecord, RunStatus
from hakiri.runtime import steps
from hakiri.runtime.cursor_state import CursorState
from hakiri.runtime.executor import run_pipeline
from hakiri.runtime.steps import (
    RunNotOpen,
    StepsMissing,
    UnknownPage,
    UnknownRun,
    commit_step,
    fold_observed,
    group_pages,
    plan_steps,
    pull_step,
)
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import store_fingerprint, write_manifest

ISSUES = """[pipelines.issues]
chunk_rows = 30
[pipelines.issues.source]
connector = "http"
url = "{url}/issues"
params = {{ style = "link", per_page = 20 }}
pagination = {{ kind = "link_header" }}
incremental = {{ cursor_field = "updated_at", param = "since" }}
{destination}"""

FILES = """[pipelines.orders]
chunk_rows = 1
[pipelines.orders.source]
connector = "file"
path = "{data}/*.jsonl"
[pipelines.orders.destination]
schema_policy = "{policy}"
"""

# The committed state: what a refused or unfinished run must leave as it was.
COMMITTED = ("cursors", "tables", "files", "schema_versions")


@pytest.fixture
def api(demo_api: DemoApi) -> DemoApi:
    """The demo API (100 issues) on a free port."""
    return demo_api


def _project(root: Path, body: str) -> Project:
    write_manifest(root, body)
    return load_project(root)


def _issues(root: Path, url: str, destination: str = "") -> Project:
    return _project(root, ISSUES.format(url=url, destination=destination))


def _files(root: Path, data: Path, policy: str = "evolve") -> Project:
    return _project(root, FILES.format(data=data.as_posix(), policy=policy))


def _write(data: Path, name: str, *records: dict[str, Any]) -> None:
    data.mkdir(parents=True, exist_ok=True)
    (data / name).write_text("".join(json.dumps(r) + "\n" for r in records))


def _all_steps(project: Project, name: str) -> dict[str, Any]:
    """Plan, pull every page in order, commit: what a workflow does."""
    plan = plan_steps(project, name)
    for page in plan["pages"]:
        pulled = pull_step(project, name, page["id"])
        assert pulled["run_id"] == plan["run_id"]
    return commit_step(project, name)


def _rows(project: Project, table: str, columns: str = "*") -> list[dict[str, Any]]:
    with open_store(project.root) as store:
        rows: list[dict[str, Any]] = store.to_arrow(
            f"select {columns} from {table} order by all"
        ).to_pylist()
    return rows


def _cursor(project: Project, name: str) -> tuple[CursorKind, Any, int]:
    with open_store(project.root) as store:
        cursor = store.catalog.get_cursor(name)
    assert cursor is not None
    state = CursorState.from_value(cursor.value)
    assert state.frontier is None and state.sweep == state.position
    return cursor.kind, state.position, cursor.version


def _run(project: Project, run_id: str) -> RunRecord:
    with open_store(project.root) as store:
        run = store.catalog.get_run(run_id)
    assert run is not None
    return run


def _decisions(project: Project, table: str) -> list[tuple[Any, ...]]:
    with open_store(project.root) as store:
        events = store.catalog.list_events(table)
    fields = ("action", "column", "before", "after", "rows")
    return [tuple(e.payload[f] for f in fields) for e in events if e.kind == "schema_decision"]


def _schema_versions(project: Project, table: str) -> list[list[tuple[str, str]]]:
    with open_store(project.root) as store:
        versions = store.catalog.schema_versions(table)
    return [[(f.name, f.type) for f in v.schema.fields] for v in versions]


# -- the protocol over HTTP ------------------------------------------------------------------


def test_plan_pull_commit_stores_what_a_run_stores(tmp_path: Path, api: DemoApi) -> None:
    project = _issues(tmp_path / "steps", api.url)
    twin = _issues(tmp_path / "run", api.url)

    plan = plan_steps(project, "issues")
    assert plan["pipeline"] == plan["table"] == "issues"
    assert (plan["cursor_kind"], plan["resumed_from"], plan["page_count"]) == (
        "monotonic",
        None,
        1,
    )
    assert plan["pages"] == [{"id": "0", "count": 1, "keys": ["page-1"]}]
    # The link-paginated source plans one page; the other four are revealed by reading.
    pulled = pull_step(project, "issues", "0")
    assert (pulled["rows"], pulled["pages_read"], pulled["file_count"]) == (100, 5, 3)
    assert [f["rows"] for f in pulled["files"]] == [40, 40, 20]  # chunk_rows = 30
    assert all((project.store_root / f["path"]).is_file() for f in pulled["files"])
    with open_store(project.root) as store:
        assert store.tables() == []  # staged, not visible before the commit

    summary = commit_step(project, "issues")
    assert summary["run_id"] == plan["run_id"]
    assert summary["status"] == "succeeded" and summary["error"] is None
    assert (summary["rows"], summary["pages"], summary["files"], summary["commits"]) == (
        100,
        5,
        3,
        1,
    )
    assert max(len(json.dumps(r)) for r in (plan, pulled, summary)) < 64 * 1024

    run_pipeline(twin, "issues")
    assert len(_rows(project, "issues")) == 100
    assert _rows(project, "issues") == _rows(twin, "issues")
    # The same position; the run got there in three commits (one per chunk), the steps in one.
    assert _cursor(project, "issues")[:2] == _cursor(twin, "issues")[:2]
    record = _run(project, plan["run_id"])
    assert (record.status, record.trigger, record.rows, record.files) == (
        RunStatus.SUCCEEDED,
        "workflow",
        100,
        3,
    )


def test_steps_and_runs_take_turns_reading_only_new_rows(tmp_path: Path, api: DemoApi) -> None:
    project = _issues(tmp_path / "steps", api.url)
    twin = _issues(tmp_path / "run", api.url)
    run_pipeline(project, "issues")
    run_pipeline(twin, "issues")
    after_run = _cursor(project, "issues")[1]

    api.add_issues(5)
    api.clear_requests()
    summary = _all_steps(project, "issues")
    # From the position the normal run committed (``since`` is inclusive: issue 100 again).
    assert {r.param("since") for r in api.requests_to("/issues")} == {after_run}
    assert summary["rows"] == 6
    run_pipeline(twin, "issues")
    assert _rows(project, "issues") == _rows(twin, "issues")
    after_steps = _cursor(project, "issues")[1]
    assert after_steps == _cursor(twin, "issues")[1] > after_run

    api.add_issues(3)
    api.clear_requests()
    assert run_pipeline(project, "issues").rows == 4
    assert {r.param("since") for r in api.requests_to("/issues")} == {after_steps}
    run_pipeline(twin, "issues")
    assert _rows(project, "issues") == _rows(twin, "issues")
    assert _cursor(project, "issues")[1] == _cursor(twin, "issues")[1]


def test_retried_steps_answer_the_same_without_reading_again(tmp_path: Path, api: DemoApi) -> None:
    project = _issues(tmp_path, api.url)
    plan = plan_steps(project, "issues")
    first = pull_step(project, "issues", "0", run_id=plan["run_id"])
    api.clear_requests()
    assert pull_step(project, "issues", "0") == first
    assert api.requests == []  # answered from the catalog

    summary = commit_step(project, "issues")
    assert commit_step(project, "issues") == summary
    assert commit_step(project, "issues", run_id=plan["run_id"]) == summary
    assert pull_step(project, "issues", "0") == first  # a late retry after the commit
    assert api.requests == []
    ids = [r["id"] for r in _rows(project, "issues", "id")]
    assert ids == list(range(1, 101))  # no row twice
    assert _cursor(project, "issues")[2] == 1  # one commit


# A workflow's container, killed while it pulls: the lock dies with it, the run stays open.
_PULL_IN_A_PROCESS = """
import sys
from hakiri.core.manifest import load_project
from hakiri.runtime.steps import pull_step
from pathlib import Path
pull_step(load_project(Path(sys.argv[1])), "issues", "0")
"""


def test_a_pull_killed_midway_is_retried_and_leaves_no_garbage(
    tmp_path: Path, api: DemoApi
) -> None:
    project = _issues(tmp_path, api.url)
    plan = plan_steps(project, "issues")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKIRI_")}
    env["HAKIRI_FAILPOINTS"] = "pull:4"  # after two pages, i.e. one staged file (40 rows)
    killed = subprocess.run(
        [sys.executable, "-c", _PULL_IN_A_PROCESS, str(tmp_path)],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    staged = sorted((project.store_root / "context" / "issues").iterdir())
    assert [p.name for p in staged] == [f"{plan['run_id']}-000000.parquet"]
    assert _run(project, plan["run_id"]).status is RunStatus.RUNNING

    pulled = pull_step(project, "issues", "0")  # the workflow retries the step
    assert (pulled["rows"], pulled["file_count"]) == (100, 3)
    assert commit_step(project, "issues")["rows"] == 100
    assert [r["id"] for r in _rows(project, "issues", "id")] == list(range(1, 101))
    on_disk = {p.relative_to(project.store_root).as_posix() for p in staged[0].parent.iterdir()}
    assert on_disk == {f["path"] for f in pulled["files"]}


def test_a_commit_whose_run_was_not_finished_finishes_it_on_retry(
    tmp_path: Path, api: DemoApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _issues(tmp_path, api.url)
    plan = plan_steps(project, "issues")
    pull_step(project, "issues", "0")

    def lost(*_args: object, **_kwargs: object) -> None:
        raise OSError("the container went away")

    with monkeypatch.context() as patched:
        patched.setattr(SqliteCatalog, "finish_run", lost)
        with pytest.raises(OSError):
            commit_step(project, "issues")
    assert _run(project, plan["run_id"]).status is RunStatus.RUNNING
    assert _cursor(project, "issues")[2] == 1  # the transaction went through
    summary = commit_step(project, "issues")
    assert (summary["status"], summary["rows"], summary["commits"]) == ("succeeded", 100, 1)
    assert _cursor(project, "issues")[2] == 1  # and was not made twice
    assert len(_rows(project, "issues")) == 100


def test_a_failed_pull_leaves_the_run_open_for_a_retry(tmp_path: Path, api: DemoApi) -> None:
    project = _issues(tmp_path, api.url)
    plan = plan_steps(project, "issues")
    api.fail_next(404)
    with pytest.raises(SourceHttpError):
        pull_step(project, "issues", "0")
    assert _run(project, plan["run_id"]).status is RunStatus.RUNNING
    assert pull_step(project, "issues", "0")["rows"] == 100
    assert commit_step(project, "issues")["rows"] == 100
    assert len(_rows(project, "issues")) == 100


def test_a_newer_plan_or_run_supersedes_an_open_workflow_run(tmp_path: Path, api: DemoApi) -> None:
    project = _issues(tmp_path, api.url)
    old = plan_steps(project, "issues")
    staged = [project.store_root / f["path"] for f in pull_step(project, "issues", "0")["files"]]
    assert all(path.is_file() for path in staged)

    new = plan_steps(project, "issues")
    assert not any(path.exists() for path in staged)  # the superseded run's files collected
    superseded = _run(project, old["run_id"])
    assert superseded.status is RunStatus.FAILED  # it committed nothing (issue 12, item 6)
    with pytest.raises(RunNotOpen, match="already finished failed"):
        pull_step(project, "issues", "0", run_id=old["run_id"])
    with pytest.raises(RunNotOpen):
        commit_step(project, "issues", run_id=old["run_id"])

    assert pull_step(project, "issues", "0")["run_id"] == new["run_id"]
    run_pipeline(project, "issues")  # a normal run supersedes it too
    with pytest.raises(RunNotOpen) as refused:
        commit_step(project, "issues")
    assert refused.value.code == "run_not_open" and new["run_id"] in refused.value.message
    assert [r["id"] for r in _rows(project, "issues", "id")] == list(range(1, 101))


# compact.py reads through DuckDB's DB-API Arrow reader, which DuckDB 2 warns about; the
# warning is compact's business, not this test's.
def test_a_commit_after_someone_else_committed_fails_the_run(tmp_path: Path, api: DemoApi) -> None:
    merge = '[pipelines.issues.destination]\nwrite = "merge"\nprimary_key = ["id"]\n'
    project = _issues(tmp_path, api.url, merge)
    run_pipeline(project, "issues")
    api.add_issues(5)
    plan = plan_steps(project, "issues")
    pull_step(project, "issues", "0")
    # A compaction commits (moving the cursor's version) without closing the open run.
    assert compact_table(project, "issues").run_id is not None
    with pytest.raises(CursorConflict):
        commit_step(project, "issues")
    failed = _run(project, plan["run_id"])
    assert (failed.status, failed.error_code) == (RunStatus.FAILED, "cursor_conflict")
    with pytest.raises(RunNotOpen, match="cursor_conflict"):
        commit_step(project, "issues")
    assert len(_rows(project, "issues")) == 100

    assert _all_steps(project, "issues")["status"] == "succeeded"
    assert [r["id"] for r in _rows(project, "issues", "id")] == list(range(1, 106))


def test_unknown_runs_and_pages_are_refused(tmp_path: Path, api: DemoApi) -> None:
    issues = ISSUES.format(url=api.url, destination="")
    project = _project(tmp_path, issues + issues.replace("pipelines.issues", "pipelines.others"))
    with pytest.raises(UnknownRun, match="no workflow run"):
        commit_step(project, "issues")
    normal = run_pipeline(project, "issues").run_id
    assert normal is not None
    with pytest.raises(UnknownRun):
        pull_step(project, "issues", "0")  # a normal run is no workflow run
    plan = plan_steps(project, "issues")
    for page in ("1", "00", " 0", "-1", "x"):
        with pytest.raises(UnknownPage):
            pull_step(project, "issues", page)
    for run_id in (normal, "20260101T000000Z-00000000"):
        with pytest.raises(UnknownRun):
            pull_step(project, "issues", "0", run_id=run_id)
    others = plan_steps(project, "others")["run_id"]  # a workflow run of another pipeline
    with pytest.raises(UnknownRun):
        pull_step(project, "issues", "0", run_id=others)
    with pytest.raises(UnknownPipeline):
        plan_steps(project, "nope")
    assert _run(project, plan["run_id"]).status is RunStatus.RUNNING


# -- many pages, in order --------------------------------------------------------------------


def test_group_pages_keeps_at_most_the_limit_of_consecutive_groups() -> None:
    assert group_pages(0, 1024) == []
    assert group_pages(3, 1024) == [(0, 1), (1, 2), (2, 3)]
    assert group_pages(10, 4) == [(0, 3), (3, 6), (6, 8), (8, 10)]
    for count in (1024, 1025, 2047, 5000, 100_000):
        groups = group_pages(count, 1024)
        assert len(groups) == min(count, 1024)
        assert groups[0][0] == 0 and groups[-1][1] == count
        assert all(a[1] == b[0] for a, b in zip(groups, groups[1:], strict=False))
        sizes = {stop - start for start, stop in groups}
        assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    with pytest.raises(ValueError):
        group_pages(3, 0)


@pytest.mark.parametrize(
    ("kind", "start", "observed"),
    [
        (CursorKind.MONOTONIC, 5, [3, None, 9, 7]),
        (CursorKind.MONOTONIC, {"a": 1}, [{"a": 4, "b": 1}, None, {"b": 3}]),
        (CursorKind.OPAQUE_TOKEN, "t0", ["t1", None, "t2"]),
        (CursorKind.KEYED, {"a": 1, "b": 1}, [{"c": 1}, {"b": None}, {"c": 2, "d": 1}]),
        (CursorKind.KEYED, {"a": 1}, [{"a": None}, {"a": 2}, {"b": 1}, {"b": None}]),
    ],
)
def test_a_groups_folded_observations_advance_like_its_pages(
    kind: CursorKind, start: Any, observed: list[Any]
) -> None:
    one_by_one = start
    for value in observed:
        one_by_one = kind.advance(one_by_one, value)
    folded: Any = None
    for value in observed:
        folded = fold_observed(kind, folded, value)
    assert kind.advance(start, folded) == one_by_one
    # Split anywhere into two groups, folded in order: the same.
    for cut in range(len(observed) + 1):
        first: Any = None
        second: Any = None
        for value in observed[:cut]:
            first = fold_observed(kind, first, value)
        for value in observed[cut:]:
            second = fold_observed(kind, second, value)
        assert kind.advance(kind.advance(start, first), second) == one_by_one


def test_more_pages_than_steps_are_grouped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steps, "MAX_PULL_STEPS", 4)
    data = tmp_path / "data"
    for i in range(10):
        _write(data, f"part-{i:02d}.jsonl", {"id": i, "amount": i * 10})
    project = _files(tmp_path / "steps", data)
    twin = _files(tmp_path / "run", data)

    plan = plan_steps(project, "orders")
    assert [(p["id"], p["count"]) for p in plan["pages"]] == [
        ("0", 3),
        ("1", 3),
        ("2", 2),
        ("3", 2),
    ]
    assert plan["cursor_kind"] == "keyed" and plan["keys_complete"]
    keys = [k for p in plan["pages"] for k in p["keys"]]
    assert len(keys) == 10 and keys == sorted(keys) and keys[6].endswith("part-06.jsonl")
    pulls = [pull_step(project, "orders", p["id"]) for p in plan["pages"]]
    assert [p["pages_read"] for p in pulls] == [3, 3, 2, 2]
    # chunk_rows = 1: one file per page, numbered across the groups.
    paths = [f["path"] for p in pulls for f in p["files"]]
    assert [path.rsplit("-", 1)[1] for path in paths] == [f"{i:06d}.parquet" for i in range(10)]
    commit_step(project, "orders")
    run_pipeline(twin, "orders")
    assert _rows(project, "orders", "id, amount") == _rows(twin, "orders", "id, amount")
    assert _cursor(project, "orders")[:2] == _cursor(twin, "orders")[:2]

    # Changed, new and deleted files: the keyed cursor's tombstones fold across the groups.
    _write(data, "part-03.jsonl", {"id": 3, "amount": 31})
    _write(data, "part-10.jsonl", {"id": 10, "amount": 100})
    for i in (1, 8):
        (data / f"part-{i:02d}.jsonl").unlink()
    monkeypatch.setattr(steps, "MAX_PULL_STEPS", 2)
    summary = _all_steps(project, "orders")
    assert (summary["rows"], summary["pages"]) == (2, 3)  # two files and one index page
    run_pipeline(twin, "orders")
    assert _rows(project, "orders", "id, amount") == _rows(twin, "orders", "id, amount")
    kind, position, _ = _cursor(project, "orders")
    assert (kind, position) == _cursor(twin, "orders")[:2]
    assert len(position) == 9  # 11 files seen, 2 deleted

    # A plan too large for a step result lists fewer keys, never more bytes.
    monkeypatch.setattr(steps._results, "RESULT_BYTES", 400)
    for i in range(11, 20):
        _write(data, f"part-{i:02d}.jsonl", {"id": i, "amount": 1})
    short = plan_steps(project, "orders")
    assert not short["keys_complete"] and [p["count"] for p in short["pages"]] == [5, 4]
    assert all(len(p["keys"]) <= 2 for p in short["pages"])


def test_commit_needs_every_page_and_pulls_go_in_order(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i in range(3):
        _write(data, f"{i}.jsonl", {"id": i})
    project = _files(tmp_path / "project", data)
    plan = plan_steps(project, "orders")
    assert [p["id"] for p in plan["pages"]] == ["0", "1", "2"]
    with pytest.raises(StepsMissing, match="before page '0'"):
        pull_step(project, "orders", "1")
    pull_step(project, "orders", "0")
    pull_step(project, "orders", "1")
    staged = [
        project.store_root / f"context/orders/{plan['run_id']}-{i:06d}.parquet" for i in (0, 1)
    ]
    assert all(path.is_file() for path in staged)  # pulls never collect an open run's files
    with pytest.raises(StepsMissing, match="1 of 3 page.* not pulled yet: 2") as missing:
        commit_step(project, "orders")
    assert missing.value.details["missing"] == ["2"]
    assert _run(project, plan["run_id"]).status is RunStatus.RUNNING
    pull_step(project, "orders", "2")
    assert commit_step(project, "orders")["rows"] == 3
    assert [r["id"] for r in _rows(project, "orders", "id")] == [0, 1, 2]


def test_an_empty_source_plans_nothing_and_commits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    project = _files(tmp_path / "steps", data)
    twin = _files(tmp_path / "run", data)
    plan = plan_steps(project, "orders")
    assert (plan["pages"], plan["page_count"]) == ([], 0)
    with pytest.raises(UnknownPage, match="nothing to pull"):
        pull_step(project, "orders", "0")
    summary = commit_step(project, "orders")
    assert (summary["status"], summary["rows"], summary["commits"]) == ("succeeded", 0, 1)
    run_pipeline(twin, "orders")
    assert _cursor(project, "orders") == _cursor(twin, "orders")

    _write(data, "a.jsonl", {"id": 1})
    assert _all_steps(project, "orders")["rows"] == 1


# -- schema policy -----------------------------------------------------------------------------


def test_evolve_through_steps_decides_as_a_run_does(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _write(data, "a.jsonl", {"id": 1, "score": 10})
    project = _files(tmp_path / "steps", data)
    twin = _files(tmp_path / "run", data)
    run_pipeline(project, "orders")
    run_pipeline(twin, "orders")

    # Three pages, three pull steps: the first widens score, the second's int must be
    # conformed to the widened type (not the committed one), the third adds a column.
    _write(data, "b.jsonl", {"id": 2, "score": 1.5})
    _write(data, "c.jsonl", {"id": 3, "score": 20})
    _write(data, "d.jsonl", {"id": 4, "score": 30, "tag": "x"})
    assert [p["id"] for p in plan_steps(project, "orders")["pages"]] == ["0", "1", "2"]
    for page in ("0", "1", "2"):
        pull_step(project, "orders", page)
    commit_step(project, "orders")
    run_pipeline(twin, "orders")

    assert (
        _decisions(project, "orders")
        == _decisions(twin, "orders")
        == [
            ("widened", "score", "int64", "double", 1),
            ("added", "tag", None, "string", 1),
        ]
    )
    assert _schema_versions(project, "orders") == _schema_versions(twin, "orders")
    assert [dict(v)["score"] for v in _schema_versions(project, "orders")] == [
        "int64",
        "double",
        "double",
    ]
    columns = "id, score, tag, typeof(score) as type"
    assert _rows(project, "orders", columns) == _rows(twin, "orders", columns)


def test_a_freeze_refusal_fails_the_workflow_run_as_it_fails_a_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _write(data, "a.jsonl", {"id": 1, "score": 10})
    project = _files(tmp_path / "steps", data, policy="freeze")
    twin = _files(tmp_path / "run", data, policy="freeze")
    run_pipeline(project, "orders")
    run_pipeline(twin, "orders")
    before = store_fingerprint(project.store_root, catalog_tables=COMMITTED)

    _write(data, "b.jsonl", {"id": 2, "score": 20, "tag": "new"})
    plan = plan_steps(project, "orders")
    with pytest.raises(SchemaFrozen) as refused:
        pull_step(project, "orders", "0")
    with pytest.raises(SchemaFrozen) as refused_run:
        run_pipeline(twin, "orders")
    assert refused.value.one_line() == refused_run.value.one_line()

    failed = _run(project, plan["run_id"])
    assert (failed.status, failed.error_code) == (RunStatus.FAILED, "schema_frozen")
    with pytest.raises(RunNotOpen, match="schema_frozen"):
        pull_step(project, "orders", "0")
    with pytest.raises(RunNotOpen):
        commit_step(project, "orders")
    assert (
        _decisions(project, "orders")
        == _decisions(twin, "orders")
        == [("rejected", "tag", None, "string", 1)]
    )
    assert store_fingerprint(project.store_root, catalog_tables=COMMITTED) == before
    assert _rows(project, "orders", "id, score") == [{"id": 1, "score": 10}]


def test_a_primary_key_naming_no_column_fails_the_pull_as_it_fails_a_run(
    tmp_path: Path, api: DemoApi
) -> None:
    destination = '[pipelines.issues.destination]\nwrite = "merge"\nprimary_key = ["uuid"]\n'
    project = _issues(tmp_path / "steps", api.url, destination)
    twin = _issues(tmp_path / "run", api.url, destination)
    plan = plan_steps(project, "issues")
    with pytest.raises(PrimaryKeyMissing) as refused:
        pull_step(project, "issues", plan["pages"][0]["id"])
    with pytest.raises(PrimaryKeyMissing) as refused_run:
        run_pipeline(twin, "issues")
    assert refused.value.one_line() == refused_run.value.one_line()
    assert "'uuid'" in refused.value.one_line() and "'title'" in refused.value.one_line()
    failed = _run(project, plan["run_id"])
    assert (failed.status, failed.error_code) == (RunStatus.FAILED, "primary_key_missing")
    assert not list(project.store_root.rglob("*.parquet"))


# -- where a plan starts ----------------------------------------------------------------------


def test_a_plan_resumes_the_frontier_of_an_interrupted_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name in "abcd":
        _write(data, f"{name}.jsonl", {"id": ord(name)})
    (data / "c.jsonl").write_text('{"id": \n')  # a read error once a and b are committed
    project = _files(tmp_path / "steps", data)
    twin = _files(tmp_path / "run", data)
    for each in (project, twin):
        with pytest.raises(SourceError, match="c.jsonl"):
            run_pipeline(each, "orders")
    with open_store(project.root) as store:
        interrupted = store.catalog.list_runs("orders")[0]
        cursor = store.catalog.get_cursor("orders")
    assert interrupted.status is RunStatus.PARTIAL_FAILURE
    frontier = CursorState.from_value(cursor.value if cursor else None).frontier or ()
    assert [p.key.rsplit("/", 1)[1] for p in frontier] == ["c.jsonl", "d.jsonl"]

    _write(data, "c.jsonl", {"id": ord("c")})  # fixed: reads as no rows (not what was planned)
    plan = plan_steps(project, "orders")
    assert plan["resumed_from"] == interrupted.run_id
    assert [p["keys"][0].rsplit("/", 1)[1] for p in plan["pages"]] == ["c.jsonl", "d.jsonl"]
    assert _all_steps(project, "orders")["resumed_from"] == interrupted.run_id
    assert run_pipeline(twin, "orders").resumed_from is not None
    assert _rows(project, "orders", "id") == _rows(twin, "orders", "id")
    assert _cursor(project, "orders")[:2] == _cursor(twin, "orders")[:2]

    # The next sweep reads c as it is now, in both.
    assert _all_steps(project, "orders")["rows"] == 1
    run_pipeline(twin, "orders")
    assert _rows(project, "orders", "id") == _rows(twin, "orders", "id")
    assert [r["id"] for r in _rows(project, "orders", "id")] == [97, 98, 99, 100]


def test_a_replace_plans_from_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i in range(3):
        _write(data, f"{i}.jsonl", {"id": i})
    body = FILES.format(data=data.as_posix(), policy="evolve") + 'write = "replace"\n'
    project = _project(tmp_path / "steps", body)
    twin = _project(tmp_path / "run", body)
    assert _all_steps(project, "orders")["rows"] == 3
    run_pipeline(twin, "orders")

    (data / "1.jsonl").unlink()
    plan = plan_steps(project, "orders")
    assert len(plan["pages"]) == 2  # every file again, not only what changed
    for page in plan["pages"]:
        pull_step(project, "orders", page["id"])
    assert [r["id"] for r in _rows(project, "orders", "id")] == [0, 1, 2]  # until the commit
    commit_step(project, "orders")
    run_pipeline(twin, "orders")
    assert [r["id"] for r in _rows(project, "orders", "id")] == [0, 2]
    assert _rows(twin, "orders", "id") == [{"id": 0}, {"id": 2}]
    assert _cursor(project, "orders")[:2] == _cursor(twin, "orders")[:2]
