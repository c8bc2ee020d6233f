"""Crash safety of the run protocol's other driver: a workflow's plan / pull / commit steps,
each a process of its own (as a workflow engine calls the step endpoints), one of them killed
with SIGKILL at a point of the protocol.

The workflow then retries the step that died — or gives up and a ``hakiri run`` supersedes
the open run. Either way the table must hold exactly the source's rows, none lost, none
twice; no file the catalog does not reference may be left; a run that committed nothing
must not claim ``partial_failure``. (test_crash_safety.py kills ``hakiri run`` at the same
points.)
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hakiri.connectors.testing import run_step
from hakiri.context.catalog.sqlite import open_sqlite_catalog
from hakiri.testing.cli import run_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import issues_pipeline, write_manifest

ISSUES = 95
PER_PAGE = 10


@pytest.fixture
def api() -> Iterator[DemoApi]:
    with DemoApi(issues=ISSUES) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path, api: DemoApi) -> Path:
    write_manifest(tmp_path, issues_pipeline(api.url, per_page=PER_PAGE))
    return tmp_path


def _step(project: Path, name: str, *, page: str = "", run_id: str = "", kill: str = "") -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKIRI_")}
    if kill:
        env["HAKIRI_FAILPOINTS"] = kill
    done = run_step(project, name, "issues", page=page, run_id=run_id, env=env)
    if kill:
        assert done.returncode == -signal.SIGKILL, f"not killed:\n{done.stdout}\n{done.stderr}"
        return None
    assert done.returncode == 0, f"the {name} step failed:\n{done.stderr}"
    return json.loads(done.stdout)


def _store_state(project: Path) -> tuple[set[str], set[str]]:
    """(data files on disk, files the catalog references), store-relative."""
    root = project / ".hakiri"
    on_disk = {p.relative_to(root).as_posix() for p in (root / "context").rglob("*") if p.is_file()}
    catalog = open_sqlite_catalog(f"sqlite:///{root / 'catalog.db'}")
    try:
        referenced = catalog.referenced_paths("issues") if catalog.get_table("issues") else set()
    finally:
        catalog.close()
    return on_disk, referenced


def _check_exactly_once(project: Path) -> None:
    counts = run_hakiri(
        "query", "select count(*), count(distinct id) from issues", "--format", "json", cwd=project
    ).check()
    assert counts.json()["rows"] == [[ISSUES, ISSUES]]
    on_disk, referenced = _store_state(project)
    assert on_disk == referenced, f"files no commit names: {sorted(on_disk - referenced)}"


def _statuses(project: Path) -> list[str]:
    described = run_hakiri("pipeline", "describe", "issues", "--json", cwd=project).check().json()
    return [run["status"] for run in described["runs"]]


@pytest.mark.parametrize(
    "kill",
    [
        "pull:1",  # the first page read, nothing staged
        "pull:4",  # pages 1-2 staged as a file, page 3 in memory
    ],
)
def test_a_killed_pull_step_retried_reads_every_row_once(project: Path, kill: str) -> None:
    plan = _step(project, "plan")
    run_id, pages = plan["run_id"], [entry["id"] for entry in plan["pages"]]
    _step(project, "pull", page=pages[0], run_id=run_id, kill=kill)
    if kill == "pull:4":
        on_disk, referenced = _store_state(project)
        assert on_disk and not referenced, "the killed step staged a file, committed nothing"
    assert _statuses(project) == ["running"]  # the workflow run stays open for the retry
    for page in pages:
        assert _step(project, "pull", page=page, run_id=run_id)["run_id"] == run_id
    summary = _step(project, "commit", run_id=run_id)
    assert (summary["status"], summary["rows"]) == ("succeeded", ISSUES)
    assert _statuses(project) == ["succeeded"]
    _check_exactly_once(project)


def test_a_commit_step_killed_inside_its_transaction_commits_once_when_retried(
    project: Path,
) -> None:
    plan = _step(project, "plan")
    run_id = plan["run_id"]
    for entry in plan["pages"]:
        _step(project, "pull", page=entry["id"], run_id=run_id)
    _step(project, "commit", run_id=run_id, kill="inside_commit:1")
    on_disk, referenced = _store_state(project)
    assert on_disk and not referenced, "the transaction died: nothing may be committed"
    summary = _step(project, "commit", run_id=run_id)
    assert (summary["status"], summary["rows"]) == ("succeeded", ISSUES)
    assert _step(project, "commit", run_id=run_id)["rows"] == ISSUES  # asked again: the same
    _check_exactly_once(project)


def test_a_run_after_a_killed_commit_step_supersedes_the_workflow_run(project: Path) -> None:
    plan = _step(project, "plan")
    run_id = plan["run_id"]
    for entry in plan["pages"]:
        _step(project, "pull", page=entry["id"], run_id=run_id)
    _step(project, "commit", run_id=run_id, kill="inside_commit:1")

    rerun = run_hakiri("run", "issues", "--json", cwd=project).check().json()
    assert rerun["status"] == "succeeded"
    assert rerun["interrupted_runs"] == [run_id]
    assert rerun["rows"] == ISSUES  # nothing of the workflow run was committed
    # It committed nothing, so it failed; it did not partly succeed.
    assert _statuses(project) == ["succeeded", "failed"]
    _check_exactly_once(project)
