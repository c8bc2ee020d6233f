"""The run protocol as separate, resumable calls: ``plan``, ``pull(page)`` × n, ``commit``.

A cloud workflow drives a run one step per call, and the process answering a call keeps
nothing between calls (the next may be another process): what a later step needs is recorded
in the catalog as the run's steps.

- ``plan`` closes out runs left ``running`` (an older workflow run is superseded), collects
  staged files nothing references, plans exactly as ``hakiri run`` does from the committed
  cursor, opens the run (trigger ``workflow``) and records a ``plan`` step: the pages, their
  groups (at most ``MAX_PULL_STEPS``, one per pull step), the cursor kind, the cursor version
  the plan saw and the value page cursors fold onto.
- ``pull`` reads one group's pages and every page they reveal, applies the transforms and
  the schema policy, stages Parquet and records a ``pull:<id>`` step: the staged files, what
  the group's cursors observed and the schema gate's state after it. Pulls go in page order,
  like the pages of one ``hakiri run``: a group's rows conform to the table's schema as the
  groups before it left it, and its files are numbered after theirs.
- ``commit`` publishes every staged file and moves the cursor in one catalog transaction
  (compare-and-set on the version the plan saw), then finishes the run.

Every step may be retried: a recorded pull answers from the catalog without reading the
source, a second commit answers with the run's summary. Nothing is visible to readers before
the commit. A failed pull leaves the run open for a retry (a schema refusal fails it, as it
fails ``hakiri run``); a crash leaves at worst staged files no step references, which the
next plan or run collects — pulls and commits never collect, so an open run keeps its files
between steps. Step results are pointers and counts, never data.
"""

from __future__ import annotations

from typing import Any

from hakiri.core.errors import UnknownRun
from hakiri.core.manifest import Project
from hakiri.core.ports import Clock
from hakiri.core.records import RunStatus, StepRecord
from hakiri.core.recovery import recover, remove_superseded
from hakiri.runtime.executor import start_sweep
from hakiri.runtime.protocol import open_run
from hakiri.runtime.steps._commit import all_pulls, commit_run
from hakiri.runtime.steps._pull import pull_group
from hakiri.runtime.steps._records import (
    COMMIT,
    PLAN,
    PlanRecord,
    PullRecord,
    fold_observed,
    group_pages,
    pull_key,
)
from hakiri.runtime.steps._results import (
    RESULT_BYTES,
    RESULT_FILES,
    plan_result,
    pull_result,
    run_summary,
)
from hakiri.runtime.steps._session import WORKFLOW_TRIGGER, StepSession, check_open, plan_of
from hakiri.runtime.steps.errors import RunNotOpen, StepsMissing, UnknownPage

__all__ = [
    "MAX_PULL_STEPS",
    "RESULT_BYTES",
    "RESULT_FILES",
    "WORKFLOW_TRIGGER",
    "RunNotOpen",
    "StepsMissing",
    "UnknownPage",
    "UnknownRun",
    "commit_step",
    "fold_observed",
    "group_pages",
    "plan_steps",
    "pull_step",
]

MAX_PULL_STEPS = 1024
"""At most this many pull steps per run (a workflow instance's step cap): a plan with more
pages groups consecutive pages."""

_SUPERSEDED = "a new plan of the pipeline superseded it"


