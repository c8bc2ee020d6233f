"""The one catalog commit algorithm. Every adapter drives it through a ``CommitStore``.

An adapter opens its transaction (SQL: one database transaction; in-memory: a copy of the
state swapped in at the end), hands ``commit`` a store bound to it, and commits the
transaction if ``commit`` returns. ``commit`` decides everything — fencing, compare-and-set,
generations, schema versions, events, counters — and the store only reads and writes
records, so the adapters cannot drift apart (docs/decisions.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from hakiri.context.catalog._fencing import Fence, check_lease
from hakiri.context.catalog._rules import (
    builds_generation,
    check_request,
    conflict,
    decision_payloads,
    json_value,
    next_generation,
    schema_change,
    to_utc,
)
from hakiri.core.cursor import Cursor
from hakiri.core.errors import CatalogError
from hakiri.core.failpoints import failpoint
from hakiri.core.ports import Clock
from hakiri.core.records import (
    SCHEMA_DECISION,
    CommitRequest,
    CommitResult,
    FileRecord,
    SchemaPolicy,
    SchemaVersion,
    StepRecord,
    TableRecord,
)

__all__ = ["CommitStore", "Snapshot", "commit"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a commit decides on, as the catalog holds it when the commit starts."""

    fence: Fence | None
    """With a lease: the newest fence of the lease's key; without: the newest fence of any
    key of the pipeline (what a commit without a lease runs into)."""
    version: int | None
    """The pipeline's cursor version; None when it has no cursor yet."""
    run_exists: bool
    table: TableRecord | None
    latest_schema: SchemaVersion | None
    """The table's latest schema version."""
    published: str | None
    """One of the request's file paths that is already published, if any."""


class CommitStore(Protocol):
    """What the commit algorithm reads and writes, all inside one transaction.

    Values handed in are already checked and normalised (UTC datetimes, JSON round-tripped
    payloads); the store persists them as they are and decides nothing.
    """

    def read(self, request: CommitRequest) -> Snapshot:
        """What the catalog holds for ``request``'s keys (its lease's, pipeline's, run's,
        table's and files'), read at once: one round trip on a server database."""
        ...

    def store_cursor(
        self, pipeline: str, cursor: Cursor, *, expected: int, exists: bool, at: datetime
    ) -> None:
        """Write the cursor; raise ``CursorConflict`` if it is no longer at ``expected``
        (where the backend does not serialize writers up front)."""
        ...

    def add_to_run(self, run_id: str, *, rows: int, pages: int, files: int) -> None: ...

    def add_step(self, step: StepRecord) -> None:
        """Record the step unless (run_id, key) is recorded already."""
        ...

    def save_fence(self, fence: Fence, *, exists: bool, at: datetime) -> None:
        """Record ``fence`` as the newest of its key; raise ``LeaseLost`` or
        ``CatalogError`` if a newer one got there first (where writers are not serialized)."""
        ...

    def save_table(self, record: TableRecord, *, exists: bool) -> None:
        """Insert the table (``exists`` False) or overwrite every field of it."""
        ...

    def add_schema_version(self, version: SchemaVersion) -> None: ...

    def add_files(self, files: list[FileRecord]) -> None: ...

    def add_event(
        self, table: str, kind: str, payload: Any, run_id: str | None, at: datetime
    ) -> None: ...


