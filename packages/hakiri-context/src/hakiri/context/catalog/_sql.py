"""The Catalog port on SQLAlchemy Core, shared by the SQL backends.

A backend subclass builds the engine (pragmas, locking) and hands it over; everything else —
the commit transaction, compare-and-set, generations, schema versions — lives here once
(the commit's decisions in ``_commit``, which the in-memory catalog drives too).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from hakiri.context.catalog import _schema as t
from hakiri.context.catalog._commit import commit
from hakiri.context.catalog._fencing import Fence
from hakiri.context.catalog._rules import (
    INTERRUPTED,
    check_event_run,
    conflict,
    json_value,
    stored_event,
    to_utc,
)
from hakiri.core.clock import SystemClock
from hakiri.core.cursor import Cursor, CursorKind
from hakiri.core.errors import CatalogError
from hakiri.core.ports import Clock
from hakiri.core.records import (
    CatalogEvent,
    CommitRequest,
    CommitResult,
    FileRecord,
    RunRecord,
    RunStatus,
    SchemaPolicy,
    SchemaVersion,
    StepRecord,
    TableRecord,
    WriteDisposition,
)
from hakiri.core.schema import Schema

__all__ = ["SqlCatalog", "database_errors"]


class SqlCatalog:
    """A ``Catalog`` over any SQLAlchemy engine.

    ``writer`` is the engine write transactions go through; a backend can point it at the
    same pool with options that make its transactions take the write lock up front.
    ``clock`` is the catalog's time, by which a commit's lease is judged expired.
    """

    def __init__(
        self, engine: Engine, *, writer: Engine | None = None, clock: Clock | None = None
    ) -> None:
        self._engine = engine
        self._writer = writer if writer is not None else engine
        self._clock: Clock = clock if clock is not None else SystemClock()

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with database_errors(), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with database_errors(), self._writer.begin() as conn:
            yield conn

    def close(self) -> None:
        self._engine.dispose()

    # -- cursors ----------------------------------------------------------------------------

    def get_cursor(self, pipeline: str) -> Cursor | None:
        with self._read() as conn:
            row = conn.execute(select(t.cursors).where(t.cursors.c.pipeline == pipeline)).first()
        if row is None:
            return None
        return Cursor(CursorKind(row.kind), row.value, int(row.version))

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        values = {
            "run_id": run.run_id,
            "pipeline": run.pipeline,
            "status": RunStatus(run.status).value,
            "started_at": to_utc(run.started_at),
            "finished_at": to_utc(run.finished_at) if run.finished_at else None,
            "trigger": run.trigger,
            "pid": run.pid,
            "host": run.host,
            "rows": run.rows,
            "pages": run.pages,
            "files": run.files,
            "error_code": run.error_code,
            "error_message": run.error_message,
            "resumed_from": run.resumed_from,
        }
        with self._write() as conn:
            if _run_exists(conn, run.run_id):
                raise CatalogError(f"run {run.run_id!r} already exists")
            conn.execute(insert(t.runs).values(values))

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._read() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.run_id == run_id)).first()
        return None if row is None else _run(row)

    def list_runs(self, pipeline: str | None = None, *, limit: int = 20) -> list[RunRecord]:
        query = select(t.runs).order_by(t.runs.c.started_at.desc(), t.runs.c.run_id.desc())
        if pipeline is not None:
            query = query.where(t.runs.c.pipeline == pipeline)
        with self._read() as conn:
            rows = conn.execute(query.limit(max(limit, 0))).all()
        return [_run(row) for row in rows]

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        *,
        finished_at: datetime,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        values = {
            "status": RunStatus(status).value,
            "finished_at": to_utc(finished_at),
            "error_code": error_code,
            "error_message": error_message,
        }
        with self._write() as conn:
            result = conn.execute(update(t.runs).where(t.runs.c.run_id == run_id).values(values))
            if result.rowcount != 1:
                raise CatalogError(f"cannot finish unknown run {run_id!r}")

    def interrupt_running(self, pipeline: str, *, finished_at: datetime, reason: str) -> list[str]:
        running = (t.runs.c.pipeline == pipeline) & (t.runs.c.status == RunStatus.RUNNING.value)
        values = {
            "status": RunStatus.PARTIAL_FAILURE.value,
            "finished_at": to_utc(finished_at),
            "error_code": INTERRUPTED,
            "error_message": reason,
        }
        with self._write() as conn:
            query = select(t.runs.c.run_id).where(running).order_by(t.runs.c.started_at)
            ids = [str(run_id) for run_id in conn.execute(query).scalars()]
            if ids:
                conn.execute(update(t.runs).where(t.runs.c.run_id.in_(ids)).values(values))
        return ids

    # -- steps ------------------------------------------------------------------------------

    def record_step(self, step: StepRecord) -> None:
        payload = json_value(step.payload, "step payload")
        with self._write() as conn:
            if not _run_exists(conn, step.run_id):
                raise CatalogError(f"cannot record a step of unknown run {step.run_id!r}")
            _insert_step(conn, step, payload)

    def list_steps(self, run_id: str) -> list[StepRecord]:
        query = select(t.run_steps).where(t.run_steps.c.run_id == run_id)
        with self._read() as conn:
            rows = conn.execute(query.order_by(t.run_steps.c.seq)).all()
        return [
            StepRecord(row.run_id, row.key, row.kind, row.payload, row.created_at) for row in rows
        ]

    # -- commit -----------------------------------------------------------------------------

    def commit(self, request: CommitRequest) -> CommitResult:
        """One transaction: the shared algorithm (``_commit``) over this connection; nothing
        is written when any part fails."""
        with self._write() as conn:
            self._lock_commit(conn, request)
            return commit(_Transaction(conn), request, clock=self._clock)

    def _lock_commit(self, conn: Connection, request: CommitRequest) -> None:
        """Keep concurrent commits of ``request``'s pipeline and table apart, inside the
        commit's transaction and before it reads anything. Nothing here: SQLite's
        ``BEGIN IMMEDIATE`` already serializes every writer; Postgres overrides it."""

    # -- tables and files -------------------------------------------------------------------

    def list_tables(self) -> list[TableRecord]:
        with self._read() as conn:
            rows = conn.execute(select(t.tables).order_by(t.tables.c.name)).all()
        return [_table(row) for row in rows]

    def get_table(self, name: str) -> TableRecord | None:
        with self._read() as conn:
            row = _table_row(conn, name)
        return None if row is None else _table(row)

    def list_files(self, table: str) -> list[FileRecord]:
        # One transaction, so the generation and the files belong to the same commit.
        with self._read() as conn:
            row = _table_row(conn, table)
            if row is None:
                return []
            query = (
                select(t.files)
                .where((t.files.c.table_name == table) & (t.files.c.generation == row.generation))
                .order_by(t.files.c.id)
            )
            rows = conn.execute(query).all()
        return [_file(r) for r in rows]

    def referenced_paths(self, table: str) -> set[str]:
        """Paths of the visible generation and of any generation still being built.

        Files of older generations (replaced by a finalized ``replace``) are left out on
        purpose: nothing can make them visible again, so they are garbage that the
        destination may delete. Their rows stay in ``files`` as history.
        """
        with self._read() as conn:
            row = _table_row(conn, table)
            if row is None:
                return set()
            query = select(t.files.c.path).where(
                (t.files.c.table_name == table) & (t.files.c.generation >= row.generation)
            )
            return {str(path) for path in conn.execute(query).scalars()}

    def schema_versions(self, table: str) -> list[SchemaVersion]:
        query = (
            select(t.schema_versions)
            .where(t.schema_versions.c.table_name == table)
            .order_by(t.schema_versions.c.version)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [_schema_version(row) for row in rows]

    def list_events(self, table: str | None = None) -> list[CatalogEvent]:
        query = select(t.events).order_by(t.events.c.id)
        if table is not None:
            query = query.where(t.events.c.table_name == table)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [
            CatalogEvent(int(r.id), r.table_name, r.kind, r.payload, r.run_id, r.at) for r in rows
        ]

    def record_event(
        self,
        table: str,
        kind: str,
        payload: dict[str, Any],
        *,
        run_id: str | None,
        at: datetime,
    ) -> CatalogEvent:
        stored, at = stored_event(payload, at)
        with self._write() as conn:
            check_event_run(run_id, lambda run: _run_exists(conn, run))
            event_id = _insert_event(conn, table, kind, stored, run_id, at)
        return CatalogEvent(event_id, table, kind, json_value(stored, "event payload"), run_id, at)


# -- helpers (all run inside the caller's transaction) ----------------------------------------


@contextmanager
def database_errors() -> Iterator[None]:
    """Database failures (locked, read-only, corrupt, connection lost) become one-line
    ``CatalogError``s. The transaction they interrupted is rolled back as a whole — by
    SQLAlchemy, or by the server when the connection is gone."""
    try:
        yield
    except SQLAlchemyError as exc:
        origin = getattr(exc, "orig", None) or exc
        first = str(origin).strip().splitlines()[0] if str(origin).strip() else type(exc).__name__
        hint = None
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            hint = (
                "the connection to the catalog was lost and nothing of the interrupted write "
                "was kept; run again once the catalog database is reachable"
            )
        raise CatalogError(f"catalog database error: {first}", hint=hint) from exc


def _run_exists(conn: Connection, run_id: str) -> bool:
    query = select(t.runs.c.run_id).where(t.runs.c.run_id == run_id)
    return conn.execute(query).first() is not None


def _table_row(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(t.tables).where(t.tables.c.name == name)).first()


def _insert_step(conn: Connection, step: StepRecord, payload: Any) -> None:
    """Insert ``step`` unless (run_id, key) is already recorded: recording is idempotent."""
    steps = t.run_steps
    key = (steps.c.run_id == step.run_id) & (steps.c.key == step.key)
    if conn.execute(select(steps.c.key).where(key)).first() is not None:
        return
    last = conn.execute(select(func.max(steps.c.seq)).where(steps.c.run_id == step.run_id)).scalar()
    conn.execute(
        insert(steps).values(
            run_id=step.run_id,
            key=step.key,
            seq=int(last or 0) + 1,
            kind=step.kind,
            payload=payload,
            created_at=to_utc(step.created_at),
        )
    )


def _insert_event(
    conn: Connection, table: str, kind: str, payload: Any, run_id: str | None, at: datetime
) -> int:
    result = conn.execute(
        insert(t.events).values(table_name=table, kind=kind, payload=payload, run_id=run_id, at=at)
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


class _Transaction:
    """The ``CommitStore`` of one commit: every read and write on the commit's connection,
    inside its transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def cursor_version(self, pipeline: str) -> int | None:
        query = select(t.cursors.c.version).where(t.cursors.c.pipeline == pipeline)
        row = self._conn.execute(query).first()
        return None if row is None else int(row.version)

    def store_cursor(
        self, pipeline: str, cursor: Cursor, *, expected: int, exists: bool, at: datetime
    ) -> None:
        values = {
            "kind": cursor.kind.value,
            "value": cursor.value,
            "version": cursor.version,
            "updated_at": at,
        }
        if not exists:
            try:
                self._conn.execute(insert(t.cursors).values(pipeline=pipeline, **values))
            except IntegrityError:
                # Another writer created the cursor since we looked (possible where the
                # backend does not serialize writers up front, e.g. Postgres).
                raise conflict(pipeline, expected, 1) from None
            return
        # The version check in the WHERE clause makes the update itself the compare-and-set.
        current = (t.cursors.c.pipeline == pipeline) & (t.cursors.c.version == expected)
        result = self._conn.execute(update(t.cursors).where(current).values(values))
        if result.rowcount != 1:
            raise conflict(pipeline, expected, expected + 1)

    def run_exists(self, run_id: str) -> bool:
        return _run_exists(self._conn, run_id)

    def add_to_run(self, run_id: str, *, rows: int, pages: int, files: int) -> None:
        runs = t.runs
        self._conn.execute(
            update(runs)
            .where(runs.c.run_id == run_id)
            .values(rows=runs.c.rows + rows, pages=runs.c.pages + pages, files=runs.c.files + files)
        )

    def add_step(self, step: StepRecord) -> None:
        _insert_step(self._conn, step, step.payload)

    def fence(self, pipeline: str, shard: str | None) -> Fence | None:
        key = (t.fences.c.pipeline == pipeline) & (t.fences.c.shard == (shard or ""))
        row = self._conn.execute(select(t.fences).where(key)).first()
        return None if row is None else _fence(row)

    def newest_fence(self, pipeline: str) -> Fence | None:
        query = (
            select(t.fences)
            .where(t.fences.c.pipeline == pipeline)
            .order_by(t.fences.c.token.desc())
            .limit(1)
        )
        row = self._conn.execute(query).first()
        return None if row is None else _fence(row)

    def save_fence(self, fence: Fence, *, exists: bool, at: datetime) -> None:
        values = {
            "token": fence.token,
            "holder": fence.holder,
            "expires_at": to_utc(fence.expires_at),
            "updated_at": at,
        }
        key = {"pipeline": fence.pipeline, "shard": fence.shard or ""}
        if not exists:
            try:
                self._conn.execute(insert(t.fences).values(**key, **values))
            except IntegrityError:
                raise _fence_race(fence) from None
            return
        # Only ever forward: the token check in the WHERE clause makes the update itself
        # safe where writers are not serialized up front.
        fences = t.fences.c
        forward = (
            (fences.pipeline == key["pipeline"])
            & (fences.shard == key["shard"])
            & (fences.token <= fence.token)
        )
        if self._conn.execute(update(t.fences).where(forward).values(values)).rowcount != 1:
            raise _fence_race(fence)

    def table(self, name: str) -> TableRecord | None:
        row = _table_row(self._conn, name)
        return None if row is None else _table(row)

    def save_table(self, record: TableRecord, *, exists: bool) -> None:
        values = {
            "pipeline": record.pipeline,
            "write": WriteDisposition(record.write).value,
            "generation": record.generation,
            "schema_version": record.schema_version,
            "primary_key": list(record.primary_key),
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "schema_policy": SchemaPolicy(record.schema_policy).value,
        }
        if not exists:
            self._conn.execute(insert(t.tables).values(name=record.name, **values))
            return
        self._conn.execute(update(t.tables).where(t.tables.c.name == record.name).values(values))

    def latest_schema(self, table: str) -> SchemaVersion | None:
        query = (
            select(t.schema_versions)
            .where(t.schema_versions.c.table_name == table)
            .order_by(t.schema_versions.c.version.desc())
            .limit(1)
        )
        row = self._conn.execute(query).first()
        return None if row is None else _schema_version(row)

    def add_schema_version(self, version: SchemaVersion) -> None:
        self._conn.execute(
            insert(t.schema_versions).values(
                table_name=version.table,
                version=version.version,
                schema=version.schema.to_dict(),
                run_id=version.run_id,
                created_at=version.created_at,
            )
        )

    def published(self, paths: list[str]) -> str | None:
        query = select(t.files.c.path).where(t.files.c.path.in_(paths)).limit(1)
        taken = self._conn.execute(query).scalar()
        return None if taken is None else str(taken)

    def add_files(self, files: list[FileRecord]) -> None:
        for record in files:
            self._conn.execute(
                insert(t.files).values(
                    table_name=record.table,
                    path=record.path,
                    rows=record.rows,
                    bytes=record.bytes,
                    checksum=record.checksum,
                    schema_version=record.schema_version,
                    generation=record.generation,
                    run_id=record.run_id,
                    committed_at=record.committed_at,
                )
            )

    def add_event(
        self, table: str, kind: str, payload: Any, run_id: str | None, at: datetime
    ) -> None:
        _insert_event(self._conn, table, kind, payload, run_id, at)


