"""The one error hierarchy of Hakiri.

Every error carries a stable ``code`` (for machines: JSON output, MCP, HTTP) and a message a
person can act on. The CLI prints ``error[code]: message`` on one line and exits non-zero.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any, ClassVar

from hakiri.core.terminal import printable

if TYPE_CHECKING:
    from hakiri.core.records import SchemaChange

__all__ = [
    "CapabilityDenied",
    "CatalogError",
    "CatalogNotFound",
    "ConfigError",
    "CursorConflict",
    "HakiriError",
    "InvalidObjectKey",
    "LeaseLost",
    "ManifestError",
    "MissingDependency",
    "ObjectNotFound",
    "PipelineBusy",
    "PreconditionFailed",
    "PrimaryKeyMissing",
    "QueryError",
    "QueryRefused",
    "QueryBusy",
    "QueryMemoryExceeded",
    "QueryTimeout",
    "QueryTooLong",
    "SchemaFrozen",
    "SchemaIncompatible",
    "SchemaRejected",
    "SecretError",
    "SourceError",
    "SourceHttpError",
    "SourceUnreachable",
    "StoreError",
    "StoreDenied",
    "StoreFull",
    "StoreUnreachable",
    "StoreUnwritable",
    "TransformError",
    "TransformRefused",
    "UnknownConnector",
    "UnknownPipeline",
    "UnknownTable",
    "UnknownRun",
    "store_os_error",
]


class HakiriError(Exception):
    """Base of every error Hakiri raises on purpose."""

    code: ClassVar[str] = "hakiri_error"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def one_line(self) -> str:
        """The message and the hint on a single line, as the CLI prints it: control
        characters a message quotes from data (ESC, OSC…) are written as visible escapes."""
        text = " ".join(self.message.split())
        if self.hint:
            text = f"{text} — {' '.join(self.hint.split())}"
        return printable(text)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        if self.details:
            out["details"] = {k: v for k, v in self.details.items() if _jsonable(v)}
        return out


def _jsonable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None) | list | dict)


class ManifestError(HakiriError):
    """The manifest (``hakiri.toml`` or ``pipelines/*``) cannot be read or is invalid."""

    code = "manifest_invalid"
    exit_code = 2


class ConfigError(HakiriError):
    """A connector's configuration is invalid."""

    code = "config_invalid"
    exit_code = 2


class UnknownConnector(ConfigError):
    code = "unknown_connector"


class UnknownPipeline(HakiriError):
    code = "unknown_pipeline"
    exit_code = 2


class UnknownTable(HakiriError):
    code = "unknown_table"
    exit_code = 2


class UnknownRun(HakiriError):
    """No such run: an unknown run id, a run of another pipeline, or (in the step protocol)
    a workflow run no plan step opened."""

    code = "unknown_run"
    exit_code = 2


class SecretError(HakiriError):
    """A ``secret://NAME`` reference cannot be resolved."""

    code = "secret_missing"
    exit_code = 2


class CapabilityDenied(HakiriError):
    code = "capability_denied"
    exit_code = 2


class MissingDependency(HakiriError):
    """An optional package is not installed; the message names the extra to install."""

    code = "missing_dependency"
    exit_code = 2


class SourceError(HakiriError):
    """The source failed while being read."""

    code = "source_error"


class SourceUnreachable(SourceError):
    code = "source_unreachable"


class SourceHttpError(SourceError):
    code = "source_http_error"


class CatalogError(HakiriError):
    code = "catalog_error"


class CatalogNotFound(CatalogError):
    """A catalog opened to be read (queries, ``pipeline list``) does not exist yet: no run
    has written one. Readers create nothing, so they say so instead."""

    code = "catalog_not_found"


class CursorConflict(CatalogError):
    """Compare-and-set on a cursor failed: someone else committed first."""

    code = "cursor_conflict"


class LeaseLost(HakiriError):
    """A commit carried a lease that is no longer the newest for its pipeline/shard (or has
    expired, or carried none where leases are in use): another worker took over and this
    one must stop. Nothing of the commit was written."""

    code = "lease_lost"


class PipelineBusy(HakiriError):
    code = "pipeline_busy"


class StoreError(HakiriError):
    code = "store_error"


class StoreFull(StoreError):
    """The disk (or quota) that holds the store has no room left; nothing was published."""

    code = "store_full"


class StoreUnwritable(StoreError):
    """The store's files or directories cannot be written (permissions, read-only mount)."""

    code = "store_unwritable"


_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_NO_WRITE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def store_os_error(exc: OSError, doing: str) -> StoreError:
    """What a filesystem error while ``doing`` something to the store means, in one line."""
    where = f" ({exc.filename})" if exc.filename else ""
    reason = exc.strerror or type(exc).__name__
    if exc.errno in _NO_SPACE:
        return StoreFull(
            f"no space left while {doing}{where}",
            hint="free space on the store's disk (or raise the quota), then run again: the "
            "run resumes where it stopped",
        )
    if exc.errno in _NO_WRITE:
        return StoreUnwritable(
            f"cannot write the store while {doing}{where}: {reason}",
            hint="make the store directory writable for this user, then run again",
        )
    return StoreError(f"{doing} failed{where}: {reason}", hint="check the store's disk")


class QueryError(HakiriError):
    code = "query_error"


class QueryRefused(QueryError):
    """The query layer admits read-only SQL over the store only."""

    code = "query_refused"
    exit_code = 2


class QueryTimeout(QueryError):
    code = "query_timeout"


class QueryMemoryExceeded(QueryError):
    """A query needed more memory than its bound (``[query] memory``); it was stopped."""

    code = "query_memory"


class QueryTooLong(QueryRefused):
    """The SQL text is longer than ``[query] max_sql_length``; refused before parsing."""

    code = "query_too_long"


class QueryBusy(QueryError):
    """Every query process is busy and the waiting queue is full; try again shortly."""

    code = "query_busy"
    retry_after = 1


class TransformError(HakiriError):
    """A pipeline's SQL transform failed on a batch; the run fails, nothing of it is kept."""

    code = "transform_failed"


class TransformRefused(TransformError):
    """A transform's SQL is not one SELECT; refused before the run starts."""

    code = "transform_refused"
    exit_code = 2


class PrimaryKeyMissing(HakiriError):
    """A table's ``primary_key`` names columns its data does not have; the run fails at its
    first page, before anything is written."""

    code = "primary_key_missing"
    exit_code = 2


class SchemaRejected(HakiriError):
    """A batch's schema differs from its table's in a way the table's policy refuses; the
    run fails and nothing of that batch is written. ``changes`` holds the refused columns."""

    code = "schema_rejected"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        changes: tuple[SchemaChange, ...] = (),
        **details: Any,
    ) -> None:
        super().__init__(message, hint=hint, **details)
        self.changes = changes


class SchemaFrozen(SchemaRejected):
    """The table's policy is ``freeze`` and a batch changed its schema."""

    code = "schema_frozen"


class SchemaIncompatible(SchemaRejected):
    """A column changed type incompatibly and the policy cannot keep the values."""

    code = "schema_incompatible"


# -- object stores (``hakiri.core.ports.ObjectStore``) -----------------------------------------


class ObjectNotFound(StoreError):
    """No object is stored under the key (a get, head or open of a missing key)."""

    code = "object_not_found"


class PreconditionFailed(StoreError):
    """A conditional write or delete lost: the object already existed (put-if-absent), or it
    changed or vanished since the version the caller named (put-if-match, delete-if-match).
    Nothing was written; read the object again and decide."""

    code = "precondition_failed"


class InvalidObjectKey(StoreError):
    """An object key is not a relative, '/'-separated path of plain segments."""

    code = "invalid_object_key"
    exit_code = 2


class StoreDenied(StoreError):
    """The store refused to let this process read or list (credentials, bucket policy,
    file permissions)."""

    code = "store_denied"


class StoreUnreachable(StoreError):
    """The store's endpoint cannot be reached (network, DNS, endpoint URL)."""

    code = "store_unreachable"