def commit(store: CommitStore, request: CommitRequest, *, clock: Clock) -> CommitResult:
    """Publish ``request`` through ``store``: raises (and the caller rolls back) on a
    stale or missing lease (``LeaseLost``), a moved cursor (``CursorConflict``) or a request
    that could never be right (``CatalogError``)."""
    at = to_utc(request.step.created_at)
    value = json_value(request.cursor_value, "cursor value")
    step = replace(
        request.step, payload=json_value(request.step.payload, "step payload"), created_at=at
    )
    found = store.read(request)
    # Fencing first: a worker that lost its lease must stop, not retry as after a conflict.
    leased = request.lease is not None
    fence = check_lease(
        request,
        seen=found.fence if leased else None,
        newest=None if leased else found.fence,
        now=clock.now(),
    )
    actual = found.version if found.version is not None else 0
    if actual != request.expected_version:
        raise conflict(request.pipeline, request.expected_version, actual)
    check_request(request, run_exists=found.run_exists)
    existing = found.table
    table = _settings(request, existing, at)
    store.save_table(table, exists=existing is not None)
    generation = next_generation(request, existing.generation if existing else 0)
    needs_schema = bool(request.files or request.schema_changes)
    before = found.latest_schema if needs_schema else None
    published, latest = _publish(store, request, found.published, before, generation, at)
    for decision in decision_payloads(request, before, latest):
        store.add_event(request.table, SCHEMA_DECISION, decision, request.run_id, at)
    # Tests SIGKILL the process here to prove the transaction rolls back as a whole.
    failpoint("inside_commit")
    store.add_step(step)
    store.add_to_run(
        request.run_id,
        rows=sum(f.rows for f in request.files),
        pages=request.pages,
        files=len(request.files),
    )
    finished = table
    if published and latest is not None and latest.version != table.schema_version:
        finished = replace(finished, schema_version=latest.version)
    if request.finalize and builds_generation(request):
        finished = replace(finished, generation=generation)
    if finished != table:
        store.save_table(finished, exists=True)
    if fence is not None:
        store.save_fence(fence, exists=found.fence is not None, at=at)
    cursor = Cursor(request.cursor_kind, value, request.expected_version + 1)
    store.store_cursor(
        request.pipeline,
        cursor,
        expected=request.expected_version,
        exists=found.version is not None,
        at=at,
    )
    return CommitResult(
        cursor=cursor,
        files=published,
        schema_version=latest.version if published and latest is not None else None,
    )


def _settings(request: CommitRequest, existing: TableRecord | None, at: datetime) -> TableRecord:
    """The table as this commit leaves its settings: the latest writer's win, so a pipeline
    renamed, or switched from append to replace, keeps its table."""
    if existing is None:
        return TableRecord(
            name=request.table,
            pipeline=request.pipeline,
            write=request.write,
            generation=0,
            schema_version=0,
            primary_key=tuple(request.primary_key),
            created_at=at,
            updated_at=at,
            schema_policy=SchemaPolicy(request.schema_policy),
        )
    return replace(
        existing,
        pipeline=request.pipeline,
        write=request.write,
        schema_policy=SchemaPolicy(request.schema_policy),
        primary_key=tuple(request.primary_key) or existing.primary_key,
        updated_at=at,
    )


def _publish(
    store: CommitStore,
    request: CommitRequest,
    taken: str | None,
    latest: SchemaVersion | None,
    generation: int,
    at: datetime,
) -> tuple[list[FileRecord], SchemaVersion | None]:
    """Record the files (and a schema version for each schema that is new); return them and
    the table's latest schema version after them."""
    if not request.files:
        return [], latest
    if taken is not None:
        raise CatalogError(f"file {taken!r} is already published; a path is published once")
    published: list[FileRecord] = []
    for staged in request.files:
        if latest is None or latest.schema.fingerprint != staged.schema.fingerprint:
            previous = latest
            latest = SchemaVersion(
                table=request.table,
                version=(previous.version if previous else 0) + 1,
                schema=staged.schema,
                run_id=request.run_id,
                created_at=at,
            )
            store.add_schema_version(latest)
            payload = schema_change(previous, staged.schema, latest.version)
            store.add_event(request.table, "schema_version", payload, request.run_id, at)
        published.append(
            FileRecord(
                table=request.table,
                path=staged.path,
                rows=staged.rows,
                bytes=staged.bytes,
                checksum=staged.checksum,
                schema_version=latest.version,
                generation=generation,
                run_id=request.run_id,
                committed_at=at,
            )
        )
    store.add_files(published)
    return published, latest
