"""Clocks. Time enters Hakiri through the Clock port so schedulers and tests can control it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["ManualClock", "SystemClock", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return utc_now()


class ManualClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, when: datetime) -> None:
        self._now = when
