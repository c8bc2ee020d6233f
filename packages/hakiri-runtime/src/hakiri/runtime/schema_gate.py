"""The schema gate: every page passes it between the transforms and the chunk.

It holds the table's schema — the latest committed version when the run starts, then what
this run has decided — reconciles each page with it under the table's policy
(``hakiri.core.evolution``), and keeps the decisions until the commit that carries the
pages they concern. A refusal is recorded as an event at once (nothing will commit it) and
then fails the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from hakiri.core.errors import PrimaryKeyMissing, SchemaRejected
from hakiri.core.evolution import reconcile
from hakiri.core.ports import Catalog, Clock
from hakiri.core.records import (
    SCHEMA_DECISION,
    SchemaAction,
    SchemaChange,
    SchemaPolicy,
    schema_ref,
)
from hakiri.core.schema import Schema

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SchemaGate"]

_GROWTH = (SchemaAction.ADDED, SchemaAction.WIDENED)


class SchemaGate:
    """Reconciles the pages of one run with their table's schema.

    ``primary_key`` (the destination's) must name columns of the table: a page whose
    reconciled schema lacks one fails the run with ``PrimaryKeyMissing``.
    """

    def __init__(
        self,
        catalog: Catalog,
        clock: Clock,
        table: str,
        policy: SchemaPolicy,
        *,
        primary_key: Sequence[str] = (),
    ) -> None:
        self._catalog = catalog
        self._clock = clock
        self.table = table
        self.policy = policy
        self.primary_key = tuple(primary_key)
        self.schema: pa.Schema | None = None
        """The table's schema as this run knows it (None until a first page defines it)."""
        self.version: int | None = None
        """The catalog version ``schema`` matches; None while it holds uncommitted changes."""
        self.creating = True
        self._pending: dict[tuple[str, ...], SchemaChange] = {}
        self._started = False

    def start(self, *, resumed_from: str | None = None) -> None:
        """Load the table's latest committed schema; ``resumed_from`` is the run whose
        unfinished sweep this run continues, if any."""
        versions = self._catalog.schema_versions(self.table)
        latest = versions[-1] if versions else None
        self.schema = latest.schema.to_arrow() if latest else None
        self.version = latest.version if latest else None
        # While a run creates its table, new columns and widenings make the table's first
        # schema under every policy (a later page of a first read may well bring a field
        # the first page lacked). A resumed run that continues the creating sweep still is
        # creating, so the outcome does not depend on where a crash happened.
        self.creating = latest is None or _continues(
            self._catalog, versions[0].run_id, resumed_from
        )
        self._started = True

    def admit(self, data: pa.Table, *, run_id: str) -> pa.Table:
        """``data`` conformed to the table's schema, or ``SchemaRejected`` after recording
        the refusal. Pages without rows pass untouched: they carry no schema decision."""
        assert self._started, "SchemaGate.start() must be called first"
        if data.num_rows == 0:
            return data
        try:
            result = reconcile(
                self.schema, data, self.policy, table=self.table, creating=self.creating
            )
        except SchemaRejected as exc:
            self._record_refusal(exc, data, run_id)
            raise
        _check_primary_key(self.table, self.primary_key, result.schema.names)
        if self.schema is None or not result.schema.equals(self.schema):
            self.schema = result.schema
            self.version = None
        for change in result.changes:
            if self.creating and change.action in _GROWTH:
                # The table's first schema is still being found: its versions say what it
                # became; decisions start once a schema is committed.
                continue
            known = self._pending.get(change.key)
            if known is not None:
                change = replace(known, rows=known.rows + change.rows)
            self._pending[change.key] = change
        return result.table

    def take_changes(self) -> tuple[SchemaChange, ...]:
        """The decisions since the last commit (same decisions merged, rows summed), for the
        commit that carries their pages."""
        changes = tuple(self._pending.values())
        self._pending.clear()
        return changes

    def committed(self, version: int | None, schema: Schema | None) -> None:
        """Note that a commit stored files of ``schema`` as ``version``: when that is the
        gate's schema, it is a stored version from now on."""
        if version is None or schema is None or self.schema is None:
            return
        if schema.fingerprint == Schema.from_arrow(self.schema).fingerprint:
            self.version = version

    def _record_refusal(self, exc: SchemaRejected, data: pa.Table, run_id: str) -> None:
        before = schema_ref(Schema.from_arrow(self.schema), self.version) if self.schema else None
        after = schema_ref(Schema.from_arrow(data.schema), None)
        at = self._clock.now()
        for change in exc.changes:
            self._catalog.record_event(
                self.table, SCHEMA_DECISION, change.payload(before, after), run_id=run_id, at=at
            )


def _check_primary_key(table: str, key: tuple[str, ...], columns: list[str]) -> None:
    """Fail when ``key`` names a column that is not among ``columns`` (a merge could not
    tell rows apart, and the table's newest-per-key view could not be read)."""
    present = set(columns)
    missing = [name for name in key if name not in present]
    if not missing:
        return
    shown = ", ".join(repr(name) for name in columns[:_SHOWN])
    if len(columns) > _SHOWN:
        shown += f", … ({len(columns) - _SHOWN} more)"
    raise PrimaryKeyMissing(
        f"table {table!r}: primary_key names "
        f"{'a column' if len(missing) == 1 else 'columns'} the data does not have: "
        f"{', '.join(repr(name) for name in missing)}",
        hint=f"set destination.primary_key to columns of the data; it has {shown or 'none'}",
        missing=missing,
        columns=list(columns),
    )


_SHOWN = 30
"""Columns an error names at most."""


def _continues(catalog: Catalog, creator: str, resumed_from: str | None) -> bool:
    """Whether the run that created the table is the one being resumed (or one it resumed)."""
    seen: set[str] = set()
    run_id = resumed_from
    while run_id is not None and run_id not in seen:
        if run_id == creator:
            return True
        seen.add(run_id)
        record = catalog.get_run(run_id)
        run_id = record.resumed_from if record else None
    return False
