"""The file source: one page per local file, incremental by content hash."""

from __future__ import annotations

import hashlib
import os

from hakiri.connectors.file.config import FileSourceConfig
from hakiri.connectors.file.formats import add_file_column, read_table, resolve_format
from hakiri.connectors.file.hashing import STAT_TRUSTED, StatRecord, hash_file
from hakiri.connectors.file.listing import ListedFile, list_files, resolve_key, stream_name
from hakiri.connectors.file.tracking import (
    Tracked,
    file_key,
    index_entries,
    known_versions,
    no_rows,
    plan_pages,
    sweep_description,
)
from hakiri.core.closing import Closing
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import SourceError
from hakiri.core.ports import Host
from hakiri.core.records import Page, PageData, Plan, StreamInfo

__all__ = ["FileSource"]

_VERSION = ("sha256", "stat")
"""What the cursor holds per file: the content's hash, and the stat record that may stand
in for it (see ``hashing``) when there is one."""


def _version(digest: str, record: StatRecord | None) -> dict[str, JsonValue]:
    version: dict[str, JsonValue] = {"sha256": digest}
    if record is not None:
        version["stat"] = record.to_json()
    return version


def _valid_version(value: JsonValue) -> bool:
    return isinstance(value, dict) and isinstance(value.get("sha256"), str)


def _same_content(old: JsonValue, new: JsonValue) -> bool:
    return bool(old["sha256"] == new["sha256"])


def _page(listed: ListedFile, size: int, version: dict[str, JsonValue] | None) -> Page:
    # The page carries the planned version, which its read reports: the key, the hash and
    # the stat record, a few hundred bytes whatever the number of files.
    params: dict[str, JsonValue] = {"path": listed.key, "size": size, **(version or {})}
    return Page(f"file:{listed.key}", params)


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
        hash is not the one the committed cursor records (see ``tracking``)."""
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
            return Plan(pages, CursorKind.KEYED, described)
        previous = known_versions(cursor, connector="file", valid=_valid_version)
        tracked = self._hash_all(listed, previous or {})
        pages = plan_pages(tracked, previous, same_content=_same_content)
        described = sweep_description(pages, len(tracked), f"files matching {self.config.path}")
        return Plan(pages, CursorKind.KEYED, described)

    def _hash_all(self, listed: list[ListedFile], known: dict[str, JsonValue]) -> list[Tracked]:
        trust = STAT_TRUSTED and not self.config.always_hash
        tracked: list[Tracked] = []
        for item in listed:
            old = known.get(item.key)
            try:
                stat = item.path.stat()
                record = StatRecord.from_json(old.get("stat")) if trust and old else None
                if record is not None and record.matches(stat):
                    version = old  # unchanged since it was hashed: the recorded hash stands
                else:
                    digest, record = hash_file(item.path)
                    version = _version(digest, record if trust else None)
                    if "stat" not in version and old is not None and _same_content(old, version):
                        # The same content and no record to gain: keep the recorded version,
                        # so the cursor has nothing to learn about this file.
                        version = old
            except FileNotFoundError:
                continue  # deleted since it was listed: as if it had not been there
            except OSError as exc:
                raise _unreadable(item.key, exc) from None
            tracked.append(Tracked(item.key, version, _page(item, stat.st_size, version)))
        return tracked

    # -- read -------------------------------------------------------------------------------

    def read(self, page: Page) -> PageData:
        """Read one file whole. A file whose content no longer has the planned hash (it
        changed or vanished after the plan) reads as no rows and is left for the next run,
        whose plan sees the new content."""
        entries = index_entries(page)
        if entries is not None:
            return no_rows(entries)  # an index page: nothing to read
        key = file_key(page, "path", connector="file")
        expected = page.params.get("sha256")
        # The planned version, whatever the read finds: a file that changed (or went) since
        # the plan reads as no rows, and the next plan sees that it differs.
        version = {k: page.params[k] for k in _VERSION if k in page.params}
        cursor = {key: version} if isinstance(expected, str) else None
        fmt = resolve_format(key, self.config)
        try:
            file = open(resolve_key(key, self._root), "rb", buffering=0)
        except FileNotFoundError:
            return no_rows(cursor)
        except OSError as exc:
            raise _unreadable(key, exc) from None
        with file:
            size = os.fstat(file.fileno()).st_size
            if isinstance(expected, str):
                if hashlib.file_digest(file, "sha256").hexdigest() != expected:
                    return no_rows(cursor)
            table = read_table(file, fmt, self.config, name=key)
        table = add_file_column(table, self.config.file_column, key, name=key)
        return PageData(table, cursor=cursor, bytes_read=size)

    # -- discover ---------------------------------------------------------------------------

    def discover(self) -> list[StreamInfo]:
        """One stream: the files ``path`` names, with the first file's schema (from its
        metadata or first block; no other file is opened)."""
        from hakiri.connectors.file.formats import sniff_schema, stream_schema

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
            schema = stream_schema(arrow, self.config.file_column, name=first.key)
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
