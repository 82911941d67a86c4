"""The service's clock: real China time, or shifted / accelerated for demos.

Every date a service decides by (notice windows, cut-offs, time limits, "late" marks) is a
calendar date in China (UTC+8, no daylight saving), whatever the server's own zone. Each
service reads it from one clock built from its settings (`clock_for`); tests and demos
inject another clock instead of patching time. The store's event timestamps stay real
time: the audit log records when things really happened.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from typing import Protocol

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


def today(clock: Clock) -> date:
    return clock.now().astimezone(CHINA).date()


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(CHINA)


class DemoClock:
    """Real time shifted by `shift` and running `speed` times faster from `anchor`.

    With a fixed `anchor` (a setting) the demo's time is the same function of real time in
    every process and across restarts, so a restarted service does not travel back.
    """

    def __init__(self, shift: timedelta = timedelta(0), speed: float = 1.0,
                 anchor: datetime | None = None) -> None:
        if speed < 1.0:
            raise ValueError("clock speed below 1 would run time backwards against windows")
        self.shift, self.speed = shift, speed
        self.anchor = anchor or datetime.now(CHINA)

    def now(self) -> datetime:
        real = datetime.now(CHINA)
        return self.anchor + (real - self.anchor) * self.speed + self.shift


def clock_for(shift_days: float = 0.0, speed: float = 1.0,
              anchor: datetime | None = None) -> Clock:
    """The clock a service's settings ask for (`ServiceSettings.clock_*`)."""
    if shift_days == 0 and speed == 1.0:
        return SystemClock()
    return DemoClock(timedelta(days=shift_days), speed, anchor)


class ManualClock:
    """A clock that moves only when told: tests."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when
