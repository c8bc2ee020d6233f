"""What the steps answer: pointers and counts, small enough for a workflow step result."""

from __future__ import annotations

import json
from typing import Any

from hakiri.core.manifest import PipelineSpec
from hakiri.core.records import RunRecord, StepRecord
from hakiri.runtime.executor import RunSummary
from hakiri.runtime.steps._records import COMMIT, PLAN, PlanRecord, PullRecord

__all__ = ["RESULT_BYTES", "RESULT_FILES", "plan_result", "pull_result", "run_summary"]

RESULT_BYTES = 48 * 1024
"""The most a plan result weighs as compact JSON: a workflow step result is a pointer,
never a payload, and stays well under the 64 KiB a workflow engine may take."""

RESULT_FILES = 256
"""At most this many staged files are listed in a pull result (``file_count`` counts all)."""

_KEYS = ("all", "ends", "none")
"""How much of each pull step's page keys a plan result lists, tried in this order."""


def plan_result(run_id: str, spec: PipelineSpec, plan: PlanRecord) -> dict[str, Any]:
    """The plan step's answer: one entry per pull step, with its page keys while they fit."""
    result: dict[str, Any] = {
        "run_id": run_id,
        "pipeline": spec.name,
        "table": spec.table,
        "cursor_kind": plan.kind.value,
        "resumed_from": plan.resumed_from,
        "page_count": len(plan.pages),
        "keys_complete": True,
        "pages": [],
    }
    for keys in _KEYS:
        result["keys_complete"] = keys == "all"
        result["pages"] = _entries(plan, keys)
        if len(json.dumps(result, separators=(",", ":"))) <= RESULT_BYTES:
            break
    return result


def _entries(plan: PlanRecord, keys: str) -> list[dict[str, Any]]:
    entries = []
    for i, (start, stop) in enumerate(plan.groups):
        names = [p.key for p in plan.pages[start:stop]] if keys != "none" else []
        if keys == "ends" and len(names) > 2:
            names = [names[0], names[-1]]
        entries.append({"id": str(i), "count": stop - start, "keys": names})
    return entries


def pull_result(run_id: str, page: str, pulled: PullRecord) -> dict[str, Any]:
    """The pull step's answer: pointers to the staged files, and counts."""
    return {
        "run_id": run_id,
        "page": page,
        "rows": pulled.rows,
        "pages_read": pulled.pages_read,
        "file_count": len(pulled.files),
        "files": [{"path": f.path, "rows": f.rows} for f in pulled.files[:RESULT_FILES]],
    }


def run_summary(spec: PipelineSpec, run: RunRecord, steps: dict[str, StepRecord]) -> dict[str, Any]:
    """A workflow run's summary, shaped as ``RunSummary.to_dict()`` (elapsed: plan to end)."""
    plan = PlanRecord.from_payload(steps[PLAN].payload) if PLAN in steps else None
    elapsed = 0.0
    if run.finished_at is not None:
        elapsed = max((run.finished_at - run.started_at).total_seconds(), 0.0)
    summary = RunSummary(
        run_id=run.run_id,
        pipeline=run.pipeline,
        table=spec.table,
        status=run.status,
        rows=run.rows,
        pages=run.pages,
        files=run.files,
        commits=1 if COMMIT in steps else 0,
        elapsed=elapsed,
        resumed_from=run.resumed_from,
        interrupted_runs=plan.interrupted if plan else [],
    )
    out = summary.to_dict()
    # The plan recorded how many staged files it collected, not their paths.
    out["removed_files"] = plan.removed if plan else 0
    return out
