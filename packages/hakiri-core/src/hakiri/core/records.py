"""Plain records exchanged through the ports: pages, plans, runs, steps, files, leases,
commits."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hakiri.core.cursor import Cursor, CursorKind, JsonValue
from hakiri.core.policies import SchemaPolicy, WriteDisposition
from hakiri.core.schema import Schema

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "SCHEMA_DECISION",
    "CatalogEvent",
    "CommitRequest",
    "CommitResult",
    "FileRecord",
    "Lease",
    "Page",
    "PageData",
    "Plan",
    "RunRecord",
    "RunStatus",
    "SchemaAction",
    "SchemaChange",
    "SchemaPolicy",
    "SchemaVersion",
    "StagedFile",
    "StepRecord",
    "StreamInfo",
    "TableRecord",
    "WriteDisposition",
    "schema_ref",
]


SCHEMA_DECISION = "schema_decision"
"""The kind of the catalog event that records one ``SchemaChange``."""


class SchemaAction(enum.StrEnum):
    """What a schema decision did to a column."""

    ADDED = "added"
    WIDENED = "widened"
    REJECTED = "rejected"
    DISCARDED = "discarded"
    VARIANT = "variant"


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """One schema decision about one column of a batch, as a catalog event records it."""

    policy: SchemaPolicy
    action: SchemaAction
    change: str
    """What the batch did: ``new_column``, ``widening`` or ``incompatible``."""
    column: str
    before: str | None
    """The column's type in the table (None: the table has no such column)."""
    after: str | None
    """The type the batch brought (for ``widened``: the type the column now has)."""
    rows: int = 0
    """Rows affected: values added or widened, rows dropped, values kept as variant."""
    variant_column: str | None = None
    """For ``variant``: the column that holds the values as JSON text."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "policy": self.policy.value,
            "action": self.action.value,
            "change": self.change,
            "column": self.column,
            "before": self.before,
            "after": self.after,
            "rows": self.rows,
        }
        if self.variant_column is not None:
            out["variant_column"] = self.variant_column
        return out

    def payload(
        self, before_schema: dict[str, Any] | None, after_schema: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The payload of the ``schema_decision`` event recording this decision."""
        return {**self.to_dict(), "before_schema": before_schema, "after_schema": after_schema}

    @property
    def key(self) -> tuple[str, ...]:
        """What makes two decisions the same one (their rows add up)."""
        return (
            self.policy.value,
            self.action.value,
            self.change,
            self.column,
            str(self.before),
            str(self.after),
            str(self.variant_column),
        )


def schema_ref(schema: Schema | None, version: int | None) -> dict[str, Any] | None:
    """How a schema decision points at a table schema: its catalog version and fingerprint.
    A schema the catalog has not stored (``version`` None) carries its columns as well."""
    if schema is None:
        return None
    ref: dict[str, Any] = {"version": version, "fingerprint": schema.fingerprint}
    if version is None:
        ref["columns"] = [f.to_dict() for f in schema.fields]
    return ref


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


_MAX_TOKEN = 2**63 - 1  # a signed 64-bit integer: what every catalog backend can store


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to commit for one pipeline (or one shard of it) until ``expires_at``.

    Whoever grants leases (the coordinator, a bucket) gives every grant of a key a fencing
    ``token`` larger than any earlier grant of that key, and a renewal keeps the token. A
    commit carrying the lease is refused once the catalog has seen a newer token for the
    key (``LeaseLost``), so a worker that lost its lease cannot commit, however late it wakes.
    """

    pipeline: str
    holder: str
    """Who holds the lease (a worker id); the same token always has the same holder."""
    token: int
    expires_at: datetime
    """Timezone-aware; judged by the catalog's clock, not the committing worker's."""
    shard: str | None = None
    """The shard the lease covers; None for the whole pipeline."""

    def __post_init__(self) -> None:
        if isinstance(self.token, bool) or not isinstance(self.token, int):
            raise ValueError(f"a fencing token is an integer, got {self.token!r}")
        if not 0 <= self.token <= _MAX_TOKEN:
            raise ValueError(f"a fencing token is between 0 and 2**63-1, got {self.token}")
        if self.expires_at.tzinfo is None or self.expires_at.utcoffset() is None:
            raise ValueError(f"a lease expires at a timezone-aware time, got {self.expires_at!r}")
        if not self.pipeline or not self.holder:
            raise ValueError("a lease names its pipeline and its holder")
        if self.shard == "":
            raise ValueError("a lease's shard is None (the whole pipeline) or a non-empty name")

    @property
    def key(self) -> tuple[str, str | None]:
        """What the token counts grants of: the pipeline and the shard."""
        return (self.pipeline, self.shard)

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "shard": self.shard,
            "holder": self.holder,
            "token": self.token,
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lease:
        shard = data.get("shard")
        return cls(
            pipeline=str(data["pipeline"]),
            holder=str(data["holder"]),
            token=data["token"],
            expires_at=datetime.fromisoformat(str(data["expires_at"])),
            shard=None if shard is None else str(shard),
        )


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
    schema_policy: SchemaPolicy = SchemaPolicy.EVOLVE
    """Recorded on the table: the latest writer's policy wins."""
    schema_changes: tuple[SchemaChange, ...] = ()
    """Schema decisions taken for the pages of this commit; each becomes a
    ``schema_decision`` event in the commit's transaction."""
    rewrite: bool = False
    """A compaction: the files replace every visible file of the table in a new generation
    (visible with ``finalize``), while the table keeps its write disposition."""
    lease: Lease | None = None
    """The lease the committing worker holds on ``pipeline``. The catalog refuses the commit
    (``LeaseLost``) if the lease has expired or a newer token was seen for its key, and
    refuses a commit without a lease once the pipeline has been committed under one."""


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
    schema_policy: SchemaPolicy = SchemaPolicy.EVOLVE


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
