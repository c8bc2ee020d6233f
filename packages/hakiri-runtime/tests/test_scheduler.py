"""The scheduler's decisions, driven by a ManualClock: when pipelines fire, no overlap,
catch-up once, reloads, start-up after downtime — and a short real-thread run of the loop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from hakiri.core.clock import ManualClock
from hakiri.core.schedule import ScheduleError
from hakiri.runtime.scheduler import Scheduler, SchedulerLoop

T0 = datetime(2026, 3, 1, 12, 7, 30, tzinfo=UTC)


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 1, hour, minute, second, tzinfo=UTC)


def _fire_times(scheduler: Scheduler, clock: ManualClock, until: datetime) -> list[datetime]:
    """Step the clock second by second, finishing every run at once; when did runs start?"""
    fired: list[datetime] = []
    while clock.now() < until:
        clock.advance(timedelta(seconds=1))
        for name in scheduler.tick():
            fired.append(clock.now())
            scheduler.finished(name)
    return fired


def test_cron_fires_at_exact_minute_boundaries() -> None:
    clock = ManualClock(T0)
    scheduler = Scheduler(clock)
    scheduler.update({"issues": "*/15 * * * *"})
    assert scheduler.tick() == []  # start-up is not a trigger
    assert scheduler.next_due("issues") == _at(12, 15)
    fired = _fire_times(scheduler, clock, _at(13, 5))
    assert fired == [_at(12, 15), _at(12, 30), _at(12, 45), _at(13, 0)]


def test_interval_fires_every_15m_from_start() -> None:
    clock = ManualClock(T0)
    scheduler = Scheduler(clock)
    scheduler.update({"issues": "every 15m"})
    fired = _fire_times(scheduler, clock, T0 + timedelta(minutes=50))
    assert fired == [T0 + timedelta(minutes=15 * k) for k in (1, 2, 3)]


def test_interval_is_fixed_rate_from_the_due_time_not_the_run_end() -> None:
    clock = ManualClock(T0)
    scheduler = Scheduler(clock)
    scheduler.update({"issues": "every 15m"})
    clock.advance(timedelta(minutes=15, seconds=40))  # the loop noticed 40 s late
    assert scheduler.tick() == ["issues"]
    clock.advance(timedelta(minutes=5))  # a 5-minute run
    scheduler.finished("issues")
    assert scheduler.next_due("issues") == T0 + timedelta(minutes=30)


def test_overlap_is_prevented_and_one_catch_up_follows() -> None:
    clock = ManualClock(T0)
    scheduler = Scheduler(clock)
    scheduler.update({"slow": "every 15m", "fast": "every 15m"})
    clock.advance(timedelta(minutes=15))
    assert scheduler.tick() == ["fast", "slow"]
    scheduler.finished("fast")
    assert scheduler.running() == {"slow"}
    # "slow" runs for an hour: four more due times pass, none starts a second run.
    for _ in range(4):
        clock.advance(timedelta(minutes=15))
        assert scheduler.tick() == ["fast"]
        scheduler.finished("fast")
    assert scheduler.next_wakeup() == T0 + timedelta(minutes=90)  # "fast"; "slow" is in flight
    clock.advance(timedelta(minutes=2))
    scheduler.finished("slow")
    # Owed exactly one run, at once, and then the schedule resumes after now.
    assert scheduler.tick() == ["slow"]
    assert scheduler.next_due("slow") == T0 + timedelta(minutes=90)
    scheduler.finished("slow")
    assert scheduler.tick() == []


def test_manual_run_blocks_the_schedule() -> None:
    clock = ManualClock(T0)
    scheduler = Scheduler(clock)
    scheduler.update({"issues": "@hourly"})
    assert scheduler.started("issues") is True
    assert scheduler.started("issues") is False
    clock.set(_at(13, 0))
    assert scheduler.tick() == []
    scheduler.finished("issues")
    assert scheduler.tick() == ["issues"]


def test_three_hours_down_fires_once_and_next_due_is_after_now() -> None:
    clock = ManualClock(T0)
    scheduler = Scheduler(clock)
    scheduler.update({"every": "every 15m", "cron": "*/15 * * * *"})
    clock.advance(timedelta(hours=3, minutes=4))  # the machine slept through 12 slots
    assert scheduler.tick() == ["cron", "every"]
    assert scheduler.next_due("every") == T0 + timedelta(hours=3, minutes=15)  # phase kept
    assert scheduler.next_due("cron") == _at(15, 15)
    scheduler.finished("cron")
    scheduler.finished("every")
    assert scheduler.tick() == []
    clock.advance(timedelta(minutes=10))
    assert scheduler.tick() == ["cron"]


def test_update_keeps_unchanged_drops_removed_reschedules_changed() -> None:
    clock = ManualClock(T0)
    scheduler = Scheduler(clock)
    scheduler.update(
        {"same": "every 1h", "respelled": "every 60m", "changed": "@hourly", "x": None}
    )
    assert scheduler.next_due("x") is None
    clock.advance(timedelta(minutes=40))
    scheduler.update(
        {"same": "every 1h", "respelled": "every 1h", "changed": "every 2h", "new": "every 5m"}
    )
    assert scheduler.next_due("same") == T0 + timedelta(hours=1)
    assert scheduler.next_due("respelled") == T0 + timedelta(hours=1)
    assert scheduler.next_due("changed") == T0 + timedelta(minutes=40, hours=2)
    assert scheduler.next_due("new") == T0 + timedelta(minutes=45)
    scheduler.update({"same": "every 1h"})
    assert scheduler.next_due("changed") is None
    assert scheduler.next_due("new") is None


def test_update_keeps_in_flight_runs_and_is_atomic() -> None:
    clock = ManualClock(T0)
    scheduler = Scheduler(clock)
    scheduler.update({"issues": "every 15m"})
    clock.advance(timedelta(minutes=15))
    assert scheduler.tick() == ["issues"]
    scheduler.update({})  # removed while running …
    scheduler.update({"issues": "every 5m"})  # … and back, changed: still no overlap
    clock.advance(timedelta(minutes=5))
    assert scheduler.tick() == []
    with pytest.raises(ScheduleError):
        scheduler.update({"issues": "every 1h", "bad": "every 15x"})
    assert scheduler.next_due("issues") == T0 + timedelta(minutes=20)  # nothing changed
    scheduler.finished("issues")
    assert scheduler.tick() == ["issues"]


def test_start_up_catches_up_from_the_last_run() -> None:
    clock = ManualClock(_at(12, 7))
    scheduler = Scheduler(clock)
    scheduler.update(
        {
            "missed_cron": "0 * * * *",  # last ran 10:00; 11:00 and 12:00 were missed
            "ok_cron": "0 * * * *",  # last ran 12:00: nothing missed
            "missed_every": "every 30m",  # last ran 11:00; due 11:30, missed
            "ok_every": "every 30m",  # last ran 11:50; due 12:20
            "never_ran": "every 30m",
        },
        last_run={
            "missed_cron": _at(10, 0, 5),
            "ok_cron": _at(12, 0, 1),
            "missed_every": _at(11, 0),
            "ok_every": _at(11, 50),
            "unscheduled": _at(1, 0),
        },
    )
    assert scheduler.tick() == ["missed_cron", "missed_every"]  # once each, not a burst
    assert scheduler.next_due("missed_cron") == _at(13, 0)
    assert scheduler.next_due("missed_every") == _at(12, 30)
    assert scheduler.next_due("ok_cron") == _at(13, 0)
    assert scheduler.next_due("ok_every") == _at(12, 20)
    assert scheduler.next_due("never_ran") == _at(12, 37)
    scheduler.finished("missed_cron")
    scheduler.finished("missed_every")
    assert scheduler.tick() == []


def test_a_last_run_in_the_future_counts_as_now() -> None:
    clock = ManualClock(_at(12, 7))
    scheduler = Scheduler(clock)
    scheduler.update({"issues": "every 10m"}, last_run={"issues": _at(18, 0)})
    assert scheduler.next_due("issues") == _at(12, 17)


def test_naive_clock_is_refused() -> None:
    class Naive:
        def now(self) -> datetime:
            return datetime(2026, 1, 1)

    with pytest.raises(ValueError, match="timezone-aware"):
        Scheduler(Naive()).update({"issues": "every 1m"})


def test_loop_runs_due_pipelines_on_threads_and_stops_promptly() -> None:
    clock = ManualClock(T0)
    ran: list[str] = []
    release = threading.Event()
    first_run = threading.Event()

    def runner(name: str) -> None:
        ran.append(name)
        first_run.set()
        if name == "boom":
            raise RuntimeError("a failing run does not stop the loop")
        release.wait(10)

    loop = SchedulerLoop(Scheduler(clock), runner, max_wait=0.05)
    loop.start()
    try:
        loop.update({"issues": "every 1m", "boom": "every 1m"})
        clock.advance(timedelta(minutes=1))
        loop.wake()
        assert first_run.wait(10)
        for _ in range(200):
            if loop.scheduler.running() == {"issues"}:
                break
            threading.Event().wait(0.01)
        assert loop.scheduler.running() == {"issues"}  # "boom" failed and counts as finished
        clock.advance(timedelta(minutes=5))
        loop.wake()
        threading.Event().wait(0.1)
        assert ran.count("issues") == 1  # still in flight: no second run
        release.set()
    finally:
        release.set()
        assert loop.stop(timeout=10)
    assert sorted(set(ran)) == ["boom", "issues"]
    assert loop.scheduler.running() == frozenset()
