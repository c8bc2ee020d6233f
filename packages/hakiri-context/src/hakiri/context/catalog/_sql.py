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

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from hakiri.context.catalog import _schema as t
from hakiri.context.catalog._commit import commit
from hakiri.context.catalog._rows import (
    file_record,
    run_record,
    schema_version_record,
    table_record,
)
from hakiri.context.catalog._rules import (
    INTERRUPTED,
    check_event_run,
    json_value,
    stored_event,
    to_utc,
)
from hakiri.context.catalog._sql_commit import SqlCommitStore, insert_step
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
    SchemaVersion,
    StepRecord,
    TableRecord,
)

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
        return None if row is None else run_record(row._mapping)

    def list_runs(self, pipeline: str | None = None, *, limit: int = 20) -> list[RunRecord]:
        query = select(t.runs).order_by(t.runs.c.started_at.desc(), t.runs.c.run_id.desc())
        if pipeline is not None:
            query = query.where(t.runs.c.pipeline == pipeline)
        with self._read() as conn:
            rows = conn.execute(query.limit(max(limit, 0))).all()
        return [run_record(row._mapping) for row in rows]

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
            insert_step(conn, step, payload)

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
            return commit(SqlCommitStore(conn), request, clock=self._clock)

    def _lock_commit(self, conn: Connection, request: CommitRequest) -> None:
        """Keep concurrent commits of ``request``'s pipeline and table apart, inside the
        commit's transaction and before it reads anything. Nothing here: SQLite's
        ``BEGIN IMMEDIATE`` already serializes every writer; Postgres overrides it."""

    # -- tables and files -------------------------------------------------------------------

    def list_tables(self) -> list[TableRecord]:
        with self._read() as conn:
            rows = conn.execute(select(t.tables).order_by(t.tables.c.name)).all()
        return [table_record(row._mapping) for row in rows]

    def get_table(self, name: str) -> TableRecord | None:
        with self._read() as conn:
            row = _table_row(conn, name)
        return None if row is None else table_record(row._mapping)

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
        return [file_record(r._mapping) for r in rows]

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
        return [schema_version_record(row._mapping) for row in rows]

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


def _insert_event(
    conn: Connection, table: str, kind: str, payload: Any, run_id: str | None, at: datetime
) -> int:
    result = conn.execute(
        insert(t.events).values(table_name=table, kind=kind, payload=payload, run_id=run_id, at=at)
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _run_exists(conn: Connection, run_id: str) -> bool:
    query = select(t.runs.c.run_id).where(t.runs.c.run_id == run_id)
    return conn.execute(query).first() is not None


def _table_row(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(t.tables).where(t.tables.c.name == name)).first()
