"""What the steps record in the catalog, and the two pure rules they rest on: how pages are
grouped into pull steps, and how a group's cursor observations fold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.records import (
    Page,
    SchemaAction,
    SchemaChange,
    SchemaPolicy,
    StagedFile,
)
from hakiri.core.schema import Schema
from hakiri.runtime.steps.errors import UnknownPage

__all__ = [
    "COMMIT",
    "PLAN",
    "PlanRecord",
    "PullRecord",
    "fold_observed",
    "group_pages",
    "pull_key",
]

PLAN = "plan"
COMMIT = "commit"


def pull_key(index: int) -> str:
    """The step key of the pull of group ``index``."""
    return f"pull:{index}"


def group_pages(count: int, limit: int) -> list[tuple[int, int]]:
    """``count`` pages as at most ``limit`` runs of consecutive pages, ``(start, stop)``
    each: one page per group while they fit, else groups as even as can be."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    groups = min(count, limit)
    if groups == 0:
        return []
    size, extra = divmod(count, groups)
    bounds: list[tuple[int, int]] = []
    start = 0
    for i in range(groups):
        stop = start + size + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def fold_observed(kind: CursorKind, earlier: JsonValue, later: JsonValue) -> JsonValue:
    """Two pages' cursor observations as one, so that ``kind.advance(c, folded)`` equals
    ``kind.advance(kind.advance(c, earlier), later)`` for any ``c``.

    A pull does not know the value its group's cursors will fold onto (the groups before it
    are not committed), so it keeps what its pages observed, and the commit folds the groups
    in page order. For every kind but ``keyed`` that is ``advance`` itself (the newest value
    wins, or the last token); a keyed observation keeps its tombstones (``null`` versions)
    until it meets the value they delete.
    """
    if (
        kind is CursorKind.KEYED
        and isinstance(later, dict)
        and (earlier is None or isinstance(earlier, dict))
    ):
        return {**(earlier or {}), **later}
    return kind.advance(earlier, later)


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """The ``plan`` step's payload: everything the later steps need."""

    pages: list[Page]
    groups: list[tuple[int, int]]
    """One ``(start, stop)`` slice of ``pages`` per pull step."""
    kind: CursorKind
    version: int
    """The cursor version the plan was made against: the commit compares and sets it."""
    start: JsonValue
    """The value the groups' cursors fold onto: the committed position (None for a
    ``replace``), or the value an interrupted sweep had reached."""
    resumed_from: str | None
    interrupted: list[str] = field(default_factory=list)
    removed: int = 0
    """Staged files the plan collected."""

    def to_payload(self) -> dict[str, Any]:
        return {
            "pages": [p.to_dict() for p in self.pages],
            "groups": [list(g) for g in self.groups],
            "cursor_kind": self.kind.value,
            "cursor_version": self.version,
            "start": self.start,
            "resumed_from": self.resumed_from,
            "interrupted_runs": self.interrupted,
            "removed_files": self.removed,
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> PlanRecord:
        return cls(
            pages=[Page.from_dict(p) for p in data["pages"]],
            groups=[(int(a), int(b)) for a, b in data["groups"]],
            kind=CursorKind(data["cursor_kind"]),
            version=int(data["cursor_version"]),
            start=data.get("start"),
            resumed_from=data.get("resumed_from"),
            interrupted=[str(r) for r in data.get("interrupted_runs") or []],
            removed=int(data.get("removed_files") or 0),
        )

    def index(self, page: str, run_id: str) -> int:
        """The group index of page id ``page``, or ``UnknownPage``."""
        try:
            index = int(page)
        except ValueError:
            index = -1
        # Only the spelling the plan gave: " 1" or "01" is no page id.
        if 0 <= index < len(self.groups) and str(index) == page:
            return index
        known = f"'0' to '{len(self.groups) - 1}'" if self.groups else "none, nothing to pull"
        raise UnknownPage(
            f"run {run_id!r} has no page {page!r} (its plan's pages: {known})",
            hint="use a page id the plan step returned",
        )

    def group(self, index: int) -> list[Page]:
        start, stop = self.groups[index]
        return self.pages[start:stop]


@dataclass(frozen=True, slots=True)
class PullRecord:
    """A ``pull:<id>`` step's payload."""

    pages_read: int
    rows: int
    files: list[StagedFile]
    cursor: JsonValue
    """What the group's pages observed, folded with ``fold_observed``."""
    next_seq: int
    """The sequence number of the next staged file: the next group's files follow."""
    schema: Schema | None
    """The schema gate's schema after the group: the next group's pages conform to it."""
    schema_version: int | None
    """The catalog version ``schema`` matches (None: it holds uncommitted changes)."""
    changes: list[SchemaChange]
    """The group's schema decisions, for the commit to carry."""

    def to_payload(self) -> dict[str, Any]:
        return {
            "pages_read": self.pages_read,
            "rows": self.rows,
            "files": [
                {
                    "path": f.path,
                    "rows": f.rows,
                    "bytes": f.bytes,
                    "checksum": f.checksum,
                    "schema": f.schema.fingerprint,
                }
                for f in self.files
            ],
            # Each schema once: a group's files mostly share one.
            "schemas": {f.schema.fingerprint: f.schema.to_dict() for f in self.files},
            "cursor": self.cursor,
            "next_seq": self.next_seq,
            "gate": {
                "schema": self.schema.to_dict() if self.schema else None,
                "version": self.schema_version,
            },
            "changes": [c.to_dict() for c in self.changes],
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> PullRecord:
        schemas = {fp: Schema.from_dict(s) for fp, s in data["schemas"].items()}
        gate = data["gate"]
        return cls(
            pages_read=int(data["pages_read"]),
            rows=int(data["rows"]),
            files=[
                StagedFile(
                    path=f["path"],
                    rows=int(f["rows"]),
                    bytes=int(f["bytes"]),
                    checksum=f["checksum"],
                    schema=schemas[f["schema"]],
                )
                for f in data["files"]
            ],
            cursor=data.get("cursor"),
            next_seq=int(data["next_seq"]),
            schema=Schema.from_dict(gate["schema"]) if gate.get("schema") else None,
            schema_version=gate.get("version"),
            changes=[_change(c) for c in data.get("changes") or []],
        )


def _change(data: dict[str, Any]) -> SchemaChange:
    return SchemaChange(
        policy=SchemaPolicy(data["policy"]),
        action=SchemaAction(data["action"]),
        change=str(data["change"]),
        column=str(data["column"]),
        before=data.get("before"),
        after=data.get("after"),
        rows=int(data.get("rows") or 0),
        variant_column=data.get("variant_column"),
    )
