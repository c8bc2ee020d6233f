"""The s3 source: one page per object, incremental by ETag, decoded by the file readers."""

from __future__ import annotations

import io
import operator
import struct
import tempfile
from typing import TYPE_CHECKING

from hakiri.connectors.file.formats import (
    SNIFF_BYTES,
    FileFormat,
    add_file_column,
    read_table,
    resolve_format,
    sniff_schema,
    stream_schema,
)
from hakiri.connectors.file.listing import stream_name
from hakiri.connectors.file.tracking import (
    Tracked,
    file_key,
    index_entries,
    known_versions,
    no_rows,
    plan_pages,
    sweep_description,
)
from hakiri.connectors.s3.client import S3Client, S3Object
from hakiri.connectors.s3.config import S3SourceConfig
from hakiri.connectors.s3.pattern import compile_glob
from hakiri.core.closing import Closing
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.ports import Host
from hakiri.core.records import Page, PageData, Plan, StreamInfo

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["S3Source"]

_FOOTER_GUESS = 64 * 1024
"""Bytes fetched from a Parquet object's end to find its footer (one request usually)."""


def _page(obj: S3Object) -> Page:
    return Page(f"object:{obj.key}", {"key": obj.key, "etag": obj.etag, "size": obj.size})


class S3Source(Closing):
    """Objects of one bucket (implements ``hakiri.core.ports.Source``)."""

    def __init__(self, config: S3SourceConfig, host: Host, client: S3Client | None = None) -> None:
        self.config = config
        self._client = client or S3Client(config, host.secrets)
        pattern = compile_glob(config.pattern) if config.pattern is not None else None
        prefix = config.prefix
        self._keep = (
            (lambda key: key.startswith(prefix) and pattern.fullmatch(key) is not None)
            if pattern is not None
            else (lambda key: key.startswith(prefix))
        )

    def close(self) -> None:
        self._client.close()

    @property
    def _described(self) -> str:
        what = self.config.pattern or f"{self.config.prefix}*"
        return f"s3://{self.config.bucket}/{what}"

    # -- plan / read ------------------------------------------------------------------------

    def plan(self, cursor: JsonValue) -> Plan:
        """One page per object to read, in key order; incremental: only objects whose ETag
        is not the one the committed cursor records (see ``file.tracking``)."""
        objects = self._client.list_objects(self.config.list_prefix, self._keep)
        for obj in objects:
            resolve_format(obj.key, self.config)  # an unknown format fails before any read
        if not self.config.incremental:
            pages = [_page(obj) for obj in objects]
            return Plan(pages, CursorKind.KEYED, f"{len(pages)} objects {self._described}")
        previous = known_versions(cursor, connector="s3", valid=lambda v: isinstance(v, str))
        tracked = [Tracked(o.key, o.etag, _page(o)) for o in objects]
        pages = plan_pages(tracked, previous, same_content=operator.eq)
        described = sweep_description(pages, len(objects), f"objects {self._described}")
        return Plan(pages, CursorKind.KEYED, described)

    def read(self, page: Page) -> PageData:
        """Download one object to a temporary file and decode it. Incremental reads ask for
        the planned ETag: an object changed or deleted since the plan reads as no rows and
        is left for the next run."""
        entries = index_entries(page)
        if entries is not None:
            return no_rows(entries)  # an index page: nothing to read
        key = file_key(page, "key", connector="s3")
        etag = page.params.get("etag") if self.config.incremental else None
        # The planned ETag, whatever the read finds (see ``tracking``).
        cursor = {key: etag} if isinstance(etag, str) else None
        fmt = resolve_format(key, self.config)
        # One object on disk at a time, deleted as soon as it is decoded.
        with tempfile.TemporaryFile(prefix="hakiri-s3-") as spool:
            found = self._client.download(key, spool, etag=etag if isinstance(etag, str) else None)
            if not found:
                return no_rows(cursor)
            size = spool.tell()
            table = read_table(spool, fmt, self.config, name=key)
        table = add_file_column(table, self.config.file_column, key, name=key)
        return PageData(table, cursor=cursor, bytes_read=size)

    # -- discover ---------------------------------------------------------------------------

    def discover(self) -> list[StreamInfo]:
        """One stream: the objects the options select, with the first one's schema (its
        Parquet footer, or its first block of CSV / JSON Lines, by range requests)."""
        first = self._client.first_object(self.config.list_prefix, self._keep)
        schema = None
        if first is not None:
            fmt = resolve_format(first.key, self.config)
            schema = stream_schema(self._sniff(first, fmt), self.config.file_column, name=first.key)
        default = stream_name(self.config.pattern or self.config.prefix, fallback="")
        selects: dict[str, JsonValue] = {"bucket": self.config.bucket, "prefix": self.config.prefix}
        if self.config.pattern is not None:
            selects["pattern"] = self.config.pattern
        return [
            StreamInfo(
                name=self.config.stream or default or stream_name(self.config.bucket),
                schema=schema,
                description=f"objects {self._described}",
                options=selects,
            )
        ]

    def _sniff(self, obj: S3Object, fmt: FileFormat) -> pa.Schema | None:
        head = io.BytesIO()
        if obj.size <= SNIFF_BYTES:
            if not self._client.download(obj.key, head):
                return None
            return sniff_schema(head, fmt, self.config, name=obj.key, size=obj.size)
        if fmt.format == "parquet":
            return self._parquet_schema(obj, fmt)
        if fmt.format == "json" or fmt.codec is not None:
            return None  # a document or a compressed stream cannot be read from its start
        if not self._client.download(obj.key, head, byte_range=f"bytes=0-{SNIFF_BYTES - 1}"):
            return None
        data = head.getvalue()
        whole_lines = io.BytesIO(data[: data.rfind(b"\n") + 1])
        return sniff_schema(whole_lines, fmt, self.config, name=obj.key, size=SNIFF_BYTES)

    def _parquet_schema(self, obj: S3Object, fmt: FileFormat) -> pa.Schema | None:
        tail = io.BytesIO()
        if not self._client.download(obj.key, tail, byte_range=f"bytes=-{_FOOTER_GUESS}"):
            return None
        data = tail.getvalue()
        if len(data) < 8 or data[-4:] != b"PAR1":
            return None
        needed = struct.unpack("<I", data[-8:-4])[0] + 8
        if needed > len(data):
            tail = io.BytesIO()
            if not self._client.download(obj.key, tail, byte_range=f"bytes=-{needed}"):
                return None
            data = tail.getvalue()
        # The footer alone, behind a leading magic number, reads as a Parquet file with no
        # row groups' bytes: the reader only ever looks at the end.
        footer = io.BytesIO(b"PAR1" + data[-needed:])
        return sniff_schema(footer, fmt, self.config, name=obj.key, size=needed + 4)
