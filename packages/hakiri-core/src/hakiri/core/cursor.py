"""Cursors: how far a pipeline has read, committed with compare-and-set on ``version``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["Cursor", "CursorKind", "JsonValue"]

JsonValue = Any
"""A value that round-trips through JSON (dict, list, str, int, float, bool, None)."""


class CursorKind(enum.StrEnum):
    """How a cursor value moves forward."""

    MONOTONIC = "monotonic"
    """An ordered watermark (timestamp, id), or a mapping of shard → watermark: the newest
    value wins (per shard); merges freely."""
    OPAQUE_TOKEN = "opaque-token"
    """A token only the source understands (a sync token, a change-stream position)."""
    SNAPSHOT_ID = "snapshot-id"
    """The identity of a complete snapshot (an export id, a table version)."""
    KEYED = "keyed"
    """A set of items, each at its own version: a JSON object key → version (files by
    content hash, objects by ETag; a version is any JSON value). An observed object merges
    key by key, the observed version winning; a key observed as ``null`` is removed (a
    tombstone: the item is gone). So each page reports only its own items, the value never
    travels whole, and cursors merge across runs and machines like a monotonic one does."""

    def advance(self, current: JsonValue, observed: JsonValue) -> JsonValue:
        """The cursor value after ``observed`` has been read on top of ``current``."""
        if observed is None:
            return current
        if self is CursorKind.KEYED:
            return _merge_keyed(current, observed)
        if current is None or self is not CursorKind.MONOTONIC:
            return observed
        if isinstance(current, dict) and isinstance(observed, dict):
            # A sharded watermark ({"owner/repo": "2026-…"}): each shard moves on its own,
            # so two cursors merge key by key and neither shard ever goes back.
            merged = dict(current)
            for shard, value in observed.items():
                merged[shard] = self.advance(merged.get(shard), value)
            return merged
        try:
            return observed if observed > current else current
        except TypeError:
            # Mixed types (e.g. an int id and a string) cannot be ordered: compare as text
            # so a run still moves forward deterministically.
            return observed if str(observed) > str(current) else current


def _merge_keyed(current: JsonValue, observed: JsonValue) -> dict[str, JsonValue]:
    if not isinstance(observed, dict) or not (current is None or isinstance(current, dict)):
        # A source bug, not bad input: a keyed cursor is only ever an object of versions.
        raise TypeError(
            f"a keyed cursor merges JSON objects, not {type(current).__name__} "
            f"and {type(observed).__name__}"
        )
    merged = dict(current or {})
    for key, version in observed.items():
        if version is None:
            merged.pop(key, None)
        else:
            merged[key] = version
    return merged


@dataclass(frozen=True, slots=True)
class Cursor:
    """A committed cursor: its kind, its JSON value and the version compare-and-set checks."""

    kind: CursorKind
    value: JsonValue
    version: int
