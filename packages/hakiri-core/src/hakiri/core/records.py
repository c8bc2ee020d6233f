"""Plain records exchanged through the ports: pages, plans, runs, steps, files, commits."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hakiri.core.cursor import Cursor, CursorKind, JsonValue
from hakiri.core.schema import Schema

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CatalogEvent",
    "CommitRequest",
    "CommitResult",
    "FileRecord",
    "Page",
    "PageData",
    "Plan",
    "RunRecord",
    "RunStatus",
    "SchemaVersion",
    "StagedFile",
    "StepRecord",
    "StreamInfo",
    "TableRecord",
    "WriteDisposition",
]


class WriteDisposition(enum.StrEnum):
    """How committed files combine with what a table already holds."""

    APPEND = "append"
    REPLACE = "replace"
    MERGE = "merge"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL_FAILURE = "partial_failure"
    """Some work was committed (or the process died) before the run could finish."""
    FAILED = "failed"
    """Nothing of the run was committed."""


@dataclass(frozen=True, slots=True)
class Page:
    """A page descriptor: small and JSON-serialisable, never the page's data."""

    key: str
    params: dict[str, JsonValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "params": self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Page:
        return cls(key=str(data["key"]), params=dict(data.get("params") or {}))


@dataclass(frozen=True, slots=True)
class Plan:
    """What a run will read: the pages known now (reading a page may reveal more)."""

    pages: list[Page]
    cursor_kind: CursorKind
    description: str = ""


@dataclass(frozen=True, slots=True)
class PageData:
    """One page read from a source."""

    table: pa.Table
    next_pages: list[Page] = field(default_factory=list)
    cursor: JsonValue = None
    """The cursor value this page moves to (the newest watermark seen, or a new token)."""
    bytes_read: int = 0


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A stream (table) a source can produce, as ``discover()`` reports it."""

    name: str
    schema: Schema | None = None
    cursor_field: str | None = None
    primary_key: tuple[str, ...] = ()
    description: str = ""
    options: dict[str, JsonValue] = field(default_factory=dict)
    """Connector options that select this stream, merged over the configured ones (e.g.
    ``{"table": "public.orders"}``): how ``sample`` and an agent reach a stream the
    pipeline does not read."""


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A Parquet file written for a run but not yet visible to readers."""

    path: str
    """Relative to the store root, with forward slashes."""
    rows: int
    bytes: int
    checksum: str
    """``sha256:<hex>`` of the file's bytes."""
    schema: Schema


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A file the catalog has published for a table."""

    table: str
    path: str
    rows: int
    bytes: int
    checksum: str
    schema_version: int
    generation: int
    run_id: str
    committed_at: datetime


@dataclass(frozen=True, slots=True)
class StepRecord:
    """A completed step of a run (``plan``, ``pull``, ``commit``), keyed uniquely per run."""

    run_id: str
    key: str
    kind: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(slots=True)
class RunRecord:
    run_id: str
    pipeline: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None = None
    trigger: str = "manual"
    pid: int | None = None
    host: str | None = None
    rows: int = 0
    pages: int = 0
    files: int = 0
    error_code: str | None = None
    error_message: str | None = None
    resumed_from: str | None = None


@dataclass(frozen=True, slots=True)
class CommitRequest:
    """One atomic publication: files become visible and the cursor moves, or nothing does."""

    run_id: str
    pipeline: str
    table: str
    write: WriteDisposition
    files: list[StagedFile]
    cursor_kind: CursorKind
    cursor_value: JsonValue
    expected_version: int
    """The cursor version this commit builds on; 0 when the pipeline has no cursor yet."""
    step: StepRecord
    finalize: bool = False
    """The last commit of a sweep: for ``replace`` the new generation becomes visible."""
    pages: int = 0
    primary_key: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CommitResult:
    cursor: Cursor
    files: list[FileRecord]
    schema_version: int | None
    """The schema version of the commit's files; None for a commit without files."""


@dataclass(frozen=True, slots=True)
class TableRecord:
    name: str
    pipeline: str
    write: WriteDisposition
    generation: int
    schema_version: int
    primary_key: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    table: str
    version: int
    schema: Schema
    run_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CatalogEvent:
    """Something the catalog decided that people and agents should be able to see later."""

    id: int
    table: str
    kind: str
    payload: dict[str, Any]
    run_id: str | None
    at: datetime
