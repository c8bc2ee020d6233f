"""The in-process scheduler: which pipelines start when, and a thread that starts them.

``Scheduler`` is the decision logic, driven by a ``Clock`` and no other I/O, so tests move a
``ManualClock`` and ask what starts. ``SchedulerLoop`` is a thread that wakes at the next due
time (or when told something changed), asks the scheduler, and hands each due pipeline to a
runner on a worker thread.

Semantics (also in docs/manifest.md, "Schedules"):

- **Cron** (UTC) fires at each time the expression matches. **``every N``** fires at a fixed
  rate measured from the previous *due* time, not from when the run ended, so runs do not
  drift; slots missed while down or busy are skipped, not replayed.
- **Start-up.** A pipeline whose last run (``last_run``, from the catalog) is older than a due
  time that has already passed — i.e. it missed a slot while Hakiri was down — fires once,
  at once. A pipeline with no known last run does not fire at start-up: its first due time is
  the next cron time, or start + interval (``hakiri run`` is there for an immediate run).
  For ``every N`` with a known last run, the phase continues from that run (due at
  ``last_run + N``).
- **Catch-up.** However many due times passed (downtime, a long run, a suspended laptop), a
  pipeline fires once, and its next due time is the first slot after *now* — never a burst.
- **No overlap.** A pipeline never runs twice at once. A due time that passes while its
  previous run is in flight is remembered; when the run finishes, one catch-up run starts
  (then the schedule resumes after now).
- **Reload.** ``update`` takes the whole new set of schedules: unchanged pipelines keep their
  due time (even if the spelling changed: ``every 60m`` == ``every 1h``), changed ones are
  rescheduled from now, removed ones are dropped. In-flight runs are never forgotten: a
  pipeline re-added while its run is in flight still does not overlap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hakiri.core.due import due_at
from hakiri.core.ports import Clock
from hakiri.core.schedule import IntervalSchedule, Schedule, parse_schedule

__all__ = ["Scheduler", "SchedulerLoop"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    schedule: Schedule
    due: datetime
    """The next time this pipeline should start; in the past means it is owed a run."""


class Scheduler:
    """Per-pipeline due times and in-flight runs. Thread-safe; all times are UTC.

    The owner calls ``tick()`` to get the pipelines to start now (they are marked in flight),
    starts them however it likes (thread, subprocess), and calls ``finished(name)`` when each
    ends, whatever its outcome. Runs started outside the schedule (a manual trigger) can be
    announced with ``started(name)`` so the schedule does not overlap them.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._running: set[str] = set()
        self._lock = threading.Lock()

    @property
    def clock(self) -> Clock:
        return self._clock

    def update(
        self,
        schedules: Mapping[str, str | Schedule | None],
        last_run: Mapping[str, datetime] | None = None,
    ) -> None:
        """Replace the set of scheduled pipelines (None: not scheduled).

        ``last_run`` holds the start time of each pipeline's last run (from the catalog); it
        is used only for pipelines that are new or whose schedule changed. Every string is
        parsed before anything changes, so a bad one (``ScheduleError``) leaves the scheduler
        as it was.
        """
        parsed = {
            name: parse_schedule(value) if isinstance(value, str) else value
            for name, value in schedules.items()
            if value is not None
        }
        last_run = last_run or {}
        with self._lock:
            now = _now(self._clock)
            entries: dict[str, _Entry] = {}
            for name, schedule in parsed.items():
                old = self._entries.get(name)
                if old is not None and old.schedule == schedule:
                    entries[name] = old
                else:
                    entries[name] = _Entry(schedule, _first_due(schedule, now, last_run.get(name)))
            self._entries = entries

    def tick(self) -> list[str]:
        """The pipelines to start now, sorted; each is marked in flight and rescheduled.

        A pipeline in flight is skipped and keeps its past due time, so it is owed exactly
        one run when it finishes.
        """
        with self._lock:
            now = _now(self._clock)
            starting = sorted(
                name
                for name, entry in self._entries.items()
                if entry.due <= now and name not in self._running
            )
            for name in starting:
                entry = self._entries[name]
                entry.due = _next_due(entry.schedule, entry.due, now)
                self._running.add(name)
            return starting

    def started(self, name: str) -> bool:
        """Mark ``name`` in flight (a run started outside ``tick``); False if it already was."""
        with self._lock:
            if name in self._running:
                return False
            self._running.add(name)
            return True

    def finished(self, name: str) -> None:
        """The run of ``name`` ended (success or failure); unknown names are ignored."""
        with self._lock:
            self._running.discard(name)

    def running(self) -> frozenset[str]:
        """The pipelines with a run in flight."""
        with self._lock:
            return frozenset(self._running)

    def next_due(self, name: str) -> datetime | None:
        """When ``name`` is next due (None: not scheduled)."""
        with self._lock:
            entry = self._entries.get(name)
            return None if entry is None else entry.due

    def next_wakeup(self) -> datetime | None:
        """The earliest due time of a pipeline not in flight (None: nothing to wait for).

        In-flight pipelines are left out: whatever they are owed becomes startable only when
        ``finished`` is called, which is the owner's cue to tick again.
        """
        with self._lock:
            times = [e.due for n, e in self._entries.items() if n not in self._running]
            return min(times, default=None)


