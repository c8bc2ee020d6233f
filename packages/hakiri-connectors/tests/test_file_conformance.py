"""The file connector passes the source conformance suite against files on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hakiri.connectors.testing import SourceConformance, SourceHarness


class FilesHarness(SourceHarness):
    """A directory of JSON Lines files, ``page_rows`` rows each: one file is one page."""

    connector: ClassVar[str] = "file"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files = 0

    def _write(self, rows: list[dict[str, Any]], page_rows: int) -> None:
        for start in range(0, len(rows), page_rows):
            self._files += 1
            lines = "".join(json.dumps(row) + "\n" for row in rows[start : start + page_rows])
            (self.root / f"part-{self._files:05d}.jsonl").write_text(lines)

    def seed(self, rows: list[dict[str, Any]], *, page_rows: int) -> dict[str, Any]:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        self._files = 0
        self._page_rows = page_rows
        self._write(rows, page_rows)
        return {"path": str(self.root / "*.jsonl")}

    def add(self, rows: list[dict[str, Any]]) -> None:
        self._write(rows, self._page_rows)

    def bad_options(self) -> list[dict[str, Any]]:
        return [
            {},
            {"path": ""},
            {"path": "x.csv", "format": "xml"},
            {"path": "x.csv", "csv": {"delimiter": "::"}},
        ]


class TestFileConformance(SourceConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> SourceHarness:
        return FilesHarness(tmp_path / "files")
