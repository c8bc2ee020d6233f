"""Incremental reading by file: which files a sweep reads, and the cursor that remembers.

Shared by the file and s3 sources. The cursor (``CursorKind.OPAQUE_TOKEN``) is an index
``{"files": {key: token}, …}``: each file read so far and the identity of the content that
was read (a SHA-256 for local files, the ETag for S3 objects). A plan lists the files now
there and reads those whose token is new or differs; files gone since drop out of the index.

Opaque cursors replace rather than merge, and a page may be read by another process than
the one that planned it, so the *last page of the plan carries the whole new index* in its
params and reports it as its cursor; the other pages report none. That fits the executor:
a commit in the middle of a sweep stores the unread pages (the last one, with the index,
among them) and keeps the old position; the final commit stores the index the last page
reported. When no file needs reading but the index changed (a file was deleted, a stat
record moved) the plan is a single ``index`` page that reads nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hakiri.core.cursor import JsonValue
from hakiri.core.errors import SourceError
from hakiri.core.records import Page

__all__ = ["INDEX_PAGE", "FileIndex", "Tracked", "page_index", "plan_pages"]

INDEX_PAGE = "index"
"""Key of the page that only carries the index (file page keys have a ``kind:`` prefix)."""
_PARAM = "index"


@dataclass(frozen=True, slots=True)
class Tracked:
    """A file the plan saw: its key, the identity of its content, the page that reads it."""

    key: str
    token: str
    page: Page


@dataclass(frozen=True, slots=True)
class FileIndex:
    """What the cursor holds: key → token, plus connector-specific entries (``extra``)."""

    files: dict[str, str]
    extra: dict[str, JsonValue] = field(default_factory=dict)

    @classmethod
    def from_cursor(cls, value: JsonValue, *, connector: str) -> FileIndex | None:
        """The index a committed cursor holds (None before the first sweep)."""
        if value is None:
            return None
        files = value.get("files") if isinstance(value, dict) else None
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()
        ):
            raise SourceError(
                f"the pipeline's committed cursor is not a {connector} file index",
                hint="the pipeline was written by another connector: give it a new name, or "
                "reset its cursor",
            )
        extra = {k: v for k, v in value.items() if k != "files"}
        return cls(dict(files), extra)

    def to_value(self) -> dict[str, JsonValue]:
        return {"files": dict(self.files), **self.extra}


def plan_pages(
    tracked: Sequence[Tracked],
    previous: FileIndex | None,
    *,
    extra: Mapping[str, JsonValue] | None = None,
) -> list[Page]:
    """The pages of an incremental sweep over ``tracked`` (in their order), the last one
    carrying the new index. No pages when nothing changed."""
    index = FileIndex({t.key: t.token for t in tracked}, dict(extra or {}))
    known = previous.files if previous is not None else {}
    pages = [t.page for t in tracked if known.get(t.key) != t.token]
    if index == previous or (previous is None and not tracked):
        return pages
    value = index.to_value()
    if not pages:
        return [Page(INDEX_PAGE, {_PARAM: value})]
    last = pages[-1]
    pages[-1] = Page(last.key, {**last.params, _PARAM: value})
    return pages


def page_index(page: Page) -> JsonValue:
    """The cursor a page reports: the new index on the last page of a sweep, else None."""
    value: Any = page.params.get(_PARAM)
    return value