def plan_steps(project: Project, name: str, *, clock: Clock | None = None) -> dict[str, Any]:
    """Open a workflow run of pipeline ``name`` and say which pages to pull.

    Returns ``{"run_id", "pipeline", "table", "cursor_kind", "resumed_from", "page_count",
    "keys_complete", "pages": [{"id", "count", "keys"}, …]}``: one entry per pull step, ids
    ``"0"`` … ``"n-1"``, in the order to pull them; ``pages`` is empty when there is nothing
    to read (the commit still runs). ``keys`` are the step's page keys, shortened to the
    first and last, then to none (``keys_complete`` false) when the result would not be
    small.
    """
    with StepSession.open(project, name, clock) as session:
        spec, catalog, now = session.spec, session.catalog, session.clock.now
        # A workflow run still open is superseded by this plan (one that died with it too):
        # the same recovery as ``hakiri run``'s, under the lock the session holds.
        recovered = recover(
            catalog,
            session.destination,
            pipeline=spec.name,
            table=spec.table,
            lock=session.lock,
            clock=session.clock,
            reason=_SUPERSEDED,
        )
        start = start_sweep(spec, catalog, session.source())
        # The run exists once the source has answered: one that cannot be reached leaves
        # no run behind.
        run_id = open_run(
            catalog,
            session.clock,
            spec.name,
            trigger=WORKFLOW_TRIGGER,
            resumed_from=start.resumed_from,
        )
        plan = PlanRecord(
            pages=start.pages,
            groups=group_pages(len(start.pages), MAX_PULL_STEPS),
            kind=start.kind,
            version=start.version,
            start=start.state.sweep,
            resumed_from=start.resumed_from,
            interrupted=recovered.interrupted,
            removed=len(recovered.removed),
        )
        catalog.record_step(StepRecord(run_id, PLAN, PLAN, plan.to_payload(), now()))
        return plan_result(run_id, spec, plan)


def pull_step(
    project: Project,
    name: str,
    page: str,
    *,
    run_id: str | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Pull page ``page`` (an id the plan returned) of a workflow run: read its pages and
    the pages they reveal, stage them (invisible to readers), record the step.

    ``run_id`` None: the pipeline's newest workflow run. Returns ``{"run_id", "page",
    "rows", "pages_read", "file_count", "files": [{"path", "rows"}, …]}``. A pull already
    recorded answers the same again without reading the source. Pages are pulled in the
    plan's order: pulling one before the page before it is ``StepsMissing``.
    """
    with StepSession.open(project, name, clock) as session:
        run = session.find_run(run_id)
        steps = session.steps(run)
        plan = plan_of(run, steps)
        index = plan.index(page, run.run_id)
        done = steps.get(pull_key(index))
        if done is not None and run.status in (RunStatus.RUNNING, RunStatus.SUCCEEDED):
            return pull_result(run.run_id, page, PullRecord.from_payload(done.payload))
        check_open(run)
        previous = None
        if index > 0:
            before = steps.get(pull_key(index - 1))
            if before is None:
                raise StepsMissing(
                    f"page {page!r} of run {run.run_id!r} cannot be pulled before page "
                    f"'{index - 1}': the pages of a run are pulled in order",
                    hint="pull the pages in the order the plan lists them",
                )
            previous = PullRecord.from_payload(before.payload)
        pulled = pull_group(session, run, plan, index, previous)
        step = StepRecord(
            run.run_id, pull_key(index), "pull", pulled.to_payload(), session.clock.now()
        )
        session.catalog.record_step(step)
        return pull_result(run.run_id, page, pulled)


def commit_step(
    project: Project,
    name: str,
    *,
    run_id: str | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Publish everything a workflow run's pulls staged and move the cursor, in one catalog
    transaction, then finish the run; answer with its summary (as ``RunSummary.to_dict()``).

    ``run_id`` None: the pipeline's newest workflow run. A run already committed answers
    with its summary again. ``StepsMissing`` (the run stays open) until every page is
    pulled; a ``CursorConflict`` (someone committed since the plan) fails the run.
    """
    with StepSession.open(project, name, clock) as session:
        run = session.find_run(run_id)
        steps = session.steps(run)
        if run.status is RunStatus.SUCCEEDED:
            return run_summary(session.spec, run, steps)
        check_open(run)
        plan = plan_of(run, steps)
        # A recorded commit step means the transaction went through and only finishing the
        # run was lost (a crash, a timeout): finish it now.
        if COMMIT not in steps:
            commit_run(session, run, plan, all_pulls(run, plan, steps))
        session.catalog.finish_run(run.run_id, RunStatus.SUCCEEDED, finished_at=session.clock.now())
        remove_superseded(session.destination, session.spec.table, session.spec.destination.write)
        finished = session.catalog.get_run(run.run_id)
        assert finished is not None
        return run_summary(session.spec, finished, session.steps(finished))
