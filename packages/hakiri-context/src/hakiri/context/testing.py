"""The Catalog conformance suite: every adapter must pass it unchanged.

Use it by subclassing and providing a ``catalog`` fixture::

    class TestMyCatalog(CatalogConformance):
        @pytest.fixture
        def catalog(self, tmp_path):
            catalog = MyCatalog(...)
            yield catalog
            catalog.close()

The builders below (``run_record``, ``staged_file``, ``commit_request``, ``worker_lease``) and
``StoreBuilder`` (a real store on disk to publish tables into) are public so other members'
tests can make catalog records and stores the same way. Importing this module needs pytest
and pyarrow.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from hakiri.context.files import StoreFiles
from hakiri.core.clock import utc_now
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import CatalogError, CursorConflict, LeaseLost
from hakiri.core.ports import Catalog
from hakiri.core.records import (
    SCHEMA_DECISION,
    CommitRequest,
    Lease,
    RunRecord,
    RunStatus,
    SchemaAction,
    SchemaChange,
    SchemaPolicy,
    StagedFile,
    StepRecord,
    WriteDisposition,
)
from hakiri.core.schema import Schema

__all__ = [
    "T0",
    "CatalogConformance",
    "StoreBuilder",
    "commit_request",
    "run_record",
    "schema_of",
    "staged_file",
    "widened",
    "worker_lease",
]

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
"""A fixed, timezone-aware start time for records built in tests."""


def schema_of(**columns: pa.DataType) -> Schema:
    """A ``Schema`` with the given columns, e.g. ``schema_of(id=pa.int64())``."""
    return Schema.from_arrow(pa.schema([pa.field(name, kind) for name, kind in columns.items()]))


DEFAULT_SCHEMA = schema_of(id=pa.int64(), name=pa.string())


def staged_file(path: str, *, rows: int = 3, schema: Schema | None = None) -> StagedFile:
    """A staged file record (no file needs to exist for the catalog)."""
    return StagedFile(
        path=path,
        rows=rows,
        bytes=100 * rows,
        checksum="sha256:" + "0" * 64,
        schema=schema or DEFAULT_SCHEMA,
    )


def run_record(
    run_id: str,
    *,
    pipeline: str = "issues",
    started_at: datetime = T0,
    status: RunStatus = RunStatus.RUNNING,
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        pipeline=pipeline,
        status=status,
        started_at=started_at,
        trigger="manual",
        pid=4242,
        host="test-host",
    )


def commit_request(
    run_id: str,
    *,
    pipeline: str = "issues",
    table: str = "issues",
    write: WriteDisposition = WriteDisposition.APPEND,
    files: tuple[StagedFile, ...] = (),
    expected_version: int = 0,
    cursor_value: JsonValue = None,
    finalize: bool = False,
    key: str | None = None,
    pages: int = 1,
    primary_key: tuple[str, ...] = (),
    at: datetime = T0,
    schema_policy: SchemaPolicy = SchemaPolicy.EVOLVE,
    schema_changes: tuple[SchemaChange, ...] = (),
    lease: Lease | None = None,
) -> CommitRequest:
    step_key = key or f"commit:{expected_version}"
    payload: dict[str, Any] = {"files": [f.path for f in files]}
    return CommitRequest(
        run_id=run_id,
        pipeline=pipeline,
        table=table,
        write=write,
        files=list(files),
        cursor_kind=CursorKind.MONOTONIC,
        cursor_value=cursor_value,
        expected_version=expected_version,
        step=StepRecord(run_id, step_key, "commit", payload, at),
        finalize=finalize,
        pages=pages,
        primary_key=primary_key,
        schema_policy=schema_policy,
        schema_changes=schema_changes,
        lease=lease,
    )


def worker_lease(
    token: int,
    *,
    holder: str = "w1",
    pipeline: str = "issues",
    shard: str | None = None,
    ttl: timedelta = timedelta(hours=1),
) -> Lease:
    """A lease that expires ``ttl`` from now by the wall clock (a catalog's default clock);
    a negative ``ttl`` makes one that has expired."""
    return Lease(pipeline, holder, token, utc_now() + ttl, shard=shard)


def widened(column: str = "score", *, rows: int = 2) -> SchemaChange:
    """A decision as the runtime makes it: ``column`` widened from int64 to double."""
    return SchemaChange(
        policy=SchemaPolicy.EVOLVE,
        action=SchemaAction.WIDENED,
        change="widening",
        column=column,
        before="int64",
        after="double",
        rows=rows,
    )


class StoreBuilder:
    """A store on disk (SQLite catalog + Parquet files) that publishes tables the way the
    runtime does: write each chunk as a Parquet file, then commit them in one transaction.

    Every table gets a pipeline of the same name; all commits belong to run ``r1``.
    """

    def __init__(self, root: Path) -> None:
        from hakiri.context.catalog.sqlite import SqliteCatalog

        self.root = root
        self.files = StoreFiles.local(root)
        self.catalog = SqliteCatalog(root / "catalog.db")
        self.catalog.create_run(run_record("r1"))
        self._seq = 0

    def stage(self, table: str, data: pa.Table) -> StagedFile:
        """Write ``data`` into the store without publishing it."""
        self._seq += 1
        relative = f"context/{table}/r1-{self._seq:04d}.parquet"
        info = self.files.write(relative, data)
        schema = Schema.from_arrow(data.schema)
        return StagedFile(relative, info.rows, info.bytes, info.checksum, schema)

    def publish(
        self,
        table: str,
        *chunks: pa.Table,
        write: WriteDisposition = WriteDisposition.APPEND,
        finalize: bool = True,
        primary_key: tuple[str, ...] = (),
    ) -> list[StagedFile]:
        """Stage each chunk as a file and commit them all; return the files."""
        files = tuple(self.stage(table, chunk) for chunk in chunks)
        cursor = self.catalog.get_cursor(table)
        self.catalog.commit(
            commit_request(
                "r1",
                pipeline=table,
                table=table,
                write=write,
                files=files,
                expected_version=cursor.version if cursor else 0,
                finalize=finalize,
                key=f"commit:{self._seq}:{table}",
                primary_key=primary_key,
                at=T0 + timedelta(seconds=self._seq),
            )
        )
        return list(files)

    def close(self) -> None:
        self.catalog.close()


def _snapshot(catalog: Catalog, run_id: str, table: str = "issues") -> dict[str, Any]:
    """Everything a failed commit must leave exactly as it was."""
    return {
        "cursor": catalog.get_cursor("issues"),
        "run": catalog.get_run(run_id),
        "steps": catalog.list_steps(run_id),
        "tables": catalog.list_tables(),
        "files": catalog.list_files(table),
        "paths": catalog.referenced_paths(table),
        "schemas": catalog.schema_versions(table),
        "events": catalog.list_events(),
    }


class CatalogConformance:
    """The contract of the ``Catalog`` port, as tests. Subclasses provide ``catalog``."""

    @pytest.fixture
    def catalog(self) -> Iterator[Catalog]:
        raise NotImplementedError("a conformance subclass must provide a `catalog` fixture")

    @pytest.fixture
    def run(self, catalog: Catalog) -> str:
        catalog.create_run(run_record("r1"))
        return "r1"

    # -- cursors ----------------------------------------------------------------------------

    def test_a_new_pipeline_has_no_cursor(self, catalog: Catalog) -> None:
        assert catalog.get_cursor("issues") is None

    def test_commits_move_the_cursor_one_version_at_a_time(
        self, catalog: Catalog, run: str
    ) -> None:
        value = {"since": "2026-03-01", "ids": [1, 2], "nested": {"ok": True, "none": None}}
        first = catalog.commit(commit_request(run, cursor_value=value))
        assert first.cursor.version == 1
        assert first.cursor.kind is CursorKind.MONOTONIC
        stored = catalog.get_cursor("issues")
        assert stored is not None
        assert (stored.version, stored.value, stored.kind) == (1, value, CursorKind.MONOTONIC)
        second = catalog.commit(commit_request(run, expected_version=1, cursor_value=None))
        assert second.cursor.version == 2
        stored = catalog.get_cursor("issues")
        assert stored is not None and (stored.version, stored.value) == (2, None)

    def test_a_cursor_value_comes_back_as_json_would(self, catalog: Catalog, run: str) -> None:
        catalog.commit(commit_request(run, cursor_value={"page": (1, 2)}))
        stored = catalog.get_cursor("issues")
        assert stored is not None and stored.value == {"page": [1, 2]}

    def test_a_stale_version_conflicts_and_writes_nothing(self, catalog: Catalog, run: str) -> None:
        catalog.commit(commit_request(run, files=(staged_file("context/issues/a.parquet"),)))
        before = _snapshot(catalog, run)
        stale = commit_request(
            run,
            expected_version=0,
            key="commit:stale",
            files=(staged_file("context/issues/b.parquet", schema=schema_of(x=pa.int8())),),
            cursor_value="moved",
        )
        with pytest.raises(CursorConflict) as info:
            catalog.commit(stale)
        assert "version 1" in info.value.message and "expected" in info.value.message
        assert _snapshot(catalog, run) == before

    def test_a_version_ahead_of_the_catalog_conflicts_too(self, catalog: Catalog, run: str) -> None:
        before = _snapshot(catalog, run)
        with pytest.raises(CursorConflict):
            catalog.commit(commit_request(run, expected_version=3))
        assert _snapshot(catalog, run) == before

    def test_pipelines_have_separate_cursors(self, catalog: Catalog, run: str) -> None:
        catalog.commit(commit_request(run, pipeline="a", table="ta", cursor_value=1))
        catalog.commit(commit_request(run, pipeline="b", table="tb", cursor_value=2, key="b"))
        a, b = catalog.get_cursor("a"), catalog.get_cursor("b")
        assert a is not None and b is not None
        assert (a.value, a.version, b.value, b.version) == (1, 1, 2, 1)

    # -- runs -------------------------------------------------------------------------------

    def test_a_created_run_reads_back_unchanged(self, catalog: Catalog) -> None:
        run = run_record("r1")
        run.resumed_from = "r0"
        catalog.create_run(run)
        assert catalog.get_run("r1") == run
        assert catalog.get_run("nope") is None

    def test_a_run_id_is_created_once(self, catalog: Catalog, run: str) -> None:
        with pytest.raises(CatalogError):
            catalog.create_run(run_record(run))

    def test_runs_list_newest_first_per_pipeline_with_a_limit(self, catalog: Catalog) -> None:
        for i, pipeline in enumerate(["a", "b", "a", "a"]):
            catalog.create_run(
                run_record(f"r{i}", pipeline=pipeline, started_at=T0 + timedelta(minutes=i))
            )
        assert [r.run_id for r in catalog.list_runs()] == ["r3", "r2", "r1", "r0"]
        assert [r.run_id for r in catalog.list_runs("a")] == ["r3", "r2", "r0"]
        assert [r.run_id for r in catalog.list_runs("a", limit=2)] == ["r3", "r2"]
        assert catalog.list_runs("missing") == []

    def test_finishing_a_run_records_status_time_and_error(
        self, catalog: Catalog, run: str
    ) -> None:
        done = T0 + timedelta(seconds=30)
        catalog.finish_run(
            run, RunStatus.FAILED, finished_at=done, error_code="boom", error_message="it broke"
        )
        stored = catalog.get_run(run)
        assert stored is not None
        assert stored.status is RunStatus.FAILED
        assert stored.finished_at == done
        assert (stored.error_code, stored.error_message) == ("boom", "it broke")

    def test_finishing_an_unknown_run_fails(self, catalog: Catalog) -> None:
        with pytest.raises(CatalogError):
            catalog.finish_run("nope", RunStatus.SUCCEEDED, finished_at=T0)

    def test_interrupt_running_marks_only_running_runs_of_the_pipeline(
        self, catalog: Catalog
    ) -> None:
        catalog.create_run(run_record("a1", pipeline="a"))
        catalog.create_run(run_record("a2", pipeline="a", started_at=T0 + timedelta(seconds=1)))
        catalog.create_run(run_record("a3", pipeline="a", status=RunStatus.SUCCEEDED))
        catalog.create_run(run_record("b1", pipeline="b"))
        later = T0 + timedelta(hours=1)
        ids = catalog.interrupt_running("a", finished_at=later, reason="the process died")
        assert sorted(ids) == ["a1", "a2"]
        for run_id in ids:
            run = catalog.get_run(run_id)
            assert run is not None
            assert run.status is RunStatus.PARTIAL_FAILURE
            assert run.finished_at == later
            assert (run.error_code, run.error_message) == ("interrupted", "the process died")
        untouched = [catalog.get_run("a3"), catalog.get_run("b1")]
        assert [r.status for r in untouched if r] == [RunStatus.SUCCEEDED, RunStatus.RUNNING]
        assert catalog.interrupt_running("a", finished_at=later, reason="again") == []

    def test_a_returned_run_is_a_copy(self, catalog: Catalog, run: str) -> None:
        stored = catalog.get_run(run)
        assert stored is not None
        stored.rows = 999
        again = catalog.get_run(run)
        assert again is not None and again.rows == 0

    # -- steps ------------------------------------------------------------------------------

    def test_steps_are_recorded_once_and_listed_in_order(self, catalog: Catalog, run: str) -> None:
        keys = ["plan", "pull:0", "commit:0", "pull:1", "commit:1"]
        for key in keys:
            catalog.record_step(StepRecord(run, key, key.split(":")[0], {"key": key}, T0))
        catalog.record_step(StepRecord(run, "pull:0", "pull", {"changed": True}, T0))
        steps = catalog.list_steps(run)
        assert [s.key for s in steps] == keys
        assert steps[1].payload == {"key": "pull:0"}
        assert steps[1].kind == "pull" and steps[1].created_at == T0
        assert catalog.list_steps("other") == []

    def test_a_step_needs_its_run(self, catalog: Catalog) -> None:
        with pytest.raises(CatalogError):
            catalog.record_step(StepRecord("nope", "plan", "plan", {}, T0))

    def test_a_commit_records_its_step_idempotently(self, catalog: Catalog, run: str) -> None:
        catalog.record_step(StepRecord(run, "commit:0", "commit", {"first": True}, T0))
        catalog.commit(commit_request(run, key="commit:0"))
        steps = catalog.list_steps(run)
        assert [(s.key, s.payload) for s in steps] == [("commit:0", {"first": True})]

    # -- commit and file publication --------------------------------------------------------

    def test_appended_files_are_visible_at_once_in_commit_order(
        self, catalog: Catalog, run: str
    ) -> None:
        first = staged_file("context/issues/b.parquet", rows=2)
        second = staged_file("context/issues/a.parquet", rows=5)
        result = catalog.commit(commit_request(run, files=(first,), pages=2))
        catalog.commit(commit_request(run, files=(second,), expected_version=1, pages=3))
        files = catalog.list_files("issues")
        assert [f.path for f in files] == [first.path, second.path]
        assert [f.rows for f in files] == [2, 5]
        assert all(f.run_id == run and f.committed_at == T0 for f in files)
        assert all(f.generation == 0 and f.schema_version == 1 for f in files)
        assert result.files == files[:1]
        assert catalog.referenced_paths("issues") == {first.path, second.path}

    def test_a_commit_adds_to_the_run_counters(self, catalog: Catalog, run: str) -> None:
        files = (staged_file("context/issues/a.parquet", rows=2),)
        catalog.commit(commit_request(run, files=files, pages=4))
        more = (
            staged_file("context/issues/b.parquet", rows=3),
            staged_file("context/issues/c.parquet", rows=1),
        )
        catalog.commit(commit_request(run, files=more, expected_version=1, pages=1))
        stored = catalog.get_run(run)
        assert stored is not None
        assert (stored.rows, stored.pages, stored.files) == (6, 5, 3)

    def test_a_commit_without_files_moves_only_cursor_and_step(
        self, catalog: Catalog, run: str
    ) -> None:
        result = catalog.commit(commit_request(run, cursor_value=7, pages=2))
        assert result.files == [] and result.schema_version is None
        assert catalog.list_files("issues") == []
        assert [s.key for s in catalog.list_steps(run)] == ["commit:0"]
        stored = catalog.get_run(run)
        assert stored is not None and (stored.rows, stored.pages, stored.files) == (0, 2, 0)
        table = catalog.get_table("issues")
        assert table is not None and table.schema_version == 0

    def test_replaced_files_stay_hidden_until_the_sweep_is_finalized(
        self, catalog: Catalog, run: str
    ) -> None:
        replace_ = WriteDisposition.REPLACE
        old = staged_file("context/issues/old.parquet")
        catalog.commit(commit_request(run, write=replace_, files=(old,), finalize=True))
        assert [f.path for f in catalog.list_files("issues")] == [old.path]

        new1 = staged_file("context/issues/new1.parquet")
        new2 = staged_file("context/issues/new2.parquet")
        catalog.commit(commit_request(run, write=replace_, files=(new1,), expected_version=1))
        assert [f.path for f in catalog.list_files("issues")] == [old.path]
        assert catalog.referenced_paths("issues") == {old.path, new1.path}

        catalog.commit(
            commit_request(run, write=replace_, files=(new2,), expected_version=2, finalize=True)
        )
        visible = catalog.list_files("issues")
        assert [f.path for f in visible] == [new1.path, new2.path]
        table = catalog.get_table("issues")
        assert table is not None
        assert {f.generation for f in visible} == {table.generation}
        # The replaced generation is garbage now: nothing references it.
        assert catalog.referenced_paths("issues") == {new1.path, new2.path}

    def test_finalizing_an_empty_replace_empties_the_table(
        self, catalog: Catalog, run: str
    ) -> None:
        replace_ = WriteDisposition.REPLACE
        old = staged_file("context/issues/old.parquet")
        catalog.commit(commit_request(run, write=replace_, files=(old,), finalize=True))
        catalog.commit(commit_request(run, write=replace_, expected_version=1, finalize=True))
        assert catalog.list_files("issues") == []
        assert catalog.referenced_paths("issues") == set()

    def test_a_rewrite_swaps_the_visible_files_and_keeps_the_disposition(
        self, catalog: Catalog, run: str
    ) -> None:
        merge = WriteDisposition.MERGE
        old = (staged_file("context/issues/a.parquet"), staged_file("context/issues/b.parquet"))
        catalog.commit(commit_request(run, write=merge, files=old, primary_key=("id",)))
        compacted = staged_file("context/issues/compacted.parquet")
        request = replace(
            commit_request(
                run,
                write=merge,
                files=(compacted,),
                expected_version=1,
                finalize=True,
                primary_key=("id",),
                cursor_value="kept",
                key="compact",
            ),
            rewrite=True,
        )
        catalog.commit(request)
        assert [f.path for f in catalog.list_files("issues")] == [compacted.path]
        assert catalog.referenced_paths("issues") == {compacted.path}
        table = catalog.get_table("issues")
        assert table is not None and table.write is merge and table.primary_key == ("id",)
        # Later merge commits join the compacted generation.
        later = staged_file("context/issues/later.parquet")
        catalog.commit(
            commit_request(run, write=merge, files=(later,), expected_version=2, key="c:2")
        )
        assert [f.path for f in catalog.list_files("issues")] == [compacted.path, later.path]

    def test_merge_files_are_visible_at_once_and_keep_the_primary_key(
        self, catalog: Catalog, run: str
    ) -> None:
        merge = WriteDisposition.MERGE
        files = (staged_file("context/issues/m.parquet"),)
        catalog.commit(commit_request(run, write=merge, files=files, primary_key=("id",)))
        table = catalog.get_table("issues")
        assert table is not None
        assert (table.write, table.primary_key) == (merge, ("id",))
        assert [f.path for f in catalog.list_files("issues")] == [files[0].path]

    def test_tables_are_listed_by_name_with_their_settings(
        self, catalog: Catalog, run: str
    ) -> None:
        later = T0 + timedelta(minutes=5)
        catalog.commit(commit_request(run, pipeline="p2", table="zeta", key="z"))
        catalog.commit(commit_request(run, pipeline="p1", table="alpha", key="a"))
        catalog.commit(
            commit_request(run, pipeline="p1", table="alpha", key="b", at=later, expected_version=1)
        )
        tables = catalog.list_tables()
        assert [t.name for t in tables] == ["alpha", "zeta"]
        alpha = tables[0]
        assert (alpha.pipeline, alpha.write, alpha.generation) == (
            "p1",
            WriteDisposition.APPEND,
            0,
        )
        assert (alpha.created_at, alpha.updated_at) == (T0, later)
        assert catalog.get_table("missing") is None
        assert catalog.list_files("missing") == []
        assert catalog.referenced_paths("missing") == set()

    def test_a_path_is_published_once(self, catalog: Catalog, run: str) -> None:
        file = staged_file("context/issues/a.parquet")
        catalog.commit(commit_request(run, files=(file,)))
        before = _snapshot(catalog, run)
        with pytest.raises(CatalogError):
            catalog.commit(commit_request(run, files=(file,), expected_version=1, key="again"))
        assert _snapshot(catalog, run) == before

    def test_a_commit_needs_its_run(self, catalog: Catalog) -> None:
        with pytest.raises(CatalogError):
            catalog.commit(commit_request("nope", files=(staged_file("context/x.parquet"),)))
        assert catalog.get_cursor("issues") is None
        assert catalog.list_tables() == []

    def test_file_paths_must_stay_inside_the_store(self, catalog: Catalog, run: str) -> None:
        for bad in ("/etc/passwd", "context/../../x.parquet", "context\\x.parquet"):
            with pytest.raises(CatalogError):
                catalog.commit(commit_request(run, files=(staged_file(bad),)))
        assert catalog.list_tables() == []

    # -- schema versions --------------------------------------------------------------------

    def test_schema_versions_follow_the_files_schemas(self, catalog: Catalog, run: str) -> None:
        v1 = schema_of(id=pa.int64(), name=pa.string(), gone=pa.bool_())
        v2 = schema_of(id=pa.int64(), name=pa.large_string(), added=pa.float64())
        result = catalog.commit(commit_request(run, files=(staged_file("c/1.parquet", schema=v1),)))
        assert result.schema_version == 1
        same = catalog.commit(
            commit_request(run, files=(staged_file("c/2.parquet", schema=v1),), expected_version=1)
        )
        assert same.schema_version == 1
        changed = catalog.commit(
            commit_request(run, files=(staged_file("c/3.parquet", schema=v2),), expected_version=2)
        )
        assert changed.schema_version == 2

        versions = catalog.schema_versions("issues")
        assert [(v.version, v.schema) for v in versions] == [(1, v1), (2, v2)]
        assert all(v.run_id == run and v.created_at == T0 for v in versions)
        assert [f.schema_version for f in catalog.list_files("issues")] == [1, 1, 2]
        table = catalog.get_table("issues")
        assert table is not None and table.schema_version == 2

        events = catalog.list_events("issues")
        assert [e.kind for e in events] == ["schema_version", "schema_version"]
        assert events[0].payload == {
            "from": None,
            "to": 1,
            "added": ["id", "name", "gone"],
            "removed": [],
            "changed": [],
        }
        assert events[1].payload == {
            "from": 1,
            "to": 2,
            "added": ["added"],
            "removed": ["gone"],
            "changed": ["name"],
        }
        assert all(e.table == "issues" and e.run_id == run and e.at == T0 for e in events)
        assert events[0].id < events[1].id

    def test_events_are_listed_for_all_tables_or_one(self, catalog: Catalog, run: str) -> None:
        catalog.commit(commit_request(run, table="a", files=(staged_file("c/a.parquet"),)))
        catalog.commit(
            commit_request(run, table="b", files=(staged_file("c/b.parquet"),), expected_version=1)
        )
        assert [e.table for e in catalog.list_events()] == ["a", "b"]
        assert [e.table for e in catalog.list_events("b")] == ["b"]
        assert catalog.list_events("c") == []
        assert catalog.schema_versions("c") == []

    def test_one_commit_may_carry_files_of_two_schemas(self, catalog: Catalog, run: str) -> None:
        wide = schema_of(id=pa.int64(), extra=pa.string())
        files = (staged_file("c/1.parquet"), staged_file("c/2.parquet", schema=wide))
        result = catalog.commit(commit_request(run, files=files))
        assert [f.schema_version for f in result.files] == [1, 2]
        assert result.schema_version == 2

    # -- schema decisions and other events ---------------------------------------------------

    def test_a_commit_records_its_schema_decisions_with_the_schemas_around_them(
        self, catalog: Catalog, run: str
    ) -> None:
        v1 = schema_of(id=pa.int64(), score=pa.int64())
        v2 = schema_of(id=pa.int64(), score=pa.float64(), tag=pa.string())
        catalog.commit(commit_request(run, files=(staged_file("c/1.parquet", schema=v1),)))
        added = SchemaChange(
            SchemaPolicy.EVOLVE, SchemaAction.ADDED, "new_column", "tag", None, "string", 3
        )
        request = commit_request(
            run,
            files=(staged_file("c/2.parquet", schema=v2),),
            expected_version=1,
            schema_changes=(widened(), added),
        )
        catalog.commit(request)
        events = catalog.list_events("issues")
        assert [e.kind for e in events] == [
            "schema_version",
            "schema_version",
            SCHEMA_DECISION,
            SCHEMA_DECISION,
        ]
        first, second = events[2], events[3]
        assert first.payload == {
            "policy": "evolve",
            "action": "widened",
            "change": "widening",
            "column": "score",
            "before": "int64",
            "after": "double",
            "rows": 2,
            "before_schema": {"version": 1, "fingerprint": v1.fingerprint},
            "after_schema": {"version": 2, "fingerprint": v2.fingerprint},
        }
        assert (second.payload["column"], second.payload["before"]) == ("tag", None)
        assert second.payload["after_schema"] == first.payload["after_schema"]
        assert all(e.run_id == run and e.at == T0 and e.table == "issues" for e in events)
        # The versions the decisions name are the ones the catalog holds.
        versions = {v.version: v.schema for v in catalog.schema_versions("issues")}
        assert versions[2].fingerprint == first.payload["after_schema"]["fingerprint"]

    def test_decisions_without_files_name_the_unchanged_schema(
        self, catalog: Catalog, run: str
    ) -> None:
        catalog.commit(commit_request(run, files=(staged_file("c/1.parquet"),)))
        dropped = SchemaChange(
            SchemaPolicy.DISCARD_ROW,
            SchemaAction.DISCARDED,
            "incompatible",
            "name",
            "string",
            "list<item: int64>",
            4,
        )
        catalog.commit(commit_request(run, expected_version=1, schema_changes=(dropped,)))
        decision = catalog.list_events("issues")[-1]
        assert decision.kind == SCHEMA_DECISION
        ref = {"version": 1, "fingerprint": DEFAULT_SCHEMA.fingerprint}
        assert decision.payload["before_schema"] == decision.payload["after_schema"] == ref
        assert (decision.payload["action"], decision.payload["rows"]) == ("discarded", 4)

    def test_a_refused_commit_records_no_decision(self, catalog: Catalog, run: str) -> None:
        catalog.commit(commit_request(run))
        before = _snapshot(catalog, run)
        with pytest.raises(CursorConflict):
            catalog.commit(commit_request(run, key="late", schema_changes=(widened(),)))
        assert _snapshot(catalog, run) == before

    def test_the_table_keeps_the_latest_writers_schema_policy(
        self, catalog: Catalog, run: str
    ) -> None:
        catalog.commit(commit_request(run))
        table = catalog.get_table("issues")
        assert table is not None and table.schema_policy is SchemaPolicy.EVOLVE
        frozen = commit_request(run, expected_version=1, schema_policy=SchemaPolicy.FREEZE)
        catalog.commit(frozen)
        table = catalog.get_table("issues")
        assert table is not None and table.schema_policy is SchemaPolicy.FREEZE
        assert [t.schema_policy for t in catalog.list_tables()] == [SchemaPolicy.FREEZE]

    def test_an_event_can_be_recorded_outside_a_commit(self, catalog: Catalog, run: str) -> None:
        catalog.commit(commit_request(run, files=(staged_file("c/1.parquet"),)))
        cursor = catalog.get_cursor("issues")
        later = T0 + timedelta(seconds=5)
        payload = {"action": "rejected", "column": "score", "nested": {"ok": (1, 2)}}
        event = catalog.record_event("issues", SCHEMA_DECISION, payload, run_id=run, at=later)
        assert event.kind == SCHEMA_DECISION and event.table == "issues"
        assert event.payload == {"action": "rejected", "column": "score", "nested": {"ok": [1, 2]}}
        assert (event.run_id, event.at) == (run, later)
        events = catalog.list_events("issues")
        assert events[-1] == event and events[-2].id < event.id
        # An event is only an event: no cursor, file, version or run counter moves.
        assert catalog.get_cursor("issues") == cursor
        assert len(catalog.list_files("issues")) == 1
        assert len(catalog.schema_versions("issues")) == 1
        other = catalog.record_event("elsewhere", "note", {}, run_id=None, at=later)
        assert other.id > event.id and other.run_id is None
        assert catalog.list_events("elsewhere") == [other]
        assert catalog.get_table("elsewhere") is None

    def test_an_event_of_an_unknown_run_or_with_bad_data_is_refused(
        self, catalog: Catalog, run: str
    ) -> None:
        before = _snapshot(catalog, run)
        with pytest.raises(CatalogError):
            catalog.record_event("issues", "note", {}, run_id="nope", at=T0)
        with pytest.raises(CatalogError):
            catalog.record_event("issues", "note", {"x": float("nan")}, run_id=run, at=T0)
        with pytest.raises(ValueError, match="timezone-aware"):
            catalog.record_event("issues", "note", {}, run_id=run, at=datetime(2026, 3, 1))
        assert _snapshot(catalog, run) == before

    # -- fencing ----------------------------------------------------------------------------

    def test_no_lease_is_needed_where_none_was_ever_used(self, catalog: Catalog, run: str) -> None:
        other = worker_lease(3, pipeline="other")
        catalog.commit(commit_request(run, pipeline="other", table="other", lease=other))
        # Another pipeline's fence does not fence this one.
        catalog.commit(commit_request(run, files=(staged_file("context/issues/a.parquet"),)))
        catalog.commit(commit_request(run, expected_version=1))
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and cursor.version == 2

    def test_a_newer_token_is_accepted_and_becomes_the_newest(
        self, catalog: Catalog, run: str
    ) -> None:
        a, b = staged_file("context/issues/a.parquet"), staged_file("context/issues/b.parquet")
        catalog.commit(commit_request(run, files=(a,), lease=worker_lease(1, holder="w1")))
        newer = worker_lease(2, holder="w2")
        catalog.commit(commit_request(run, files=(b,), expected_version=1, lease=newer))
        assert [f.path for f in catalog.list_files("issues")] == [a.path, b.path]
        with pytest.raises(LeaseLost):
            catalog.commit(commit_request(run, expected_version=2, lease=worker_lease(1)))
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and cursor.version == 2

    def test_a_stale_token_is_refused_and_writes_nothing(self, catalog: Catalog, run: str) -> None:
        first = staged_file("context/issues/a.parquet")
        newest = worker_lease(5, holder="w2")
        catalog.commit(commit_request(run, files=(first,), cursor_value=1, lease=newest))
        before = _snapshot(catalog, run)
        stale = commit_request(
            run,
            files=(staged_file("context/issues/b.parquet", schema=schema_of(x=pa.int8())),),
            expected_version=1,
            key="commit:stale",
            cursor_value=2,
            schema_changes=(widened(),),
            lease=worker_lease(4, holder="w1"),
        )
        with pytest.raises(LeaseLost) as info:
            catalog.commit(stale)
        error = info.value
        assert error.code == "lease_lost"
        assert "'issues'" in error.message
        assert "token 4" in error.message and "token 5" in error.message
        assert "another worker" in (error.hint or "") and "stop" in (error.hint or "")
        assert _snapshot(catalog, run) == before
        assert [f.path for f in catalog.list_files("issues")] == [first.path]
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and (cursor.version, cursor.value) == (1, 1)

    def test_the_same_lease_commits_again(self, catalog: Catalog, run: str) -> None:
        held = worker_lease(7, holder="w1")
        catalog.commit(commit_request(run, lease=held))
        catalog.commit(commit_request(run, expected_version=1, lease=held))
        renewed = replace(held, expires_at=held.expires_at + timedelta(hours=1))
        catalog.commit(commit_request(run, expected_version=2, lease=renewed))
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and cursor.version == 3
        # One token has one holder: the same token from someone else is not that lease.
        before = _snapshot(catalog, run)
        with pytest.raises(LeaseLost):
            catalog.commit(
                commit_request(run, expected_version=3, lease=worker_lease(7, holder="w9"))
            )
        assert _snapshot(catalog, run) == before

    def test_a_commit_without_a_lease_is_refused_once_leases_are_in_use(
        self, catalog: Catalog, run: str
    ) -> None:
        catalog.commit(commit_request(run, lease=worker_lease(2, holder="w2")))
        before = _snapshot(catalog, run)
        unleased = commit_request(
            run, files=(staged_file("context/issues/a.parquet"),), expected_version=1
        )
        with pytest.raises(LeaseLost) as info:
            catalog.commit(unleased)
        assert "carries none" in info.value.message and "token 2" in info.value.message
        assert _snapshot(catalog, run) == before

    def test_an_expired_lease_is_refused(self, catalog: Catalog, run: str) -> None:
        before = _snapshot(catalog, run)
        expired = worker_lease(1, ttl=-timedelta(minutes=1))
        request = commit_request(run, files=(staged_file("context/issues/a.parquet"),))
        with pytest.raises(LeaseLost) as info:
            catalog.commit(replace(request, lease=expired))
        assert "expired" in info.value.message and "stop" in (info.value.hint or "")
        assert _snapshot(catalog, run) == before
        # Its token was not recorded either: the pipeline is as unfenced as before.
        catalog.commit(request)
        assert [f.path for f in catalog.list_files("issues")] == ["context/issues/a.parquet"]

    def test_shards_are_fenced_independently(self, catalog: Catalog, run: str) -> None:
        catalog.commit(commit_request(run, lease=worker_lease(5, shard="a", holder="wa")))
        catalog.commit(
            commit_request(run, expected_version=1, lease=worker_lease(1, shard="b", holder="wb"))
        )
        before = _snapshot(catalog, run)
        with pytest.raises(LeaseLost) as info:
            catalog.commit(
                commit_request(run, expected_version=2, lease=worker_lease(4, shard="a"))
            )
        assert "shard 'a'" in info.value.message
        assert _snapshot(catalog, run) == before
        catalog.commit(
            commit_request(run, expected_version=2, lease=worker_lease(2, shard="b", holder="wb"))
        )
        # A lease on the whole pipeline is a key of its own.
        catalog.commit(commit_request(run, expected_version=3, lease=worker_lease(1)))
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and cursor.version == 4
        with pytest.raises(LeaseLost) as unleased:
            catalog.commit(commit_request(run, expected_version=4))
        assert "token 5" in unleased.value.message

    def test_a_stale_lease_is_refused_before_the_cursor_is_compared(
        self, catalog: Catalog, run: str
    ) -> None:
        catalog.commit(commit_request(run, lease=worker_lease(2, holder="w2")))
        # Stale and behind the cursor: the worker must stop, not retry after a conflict.
        with pytest.raises(LeaseLost):
            catalog.commit(commit_request(run, expected_version=0, lease=worker_lease(1)))

    def test_a_lease_on_another_pipeline_is_refused(self, catalog: Catalog, run: str) -> None:
        before = _snapshot(catalog, run)
        with pytest.raises(CatalogError) as info:
            catalog.commit(commit_request(run, lease=worker_lease(1, pipeline="other")))
        assert not isinstance(info.value, LeaseLost)
        assert _snapshot(catalog, run) == before

    # -- time -------------------------------------------------------------------------------

    def test_datetimes_come_back_timezone_aware_in_utc(self, catalog: Catalog) -> None:
        tokyo = timezone(timedelta(hours=9))
        started = datetime(2026, 3, 1, 21, 0, 0, 123456, tzinfo=tokyo)
        catalog.create_run(run_record("r1", started_at=started))
        request = commit_request("r1", files=(staged_file("c/1.parquet"),), at=started)
        catalog.commit(request)
        catalog.finish_run("r1", RunStatus.SUCCEEDED, finished_at=started)
        run = catalog.get_run("r1")
        assert run is not None and run.finished_at is not None
        table = catalog.get_table("issues")
        assert table is not None
        stamps = [
            run.started_at,
            run.finished_at,
            table.created_at,
            table.updated_at,
            *(f.committed_at for f in catalog.list_files("issues")),
            *(s.created_at for s in catalog.list_steps("r1")),
            *(v.created_at for v in catalog.schema_versions("issues")),
            *(e.at for e in catalog.list_events()),
        ]
        assert len(stamps) == 8
        for stamp in stamps:
            assert stamp.utcoffset() == timedelta(0)
            assert stamp == started
        assert run.started_at.hour == 12 and run.started_at.microsecond == 123456

    def test_naive_datetimes_are_refused(self, catalog: Catalog) -> None:
        naive = replace(run_record("r1"), started_at=datetime(2026, 3, 1))
        with pytest.raises(ValueError, match="timezone-aware"):
            catalog.create_run(naive)
        assert catalog.get_run("r1") is None
