"""The commit: every group's staged files and the folded cursor, in one catalog transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from hakiri.core.errors import CursorConflict
from hakiri.core.records import RunRecord, SchemaChange, StepRecord
from hakiri.runtime.cursor_state import CursorState
from hakiri.runtime.protocol import commit_request
from hakiri.runtime.steps._records import COMMIT, PlanRecord, PullRecord, pull_key
from hakiri.runtime.steps._session import StepSession
from hakiri.runtime.steps.errors import StepsMissing

__all__ = ["all_pulls", "commit_run"]

_LISTED = 20
"""At most this many missing page ids named in a ``steps_missing`` message."""


def all_pulls(run: RunRecord, plan: PlanRecord, steps: dict[str, StepRecord]) -> list[PullRecord]:
    """Every group's pull record in page order, or ``StepsMissing`` naming the missing."""
    missing = [str(i) for i in range(len(plan.groups)) if pull_key(i) not in steps]
    if missing:
        listed = ", ".join(missing[:_LISTED])
        if len(missing) > _LISTED:
            listed += f", … ({len(missing) - _LISTED} more)"
        raise StepsMissing(
            f"run {run.run_id!r} cannot commit: {len(missing)} of {len(plan.groups)} "
            f"page(s) not pulled yet: {listed}",
            hint="pull every page of the plan, then commit",
            missing=missing[:_LISTED],
        )
    return [PullRecord.from_payload(steps[pull_key(i)].payload) for i in range(len(plan.groups))]


def commit_run(
    session: StepSession, run: RunRecord, plan: PlanRecord, pulls: Sequence[PullRecord]
) -> None:
    """Publish the pulls' files and move the cursor as the end of ``hakiri run``'s sweep
    does; a ``CursorConflict`` (someone committed since the plan) fails the run."""
    spec = session.spec
    sweep = plan.start
    for pulled in pulls:
        sweep = plan.kind.advance(sweep, pulled.cursor)
    files = [f for pulled in pulls for f in pulled.files]
    pages = sum(p.pages_read for p in pulls)
    payload = {
        "pulls": len(pulls),
        "pages": pages,
        "rows": sum(p.rows for p in pulls),
        "files": len(files),
    }
    request = commit_request(
        spec,
        run.run_id,
        files=files,
        cursor_kind=plan.kind,
        cursor_value=CursorState(position=sweep, sweep=sweep, run_id=run.run_id).to_value(),
        expected_version=plan.version,
        step=StepRecord(run.run_id, COMMIT, COMMIT, payload, session.clock.now()),
        finalize=True,
        pages=pages,
        schema_changes=merge_changes(c for pulled in pulls for c in pulled.changes),
    )
    try:
        session.destination.commit(request)
    except CursorConflict as exc:
        # The pages were planned from a cursor that has moved: they may overlap what was
        # committed since, so this run can never commit. A new plan starts from there.
        session.fail(run.run_id, exc)
        raise


def merge_changes(changes: Iterable[SchemaChange]) -> tuple[SchemaChange, ...]:
    """Every group's decisions as one commit carries them: each decision once, its rows
    summed (what ``SchemaGate.take_changes`` does within one process's run)."""
    merged: dict[tuple[str, ...], SchemaChange] = {}
    for change in changes:
        known = merged.get(change.key)
        merged[change.key] = (
            change if known is None else replace(known, rows=known.rows + change.rows)
        )
    return tuple(merged.values())
