"""The ports: what the runtime needs from sources, destinations, catalogs, clocks, secrets,
leases.

Implementations live in other members and are found through entry points
(``hakiri.connectors``, ``hakiri.catalogs``); nothing here imports them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, Protocol, runtime_checkable

from hakiri.core.cursor import Cursor, JsonValue
from hakiri.core.records import (
    CatalogEvent,
    CommitRequest,
    CommitResult,
    FileRecord,
    Lease,
    Page,
    PageData,
    Plan,
    RunRecord,
    RunStatus,
    SchemaVersion,
    StagedFile,
    StepRecord,
    StreamInfo,
    TableRecord,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from pydantic import BaseModel

__all__ = [
    "Catalog",
    "Clock",
    "ConnectorFactory",
    "Destination",
    "Host",
    "Leases",
    "ObjectData",
    "ObjectInfo",
    "ObjectReader",
    "ObjectStore",
    "PutBody",
    "PutResult",
    "SecretResolver",
    "Source",
    "Transform",
]


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SecretResolver(Protocol):
    def resolve(self, name: str) -> str:
        """The value of secret ``name``; raises ``SecretError`` when it is not set."""
        ...


class Source(Protocol):
    """A connector that reads. ``plan`` and ``read`` are pure with respect to the store."""

    def discover(self) -> list[StreamInfo]:
        """The streams this source produces, with schemas where they can be known cheaply."""
        ...

    def plan(self, cursor: JsonValue) -> Plan:
        """The pages to read, starting after the committed ``cursor`` value (None: from the
        beginning)."""
        ...

    def read(self, page: Page) -> PageData:
        """Read one page; report the pages it reveals and the cursor it reached."""
        ...

    def close(self) -> None: ...


class Destination(Protocol):
    """Where pages land: staged first, published by ``commit``."""

    def prepare(self, table: str, *, live_runs: set[str]) -> list[str]:
        """Remove staged files of ``table`` that no committed state references and that no
        live run owns; return their paths."""
        ...

    def stage(self, table: str, data: pa.Table, *, run_id: str, seq: int) -> StagedFile:
        """Write ``data`` as a file that readers cannot see yet."""
        ...

    def commit(self, request: CommitRequest) -> CommitResult:
        """Publish staged files and move the cursor, atomically."""
        ...

    def close(self) -> None: ...


class Transform(Protocol):
    def apply(self, data: pa.Table) -> pa.Table: ...


class Catalog(Protocol):
    """The single source of truth for runs, cursors, published files and schemas.

    Rules every adapter follows (``hakiri.context.testing.CatalogConformance`` checks them):
    datetimes are timezone-aware (naive ones raise ``ValueError``); file paths are relative
    to the store, with forward slashes and no ``..``, and each is published once; creating a
    run twice, or finishing / recording a step / committing for an unknown run, raises
    ``CatalogError``.
    """

    def get_cursor(self, pipeline: str) -> Cursor | None: ...

    def create_run(self, run: RunRecord) -> None: ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def list_runs(self, pipeline: str | None = None, *, limit: int = 20) -> list[RunRecord]:
        """Newest first."""
        ...

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        *,
        finished_at: datetime,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None: ...

    def interrupt_running(self, pipeline: str, *, finished_at: datetime, reason: str) -> list[str]:
        """Mark every run of ``pipeline`` still ``running`` as ``partial_failure`` (their
        process is known to be gone); return their ids."""
        ...

    def record_step(self, step: StepRecord) -> None:
        """Record a completed step; recording the same (run_id, key) again is a no-op."""
        ...

    def list_steps(self, run_id: str) -> list[StepRecord]: ...

    def commit(self, request: CommitRequest) -> CommitResult:
        """Atomically: check the request's lease (fencing), compare-and-set the cursor on
        ``expected_version``, publish the files, record a new schema version if the files'
        schema is new, record each of ``schema_changes`` as a ``schema_decision`` event,
        record the step, add to the run's counters and keep the table's ``schema_policy``.
        Raises ``CursorConflict`` and changes nothing if the version moved.

        Fencing: a commit with a ``lease`` records its token as the newest seen for the
        lease's (pipeline, shard); one whose token is older than the newest seen, whose lease
        has expired by the catalog's clock, or that carries no lease although the pipeline
        has been committed under one, raises ``LeaseLost`` and changes nothing."""
        ...

    def list_tables(self) -> list[TableRecord]: ...

    def get_table(self, name: str) -> TableRecord | None: ...

    def list_files(self, table: str) -> list[FileRecord]:
        """The files readers see: the table's current generation, in commit order."""
        ...

    def referenced_paths(self, table: str) -> set[str]:
        """Every path of ``table`` that is visible or not yet visible (a pending ``replace``
        generation). Files of generations already replaced are not included: they are
        garbage the destination may delete."""
        ...

    def schema_versions(self, table: str) -> list[SchemaVersion]: ...

    def list_events(self, table: str | None = None) -> list[CatalogEvent]: ...

    def record_event(
        self,
        table: str,
        kind: str,
        payload: dict[str, Any],
        *,
        run_id: str | None,
        at: datetime,
    ) -> CatalogEvent:
        """Record an event that no commit carries (a schema change refused before anything
        was written, say) and return it. ``payload`` must be JSON; a ``run_id`` that is not
        None must name a known run, else ``CatalogError``."""
        ...

    def close(self) -> None: ...


