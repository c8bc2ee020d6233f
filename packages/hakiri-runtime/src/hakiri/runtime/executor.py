"""The executor: one source → one destination, by the plan / pull / commit protocol.

A run reads pages into a chunk; a full chunk is staged as one Parquet file and committed in
one catalog transaction that also moves the cursor (compare-and-set on its version) and
records the step. The cursor carries the frontier of pages still to read, so a run that
dies anywhere is resumed by the next one with exactly the pages that were not committed.
See ``cursor_state.py`` for what the cursor holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hakiri.core.cursor import CursorKind
from hakiri.core.errors import store_os_error
from hakiri.core.failpoints import failpoint
from hakiri.core.lock import PipelineLock
from hakiri.core.manifest import PipelineSpec, Project
from hakiri.core.ports import Catalog, Clock, Destination, Source, Transform
from hakiri.core.records import (
    Page,
    RunStatus,
    StagedFile,
    StepRecord,
    WriteDisposition,
)
from hakiri.core.recovery import record_failure, recover, remove_superseded
from hakiri.runtime.chunk import Chunk
from hakiri.runtime.cursor_state import CursorState
from hakiri.runtime.prefetch import PageReader
from hakiri.runtime.protocol import (
    PagePath,
    PipelineSession,
    commit_request,
    new_run_id,
    open_run,
)
from hakiri.runtime.schema_gate import SchemaGate

__all__ = [
    "PageCallback",
    "RunExecutor",
    "RunSummary",
    "SweepStart",
    "new_run_id",
    "run_pipeline",
    "start_sweep",
]

PageCallback = Callable[[int, int], None]
"""Called after each page with (pages read, rows read) so far in this run."""


@dataclass(slots=True)
class RunSummary:
    run_id: str | None
    pipeline: str
    table: str
    status: RunStatus
    rows: int = 0
    pages: int = 0
    files: int = 0
    commits: int = 0
    elapsed: float = 0.0
    resumed_from: str | None = None
    interrupted_runs: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)
    """Files earlier runs staged but never committed, collected before this one started."""
    superseded_files: list[str] = field(default_factory=list)
    """Files of the generation this run's ``replace`` sweep replaced, deleted after it."""
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "table": self.table,
            "status": str(self.status),
            "rows": self.rows,
            "pages": self.pages,
            "files": self.files,
            "commits": self.commits,
            "elapsed_seconds": round(self.elapsed, 3),
            "resumed_from": self.resumed_from,
            "interrupted_runs": self.interrupted_runs,
            "removed_files": len(self.removed_files),
            "superseded_files": len(self.superseded_files),
            "error": self.error,
        }


def run_pipeline(
    project: Project,
    name: str,
    *,
    trigger: str = "manual",
    clock: Clock | None = None,
    on_page: PageCallback | None = None,
    run_id: str | None = None,
) -> RunSummary:
    """Run pipeline ``name`` of ``project`` to completion (or resume it), and say how it went.

    ``run_id`` names the run in advance (a daemon answers "run now" with it before the run
    starts); by default one is made when the source first answers.

    Raises ``HakiriError`` for bad input before anything is written, and re-raises a run's
    error after recording the run as ``failed`` or ``partial_failure``.
    """
    with PipelineSession.open(project, name, clock) as session:
        run = RunExecutor.from_session(session, trigger)
        run.planned_run_id = run_id
        return run.execute(on_page)


@dataclass(frozen=True, slots=True)
class SweepStart:
    """Where a run's reading starts, from the committed cursor."""

    pages: list[Page]
    """The pages to read: an interrupted sweep's frontier, or a new plan's pages."""
    kind: CursorKind
    state: CursorState
    """The committed ``position``; page cursors fold onto ``sweep``."""
    version: int
    """The committed cursor's version (0: none yet): what the next commit compares and sets."""
    resumed_from: str | None
    """The run whose interrupted sweep this one continues, if any."""


