"""The http connector passes the source conformance suite against the demo API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from hakiri.connectors.testing import SourceConformance, SourceHarness
from hakiri.testing.demo_api import DemoApi


class DemoApiHarness(SourceHarness):
    """The demo API's ``/issues`` holds issues 1…n; Link pagination, ``since`` incremental."""

    connector: ClassVar[str] = "http"

    def __init__(self) -> None:
        self.api: DemoApi | None = None

    def seed(self, rows: list[dict[str, Any]], *, page_rows: int) -> dict[str, Any]:
        # The demo API generates issue i from its id, so holding rows 1…n is holding n issues.
        assert [row["id"] for row in rows] == list(range(1, len(rows) + 1))
        self.close()
        self.api = DemoApi(issues=len(rows)).start()
        return {
            "url": f"{self.api.url}/issues",
            "params": {"style": "link", "per_page": page_rows},
            "pagination": {"kind": "link_header"},
            "incremental": {"cursor_field": "updated_at", "param": "since"},
        }

    def add(self, rows: list[dict[str, Any]]) -> None:
        assert self.api is not None
        self.api.add_issues(len(rows))

    def bad_options(self) -> list[dict[str, Any]]:
        return [
            {},
            {"url": "ftp://example.invalid/x"},
            {"url": "http://127.0.0.1:1/x", "pagination": {"kind": "no_such_kind"}},
        ]

    def close(self) -> None:
        if self.api is not None:
            self.api.stop()
            self.api = None


class TestHttpConformance(SourceConformance):
    @pytest.fixture
    def harness(self) -> Iterator[SourceHarness]:
        harness = DemoApiHarness()
        yield harness
        harness.close()
