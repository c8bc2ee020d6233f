"""The executor's logic with a scripted source: chunking, frontier cursors, run statuses.

The real thing (subprocesses, HTTP, SQLite, SIGKILL) is proven in tests/integration; these
tests pin down the protocol's bookkeeping with an in-memory catalog.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from hakiri.context.catalog.memory import open_memory_catalog
from hakiri.core.clock import ManualClock
from hakiri.core.cursor import CursorKind
from hakiri.core.errors import SourceError
from hakiri.core.manifest import PipelineSpec
from hakiri.core.ports import Catalog
from hakiri.core.records import (
    Page,
    PageData,
    Plan,
    RunStatus,
    StreamInfo,
)
from hakiri.runtime.cursor_state import CursorState
from hakiri.runtime.executor import RunExecutor
from hakiri.testing.destination import MemoryDestination


class ScriptedSource:
    """Pages of ``per_page`` rows with ids; link-style: each page reveals the next."""

    def __init__(self, total: int, per_page: int, fail_on: set[int] | None = None) -> None:
        self.total = total
        self.per_page = per_page
        self.fail_on = fail_on or set()
        self.reads: list[int] = []

    def discover(self) -> list[StreamInfo]:
        return [StreamInfo("rows")]

    def plan(self, cursor: Any) -> Plan:
        start = 0 if cursor is None else int(cursor)
        return Plan([Page("p1", {"n": 1, "after": start})], CursorKind.MONOTONIC)

    def read(self, page: Page) -> PageData:
        n, after = int(page.params["n"]), int(page.params["after"])
        self.reads.append(n)
        if n in self.fail_on:
            self.fail_on.discard(n)
            raise SourceError(f"page {n} failed")
        first = after + (n - 1) * self.per_page + 1
        ids = [i for i in range(first, first + self.per_page) if i <= self.total]
        more = bool(ids) and ids[-1] < self.total
        next_pages = [Page(f"p{n + 1}", {"n": n + 1, "after": after})] if more else []
        return PageData(
            pa.table({"id": pa.array(ids, pa.int64())}), next_pages, max(ids, default=None)
        )

    def close(self) -> None:
        pass


def _spec(chunk_rows: int = 20) -> PipelineSpec:
    spec = PipelineSpec.model_validate(
        {"source": {"connector": "scripted"}, "chunk_rows": chunk_rows}
    )
    spec.name = "rows"
    return spec


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


def _run(
    catalog: Catalog, source: ScriptedSource, dest: MemoryDestination, clock: ManualClock
) -> RunExecutor:
    clock.advance(timedelta(seconds=1))
    return RunExecutor(_spec(), catalog, source, dest, clock)


def test_commits_per_chunk_and_moves_the_cursor_at_the_end(clock: ManualClock) -> None:
    catalog = open_memory_catalog("memory://")
    dest = MemoryDestination(catalog)
    summary = _run(catalog, ScriptedSource(95, 10), dest, clock).execute(None)
    assert summary.status is RunStatus.SUCCEEDED
    assert (summary.rows, summary.pages, summary.commits, summary.files) == (95, 10, 5, 5)
    assert sorted(r["id"] for r in dest.rows("rows")) == list(range(1, 96))
    cursor = catalog.get_cursor("rows")
    assert cursor is not None and cursor.kind is CursorKind.MONOTONIC
    state = CursorState.from_value(cursor.value)
    assert (state.position, state.frontier) == (95, None)
    run = catalog.get_run(summary.run_id or "")
    assert run is not None and (run.status, run.rows, run.pages) == (RunStatus.SUCCEEDED, 95, 10)
    keys = [step.key for step in catalog.list_steps(summary.run_id or "")]
    assert keys[:2] == ["pull:0", "commit:0"] and keys[-1] == "commit:4"


def test_failure_after_a_commit_is_partial_and_the_next_run_resumes(clock: ManualClock) -> None:
    catalog = open_memory_catalog("memory://")
    dest = MemoryDestination(catalog)
    source = ScriptedSource(95, 10, fail_on={5})
    with pytest.raises(SourceError):
        _run(catalog, source, dest, clock).execute(None)
    first = catalog.list_runs("rows")[0]
    assert first.status is RunStatus.PARTIAL_FAILURE and first.error_code == "source_error"
    state = CursorState.from_value(catalog.get_cursor("rows").value)  # type: ignore[union-attr]
    assert [p.key for p in state.frontier or ()] == ["p5"]
    assert state.position is None and state.sweep == 40

    source.reads.clear()
    summary = _run(catalog, source, dest, clock).execute(None)
    assert summary.resumed_from == first.run_id
    assert source.reads == [5, 6, 7, 8, 9, 10]
    assert sorted(r["id"] for r in dest.rows("rows")) == list(range(1, 96))
    state = CursorState.from_value(catalog.get_cursor("rows").value)  # type: ignore[union-attr]
    assert (state.position, state.frontier) == (95, None)


def test_failure_before_any_commit_is_failed(clock: ManualClock) -> None:
    catalog = open_memory_catalog("memory://")
    dest = MemoryDestination(catalog)
    with pytest.raises(SourceError):
        _run(catalog, ScriptedSource(95, 10, fail_on={2}), dest, clock).execute(None)
    assert catalog.list_runs("rows")[0].status is RunStatus.FAILED
    assert catalog.get_cursor("rows") is None


def test_unreachable_first_page_writes_nothing(clock: ManualClock) -> None:
    catalog = open_memory_catalog("memory://")
    dest = MemoryDestination(catalog)
    with pytest.raises(SourceError):
        _run(catalog, ScriptedSource(95, 10, fail_on={1}), dest, clock).execute(None)
    assert catalog.list_runs("rows") == []
    assert catalog.list_tables() == []


def test_interrupted_runs_are_closed_and_their_files_collected(clock: ManualClock) -> None:
    catalog = open_memory_catalog("memory://")
    dest = MemoryDestination(catalog)
    with pytest.raises(SourceError):
        _run(catalog, ScriptedSource(95, 10, fail_on={5}), dest, clock).execute(None)
    # Simulate a dead process: a run left `running` and a staged file nobody committed.
    from hakiri.core.records import RunRecord

    catalog.create_run(RunRecord("dead", "rows", RunStatus.RUNNING, clock.now()))
    dest.files["context/rows/dead-000000.parquet"] = pa.table({"id": [999]})
    summary = _run(catalog, ScriptedSource(95, 10), dest, clock).execute(None)
    assert summary.interrupted_runs == ["dead"]
    assert summary.removed_files == ["context/rows/dead-000000.parquet"]
    # It committed nothing, so it ends ``failed`` (issue 12: ``partial_failure`` is for a
    # run some of whose rows are in the store).
    assert catalog.get_run("dead").status is RunStatus.FAILED  # type: ignore[union-attr]
    assert sorted(r["id"] for r in dest.rows("rows")) == list(range(1, 96))


def test_incremental_second_run_starts_from_the_position(clock: ManualClock) -> None:
    catalog = open_memory_catalog("memory://")
    dest = MemoryDestination(catalog)
    _run(catalog, ScriptedSource(30, 10), dest, clock).execute(None)
    grown = ScriptedSource(45, 10)
    summary = _run(catalog, grown, dest, clock).execute(None)
    assert summary.rows == 15
    assert sorted(r["id"] for r in dest.rows("rows")) == list(range(1, 46))
