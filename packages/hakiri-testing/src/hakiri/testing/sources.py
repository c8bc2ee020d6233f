"""Drive a source the way the runtime does (plan, then read every page it reveals)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.ports import Source
from hakiri.core.records import Page, PageData, Plan

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ReadResult", "read_all"]


@dataclass(slots=True)
class ReadResult:
    """Everything a full read produced."""

    plan: Plan
    pages: list[Page] = field(default_factory=list)
    data: list[PageData] = field(default_factory=list)
    cursor: JsonValue = None
    """The committed cursor advanced by every page's cursor."""

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [row for page in self.data for row in page.table.to_pylist()]

    def column(self, name: str) -> list[Any]:
        return [
            v
            for page in self.data
            if name in page.table.column_names
            for v in page.table.column(name).to_pylist()
        ]

    def table(self) -> pa.Table:
        from hakiri.core.batch import concat_batches

        return concat_batches(page.table for page in self.data)


def read_all(source: Source, cursor: JsonValue = None, *, max_pages: int = 10_000) -> ReadResult:
    """Plan from ``cursor`` and read every page, breadth first; fail past ``max_pages``."""
    plan = source.plan(cursor)
    result = ReadResult(plan=plan, cursor=cursor)
    queue = deque(plan.pages)
    kind: CursorKind = plan.cursor_kind
    while queue:
        if len(result.pages) >= max_pages:
            raise AssertionError(f"more than {max_pages} pages: is pagination looping?")
        page = queue.popleft()
        data = source.read(page)
        result.pages.append(page)
        result.data.append(data)
        result.cursor = kind.advance(result.cursor, data.cursor)
        queue.extend(data.next_pages)
    return result
