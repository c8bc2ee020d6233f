"""The s3 connector passes the source conformance suite against moto's S3 server."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

from hakiri.connectors.testing import SourceConformance, SourceHarness
from hakiri.testing.s3 import S3Server


class BucketHarness(SourceHarness):
    """A bucket of JSON Lines objects, ``page_rows`` rows each: one object is one page."""

    connector: ClassVar[str] = "s3"

    def __init__(self, server: S3Server) -> None:
        self.server = server
        self.bucket = server.new_bucket("conformance")
        self._objects = 0
        self._page_rows = 1

    def env(self) -> dict[str, str]:
        return self.server.secrets()

    def _put(self, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), self._page_rows):
            self._objects += 1
            chunk = rows[start : start + self._page_rows]
            body = "".join(json.dumps(row) + "\n" for row in chunk).encode()
            self.server.put_object(self.bucket, f"rows/part-{self._objects:05d}.jsonl", body)

    def seed(self, rows: list[dict[str, Any]], *, page_rows: int) -> dict[str, Any]:
        self.server.empty_bucket(self.bucket)
        self._objects = 0
        self._page_rows = page_rows
        self._put(rows)
        return {
            "bucket": self.bucket,
            "prefix": "rows/",
            "endpoint_url": self.server.url,
            **self.server.credential_refs(),
        }

    def add(self, rows: list[dict[str, Any]]) -> None:
        self._put(rows)

    def bad_options(self) -> list[dict[str, Any]]:
        return [
            {},
            {"bucket": "s3://rows"},
            {"bucket": "rows", "access_key_id": "AKIAPLAINTEXT", "secret_access_key": "plain"},
            {"bucket": "rows", "endpoint_url": "ftp://127.0.0.1"},
        ]


class TestS3Conformance(SourceConformance):
    @pytest.fixture
    def harness(self, s3_server: S3Server) -> SourceHarness:
        return BucketHarness(s3_server)
