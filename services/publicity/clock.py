"""The clock that drives notice windows: real China time, shifted or accelerated for demos.

Windows are calendar dates in China (UTC+8, no daylight saving), whatever the server's own
zone. Tests and demos inject another clock instead of patching time.
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
