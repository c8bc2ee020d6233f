"""The file source: one page per local file, incremental by content hash."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

from hakiri.connectors.file.config import FileSourceConfig
from hakiri.connectors.file.formats import add_file_column, read_table, resolve_format
from hakiri.connectors.file.hashing import STAT_TRUSTED, StatRecord, hash_file
from hakiri.connectors.file.listing import ListedFile, list_files, resolve_key, stream_name
from hakiri.connectors.file.tracking import FileIndex, Tracked, page_index, plan_pages
from hakiri.core.closing import Closing
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import SourceError
from hakiri.core.ports import Host
from hakiri.core.records import Page, PageData, Plan, StreamInfo

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FileSource"]

_STAT = "stat"
"""The index entry holding each file's stat record (see ``hashing``)."""


def _page(listed: ListedFile, size: int, digest: str | None) -> Page:
    params: dict[str, JsonValue] = {"path": listed.key, "size": size}
    if digest is not None:
        params["sha256"] = digest
    return Page(f"file:{listed.key}", params)


def _empty() -> pa.Table:
    import pyarrow as pa

    return pa.table({})


class FileSource(Closing):
    """Local CSV / JSON Lines / JSON / Parquet files (implements ``Source``)."""

    def __init__(self, config: FileSourceConfig, host: Host) -> None:
        self.config = config
        self._root = host.project_root

    def close(self) -> None:
        pass  # nothing is held between calls: each read opens and closes its file

    # -- plan -------------------------------------------------------------------------------

    def plan(self, cursor: JsonValue) -> Plan:
        """One page per file to read, in key order. Incremental: only files whose content
        hash is not the one the committed index records."""
        listed = list_files(self.config.path, self._root)
        for item in listed:
            resolve_format(item.key, self.config)  # an unknown format fails before any read
        if not self.config.incremental:
            pages = []
            for item in listed:
                size = _size(item)
                if size is not None:
                    pages.append(_page(item, size, None))
            described = f"{len(pages)} files matching {self.config.path}"
            return Plan(pages, CursorKind.OPAQUE_TOKEN, described)
        previous = FileIndex.from_cursor(cursor, connector="file")
        tracked, stats = self._hash_all(listed, previous)
        pages = plan_pages(tracked, previous, extra={_STAT: stats})
        reading = sum(1 for p in pages if "path" in p.params)
        described = f"{reading} new or changed of {len(tracked)} files matching {self.config.path}"
        return Plan(pages, CursorKind.OPAQUE_TOKEN, described)

    def _hash_all(
        self, listed: list[ListedFile], previous: FileIndex | None
    ) -> tuple[list[Tracked], dict[str, JsonValue]]:
        old_stats = previous.extra.get(_STAT) if previous is not None else None
        known_stats = old_stats if isinstance(old_stats, dict) else {}
        known = previous.files if previous is not None else {}
        trust = STAT_TRUSTED and not self.config.always_hash
        tracked: list[Tracked] = []
        stats: dict[str, JsonValue] = {}
        for item in listed:
            try:
                stat = item.path.stat()
                record = StatRecord.from_json(known_stats.get(item.key)) if trust else None
                if record is not None and record.settled and record.matches(stat):
                    digest = known.get(item.key)
                else:
                    digest = None
                if digest is None:
                    digest, record = hash_file(item.path)
            except FileNotFoundError:
                continue  # deleted since it was listed: as if it had not been there
            except OSError as exc:
                raise _unreadable(item.key, exc) from None
            if record is not None and trust:
                stats[item.key] = record.to_json()
            size = record.size if record is not None else stat.st_size
            tracked.append(Tracked(item.key, digest, _page(item, size, digest)))
        return tracked, stats

    # -- read -------------------------------------------------------------------------------

    def read(self, page: Page) -> PageData:
        """Read one file whole. A file whose content no longer has the planned hash (it
        changed or vanished after the plan) reads as no rows and is left for the next run,
        whose plan sees the new content."""
        cursor = page_index(page)
        key = page.params.get("path")
        if key is None:
            return PageData(_empty(), cursor=cursor)  # the index page: nothing to read
        if not isinstance(key, str):
            raise SourceError(
                f"page {page.key!r} is not a page of the file source", hint="plan the run again"
            )
        expected = page.params.get("sha256")
        fmt = resolve_format(key, self.config)
        try:
            file = open(resolve_key(key, self._root), "rb", buffering=0)
        except FileNotFoundError:
            return PageData(_empty(), cursor=cursor)
        except OSError as exc:
            raise _unreadable(key, exc) from None
        with file:
            size = os.fstat(file.fileno()).st_size
            if isinstance(expected, str):
                if hashlib.file_digest(file, "sha256").hexdigest() != expected:
                    return PageData(_empty(), cursor=cursor)
            table = read_table(file, fmt, self.config, name=key)
        table = add_file_column(table, self.config.file_column, key, name=key)
        return PageData(table, cursor=cursor, bytes_read=size)

    # -- discover ---------------------------------------------------------------------------

    def discover(self) -> list[StreamInfo]:
        """One stream: the files ``path`` names, with the first file's schema (from its
        metadata or first block; no other file is opened)."""
        from hakiri.connectors.file.formats import sniff_schema
        from hakiri.core.schema import Schema

        listed = list_files(self.config.path, self._root)
        schema = None
        if listed:
            first = listed[0]
            fmt = resolve_format(first.key, self.config)
            try:
                with open(first.path, "rb") as file:
                    size = os.fstat(file.fileno()).st_size
                    arrow = sniff_schema(file, fmt, self.config, name=first.key, size=size)
            except OSError as exc:
                raise _unreadable(first.key, exc) from None
            if arrow is not None:
                column = self.config.file_column
                table = add_file_column(arrow.empty_table(), column, "", name=first.key)
                schema = Schema.from_arrow(table.schema)
        return [
            StreamInfo(
                name=self.config.stream or stream_name(self.config.path),
                schema=schema,
                description=f"files matching {self.config.path}",
                options={"path": self.config.path},
            )
        ]


def _size(item: ListedFile) -> int | None:
    try:
        return item.path.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unreadable(item.key, exc) from None


def _unreadable(key: str, exc: OSError) -> SourceError:
    reason = exc.strerror or type(exc).__name__
    return SourceError(
        f"cannot read {key}: {reason}",
        hint="check the file's permissions",
        file=key,
    )
