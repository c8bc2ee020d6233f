"""How a run that died gets its honest ending, recorded by the next operation on its pipeline.

The catalog marks every run still ``running`` when the pipeline's lock is free as
interrupted (``interrupt_running``). Two things it cannot know are settled here:

- a run that committed nothing is ``failed``, not ``partial_failure`` (that status promises
  some of its rows are in the store);
- a run that failed but could not record why (its disk was full, its store read-only) left
  its last words in the pipeline's lock file: they become the run's error, in place of
  "the process running it stopped".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hakiri.core.errors import HakiriError, store_os_error
from hakiri.core.lock import PipelineLock
from hakiri.core.ports import Catalog, Clock, Destination
from hakiri.core.records import RunStatus, WriteDisposition

__all__ = [
    "DIED",
    "INTERRUPTED",
    "Recovered",
    "failure_of",
    "last_words",
    "record_failure",
    "recover",
    "remove_superseded",
    "settle_interrupted",
]

INTERRUPTED = "interrupted"
DIED = "the process running it stopped"
"""Why a run found ``running`` under a free lock is closed: its process is gone."""


def failure_of(exc: BaseException) -> tuple[str, str]:
    """``(code, one line)`` of what ended a run."""
    if isinstance(exc, HakiriError):
        return exc.code, exc.one_line()
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED, "interrupted by the user"
    return "internal_error", f"{type(exc).__name__}: {exc}".splitlines()[0]


def last_words(run_id: str, status: RunStatus, code: str, message: str) -> dict[str, Any]:
    return {"run_id": run_id, "status": status.value, "code": code, "message": message}


def settle_interrupted(
    catalog: Catalog,
    run_ids: Iterable[str],
    *,
    lock: PipelineLock | None,
    finished_at: datetime,
    reason: str,
) -> None:
    """Correct the status and cause of the runs ``interrupt_running`` just closed."""
    note = lock.last_words if lock is not None else None
    for run_id in run_ids:
        if note is not None and note.get("run_id") == run_id:
            catalog.finish_run(
                run_id,
                RunStatus(note.get("status", RunStatus.FAILED.value)),
                finished_at=finished_at,
                error_code=str(note.get("code", INTERRUPTED)),
                error_message=str(note.get("message", reason)),
            )
        elif not any(step.kind == "commit" for step in catalog.list_steps(run_id)):
            catalog.finish_run(
                run_id,
                RunStatus.FAILED,
                finished_at=finished_at,
                error_code=INTERRUPTED,
                error_message=reason,
            )
    if lock is not None and note is not None:
        lock.clear_note()


@dataclass(frozen=True, slots=True)
class Recovered:
    """What ``recover`` closed and removed before a new run of a pipeline starts."""

    interrupted: list[str]
    """The runs found ``running`` and closed, oldest first."""
    removed: list[str]
    """Store-relative paths of the files they staged and never committed, sorted."""


def recover(
    catalog: Catalog,
    destination: Destination,
    *,
    pipeline: str,
    table: str,
    lock: PipelineLock | None,
    clock: Clock,
    reason: str = DIED,
) -> Recovered:
    """Close every run of ``pipeline`` still marked ``running`` and delete what they staged
    but never committed: what any new run does first, whichever driver starts it
    (``hakiri run`` or a workflow's plan step).

    The caller holds the pipeline's lock (``lock``, where a run that could not record its
    failure left its last words); that is what makes it safe: no other run of the pipeline
    is alive, so each ``running`` run either died (``reason`` says how it ended) or was left
    open by a workflow that a new plan supersedes. A run that committed nothing ends
    ``failed``, one that committed something ``partial_failure``.
    """
    now = clock.now()
    interrupted = catalog.interrupt_running(pipeline, finished_at=now, reason=reason)
    settle_interrupted(catalog, interrupted, lock=lock, finished_at=now, reason=reason)
    try:
        removed = destination.prepare(table, live_runs=set())
    except OSError as exc:  # an unwritable store: one line, before anything is read
        raise store_os_error(exc, f"removing uncommitted files of {table!r}") from exc
    return Recovered(interrupted, removed)


def remove_superseded(destination: Destination, table: str, write: WriteDisposition) -> list[str]:
    """After a ``replace`` sweep's final commit, delete the generation it replaced.

    Nothing can make those files visible again; left on disk, the next run would collect
    them and report them as uncommitted. The caller holds the pipeline's lock, so no other
    run of the pipeline owns a file of the table.
    """
    if write is not WriteDisposition.REPLACE:
        return []
    return destination.prepare(table, live_runs=set())


def record_failure(
    catalog: Catalog,
    clock: Clock,
    run_id: str,
    exc: BaseException,
    *,
    committed: bool,
    lock: PipelineLock | None,
) -> tuple[RunStatus, str, str]:
    """Finish run ``run_id`` as failed by ``exc``: ``partial_failure`` if it had committed
    something, else ``failed``. Returns ``(status, code, message)``.

    If the catalog cannot take it (the store's disk is full, say), the failure is written
    into the pipeline's lock file for the next operation to record; the original error is
    what the caller raises either way.
    """
    status = RunStatus.PARTIAL_FAILURE if committed else RunStatus.FAILED
    code, message = failure_of(exc)
    try:
        catalog.finish_run(
            run_id, status, finished_at=clock.now(), error_code=code, error_message=message
        )
    except Exception:  # noqa: BLE001 - the original error matters more than this one
        if lock is not None:
            lock.leave_note(last_words(run_id, status, code, message))
    return status, code, message
