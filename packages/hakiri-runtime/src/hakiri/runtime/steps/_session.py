"""What one step works with — the pipeline's catalog, destination, source and transforms,
opened under its lock and closed after the step — and the run the step is about."""

from __future__ import annotations

from hakiri.core.errors import HakiriError, UnknownRun
from hakiri.core.records import RunRecord, RunStatus, StepRecord
from hakiri.core.recovery import record_failure
from hakiri.runtime.protocol import PipelineSession
from hakiri.runtime.steps._records import PLAN, PlanRecord
from hakiri.runtime.steps.errors import RunNotOpen

__all__ = ["WORKFLOW_TRIGGER", "StepSession", "check_open", "plan_of"]

WORKFLOW_TRIGGER = "workflow"
"""The trigger of the runs a plan step opens."""

_NEWEST_RUNS = 100
"""How many of a pipeline's newest runs are searched for its newest workflow run (any
normal run supersedes an open workflow run, so one still open is never far down)."""


class StepSession(PipelineSession):
    """One step's resources (``PipelineSession``), and the workflow run the step is about."""

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
        record_failure(self.catalog, self.clock, run_id, exc, committed=False, lock=self.lock)


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
