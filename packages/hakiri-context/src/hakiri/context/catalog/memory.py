"""The in-memory catalog: the same contract as SQLite, for tests and throwaway runs.

``memory://`` opens a fresh, private catalog. ``memory://NAME`` opens the process-wide
catalog called NAME, so code that opens and closes its catalog per run (the executor does)
still sees what the previous run committed; it lives until the process ends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from hakiri.context.catalog._commit import Snapshot, commit
from hakiri.context.catalog._fencing import Fence
from hakiri.context.catalog._rules import (
    INTERRUPTED,
    check_event_run,
    json_value,
    stored_event,
    to_utc,
)
from hakiri.core.clock import SystemClock
from hakiri.core.cursor import Cursor
from hakiri.core.errors import CatalogError, ConfigError
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

__all__ = ["MemoryCatalog", "open_memory_catalog"]

_T = TypeVar("_T")


@dataclass(slots=True)
class _State:
    """Everything the catalog holds. Records inside are never mutated, only replaced, so a
    copy of the containers is a snapshot."""

    cursors: dict[str, Cursor] = field(default_factory=dict)
    runs: dict[str, RunRecord] = field(default_factory=dict)
    steps: dict[str, dict[str, StepRecord]] = field(default_factory=dict)
    tables: dict[str, TableRecord] = field(default_factory=dict)
    files: list[FileRecord] = field(default_factory=list)
    schemas: dict[str, list[SchemaVersion]] = field(default_factory=dict)
    events: list[CatalogEvent] = field(default_factory=list)
    fences: dict[tuple[str, str | None], Fence] = field(default_factory=dict)

    def copy(self) -> _State:
        return _State(
            cursors=dict(self.cursors),
            runs=dict(self.runs),
            steps={run_id: dict(steps) for run_id, steps in self.steps.items()},
            tables=dict(self.tables),
            files=list(self.files),
            schemas={name: list(versions) for name, versions in self.schemas.items()},
            events=list(self.events),
            fences=dict(self.fences),
        )


class MemoryCatalog:
    """A ``Catalog`` in plain dicts behind a lock. ``commit`` builds the next state on a
    copy and swaps it in at the end, so a failure anywhere leaves the state untouched.

    ``clock`` is the catalog's time, by which a commit's lease is judged expired.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._lock = threading.RLock()
        self._state = _State()
        self._clock: Clock = clock if clock is not None else SystemClock()

    # -- cursors ----------------------------------------------------------------------------

    def get_cursor(self, pipeline: str) -> Cursor | None:
        with self._lock:
            cursor = self._state.cursors.get(pipeline)
        return None if cursor is None else replace(cursor, value=_fresh(cursor.value))

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        record = replace(
            run,
            status=RunStatus(run.status),
            started_at=to_utc(run.started_at),
            finished_at=to_utc(run.finished_at) if run.finished_at else None,
        )
        with self._lock:
            if run.run_id in self._state.runs:
                raise CatalogError(f"run {run.run_id!r} already exists")
            self._state.runs[run.run_id] = record

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            run = self._state.runs.get(run_id)
        # RunRecord is mutable: hand out copies so callers cannot edit the catalog.
        return None if run is None else replace(run)

    def list_runs(self, pipeline: str | None = None, *, limit: int = 20) -> list[RunRecord]:
        with self._lock:
            runs = [r for r in self._state.runs.values() if pipeline in (None, r.pipeline)]
        runs.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        return [replace(r) for r in runs[: max(limit, 0)]]

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        *,
        finished_at: datetime,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        finished_at = to_utc(finished_at)
        with self._lock:
            run = self._state.runs.get(run_id)
            if run is None:
                raise CatalogError(f"cannot finish unknown run {run_id!r}")
            self._state.runs[run_id] = replace(
                run,
                status=RunStatus(status),
                finished_at=finished_at,
                error_code=error_code,
                error_message=error_message,
            )

    def interrupt_running(self, pipeline: str, *, finished_at: datetime, reason: str) -> list[str]:
        finished_at = to_utc(finished_at)
        with self._lock:
            running = sorted(
                (
                    r
                    for r in self._state.runs.values()
                    if r.pipeline == pipeline and r.status is RunStatus.RUNNING
                ),
                key=lambda r: r.started_at,
            )
            for run in running:
                self._state.runs[run.run_id] = replace(
                    run,
                    status=RunStatus.PARTIAL_FAILURE,
                    finished_at=finished_at,
                    error_code=INTERRUPTED,
                    error_message=reason,
                )
        return [r.run_id for r in running]

    # -- steps ------------------------------------------------------------------------------

    def record_step(self, step: StepRecord) -> None:
        step = _stored_step(step)
        with self._lock:
            if step.run_id not in self._state.runs:
                raise CatalogError(f"cannot record a step of unknown run {step.run_id!r}")
            self._state.steps.setdefault(step.run_id, {}).setdefault(step.key, step)

    def list_steps(self, run_id: str) -> list[StepRecord]:
        with self._lock:
            steps = list(self._state.steps.get(run_id, {}).values())
        return [replace(s, payload=_fresh(s.payload)) for s in steps]

    # -- commit -----------------------------------------------------------------------------

    def commit(self, request: CommitRequest) -> CommitResult:
        with self._lock:
            state = self._state.copy()
            result = commit(_Transaction(state), request, clock=self._clock)
            self._state = state
        cursor = replace(result.cursor, value=_fresh(result.cursor.value))
        return replace(result, cursor=cursor)

    # -- tables and files -------------------------------------------------------------------

    def list_tables(self) -> list[TableRecord]:
        with self._lock:
            return sorted(self._state.tables.values(), key=lambda table: table.name)

    def get_table(self, name: str) -> TableRecord | None:
        with self._lock:
            return self._state.tables.get(name)

    def list_files(self, table: str) -> list[FileRecord]:
        with self._lock:
            record = self._state.tables.get(table)
            if record is None:
                return []
            return [
                f
                for f in self._state.files
                if f.table == table and f.generation == record.generation
            ]

    def referenced_paths(self, table: str) -> set[str]:
        """Paths of the visible generation and of any generation still being built; older,
        replaced generations are garbage (see ``SqlCatalog.referenced_paths``)."""
        with self._lock:
            record = self._state.tables.get(table)
            if record is None:
                return set()
            return {
                f.path
                for f in self._state.files
                if f.table == table and f.generation >= record.generation
            }

    def schema_versions(self, table: str) -> list[SchemaVersion]:
        with self._lock:
            return list(self._state.schemas.get(table, []))

    def list_events(self, table: str | None = None) -> list[CatalogEvent]:
        with self._lock:
            events = [e for e in self._state.events if table in (None, e.table)]
        return [replace(e, payload=_fresh(e.payload)) for e in events]

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
        with self._lock:
            check_event_run(run_id, self._state.runs.__contains__)
            event = _append_event(self._state, table, kind, stored, run_id, at)
        return replace(event, payload=_fresh(event.payload))

    def close(self) -> None:
        """Nothing to release; a named catalog keeps its state for the next opener."""


