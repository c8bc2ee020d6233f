"""Read back what runs committed to a project's context store (through ``hakiri.context``).

The connector conformance suite (``hakiri.connectors.testing``) imports only core; it reads
committed rows through the ``read_committed`` fixture, which is ``committed_rows``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["committed_rows"]


def committed_rows(project: Path, table: str) -> pa.Table:
    """Every committed row of ``table`` in the store of the project at ``project``."""
    from hakiri.context.store import open_store

    quoted = table.replace('"', '""')
    with open_store(project) as store:
        return store.to_arrow(f'select * from "{quoted}"')
