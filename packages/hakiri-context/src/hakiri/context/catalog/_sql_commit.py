"""The SQL ``CommitStore``: a commit's reads and writes on one connection, in its transaction.

A commit is the catalog's hot path (the runtime makes one per chunk), so it costs as few
round trips and as little Python as it can (docs/performance.md, "Catalog commits"):

- Everything the commit decides on — fence, cursor version, run, table, latest schema
  version, an already published path — is one ``SELECT`` (``read``); each write is one
  statement, the step's idempotent insert included.
- Every statement is built once, here, with bound parameters, compiled once per dialect
  and run on the DBAPI cursor (``_direct``): no expression is built, and no SQLAlchemy
  execution context set up, per call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    null,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import Table

from hakiri.context.catalog import _schema as t
from hakiri.context.catalog._commit import Snapshot
from hakiri.context.catalog._direct import Direct
from hakiri.context.catalog._fencing import Fence
from hakiri.context.catalog._rows import fence_record, part, schema_version_record, table_record
from hakiri.context.catalog._rules import conflict, to_utc
from hakiri.core.cursor import Cursor
from hakiri.core.errors import CatalogError
from hakiri.core.records import (
    CommitRequest,
    FileRecord,
    SchemaPolicy,
    SchemaVersion,
    StepRecord,
    TableRecord,
    WriteDisposition,
)

__all__ = ["SqlCommitStore", "insert_step"]


@lru_cache(maxsize=32)
def _snapshot(paths: int) -> Direct:
    """The commit's one read, for a commit of ``paths`` files: a one-row base, left-joined
    to each record it may find."""
    one = select(literal_column("1").label("one")).subquery("one")
    fences, cursors, runs, tables, versions = (
        t.fences,
        t.cursors,
        t.runs,
        t.tables,
        t.schema_versions,
    )
    other = fences.alias("other_fences")
    # Without a lease (shard NULL) the pipeline's newest fence of any shard: the key of the
    # one with the highest token.
    newest_shard = (
        select(other.c.shard)
        .where(other.c.pipeline == bindparam("fence_pipeline"))
        .order_by(other.c.token.desc())
        .limit(1)
        .scalar_subquery()
    )
    shard = func.coalesce(bindparam("fence_shard", type_=String()), newest_shard)
    older = versions.alias("older_versions")
    latest = (
        select(func.max(older.c.version))
        .where(older.c.table_name == bindparam("table"))
        .scalar_subquery()
    )
    published: Any = null()
    if paths:
        # One parameter a path, not an expanding IN: the SQL is compiled once per count.
        wanted = [bindparam(f"path_{i}", type_=t.files.c.path.type) for i in range(paths)]
        published = (
            select(t.files.c.path).where(t.files.c.path.in_(wanted)).limit(1).scalar_subquery()
        )
    joined = (
        one.outerjoin(cursors, cursors.c.pipeline == bindparam("pipeline"))
        .outerjoin(runs, runs.c.run_id == bindparam("run_id"))
        .outerjoin(tables, tables.c.name == bindparam("table"))
        .outerjoin(
            fences,
            and_(fences.c.pipeline == bindparam("fence_pipeline"), fences.c.shard == shard),
        )
        .outerjoin(
            versions,
            and_(versions.c.table_name == bindparam("table"), versions.c.version == latest),
        )
    )
    query = select(
        cursors.c.version.label("cursor_version"),
        runs.c.run_id.label("run_found"),
        published.label("published"),
        *(c.label("table__" + c.name) for c in tables.c),
        *(c.label("fence__" + c.name) for c in fences.c),
        *(c.label("schema__" + c.name) for c in versions.c),
    ).select_from(joined)
    return Direct(query)


def _insert_step() -> Any:
    """The step's row unless (run_id, key) is recorded, numbered after the run's last."""
    steps = t.run_steps
    prior = steps.alias("prior_steps")
    seq = (
        select(func.coalesce(func.max(prior.c.seq), 0) + 1)
        .where(prior.c.run_id == bindparam("run_id"))
        .scalar_subquery()
    )
    recorded = exists().where(
        (prior.c.run_id == bindparam("run_id")) & (prior.c.key == bindparam("key"))
    )
    row = select(
        bindparam("run_id", type_=steps.c.run_id.type),
        bindparam("key", type_=steps.c.key.type),
        seq,
        bindparam("kind", type_=steps.c.kind.type),
        bindparam("payload", type_=steps.c.payload.type),
        bindparam("created_at", type_=steps.c.created_at.type),
    ).where(~recorded)
    columns = ["run_id", "key", "seq", "kind", "payload", "created_at"]
    return insert(steps).from_select(columns, row)


def _insert(table: Table, skip: Iterable[str] = ()) -> Direct:
    """``INSERT`` of every column but ``skip``, each from the parameter of its name."""
    return Direct(
        insert(table).values({c.name: bindparam(c.name) for c in table.c if c.name not in skip})
    )


def _set(table: Table, *columns: str) -> dict[str, Any]:
    return {name: bindparam(name, type_=table.c[name].type) for name in columns}


_INSERT_STEP = Direct(_insert_step())
_UPDATE_TABLE = Direct(
    update(t.tables)
    .where(t.tables.c.name == bindparam("key_name"))
    .values(_set(t.tables, *(c.name for c in t.tables.c if c.name != "name")))
)
# The version check in the WHERE clause makes the update itself the compare-and-set.
_UPDATE_CURSOR = Direct(
    update(t.cursors)
    .where(
        (t.cursors.c.pipeline == bindparam("key_pipeline"))
        & (t.cursors.c.version == bindparam("expected"))
    )
    .values(_set(t.cursors, "kind", "value", "version", "updated_at"))
)
# Only ever forward: the token check makes the update itself safe where writers are not
# serialized up front.
_UPDATE_FENCE = Direct(
    update(t.fences)
    .where(
        (t.fences.c.pipeline == bindparam("key_pipeline"))
        & (t.fences.c.shard == bindparam("key_shard"))
        & (t.fences.c.token <= bindparam("key_token"))
    )
    .values(_set(t.fences, "token", "holder", "expires_at", "updated_at"))
)
_ADD_TO_RUN = Direct(
    update(t.runs)
    .where(t.runs.c.run_id == bindparam("key_run_id"))
    .values(
        rows=t.runs.c.rows + bindparam("more_rows", type_=t.runs.c.rows.type),
        pages=t.runs.c.pages + bindparam("more_pages", type_=t.runs.c.pages.type),
        files=t.runs.c.files + bindparam("more_files", type_=t.runs.c.files.type),
    )
)
_INSERT_TABLE = _insert(t.tables)
_INSERT_CURSOR = _insert(t.cursors)
_INSERT_FENCE = _insert(t.fences)
_INSERT_FILE = _insert(t.files, skip=("id",))
_INSERT_SCHEMA = _insert(t.schema_versions)
_INSERT_EVENT = _insert(t.events, skip=("id",))


def insert_step(conn: Connection, step: StepRecord, payload: Any) -> None:
    """Insert ``step`` unless (run_id, key) is already recorded: recording is idempotent."""
    _INSERT_STEP.rowcount(
        conn,
        {
            "run_id": step.run_id,
            "key": step.key,
            "kind": step.kind,
            "payload": payload,
            "created_at": to_utc(step.created_at),
        },
    )


class SqlCommitStore:
    """The ``CommitStore`` of one commit: every read and write on the commit's connection,
    inside its transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def read(self, request: CommitRequest) -> Snapshot:
        lease = request.lease
        params = {
            "pipeline": request.pipeline,
            "run_id": request.run_id,
            "table": request.table,
            "fence_pipeline": lease.pipeline if lease is not None else request.pipeline,
            "fence_shard": (lease.shard or "") if lease is not None else None,
            **{f"path_{i}": f.path for i, f in enumerate(request.files)},
        }
        row = _snapshot(len(request.files)).one(self._conn, params)
        version = row["cursor_version"]
        return Snapshot(
            fence=None if row["fence__token"] is None else fence_record(part(row, "fence__")),
            version=None if version is None else int(version),
            run_exists=row["run_found"] is not None,
            table=None if row["table__name"] is None else table_record(part(row, "table__")),
            latest_schema=(
                None
                if row["schema__version"] is None
                else schema_version_record(part(row, "schema__"))
            ),
            published=None if row["published"] is None else str(row["published"]),
        )

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
                _INSERT_CURSOR.rowcount(self._conn, {"pipeline": pipeline, **values})
            except IntegrityError:
                # Another writer created the cursor since we looked (possible where the
                # backend does not serialize writers up front, e.g. Postgres).
                raise conflict(pipeline, expected, 1) from None
            return
        key = {"key_pipeline": pipeline, "expected": expected}
        if _UPDATE_CURSOR.rowcount(self._conn, {**values, **key}) != 1:
            raise conflict(pipeline, expected, expected + 1)

    def add_to_run(self, run_id: str, *, rows: int, pages: int, files: int) -> None:
        params = {"key_run_id": run_id, "more_rows": rows, "more_pages": pages}
        _ADD_TO_RUN.rowcount(self._conn, {**params, "more_files": files})

    def add_step(self, step: StepRecord) -> None:
        insert_step(self._conn, step, step.payload)

    def save_fence(self, fence: Fence, *, exists: bool, at: datetime) -> None:
        values = {
            "token": fence.token,
            "holder": fence.holder,
            "expires_at": to_utc(fence.expires_at),
            "updated_at": at,
        }
        shard = fence.shard or ""
        if not exists:
            try:
                _INSERT_FENCE.rowcount(
                    self._conn, {"pipeline": fence.pipeline, "shard": shard, **values}
                )
            except IntegrityError:
                raise _fence_race(fence) from None
            return
        key = {"key_pipeline": fence.pipeline, "key_shard": shard, "key_token": fence.token}
        if _UPDATE_FENCE.rowcount(self._conn, {**values, **key}) != 1:
            raise _fence_race(fence)

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
            _INSERT_TABLE.rowcount(self._conn, {"name": record.name, **values})
            return
        _UPDATE_TABLE.rowcount(self._conn, {"key_name": record.name, **values})

    def add_schema_version(self, version: SchemaVersion) -> None:
        _INSERT_SCHEMA.rowcount(
            self._conn,
            {
                "table_name": version.table,
                "version": version.version,
                "schema": version.schema.to_dict(),
                "run_id": version.run_id,
                "created_at": version.created_at,
            },
        )

    def add_files(self, files: list[FileRecord]) -> None:
        for record in files:
            _INSERT_FILE.rowcount(
                self._conn,
                {
                    "table_name": record.table,
                    "path": record.path,
                    "rows": record.rows,
                    "bytes": record.bytes,
                    "checksum": record.checksum,
                    "schema_version": record.schema_version,
                    "generation": record.generation,
                    "run_id": record.run_id,
                    "committed_at": record.committed_at,
                },
            )

    def add_event(
        self, table: str, kind: str, payload: Any, run_id: str | None, at: datetime
    ) -> None:
        params = {"table_name": table, "kind": kind, "payload": payload, "run_id": run_id}
        _INSERT_EVENT.rowcount(self._conn, {**params, "at": at})


def _fence_race(fence: Fence) -> CatalogError:
    where = f"pipeline {fence.pipeline!r}" + (f" shard {fence.shard!r}" if fence.shard else "")
    return CatalogError(
        f"another commit recorded a fencing token for {where} at the same time; nothing was "
        "written",
        hint="commit again: the catalog then says whether this lease is still the newest",
    )
