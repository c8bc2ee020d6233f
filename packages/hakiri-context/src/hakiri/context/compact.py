"""Compaction: rewrite a ``merge`` table as the rows readers see, newest per key.

A ``merge`` table keeps every version a run delivered; its view picks the newest row per
primary key at read time. Compaction materialises that view: it reads the view in key order,
writes it as a few large Parquet files, and publishes them as the table's next generation in
one catalog transaction (the table stays ``merge``, its cursor stays where it was). It holds
the pipeline's lock, so no run of that pipeline commits meanwhile; queries that opened the
store before see the old files until they refresh. The replaced files are then deleted.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hakiri.context._views import ident, plan_view
from hakiri.context.files import StoreFiles
from hakiri.core.clock import SystemClock
from hakiri.core.errors import ConfigError, StoreError, UnknownTable
from hakiri.core.failpoints import failpoint
from hakiri.core.lock import PipelineLock
from hakiri.core.plugins import open_catalog
from hakiri.core.records import (
    CommitRequest,
    FileRecord,
    RunRecord,
    RunStatus,
    StagedFile,
    StepRecord,
    TableRecord,
    WriteDisposition,
)
from hakiri.core.recovery import DIED, record_failure, settle_interrupted

if TYPE_CHECKING:
    import pyarrow as pa

    from hakiri.core.manifest import Project
    from hakiri.core.ports import Catalog, Clock

__all__ = ["FILE_ROWS", "Compaction", "compact_table"]

COMPACT_TRIGGER = "compact"
"""The trigger of a compaction's run record."""

FILE_ROWS = 1_000_000
"""Rows per compacted file: large enough for few files, small enough to write in bounded
memory (one file's rows are held while it is written)."""


@dataclass(frozen=True, slots=True)
class Compaction:
    """What a compaction did (``run_id`` is None when there was nothing to do)."""

    table: str
    run_id: str | None
    files_before: int
    rows_before: int
    files_after: int
    rows_after: int
    removed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "run_id": self.run_id,
            "files_before": self.files_before,
            "rows_before": self.rows_before,
            "files_after": self.files_after,
            "rows_after": self.rows_after,
            "removed_files": self.removed,
        }


def compact_table(project: Project, table: str, *, clock: Clock | None = None) -> Compaction:
    """Compact ``table`` of ``project``'s store; see the module docstring."""
    from hakiri.context.store import existing_catalog_url

    clock = clock or SystemClock()
    catalog = open_catalog(
        existing_catalog_url(project.store_root, project.catalog_url, read_only=False),
        secrets=project.secrets(),
    )
    try:
        record = _merge_table(catalog, table)
        with PipelineLock(project.store_root, record.pipeline) as lock:
            files = StoreFiles.local(project.store_root)
            _recover(catalog, record, files, clock, lock)
            return _Compactor(catalog, record, files, clock, lock).run()
    finally:
        catalog.close()


def _recover(
    catalog: Catalog, record: TableRecord, files: StoreFiles, clock: Clock, lock: PipelineLock
) -> None:
    """Close the compactions of this pipeline whose process died, and delete what they
    staged, under the pipeline's lock.

    Only compactions: a dead ``hakiri run`` is closed by the next run (which resumes it),
    and an open workflow run lives across processes by design — its staged pulls are kept.
    """
    from hakiri.context.destination.destination import collect_unreferenced

    now = clock.now()
    running = [
        r for r in catalog.list_runs(record.pipeline, limit=1000) if r.status is RunStatus.RUNNING
    ]
    dead = [r.run_id for r in running if r.trigger == COMPACT_TRIGGER]
    for run_id in dead:
        # As interrupt_running marks a dead run; settle_interrupted then makes one that
        # committed nothing ``failed``.
        catalog.finish_run(
            run_id,
            RunStatus.PARTIAL_FAILURE,
            finished_at=now,
            error_code="interrupted",
            error_message=DIED,
        )
    settle_interrupted(catalog, dead, lock=lock, finished_at=now, reason=DIED)
    live = {r.run_id for r in running if r.trigger != COMPACT_TRIGGER}
    collect_unreferenced(files, catalog, record.name, live_runs=live)


def _merge_table(catalog: Catalog, table: str) -> TableRecord:
    record = catalog.get_table(table)
    if record is None:
        known = ", ".join(t.name for t in catalog.list_tables()) or "none yet"
        raise UnknownTable(f"no table named {table!r} in the store", hint=f"tables: {known}")
    if record.write is not WriteDisposition.MERGE or not record.primary_key:
        raise ConfigError(
            f"table {table!r} is written with {record.write.value!r}: only a merge table "
            "with a primary key keeps several versions of a row",
            hint="an append table holds every row it was given; a replace table is rebuilt "
            "by each run",
        )
    return record


