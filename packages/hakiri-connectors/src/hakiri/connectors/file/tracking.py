"""Incremental reading by file: which files a sweep reads, and what each page tells the cursor.

Shared by the file and s3 sources. The cursor is ``CursorKind.KEYED``: ``{key: version}``,
each file read so far and the version of the content that was read (for local files the
SHA-256 and a stat record, for S3 objects the ETag). A plan lists the files now there and
reads those whose content is new or differs.

No page ever carries the whole index, so a page stays the same size however many files
there are:

- a file's page carries its own key and planned version, and its read reports
  ``{key: version}`` (the planned one, even when the file changed or vanished before the
  read: the next plan then sees the difference);
- what changes without a read — a file deleted since the committed cursor (a tombstone,
  ``{key: None}``), a new stat record for unchanged content — rides on small ``index:N``
  pages that read nothing, at most ``INDEX_PAGE_KEYS`` keys and about ``INDEX_PAGE_BYTES``
  of entries each, after the file pages.

The executor folds each page's cursor onto the committed one; a commit in the middle of a
sweep stores the unread pages and keeps the committed position, and the final commit stores
the folded sweep. So a crashed sweep resumes with exactly the pages it had not committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hakiri.core.cursor import JsonValue
from hakiri.core.errors import SourceError
from hakiri.core.records import Page, PageData

__all__ = [
    "INDEX_PAGE_BYTES",
    "INDEX_PAGE_KEYS",
    "INDEX_PREFIX",
    "Tracked",
    "file_key",
    "index_entries",
    "known_versions",
    "no_rows",
    "plan_pages",
    "sweep_description",
]

INDEX_PREFIX = "index:"
"""Key prefix of the pages that only move the cursor (file page keys have their own)."""
INDEX_PAGE_KEYS = 200
INDEX_PAGE_BYTES = 3 * 1024
"""Entries (as JSON) an index page holds at most; one longer entry gets a page alone."""
_PARAM = "index"


@dataclass(frozen=True, slots=True)
class Tracked:
    """A file the plan saw: its key, the version the cursor will hold for it, and the page
    that reads it (whose read reports ``{key: version}``)."""

    key: str
    version: JsonValue
    page: Page


def known_versions(
    value: JsonValue, *, connector: str, valid: Callable[[Any], bool]
) -> dict[str, JsonValue] | None:
    """The ``{key: version}`` a committed cursor holds (None before the first sweep).

    A value that is not such an object (another connector's cursor, or this one's from
    before the keyed cursor) is refused rather than guessed at."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and valid(v) for k, v in value.items()
    ):
        raise SourceError(
            f"the pipeline's committed cursor is not a {connector} file index",
            hint="the pipeline was written by another connector or an older version: give "
            "it a new name, or reset its cursor",
        )
    return dict(value)


def plan_pages(
    tracked: Sequence[Tracked],
    previous: Mapping[str, JsonValue] | None,
    *,
    same_content: Callable[[JsonValue, JsonValue], bool],
) -> list[Page]:
    """The pages of an incremental sweep: the pages of ``tracked`` files whose content is
    new or not the recorded one (in their order), then index pages for the rest of what
    moves (new versions of unchanged content, tombstones of files no longer there).
    No pages when nothing changed."""
    known = previous or {}
    pages: list[Page] = []
    entries: dict[str, JsonValue] = {}
    seen: set[str] = set()
    for item in tracked:
        seen.add(item.key)
        old = known.get(item.key)
        if old is None or not same_content(old, item.version):
            pages.append(item.page)
        elif old != item.version:
            entries[item.key] = item.version
    for key in known:
        if key not in seen:
            entries[key] = None  # gone: forgotten, so it is read again if it comes back
    pages.extend(_index_pages(entries))
    return pages


def sweep_description(pages: Sequence[Page], total: int, what: str) -> str:
    """How the plan of an incremental sweep describes itself, e.g. ``"2 new or changed of
    5 files matching data/*.csv"`` (index pages read nothing, so they do not count)."""
    reading = sum(1 for page in pages if not page.key.startswith(INDEX_PREFIX))
    return f"{reading} new or changed of {total} {what}"


def _index_pages(entries: Mapping[str, JsonValue]) -> list[Page]:
    pages: list[Page] = []
    batch: dict[str, JsonValue] = {}
    size = 0
    for key, version in sorted(entries.items()):
        entry = len(json.dumps({key: version})) - 1  # one "key": value pair and its comma
        if batch and (len(batch) >= INDEX_PAGE_KEYS or size + entry > INDEX_PAGE_BYTES):
            pages.append(_index_page(len(pages), batch))
            batch, size = {}, 0
        batch[key] = version
        size += entry
    if batch:
        pages.append(_index_page(len(pages), batch))
    return pages


def _index_page(number: int, batch: dict[str, JsonValue]) -> Page:
    return Page(f"{INDEX_PREFIX}{number}", {_PARAM: batch})


def index_entries(page: Page) -> dict[str, JsonValue] | None:
    """The cursor entries an index page carries (None for any other page)."""
    if not page.key.startswith(INDEX_PREFIX):
        return None
    value: Any = page.params.get(_PARAM)
    if not isinstance(value, dict):
        raise SourceError(f"page {page.key!r} is not an index page", hint="plan the run again")
    return value


def file_key(page: Page, param: str, *, connector: str) -> str:
    """The key of the file a page reads (its ``param``); ``SourceError`` for a page that is
    not one of this connector's."""
    key = page.params.get(param)
    if not isinstance(key, str):
        raise SourceError(
            f"page {page.key!r} is not a page of the {connector} source",
            hint="plan the run again",
        )
    return key


def no_rows(cursor: dict[str, JsonValue] | None) -> PageData:
    """A read that decodes nothing and moves the cursor by ``cursor``: an index page, or a
    file that changed or vanished since the plan."""
    import pyarrow as pa

    return PageData(pa.table({}), cursor=cursor)
