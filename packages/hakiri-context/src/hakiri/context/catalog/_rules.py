"""The rules every catalog adapter applies, kept in one place so the adapters agree.

Pure functions: no I/O, no backend. ``SqlCatalog`` and ``MemoryCatalog`` both call these, and
the conformance suite checks that they end up with the same state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from hakiri.core.errors import CatalogError, CursorConflict
from hakiri.core.records import CommitRequest, SchemaVersion, WriteDisposition, schema_ref
from hakiri.core.schema import Schema

__all__ = [
    "INTERRUPTED",
    "check_event_run",
    "check_request",
    "conflict",
    "decision_payloads",
    "json_value",
    "builds_generation",
    "next_generation",
    "schema_change",
    "stored_event",
    "to_utc",
]

INTERRUPTED = "interrupted"
"""``error_code`` of a run whose process was found gone by ``interrupt_running``."""


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC; naive datetimes are refused because their zone is unknown."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"the catalog stores timezone-aware datetimes only, got {value!r}")
    return value.astimezone(UTC)


def json_value(value: Any, what: str) -> Any:
    """``value`` as it comes back from the catalog (a JSON round trip), or ``CatalogError``.

    Both adapters pass values through this before storing them, so a tuple comes back as a
    list from either, and a value JSON cannot hold fails the same way in both.
    """
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"{what} cannot be stored as JSON: {exc}") from None
    return json.loads(text)


def conflict(pipeline: str, expected: int, actual: int) -> CursorConflict:
    return CursorConflict(
        f"cursor of pipeline {pipeline!r} is at version {actual}, but the commit expected "
        f"version {expected}: another run committed first, nothing was written",
        hint="run the pipeline again; it continues from the committed cursor",
        pipeline=pipeline,
        expected_version=expected,
        actual_version=actual,
    )


def check_request(request: CommitRequest, *, run_exists: bool) -> None:
    """Refuse a commit that could never be right, before anything is written."""
    if not run_exists:
        raise CatalogError(
            f"commit for unknown run {request.run_id!r}: create the run before committing"
        )
    if request.step.run_id != request.run_id:
        raise CatalogError(
            f"commit step belongs to run {request.step.run_id!r}, not {request.run_id!r}"
        )
    seen: set[str] = set()
    for file in request.files:
        path = PurePosixPath(file.path)
        if path.is_absolute() or ".." in path.parts or "\\" in file.path or not file.path:
            raise CatalogError(
                f"file path {file.path!r} must be relative to the store root, with forward "
                "slashes and no '..'"
            )
        if file.path in seen:
            raise CatalogError(f"file {file.path!r} appears twice in one commit")
        seen.add(file.path)


def builds_generation(request: CommitRequest) -> bool:
    """Whether the commit's files form a new generation rather than join the visible one: a
    ``replace`` sweep, or a compaction (``rewrite``) of any table."""
    return request.write is WriteDisposition.REPLACE or request.rewrite


def next_generation(request: CommitRequest, current: int) -> int:
    """The generation a commit's files join.

    ``append`` and ``merge`` add to what readers see now; ``replace`` and a compaction build
    the next generation, which becomes visible when the last commit finalizes it.
    """
    return current + 1 if builds_generation(request) else current


def schema_change(old: SchemaVersion | None, new: Schema, version: int) -> dict[str, Any]:
    """The payload of a ``schema_version`` event: which columns came, went or changed."""
    before = {f.name: f for f in old.schema.fields} if old else {}
    after = {f.name: f for f in new.fields}
    return {
        "from": old.version if old else None,
        "to": version,
        "added": [name for name in after if name not in before],
        "removed": [name for name in before if name not in after],
        "changed": [
            name for name, field in after.items() if name in before and before[name] != field
        ],
    }


def decision_payloads(
    request: CommitRequest, before: SchemaVersion | None, after: SchemaVersion | None
) -> list[dict[str, Any]]:
    """The payloads of the ``schema_decision`` events a commit carries: each decision with
    the table's schema version before the commit and the one its files have now."""
    before_ref = schema_ref(before.schema, before.version) if before else None
    after_ref = schema_ref(after.schema, after.version) if after else None
    return [
        json_value(change.payload(before_ref, after_ref), "schema decision")
        for change in request.schema_changes
    ]


def stored_event(payload: dict[str, Any], at: datetime) -> tuple[Any, datetime]:
    """An event's payload and time as the catalog stores them: a JSON round trip (else
    ``CatalogError``) and UTC (a naive time raises ``ValueError``)."""
    return json_value(payload, "event payload"), to_utc(at)


def check_event_run(run_id: str | None, run_exists: Callable[[str], bool]) -> None:
    """Refuse an event of a run the catalog does not have (an event may name no run)."""
    if run_id is not None and not run_exists(run_id):
        raise CatalogError(f"cannot record an event of unknown run {run_id!r}")
