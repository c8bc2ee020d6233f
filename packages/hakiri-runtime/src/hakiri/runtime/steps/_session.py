"""What one step works with — the pipeline's catalog, destination, source and transforms,
opened under its lock and closed after the step — and the run the step is about."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from hakiri.core.clock import SystemClock
from hakiri.core.errors import HakiriError, UnknownRun
from hakiri.core.lock import PipelineLock
from hakiri.core.manifest import PipelineSpec, Project
from hakiri.core.plugins import open_catalog
from hakiri.core.ports import Catalog, Clock, Destination, Source, Transform
from hakiri.core.records import RunRecord, RunStatus, StepRecord
from hakiri.runtime.host import LocalHost
from hakiri.runtime.pipeline import ResolvedPipeline, resolve_pipeline
from hakiri.runtime.secrets import EnvSecretResolver
from hakiri.runtime.steps._records import PLAN, PlanRecord
from hakiri.runtime.steps.errors import RunNotOpen
from hakiri.runtime.transforms import pipeline_transforms

__all__ = ["WORKFLOW_TRIGGER", "StepSession", "check_open", "plan_of"]

WORKFLOW_TRIGGER = "workflow"
"""The trigger of the runs a plan step opens."""

_NEWEST_RUNS = 100
"""How many of a pipeline's newest runs are searched for its newest workflow run (any
normal run supersedes an open workflow run, so one still open is never far down)."""


class StepSession:
    """One step's resources; ``open`` holds the pipeline's lock while they are open."""

    def __init__(
        self,
        resolved: ResolvedPipeline,
        host: LocalHost,
        destination: Destination,
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

    @classmethod
    @contextmanager
    def open(cls, project: Project, name: str, clock: Clock | None) -> Iterator[StepSession]:
        """Resolve pipeline ``name`` (bad input fails before anything is touched), take its
        lock, open its catalog and destination as ``run_pipeline`` does."""
        clock = clock or SystemClock()
        secrets = EnvSecretResolver(project.root)
        resolved = resolve_pipeline(project, name, secrets)
        with PipelineLock(project.store_root, name), ExitStack() as stack:
            catalog = open_catalog(project.catalog_url)
            stack.callback(catalog.close)
            host = LocalHost(project.root, project.store_root, secrets, clock, catalog)
            destination: Destination = resolved.destination.create(
                resolved.destination_options, host
            )
            stack.callback(destination.close)
            yield cls(resolved, host, destination, stack)

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

    def find_run(self, run_id: str | None) -> RunRecord:
        """Workflow run ``run_id`` of this pipeline; None: its newest workflow run (still
        running, unless it has finished since — then a step says so)."""
        name = self.spec.name
        if run_id is None:
            for run in self.catalog.list_runs(name, limit=_NEWEST_RUNS):
                if run.trigger == WORKFLOW_TRIGGER:
                    return run
            raise UnknownRun(
                f"pipeline {name!r} has no workflow run", hint="open one with the plan step"
            )
        found = self.catalog.get_run(run_id)
        if found is None or found.pipeline != name or found.trigger != WORKFLOW_TRIGGER:
            raise UnknownRun(
                f"pipeline {name!r} has no workflow run {run_id!r}",
                hint="use the run_id the plan step returned",
            )
        return found

    def steps(self, run: RunRecord) -> dict[str, StepRecord]:
        """The run's recorded steps, by key."""
        return {step.key: step for step in self.catalog.list_steps(run.run_id)}

    def fail(self, run_id: str, exc: HakiriError) -> None:
        """Finish the run ``failed`` with ``exc`` (nothing of a workflow run is committed
        before its commit step)."""
        try:
            self.catalog.finish_run(
                run_id,
                RunStatus.FAILED,
                finished_at=self.clock.now(),
                error_code=exc.code,
                error_message=exc.one_line(),
            )
        except Exception:  # noqa: BLE001 - the original error matters more than this one
            pass


def plan_of(run: RunRecord, steps: dict[str, StepRecord]) -> PlanRecord:
    """The run's recorded plan."""
    step = steps.get(PLAN)
    if step is None:
        # Only a plan step that died between opening the run and recording its plan.
        raise RunNotOpen(
            f"run {run.run_id!r} has no recorded plan", hint="start a new run with the plan step"
        )
    return PlanRecord.from_payload(step.payload)


def check_open(run: RunRecord) -> None:
    """``RunNotOpen`` unless the run is still running."""
    if run.status is RunStatus.RUNNING:
        return
    why = f" ({run.error_code}: {run.error_message})" if run.error_code else ""
    raise RunNotOpen(
        f"run {run.run_id!r} of pipeline {run.pipeline!r} already finished {run.status.value}{why}",
        hint="start a new run with the plan step",
    )