class _Compactor:
    def __init__(
        self,
        catalog: Catalog,
        record: TableRecord,
        files: StoreFiles,
        clock: Clock,
        lock: PipelineLock | None = None,
    ):
        self.lock = lock
        self.catalog = catalog
        self.record = record
        self.files = files
        self.clock = clock
        self.staged: list[StagedFile] = []

    def run(self) -> Compaction:
        files = self.catalog.list_files(self.record.name)
        before = sum(f.rows for f in files)
        if len(files) <= 1 and not self._has_duplicates(files):
            return Compaction(self.record.name, None, len(files), before, len(files), before, 0)
        cursor = self.catalog.get_cursor(self.record.pipeline)
        if cursor is None:
            raise StoreError(f"table {self.record.name!r} has files but its pipeline no cursor")
        run_id = f"{self.clock.now():%Y%m%dT%H%M%SZ}-compact-{uuid.uuid4().hex[:8]}"
        self.catalog.create_run(
            RunRecord(
                run_id=run_id,
                pipeline=self.record.pipeline,
                status=RunStatus.RUNNING,
                started_at=self.clock.now(),
                trigger=COMPACT_TRIGGER,
                pid=os.getpid(),
                host=socket.gethostname(),
            )
        )
        try:
            for seq, data in enumerate(self._newest_rows(files)):
                self._stage(data, run_id, seq)
            failpoint("compact_staged")
            now = self.clock.now()
            payload = {"compacted": [f.path for f in files], "files": [f.path for f in self.staged]}
            self.catalog.commit(
                CommitRequest(
                    run_id=run_id,
                    pipeline=self.record.pipeline,
                    table=self.record.name,
                    write=WriteDisposition.MERGE,
                    files=self.staged,
                    cursor_kind=cursor.kind,
                    cursor_value=cursor.value,
                    expected_version=cursor.version,
                    step=StepRecord(run_id, "compact", "commit", payload, now),
                    finalize=True,
                    primary_key=self.record.primary_key,
                    schema_policy=self.record.schema_policy,
                    rewrite=True,
                )
            )
        except BaseException as exc:
            self._abandon(run_id, exc)
            raise
        self.catalog.finish_run(run_id, RunStatus.SUCCEEDED, finished_at=self.clock.now())
        removed = self._remove_replaced(files)
        after = sum(f.rows for f in self.staged)
        return Compaction(
            self.record.name, run_id, len(files), before, len(self.staged), after, removed
        )

    def _has_duplicates(self, files: list[FileRecord]) -> bool:
        # One file may still hold several versions of a key (one page delivered both).
        if not files:
            return False
        keys = ", ".join(ident(k) for k in self.record.primary_key)
        sql = f"SELECT count(*) - count(DISTINCT ({keys})) FROM ({self._view_sql(files)})"
        with self._connection() as con:
            row = con.execute(sql).fetchone()
        return bool(row and row[0])

    def _view_sql(self, files: list[FileRecord]) -> str:
        versions = self.catalog.schema_versions(self.record.name)
        view = plan_view(self.record, files, versions, self.files)
        if view is None or view.sql is None:
            problem = view.problem if view else "no files"
            raise StoreError(f"table {self.record.name!r} cannot be read: {problem}")
        return view.sql

    def _newest_rows(self, files: list[FileRecord]) -> Iterator[pa.Table]:
        """The view's rows in key order, ``FILE_ROWS`` at a time (deterministic output)."""
        import pyarrow as pa

        keys = ", ".join(ident(k) for k in self.record.primary_key)
        sql = f"SELECT * FROM ({self._view_sql(files)}) ORDER BY {keys}"
        with self._connection() as con:
            # A relation streams its batches; a DB-API result would copy them first.
            reader = con.sql(sql).to_arrow_reader(batch_size=122_880)
            pending: list[pa.RecordBatch] = []
            rows = 0
            for batch in reader:
                pending.append(batch)
                rows += batch.num_rows
                if rows >= FILE_ROWS:
                    yield pa.Table.from_batches(pending)
                    pending, rows = [], 0
            if pending:
                yield pa.Table.from_batches(pending)

    def _connection(self) -> Any:
        from hakiri.context._duckdb import import_duckdb

        # A private connection of this trusted process: it runs only the SQL built here,
        # over the files the catalog lists (agents' SQL goes through ``query`` instead).
        return import_duckdb().connect(":memory:")

    def _stage(self, data: pa.Table, run_id: str, seq: int) -> None:
        from hakiri.context.layout import staged_path
        from hakiri.core.schema import Schema

        relative = staged_path(self.record.name, run_id, seq)
        data = self._conform(data)
        info = self.files.write(relative, data)
        self.staged.append(
            StagedFile(
                relative, info.rows, info.bytes, info.checksum, Schema.from_arrow(data.schema)
            )
        )

    def _conform(self, data: pa.Table) -> pa.Table:
        """``data`` with the table's own column types and order.

        DuckDB hands back equal values in its own spelling of some types (a list's item is
        named ``l``, not ``item``); written as they come, every compaction would record a
        new schema version — even under ``freeze``. Columns the latest version does not
        know (a union of older versions) keep DuckDB's type.
        """
        import pyarrow as pa

        versions = self.catalog.schema_versions(self.record.name)
        if not versions:
            return data
        target = versions[-1].schema.to_arrow()
        known = {field.name: field for field in target}
        ordered = [name for name in target.names if name in data.column_names]
        ordered += [name for name in data.column_names if name not in known]
        fields = [known.get(name, data.schema.field(name)) for name in ordered]
        columns = [
            data.column(name).cast(field.type) for name, field in zip(ordered, fields, strict=True)
        ]
        schema = pa.schema(fields)
        if target.metadata:
            schema = schema.with_metadata(target.metadata)
        return pa.Table.from_arrays(columns, schema=schema)

    def _abandon(self, run_id: str, exc: BaseException) -> None:
        for staged in self.staged:
            try:
                self.files.delete(staged.path)
            except StoreError:
                continue  # the store refuses writes now: the next operation collects it
        # A compaction commits once, at its end: failing, it has committed nothing.
        record_failure(self.catalog, self.clock, run_id, exc, committed=False, lock=self.lock)

    def _remove_replaced(self, files: list[FileRecord]) -> int:
        referenced = self.catalog.referenced_paths(self.record.name)
        removed = 0
        present = {info.key for info in self.files.table_files(self.record.name)}
        for file in files:
            if file.path in referenced or file.path not in present:
                continue
            self.files.delete(file.path)
            removed += 1
        return removed
