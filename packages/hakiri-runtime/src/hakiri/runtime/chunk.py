"""The pages of one commit, grouped into files by schema.

Pages usually share one schema (the schema gate conforms every page to the table's), and
then a chunk is one file. When the table's schema grew during the chunk (a column added or
widened), the earlier pages are conformed to the grown schema, so a file has one schema and
the values of a widened column one type. A page whose schema cannot be merged with the
current group's starts a new group, so an odd page never fails the run; readers unify the
files of a table by column name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from hakiri.core.batch import concat_batches
from hakiri.core.evolution import conform_table

__all__ = ["Chunk"]


class Chunk:
    def __init__(self) -> None:
        self._groups: list[tuple[pa.Schema, list[pa.Table]]] = []
        self.rows = 0
        self.pages: list[str] = []
        """Keys of the pages taken into this chunk, empty ones included."""

    def add(self, page_key: str, table: pa.Table) -> None:
        self.pages.append(page_key)
        if table.num_rows == 0:
            return
        self.rows += table.num_rows
        if self._groups:
            schema, tables = self._groups[-1]
            if table.schema == schema:
                tables.append(table)
                return
            try:
                merged = pa.unify_schemas([schema, table.schema], promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                pass
            else:
                tables.append(table)
                self._groups[-1] = (merged, tables)
                return
        self._groups.append((table.schema, [table]))

    def tables(self) -> Iterator[pa.Table]:
        """One table per file to write, in page order."""
        for schema, tables in self._groups:
            yield concat_batches(conform_table(table, schema) for table in tables)