def _now(clock: Clock) -> datetime:
    now = clock.now()
    if now.tzinfo is None:
        raise ValueError("the scheduler's clock must return timezone-aware datetimes")
    return now.astimezone(UTC)


def _first_due(schedule: Schedule, now: datetime, last_run: datetime | None) -> datetime:
    if last_run is None:
        return schedule.next_after(now)
    # The memoryless rule of hakiri.core.due (a last run "in the future" — clock skew between
    # machines — counts as now). In the past when a slot was missed since the last run:
    # tick() fires it once.
    return due_at(schedule, last_run, now)


def _next_due(schedule: Schedule, due: datetime, now: datetime) -> datetime:
    """The first slot strictly after ``now`` (``due <= now``); missed slots are skipped."""
    if isinstance(schedule, IntervalSchedule):
        # Fixed rate from the previous due time: the phase is kept, missed slots skipped.
        missed = (now - due) // schedule.interval
        return due + (missed + 1) * schedule.interval
    return schedule.next_after(now)


class SchedulerLoop:
    """A thread that starts due pipelines with ``runner(name)``, one worker thread per run.

    The loop sleeps until the next due time, but never longer than ``max_wait`` seconds (so a
    clock that jumps — a suspended machine, a test clock — is noticed), and wakes at once on
    ``update`` or when a run finishes. A runner's exception is logged and the run counts as
    finished; the schedule continues.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        runner: Callable[[str], None],
        *,
        max_wait: float = 30.0,
    ) -> None:
        self.scheduler = scheduler
        self._runner = runner
        self._max_wait = max_wait
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: dict[str, threading.Thread] = {}
        self._workers_lock = threading.Lock()

    def start(self) -> None:
        """Start the loop thread (once)."""
        if self._thread is not None:
            raise RuntimeError("the scheduler loop is already started")
        self._thread = threading.Thread(target=self._loop, name="hakiri-scheduler", daemon=True)
        self._thread.start()

    def update(
        self,
        schedules: Mapping[str, str | Schedule | None],
        last_run: Mapping[str, datetime] | None = None,
    ) -> None:
        """``Scheduler.update`` and wake the loop (in-flight runs go on undisturbed)."""
        self.scheduler.update(schedules, last_run)
        self._wake.set()

    def wake(self) -> None:
        """Make the loop look at the schedule now (e.g. after moving a test clock)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop starting runs, then wait up to ``timeout`` seconds for the loop and the
        in-flight runs to end. True when everything ended within the timeout."""
        self._stopping.set()
        self._wake.set()
        end = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(max(0.0, end - time.monotonic()))
        with self._workers_lock:
            threads = list(self._workers.values())
        if self._thread is not None:
            threads.append(self._thread)
        for thread in threads:
            thread.join(max(0.0, end - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            # Clear before ticking: a wake-up set after this point interrupts the wait below.
            self._wake.clear()
            for name in self.scheduler.tick():
                self._launch(name)
            self._wake.wait(self._wait_seconds())

    def _wait_seconds(self) -> float:
        wakeup = self.scheduler.next_wakeup()
        if wakeup is None:
            return self._max_wait
        seconds = (wakeup - _now(self.scheduler.clock)).total_seconds()
        return min(max(seconds, 0.0), self._max_wait)

    def _launch(self, name: str) -> None:
        worker = threading.Thread(
            target=self._run, args=(name,), name=f"hakiri-run-{name}", daemon=True
        )
        with self._workers_lock:
            self._workers[name] = worker
        worker.start()

    def _run(self, name: str) -> None:
        try:
            self._runner(name)
        except Exception:
            log.exception("scheduled run of pipeline %r failed", name)
        finally:
            with self._workers_lock:
                if self._workers.get(name) is threading.current_thread():
                    del self._workers[name]
            self.scheduler.finished(name)
            self._wake.set()