def _fence_race(fence: Fence) -> CatalogError:
    where = f"pipeline {fence.pipeline!r}" + (f" shard {fence.shard!r}" if fence.shard else "")
    return CatalogError(
        f"another commit recorded a fencing token for {where} at the same time; nothing was "
        "written",
        hint="commit again: the catalog then says whether this lease is still the newest",
    )


# -- row → record -----------------------------------------------------------------------------


def _run(row: Row[Any]) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        pipeline=row.pipeline,
        status=RunStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        trigger=row.trigger,
        pid=row.pid,
        host=row.host,
        rows=int(row.rows),
        pages=int(row.pages),
        files=int(row.files),
        error_code=row.error_code,
        error_message=row.error_message,
        resumed_from=row.resumed_from,
    )


def _table(row: Row[Any]) -> TableRecord:
    return TableRecord(
        name=row.name,
        pipeline=row.pipeline,
        write=WriteDisposition(row.write),
        generation=int(row.generation),
        schema_version=int(row.schema_version),
        primary_key=tuple(row.primary_key),
        created_at=row.created_at,
        updated_at=row.updated_at,
        schema_policy=SchemaPolicy(row.schema_policy),
    )


def _file(row: Row[Any]) -> FileRecord:
    return FileRecord(
        table=row.table_name,
        path=row.path,
        rows=int(row.rows),
        bytes=int(row.bytes),
        checksum=row.checksum,
        schema_version=int(row.schema_version),
        generation=int(row.generation),
        run_id=row.run_id,
        committed_at=row.committed_at,
    )


def _schema_version(row: Row[Any]) -> SchemaVersion:
    return SchemaVersion(
        table=row.table_name,
        version=int(row.version),
        schema=Schema.from_dict(row.schema),
        run_id=row.run_id,
        created_at=row.created_at,
    )


def _fence(row: Row[Any]) -> Fence:
    return Fence(
        pipeline=row.pipeline,
        shard=row.shard or None,
        token=int(row.token),
        holder=row.holder,
        expires_at=row.expires_at,
    )
