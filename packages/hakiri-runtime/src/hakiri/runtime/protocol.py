"""The run protocol's parts, written once: both drivers — ``hakiri run`` (``executor.py``, one
process, a commit per chunk) and the workflow steps (``steps/``, a plan, pulls and a commit
across processes) — are built from them.

- ``PipelineSession``: a pipeline resolved (bad input fails before anything is touched), its
  lock taken, its catalog, destination, source and transforms opened and closed together.
- ``open_run``: the run record, created once the source has answered.
- ``PagePath``: what happens to one page's rows — transforms, then the schema gate, then the
  chunk — the same for a page read by a run or by a pull step.
- ``commit_request``: the one ``CommitRequest`` a chunk (or a workflow commit) becomes.

How a run that fails is finished (``record_failure``) and how the next operation closes one
that died (``settle_interrupted``) live in ``hakiri.core.recovery``: compaction, in
hakiri-context, takes the same path.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from hakiri.core.clock import SystemClock
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.lock import PipelineLock
from hakiri.core.manifest import PipelineSpec, Project
from hakiri.core.plugins import open_catalog
from hakiri.core.ports import Catalog, Clock, Destination, Source, Transform
from hakiri.core.records import (
    CommitRequest,
    RunRecord,
    RunStatus,
    SchemaChange,
    StagedFile,
    StepRecord,
)
from hakiri.runtime.chunk import Chunk
from hakiri.runtime.host import LocalHost
from hakiri.runtime.pipeline import ResolvedPipeline, resolve_pipeline
from hakiri.runtime.schema_gate import SchemaGate
from hakiri.runtime.transforms import pipeline_transforms

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "PagePath",
    "PipelineSession",
    "commit_request",
    "new_run_id",
    "open_run",
]


def new_run_id(clock: Clock) -> str:
    """Sortable by start time, unique without coordination."""
    return f"{clock.now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


class PipelineSession:
    """One operation's resources on a pipeline; ``open`` holds its lock while they are open."""

    def __init__(
        self,
        resolved: ResolvedPipeline,
        host: LocalHost,
        destination: Destination,
        lock: PipelineLock,
        stack: ExitStack,
    ) -> None:
        self._resolved = resolved
        self._host = host
        self._stack = stack
        self._source: Source | None = None
        self._transforms: list[Transform] | None = None
        self.spec: PipelineSpec = resolved.spec
        self.catalog: Catalog = host.catalog
        self.clock: Clock = host.clock
        self.destination = destination
        self.lock = lock

    @classmethod
    @contextmanager
    def open(cls, project: Project, name: str, clock: Clock | None = None) -> Iterator[Self]:
        """Resolve pipeline ``name``, take its lock, open its catalog and destination."""
        clock = clock or SystemClock()
        secrets = project.secrets()
        resolved = resolve_pipeline(project, name, secrets)
        with PipelineLock(project.store_root, name) as lock, ExitStack() as stack:
            catalog = open_catalog(project.catalog_url, secrets=secrets)
            stack.callback(catalog.close)
            host = LocalHost(project.root, project.store_root, secrets, clock, catalog)
            destination: Destination = resolved.destination.create(
                resolved.destination_options, host
            )
            stack.callback(destination.close)
            yield cls(resolved, host, destination, lock, stack)

    def source(self) -> Source:
        """The pipeline's source, created on first use: a commit, or a pull answered from
        the catalog, never needs it."""
        if self._source is None:
            resolved = self._resolved
            source: Source = resolved.source.create(resolved.source_options, self._host)
            self._stack.callback(source.close)
            self._source = source
        return self._source

    def transforms(self) -> list[Transform]:
        """The pipeline's transforms, created on first use."""
        if self._transforms is None:
            transforms: list[Transform] = []
            for transform in pipeline_transforms(self.spec):
                self._stack.callback(transform.close)
                transforms.append(transform)
            self._transforms = transforms
        return self._transforms

    def gate(self) -> SchemaGate:
        """A schema gate for the pipeline's table, not started."""
        spec = self.spec
        return SchemaGate(
            self.catalog,
            self.clock,
            spec.table,
            spec.destination.schema_policy,
            primary_key=spec.destination.primary_key,
        )


def open_run(
    catalog: Catalog,
    clock: Clock,
    pipeline: str,
    *,
    trigger: str,
    resumed_from: str | None,
    run_id: str | None = None,
) -> str:
    """Create the run's record (``running``) and return its id (``run_id`` or a new one)."""
    run_id = run_id or new_run_id(clock)
    catalog.create_run(
        RunRecord(
            run_id=run_id,
            pipeline=pipeline,
            status=RunStatus.RUNNING,
            started_at=clock.now(),
            trigger=trigger,
            pid=os.getpid(),
            host=socket.gethostname(),
            resumed_from=resumed_from,
        )
    )
    return run_id


@dataclass(slots=True)
class PagePath:
    """A page's rows on their way into a chunk: transforms, the schema gate, the chunk."""

    transforms: Sequence[Transform]
    gate: SchemaGate
    chunk: Chunk

    def take(self, key: str, table: pa.Table, *, run_id: str) -> int:
        """Add ``table`` (page ``key``) to the chunk as the table will hold it; its rows."""
        for transform in self.transforms:
            table = transform.apply(table)
        table = self.gate.admit(table, run_id=run_id)
        self.chunk.add(key, table)
        return int(table.num_rows)

    def take_chunk(self) -> Chunk:
        """The chunk so far; the path goes on with an empty one."""
        full, self.chunk = self.chunk, Chunk()
        return full


def commit_request(
    spec: PipelineSpec,
    run_id: str,
    *,
    files: list[StagedFile],
    cursor_kind: CursorKind,
    cursor_value: JsonValue,
    expected_version: int,
    step: StepRecord,
    finalize: bool,
    pages: int,
    schema_changes: tuple[SchemaChange, ...],
) -> CommitRequest:
    """The commit of a run of ``spec``: its files, the cursor after them, its step."""
    return CommitRequest(
        run_id=run_id,
        pipeline=spec.name,
        table=spec.table,
        write=spec.destination.write,
        files=files,
        cursor_kind=cursor_kind,
        cursor_value=cursor_value,
        expected_version=expected_version,
        step=step,
        finalize=finalize,
        pages=pages,
        primary_key=tuple(spec.destination.primary_key),
        schema_policy=spec.destination.schema_policy,
        schema_changes=schema_changes,
    )