def start_sweep(spec: PipelineSpec, catalog: Catalog, source: Source) -> SweepStart:
    """Resume the frontier an interrupted run committed, or plan a new sweep from the
    committed position (from nothing for a ``replace``)."""
    cursor = catalog.get_cursor(spec.name)
    version = cursor.version if cursor else 0
    state = CursorState.from_value(cursor.value if cursor else None)
    if state.frontier is not None:
        kind = cursor.kind if cursor else CursorKind.OPAQUE_TOKEN
        return SweepStart(list(state.frontier), kind, state, version, state.run_id)
    # A replace rebuilds the whole table, so its sweep reads everything whatever the
    # committed position says; the others continue from the committed position.
    replacing = spec.destination.write is WriteDisposition.REPLACE
    plan = source.plan(None if replacing else state.position)
    # The sweep folds page cursors on top of what it planned from: for a replace that
    # is nothing, so state the new generation no longer has (a deleted file) is dropped.
    start = None if replacing else state.position
    state = CursorState(position=state.position, sweep=start)
    return SweepStart(list(plan.pages), plan.cursor_kind, state, version, None)


class RunExecutor:
    """One execution of a pipeline. The caller holds the pipeline's lock."""

    def __init__(
        self,
        spec: PipelineSpec,
        catalog: Catalog,
        source: Source,
        destination: Destination,
        clock: Clock,
        trigger: str = "manual",
        transforms: Sequence[Transform] = (),
        lock: PipelineLock | None = None,
    ) -> None:
        self.spec = spec
        self.lock = lock
        """The pipeline's lock, held by the caller: where a failure that cannot be recorded
        in the catalog is left for the next run."""
        self.catalog = catalog
        self.source = source
        self.destination = destination
        self.clock = clock
        self.trigger = trigger
        self.transforms = list(transforms)
        self.summary = RunSummary(None, spec.name, spec.table, RunStatus.RUNNING)
        self.run_id: str | None = None
        self.planned_run_id: str | None = None
        """The id the run will take when it is created (default: a new one)."""
        self.version = 0
        self.seq = 0
        self.files = 0
        self.gate = SchemaGate(
            catalog,
            clock,
            spec.table,
            spec.destination.schema_policy,
            primary_key=spec.destination.primary_key,
        )
        self.path = PagePath(self.transforms, self.gate, Chunk())

    @classmethod
    def from_session(cls, session: PipelineSession, trigger: str) -> RunExecutor:
        return cls(
            session.spec,
            session.catalog,
            session.source(),
            session.destination,
            session.clock,
            trigger,
            session.transforms(),
            session.lock,
        )

    # -- recovery ---------------------------------------------------------------------------

    def recover(self) -> None:
        """Close out runs whose process died and remove files they staged but never committed
        (``hakiri.core.recovery.recover``: the same first step as a workflow's plan)."""
        recovered = recover(
            self.catalog,
            self.destination,
            pipeline=self.spec.name,
            table=self.spec.table,
            lock=self.lock,
            clock=self.clock,
        )
        self.summary.interrupted_runs = recovered.interrupted
        self.summary.removed_files = recovered.removed

    # -- the run ----------------------------------------------------------------------------

    def execute(self, on_page: PageCallback | None) -> RunSummary:
        started = time.perf_counter()
        self.recover()
        start = start_sweep(self.spec, self.catalog, self.source)
        self.version = start.version
        self.summary.resumed_from = start.resumed_from
        kind, state = start.kind, start.state
        self.gate.start(resumed_from=self.summary.resumed_from)
        try:
            sweep = self._pull_all(start.pages, kind, state, on_page)
            self._flush(kind, CursorState(position=sweep, sweep=sweep), True)
        except OSError as exc:
            # The store's disk is full or cannot be written: one typed line, not a traceback.
            self.summary.elapsed = time.perf_counter() - started
            error = store_os_error(exc, f"writing table {self.spec.table!r}")
            self._fail(error)
            raise error from exc
        except BaseException as exc:
            self.summary.elapsed = time.perf_counter() - started
            self._fail(exc)
            raise
        self.summary.status = RunStatus.SUCCEEDED
        self.summary.elapsed = time.perf_counter() - started
        assert self.run_id is not None
        self.catalog.finish_run(self.run_id, RunStatus.SUCCEEDED, finished_at=self.clock.now())
        self.summary.superseded_files = remove_superseded(
            self.destination, self.spec.table, self.spec.destination.write
        )
        return self.summary

    def _pull_all(
        self,
        pages: list[Page],
        kind: CursorKind,
        state: CursorState,
        on_page: PageCallback | None,
    ) -> Any:
        sweep = state.sweep
        with PageReader(self.source, pages, depth=self.spec.prefetch_pages) as reader:
            for page, data in reader:
                failpoint("pull")
                # The run exists in the catalog from the moment the source first answers:
                # a source that cannot be reached leaves the catalog exactly as it was.
                run_id = self._ensure_run()
                sweep = kind.advance(sweep, data.cursor)
                self.summary.rows += self.path.take(page.key, data.table, run_id=run_id)
                self.summary.pages += 1
                if on_page is not None:
                    on_page(self.summary.pages, self.summary.rows)
                # ``reader.frontier`` is what is left after this page: a commit mid-sweep
                # stores it, so a crash resumes with exactly those pages.
                if self.path.chunk.rows >= self.spec.chunk_rows and reader.frontier:
                    left = tuple(reader.frontier)
                    self._flush(kind, CursorState(state.position, left, sweep, run_id), False)
        return sweep

    def _ensure_run(self) -> str:
        if self.run_id is None:
            self.run_id = open_run(
                self.catalog,
                self.clock,
                self.spec.name,
                trigger=self.trigger,
                resumed_from=self.summary.resumed_from,
                run_id=self.planned_run_id,
            )
            self.summary.run_id = self.run_id
        return self.run_id

    def _flush(self, kind: CursorKind, state: CursorState, finalize: bool) -> None:
        """Stage the buffered chunk and commit it with the cursor state that follows it."""
        run_id = self._ensure_run()
        chunk = self.path.take_chunk()
        staged: list[StagedFile] = []
        for data in chunk.tables():
            staged.append(
                self.destination.stage(self.spec.table, data, run_id=run_id, seq=self.files)
            )
            self.files += 1
        if staged:
            failpoint("after_stage")
        now = self.clock.now()
        payload = {
            "seq": self.seq,
            "pages": list(chunk.pages),
            "rows": chunk.rows,
            "files": [{"path": f.path, "rows": f.rows, "checksum": f.checksum} for f in staged],
        }
        self.catalog.record_step(StepRecord(run_id, f"pull:{self.seq}", "pull", payload, now))
        state = CursorState(state.position, state.frontier, state.sweep, run_id)
        request = commit_request(
            self.spec,
            run_id,
            files=staged,
            cursor_kind=kind,
            cursor_value=state.to_value(),
            expected_version=self.version,
            step=StepRecord(run_id, f"commit:{self.seq}", "commit", payload, now),
            finalize=finalize,
            pages=len(chunk.pages),
            schema_changes=self.gate.take_changes(),
        )
        failpoint("before_commit")
        # If the commit fails, the staged file is unreferenced garbage; the next run's
        # ``prepare`` collects it under the pipeline lock.
        result = self.destination.commit(request)
        failpoint("after_commit")
        self.gate.committed(result.schema_version, staged[-1].schema if staged else None)
        self.version = result.cursor.version
        self.summary.commits += 1
        self.summary.files += len(staged)
        self.seq += 1

    def _fail(self, exc: BaseException) -> None:
        if self.run_id is None:
            return
        status, code, message = record_failure(
            self.catalog,
            self.clock,
            self.run_id,
            exc,
            committed=bool(self.summary.commits),
            lock=self.lock,
        )
        self.summary.status = status
        self.summary.error = {"code": code, "message": message}