def _fresh(value: _T) -> _T:
    """A private copy of a JSON value, as a database hands out a new one per read."""
    copied: _T = json_value(value, "value")
    return copied


def _stored_step(step: StepRecord) -> StepRecord:
    return replace(
        step,
        payload=json_value(step.payload, "step payload"),
        created_at=to_utc(step.created_at),
    )


def _latest(state: _State, table: str) -> SchemaVersion | None:
    versions = state.schemas.get(table)
    return versions[-1] if versions else None


def _append_event(
    state: _State, table: str, kind: str, payload: Any, run_id: str | None, at: datetime
) -> CatalogEvent:
    # Ids follow insertion order and are never reused, as an autoincrement key.
    event = CatalogEvent(len(state.events) + 1, table, kind, payload, run_id, at)
    state.events.append(event)
    return event


class _Transaction:
    """The ``CommitStore`` of one commit: reads and writes go to a copy of the state, which
    the catalog swaps in only if the whole commit succeeds."""

    def __init__(self, state: _State) -> None:
        self._state = state

    def read(self, request: CommitRequest) -> Snapshot:
        state, lease = self._state, request.lease
        if lease is not None:
            fence = state.fences.get((lease.pipeline, lease.shard))
        else:
            fences = [f for (p, _), f in state.fences.items() if p == request.pipeline]
            fence = max(fences, key=lambda f: f.token, default=None)
        cursor = state.cursors.get(request.pipeline)
        paths = {f.path for f in request.files}
        return Snapshot(
            fence=fence,
            version=None if cursor is None else cursor.version,
            run_exists=request.run_id in state.runs,
            table=state.tables.get(request.table),
            latest_schema=_latest(state, request.table),
            published=next((f.path for f in state.files if f.path in paths), None),
        )

    def store_cursor(
        self, pipeline: str, cursor: Cursor, *, expected: int, exists: bool, at: datetime
    ) -> None:
        self._state.cursors[pipeline] = cursor

    def add_to_run(self, run_id: str, *, rows: int, pages: int, files: int) -> None:
        run = self._state.runs[run_id]
        self._state.runs[run_id] = replace(
            run, rows=run.rows + rows, pages=run.pages + pages, files=run.files + files
        )

    def add_step(self, step: StepRecord) -> None:
        self._state.steps.setdefault(step.run_id, {}).setdefault(step.key, step)

    def save_fence(self, fence: Fence, *, exists: bool, at: datetime) -> None:
        self._state.fences[(fence.pipeline, fence.shard)] = fence

    def save_table(self, record: TableRecord, *, exists: bool) -> None:
        self._state.tables[record.name] = record

    def add_schema_version(self, version: SchemaVersion) -> None:
        self._state.schemas.setdefault(version.table, []).append(version)

    def add_files(self, files: list[FileRecord]) -> None:
        self._state.files.extend(files)

    def add_event(
        self, table: str, kind: str, payload: Any, run_id: str | None, at: datetime
    ) -> None:
        _append_event(self._state, table, kind, payload, run_id, at)


_named: dict[str, MemoryCatalog] = {}
_named_lock = threading.Lock()


def open_memory_catalog(url: str) -> MemoryCatalog:
    """The ``hakiri.catalogs`` entry point for ``memory://`` (fresh) and ``memory://NAME``
    (shared within the process)."""
    scheme, sep, name = url.partition("://")
    if not sep or scheme.lower() != "memory":
        raise ConfigError(f"not an in-memory catalog URL: {url!r}", hint="use memory://")
    name = name.strip("/")
    if not name:
        return MemoryCatalog()
    with _named_lock:
        return _named.setdefault(name, MemoryCatalog())
