"""One pull: read a group's pages (and the pages they reveal), stage them as Parquet."""

from __future__ import annotations

from hakiri.core.cursor import JsonValue
from hakiri.core.errors import PrimaryKeyMissing, SchemaRejected
from hakiri.core.failpoints import failpoint
from hakiri.core.ports import Destination
from hakiri.core.records import RunRecord, StagedFile
from hakiri.core.schema import Schema
from hakiri.runtime.chunk import Chunk
from hakiri.runtime.prefetch import PageReader
from hakiri.runtime.protocol import PagePath
from hakiri.runtime.schema_gate import SchemaGate
from hakiri.runtime.steps._records import PlanRecord, PullRecord, fold_observed
from hakiri.runtime.steps._session import StepSession

__all__ = ["pull_group"]


class _Stager:
    """Stages chunks as numbered files, numbering on from the groups before (a retried pull
    writes the same names again)."""

    def __init__(self, destination: Destination, table: str, run_id: str, seq: int) -> None:
        self._destination = destination
        self._table = table
        self._run_id = run_id
        self.seq = seq
        self.files: list[StagedFile] = []

    def stage(self, chunk: Chunk) -> None:
        for data in chunk.tables():
            staged = self._destination.stage(self._table, data, run_id=self._run_id, seq=self.seq)
            self.files.append(staged)
            self.seq += 1


def _gate(session: StepSession, plan: PlanRecord, previous: PullRecord | None) -> SchemaGate:
    """The schema gate as one process's run would have it at this group's first page."""
    gate = session.gate()
    # The committed schema, and whether this run creates the table (decided by the catalog,
    # which no one changes while the run is open without failing its commit).
    gate.start(resumed_from=plan.resumed_from)
    if previous is not None:
        # The schema as the groups before this one left it: not committed yet, so only
        # their pull step knows it.
        gate.schema = previous.schema.to_arrow() if previous.schema else None
        gate.version = previous.schema_version
    return gate


def pull_group(
    session: StepSession,
    run: RunRecord,
    plan: PlanRecord,
    index: int,
    previous: PullRecord | None,
) -> PullRecord:
    """Read group ``index`` of ``plan`` after ``previous`` (the group before, if any), in
    chunks of ``chunk_rows`` rows at most (as ``hakiri run`` does), and stage it."""
    spec = session.spec
    gate = _gate(session, plan, previous)
    stager = _Stager(
        session.destination, spec.table, run.run_id, previous.next_seq if previous else 0
    )
    path = PagePath(session.transforms(), gate, Chunk())
    observed: JsonValue = None
    pages = rows = 0
    try:
        with PageReader(session.source(), plan.group(index), depth=spec.prefetch_pages) as reader:
            for page, data in reader:
                failpoint("pull")
                observed = fold_observed(plan.kind, observed, data.cursor)
                rows += path.take(page.key, data.table, run_id=run.run_id)
                pages += 1
                if path.chunk.rows >= spec.chunk_rows:
                    stager.stage(path.take_chunk())
        stager.stage(path.take_chunk())
    except (SchemaRejected, PrimaryKeyMissing) as exc:
        # The gate recorded the refusal, and every retry would again: as with `hakiri run`,
        # the run fails. Files staged so far are garbage the next plan collects.
        session.fail(run.run_id, exc)
        raise
    return PullRecord(
        pages_read=pages,
        rows=rows,
        files=stager.files,
        cursor=observed,
        next_seq=stager.seq,
        schema=Schema.from_arrow(gate.schema) if gate.schema is not None else None,
        schema_version=gate.version,
        changes=list(gate.take_changes()),
    )