class Leases(Protocol):
    """Who grants leases (the coordinator, a bucket): one holder per (pipeline, shard) at a
    time, each grant with a fencing token larger than every earlier grant of that key. The
    catalog checks the tokens (``Catalog.commit``); this port only hands them out."""

    def acquire(
        self, pipeline: str, *, holder: str, ttl: timedelta, shard: str | None = None
    ) -> Lease | None:
        """A new lease for ``holder``, or None while another holder's lease is live."""
        ...

    def renew(self, lease: Lease, *, ttl: timedelta) -> Lease:
        """The same lease (same token) with a later expiry; raises ``LeaseLost`` if it
        expired or was granted to someone else meanwhile."""
        ...

    def release(self, lease: Lease) -> None:
        """Give the lease up early; releasing a lease already lost does nothing."""
        ...


class Host(Protocol):
    """What the host process offers a connector. Secrets are resolved only through it."""

    @property
    def project_root(self) -> Path: ...

    @property
    def store_root(self) -> Path: ...

    @property
    def secrets(self) -> SecretResolver: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def catalog(self) -> Catalog: ...


class ConnectorFactory(Protocol):
    """What a ``hakiri.connectors`` entry point names: one object per connector."""

    name: str
    kind: Literal["source", "destination"]
    description: str

    @property
    def config_model(self) -> type[BaseModel]:
        """The pydantic model of the connector's options (its JSON Schema is the spec)."""
        ...

    def create(self, options: Mapping[str, Any], host: Host) -> Any:
        """A Source or Destination for validated ``options``; raises ``ConfigError``."""
        ...


# -- object stores ----------------------------------------------------------------------------

PutBody = bytes | bytearray | memoryview | PathLike[str] | BinaryIO | Iterable[bytes]
"""What a put takes: bytes, a file path or a binary file (read in chunks), or an iterator of
chunks — so a large file is streamed, never held in memory whole."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One stored object, as head and list report it."""

    key: str
    size: int
    etag: str
    """The stored version, without quotes: it changes whenever the content changes. Compare
    it, never parse it (a local store's is the MD5 of the content, S3's depends on how the
    object was uploaded)."""
    last_modified: datetime
    """Timezone-aware (UTC)."""


@dataclass(frozen=True, slots=True)
class PutResult:
    """What a put stored: the version to name in a later ``put_if_match`` / ``delete``."""

    key: str
    size: int
    etag: str


@dataclass(frozen=True, slots=True)
class ObjectData:
    """A whole object read by ``get``: its bytes and the version they are."""

    info: ObjectInfo
    data: bytes


class ObjectReader(Protocol):
    """An object opened for streaming: a raw binary file (an ``io.RawIOBase``: ``read``,
    ``readinto``, wrappable in ``io.BufferedReader``) that also yields chunks. Close it (or
    use ``with``); ``info`` is the version being read."""

    @property
    def info(self) -> ObjectInfo: ...

    @property
    def closed(self) -> bool: ...

    def read(self, size: int = -1, /) -> bytes:
        """At most ``size`` bytes (fewer is not the end: b"" is), or the rest with -1."""
        ...

    def readinto(self, buffer: bytearray | memoryview, /) -> int | None: ...

    def chunks(self, size: int = ...) -> Iterator[bytes]:
        """The rest of the object, ``size`` bytes (or fewer) at a time."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> ObjectReader: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...


class ObjectStore(Protocol):
    """Objects under '/'-separated keys (``context/orders/0001.parquet``), with conditional
    writes so that writers on many machines cannot silently overwrite each other.

    Every implementation passes ``hakiri.core.objectstore.testing.ObjectStoreConformance``.
    Keys are relative paths of plain segments: empty, absolute, ``.``/``..``, empty segments,
    backslashes and control characters raise ``InvalidObjectKey`` before the store is
    touched. A put is atomic: readers see the old object or the new one, never part of one,
    and a put that fails (its body iterator raised, the disk filled) leaves no object
    behind. ETags are compared without quotes. Errors are ``StoreError`` subclasses:
    ``ObjectNotFound``, ``PreconditionFailed``, ``StoreDenied``, ``StoreUnwritable``,
    ``StoreFull``, ``StoreUnreachable``. Methods may be called from many threads.
    """

    @property
    def url(self) -> str:
        """Where the objects live (``file:///…``, ``s3://bucket/prefix``), for messages."""
        ...

    def put(self, key: str, body: PutBody) -> PutResult:
        """Store ``body`` under ``key``, replacing any object there."""
        ...

    def put_if_absent(self, key: str, body: PutBody) -> PutResult:
        """Store ``body`` only if no object is at ``key``; of concurrent callers exactly one
        wins, the others get ``PreconditionFailed``."""
        ...

    def put_if_match(self, key: str, body: PutBody, etag: str) -> PutResult:
        """Replace the object only if its version is still ``etag``; of concurrent callers
        naming the same version exactly one wins. ``PreconditionFailed`` if the object
        changed or is missing."""
        ...

    def get(self, key: str) -> ObjectData:
        """The whole object and its version; ``ObjectNotFound`` if missing."""
        ...

    def open(self, key: str) -> ObjectReader:
        """The object for streaming (large objects); ``ObjectNotFound`` if missing."""
        ...

    def head(self, key: str) -> ObjectInfo:
        """Size, version and time of the object; ``ObjectNotFound`` if missing."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (a plain string prefix: ``a/b``
        matches ``a/b/c`` and ``a/bc``), in key order (UTF-8 bytes), fetched page by page."""
        ...

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Remove the object; a missing key is not an error, unless ``if_match`` names a
        version (then ``PreconditionFailed`` when it is missing or changed)."""
        ...

    def close(self) -> None: ...
