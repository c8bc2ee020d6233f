"""The schema gate inside the executor: decisions ride on commits, refusals fail the run.

A scripted source serves pages of given shapes; the catalog is the in-memory one (the
SQLite catalog passes the same conformance suite). The end-to-end proof with real
subprocesses, HTTP and SQLite is tests/acceptance/test_schema_evolution.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from hakiri.context.catalog.memory import MemoryCatalog
from hakiri.core.clock import ManualClock
from hakiri.core.cursor import CursorKind
from hakiri.core.errors import SchemaFrozen, SchemaIncompatible, SourceError
from hakiri.core.manifest import PipelineSpec
from hakiri.core.records import (
    SCHEMA_DECISION,
    Page,
    PageData,
    Plan,
    RunStatus,
    StreamInfo,
)
from hakiri.runtime.executor import RunExecutor
from hakiri.testing.destination import MemoryDestination


class ShapedSource:
    """One page per table given, each revealing the next; ``fail_on`` page numbers raise."""

    def __init__(self, pages: list[pa.Table], fail_on: set[int] | None = None) -> None:
        self.pages = pages
        self.fail_on = fail_on or set()

    def discover(self) -> list[StreamInfo]:
        return [StreamInfo("shapes")]

    def plan(self, cursor: Any) -> Plan:
        return Plan([Page("p0", {"n": 0})], CursorKind.OPAQUE_TOKEN)

    def read(self, page: Page) -> PageData:
        n = int(page.params["n"])  # type: ignore[arg-type]
        if n in self.fail_on:
            self.fail_on.discard(n)
            raise SourceError(f"page {n} failed")
        more = [Page(f"p{n + 1}", {"n": n + 1})] if n + 1 < len(self.pages) else []
        return PageData(self.pages[n], more)

    def close(self) -> None:
        pass


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


def execute(
    catalog: MemoryCatalog,
    dest: MemoryDestination,
    clock: ManualClock,
    pages: list[pa.Table],
    policy: str,
    *,
    chunk_rows: int = 100,
    fail_on: set[int] | None = None,
) -> RunExecutor:
    spec = PipelineSpec.model_validate(
        {
            "source": {"connector": "scripted"},
            "destination": {"schema_policy": policy},
            "chunk_rows": chunk_rows,
        }
    )
    spec.name = "shapes"
    clock.advance(timedelta(seconds=1))
    run = RunExecutor(spec, catalog, ShapedSource(pages, fail_on), dest, clock)
    run.execute(None)
    return run


def decisions(catalog: MemoryCatalog) -> list[tuple[Any, ...]]:
    return [
        (e.payload["action"], e.payload["column"], e.payload["rows"])
        for e in catalog.list_events("shapes")
        if e.kind == SCHEMA_DECISION
    ]


BASE = pa.table({"id": [1, 2], "score": [10, 20]})


def test_a_run_creating_its_table_grows_it_under_freeze(clock: ManualClock) -> None:
    catalog = MemoryCatalog()
    dest = MemoryDestination(catalog)
    pages = [
        BASE,
        pa.table({"id": [3], "score": [30], "tag": ["x"]}),  # a field the first page lacked
        pa.table({"id": [4], "score": [4.5]}),
    ]
    execute(catalog, dest, clock, pages, "freeze", chunk_rows=2)
    schema = catalog.schema_versions("shapes")[-1].schema.to_arrow()
    assert schema.names == ["id", "score", "tag"]
    assert schema.field("score").type == pa.float64()
    # The first schema is what the creating run found: versions, no decisions.
    assert decisions(catalog) == []
    assert [r["score"] for r in dest.rows("shapes")] == [10, 20, 30.0, 4.5]

    # From now on the policy holds.
    with pytest.raises(SchemaFrozen):
        execute(catalog, dest, clock, [pa.table({"id": [5], "extra": [1]})], "freeze")
    assert decisions(catalog) == [("rejected", "extra", 1)]


def test_decisions_of_one_commit_are_merged_and_ride_on_it(clock: ManualClock) -> None:
    catalog = MemoryCatalog()
    dest = MemoryDestination(catalog)
    execute(catalog, dest, clock, [BASE], "variant")
    text = [pa.table({"id": [i], "score": [f"v{i}"]}) for i in (3, 4, 5)]
    execute(catalog, dest, clock, text, "variant")
    events = [e for e in catalog.list_events("shapes") if e.kind == SCHEMA_DECISION]
    assert len(events) == 1
    payload = events[0].payload
    assert (payload["action"], payload["rows"], payload["variant_column"]) == (
        "variant",
        3,
        "score__variant",
    )
    assert payload["before_schema"]["version"] == 1
    assert payload["after_schema"]["version"] == 2
    versions = catalog.schema_versions("shapes")
    assert payload["after_schema"]["fingerprint"] == versions[-1].schema.fingerprint
    # Old files lack the column; readers (union by name) see nulls there.
    variants = [r.get("score__variant") for r in dest.rows("shapes")]
    assert variants == [None, None, '"v3"', '"v4"', '"v5"']


def test_a_refusal_is_recorded_and_fails_the_run_keeping_earlier_commits(
    clock: ManualClock,
) -> None:
    catalog = MemoryCatalog()
    dest = MemoryDestination(catalog)
    execute(catalog, dest, clock, [BASE], "evolve")
    pages = [
        pa.table({"id": [3, 4], "score": [1.5, 2.5]}),
        pa.table({"id": [5], "score": ["high"]}),
    ]
    with pytest.raises(SchemaIncompatible):
        execute(catalog, dest, clock, pages, "evolve", chunk_rows=1)
    run = catalog.list_runs("shapes")[0]
    assert run.status is RunStatus.PARTIAL_FAILURE and run.error_code == "schema_incompatible"
    assert [r["id"] for r in dest.rows("shapes")] == [1, 2, 3, 4]
    assert decisions(catalog) == [("widened", "score", 2), ("rejected", "score", 1)]
    refused = catalog.list_events("shapes")[-1]
    assert refused.run_id == run.run_id
    # The refusal names the stored version it met and carries the refused schema whole.
    assert refused.payload["before_schema"]["version"] == 2
    after = refused.payload["after_schema"]
    assert after["version"] is None
    assert [c["type"] for c in after["columns"]] == ["int64", "string"]


def test_a_resumed_creating_sweep_is_still_creating(clock: ManualClock) -> None:
    catalog = MemoryCatalog()
    dest = MemoryDestination(catalog)
    pages = [BASE, BASE, pa.table({"id": [9], "score": [1], "tag": ["late"]})]
    with pytest.raises(SourceError):
        execute(catalog, dest, clock, pages, "freeze", chunk_rows=2, fail_on={2})
    assert catalog.list_runs("shapes")[0].status is RunStatus.PARTIAL_FAILURE
    resumed = execute(catalog, dest, clock, pages, "freeze", chunk_rows=2)
    assert resumed.summary.resumed_from is not None
    assert catalog.list_runs("shapes")[0].status is RunStatus.SUCCEEDED
    assert dest.rows("shapes")[-1] == {"id": 9, "score": 1, "tag": "late"}
    assert decisions(catalog) == []
