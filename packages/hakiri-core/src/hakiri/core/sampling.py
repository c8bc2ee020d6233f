"""Read a few rows from a source without writing anything: what ``sample`` answers."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from hakiri.core.batch import concat_batches

if TYPE_CHECKING:
    import pyarrow as pa

    from hakiri.core.ports import Source
else:
    from hakiri.core._arrow import pa

__all__ = ["sample_source"]


def sample_source(source: Source, *, limit: int = 10, max_pages: int = 5) -> pa.Table:
    """Up to ``limit`` rows from the start of ``source``'s sweep (as if nothing were committed).

    Reads pages in plan order and stops as soon as it has ``limit`` rows or has read
    ``max_pages`` pages, so sampling a large source costs a page or two, never the source.
    """
    if limit < 0:
        raise ValueError("limit must be >= 0")
    plan = source.plan(None)
    queue = deque(plan.pages)
    tables: list[pa.Table] = []
    rows = pages = 0
    while queue and rows < limit and pages < max_pages:
        data = source.read(queue.popleft())
        pages += 1
        queue.extend(data.next_pages)
        if data.table.num_rows:
            tables.append(data.table.slice(0, limit - rows))
            rows += tables[-1].num_rows
    if not tables:
        return pa.table({})
    return concat_batches(tables)
