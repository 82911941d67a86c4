"""Business time, in one place: the county's zone, the service clock, months, and the
monthly rhythm (cut-off and reconcile-and-file days).

- Every date a service decides by (notice windows, cut-offs, time limits, "late" marks) is a
  calendar date in the county's zone (a setting, default Asia/Shanghai), taken from the
  service's one clock, whatever the server's own zone is.
- The store's event timestamps stay real time: the audit log records when things really
  happened. Contracts carry business dates (`decided_on`, …) for what money and statistics
  are scheduled from; `occurred_at` is only the fallback for envelopes that predate them.
- The rhythm is policy data: review's effective-dated table (`roster_cutoff_day`,
  `reconcile_by_day`, `file_by_day`), which the other services receive as `policy_changed`.
  The rhythm of a month is the one in force on that month's first day, for every service.
- The working-day calendar (holidays) is `shared.calendar`, loaded once per process.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import cache, partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"


@cache
def county_zone(name: str = DEFAULT_ZONE) -> tzinfo:
    """The county's time zone (tzdata ships with the project, so slim images have it)."""
    return ZoneInfo(name)


CHINA = county_zone(DEFAULT_ZONE)


class Clock(Protocol):
    zone: tzinfo

    def now(self) -> datetime: ...


def today(clock: Clock) -> date:
    """The business date now, in the clock's county zone."""
    return clock.now().astimezone(clock.zone).date()


def today_from(clock: Clock) -> Callable[[], date]:
    """A service's "today": the business date of its one clock."""
    return partial(today, clock)


def local_date(instant: datetime, zone: tzinfo = CHINA) -> date:
    """The county's calendar date of a real instant (e.g. an event's `occurred_at`)."""
    return instant.astimezone(zone).date()


def business_date(stated: date | str | None, occurred_at: datetime,
                  zone: tzinfo = CHINA) -> date:
    """The business date a contract states, else (an envelope from before it stated one)
    the county's date of the moment it occurred."""
    if isinstance(stated, str):
        return date.fromisoformat(stated)
    return stated if stated is not None else local_date(occurred_at, zone)


def start_of_day(day: date, zone: tzinfo = CHINA) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


class SystemClock:
    def __init__(self, zone: tzinfo = CHINA) -> None:
        self.zone = zone

    def now(self) -> datetime:
        return datetime.now(self.zone)


class DemoClock:
    """Real time shifted by `shift` and running `speed` times faster from `anchor`.

    With a fixed `anchor` (a setting) the demo's time is the same function of real time in
    every process and across restarts, so a restarted service does not travel back.
    """

    def __init__(self, shift: timedelta = timedelta(0), speed: float = 1.0,
                 anchor: datetime | None = None, zone: tzinfo = CHINA) -> None:
        if speed < 1.0:
            raise ValueError("clock speed below 1 would run time backwards against windows")
        self.shift, self.speed, self.zone = shift, speed, zone
        self.anchor = anchor or datetime.now(zone)

    def now(self) -> datetime:
        real = datetime.now(self.zone)
        return (self.anchor + (real - self.anchor) * self.speed + self.shift).astimezone(
            self.zone)


def clock_for(shift_days: float = 0.0, speed: float = 1.0,
              anchor: datetime | None = None, zone: tzinfo = CHINA) -> Clock:
    """The clock a service's settings ask for (`ServiceSettings.clock_*`)."""
    if shift_days == 0 and speed == 1.0:
        return SystemClock(zone)
    return DemoClock(timedelta(days=shift_days), speed, anchor, zone)


class ManualClock:
    """A clock that moves only when told: tests."""

    def __init__(self, start: datetime, zone: tzinfo = CHINA) -> None:
        if start.tzinfo is None:
            raise ValueError("a manual clock starts at an aware instant")
        self._now = start
        self.zone = zone
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now.astimezone(self.zone)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("set the clock to an aware instant")
        with self._lock:
            self._now = when


# --- months ("YYYY-MM") ------------------------------------------------------------------

MONTH_FORMAT = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_parts(month: str) -> tuple[int, int]:
    """(year, month) of "YYYY-MM"; ValueError otherwise (services map it to their codes)."""
    m = MONTH_FORMAT.match(month or "")
    if not m:
        raise ValueError(f"{month!r} is not a month YYYY-MM")
    return int(m.group(1)), int(m.group(2))


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(month: str, n: int) -> str:
    y, m = month_parts(month)
    index = y * 12 + (m - 1) + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def first_day(month: str) -> date:
    y, m = month_parts(month)
    return date(y, m, 1)


def last_day(month: str) -> date:
    y, m = month_parts(month)
    return date(y, m, _stdlib_calendar.monthrange(y, m)[1])


def day_in(month: str, day: int) -> date:
    """Day `day` of a month; a county's day 31 means the month's end in short months."""
    if day < 1:
        raise ValueError(f"a day of the month is >= 1, got {day}")
    return min(first_day(month) + timedelta(days=day - 1), last_day(month))


# --- the monthly rhythm (DOMAIN.md "Monthly rhythm") ---------------------------------------


@dataclass(frozen=True)
class MonthlyRhythm:
    """By the cut-off (the 15th) every decision of the month is in the system and the
    roster is drafted; by the 20th the bank's return is reconciled and the sealed statistics
    are filed. The values are policy terms; these defaults are the Lingshui plan's, used
    only before review's first policy table has arrived."""

    cutoff_day: int = 15
    reconcile_by_day: int = 20
    file_by_day: int = 20

    @classmethod
    def from_terms(cls, terms: Mapping[str, Any]) -> MonthlyRhythm:
        """From a policy table's terms; a table from before the 20th was a term keeps it."""
        default = cls()
        return cls(cutoff_day=int(terms.get("roster_cutoff_day", default.cutoff_day)),
                   reconcile_by_day=int(terms.get("reconcile_by_day", default.reconcile_by_day)),
                   file_by_day=int(terms.get("file_by_day", default.file_by_day)))

    def cutoff(self, month: str) -> date:
        return day_in(month, self.cutoff_day)

    def reconcile_by(self, month: str) -> date:
        return day_in(month, self.reconcile_by_day)

    def file_by(self, month: str) -> date:
        return day_in(month, self.file_by_day)

    def first_payable_month(self, decided_on: date) -> str:
        """A decision by the month's cut-off reaches that month's roster, a later one the
        next month's: the roster is drafted at the cut-off."""
        month = month_of(decided_on)
        return month if decided_on <= self.cutoff(month) else add_months(month, 1)

    def roster_month(self, declared_month: str, decided_on: date) -> str:
        """The first roster a decision reaches: its declared month, unless it came too late."""
        return max(declared_month, self.first_payable_month(decided_on))


@dataclass(frozen=True)
class RhythmVersion:
    policy_version: int
    effective_from: date
    rhythm: MonthlyRhythm


class RhythmSchedule:
    """The effective-dated rhythm, from review's policy versions.

    One rule for every service: a month follows the rhythm in force on its first day
    (review's own choice among versions: the latest effective date by then, then the latest
    version). Before any version arrived, the plan's default applies.
    """

    def __init__(self, versions: Iterable[RhythmVersion] = ()) -> None:
        self.versions = sorted(versions, key=lambda v: (v.effective_from, v.policy_version))

    @classmethod
    def from_policy(cls, versions: Iterable[Mapping[str, Any]]) -> RhythmSchedule:
        """From `{"policy_version", "effective_from", "terms"}` records."""
        out = []
        for v in versions:
            eff = v["effective_from"]
            out.append(RhythmVersion(int(v["policy_version"]),
                                     eff if isinstance(eff, date) else date.fromisoformat(eff),
                                     MonthlyRhythm.from_terms(v["terms"])))
        return cls(out)

    def on(self, day: date) -> MonthlyRhythm:
        rhythm = MonthlyRhythm()
        for v in self.versions:
            if v.effective_from <= day:
                rhythm = v.rhythm
        return rhythm

    def of_month(self, month: str) -> MonthlyRhythm:
        return self.on(first_day(month))

    def for_decision(self, decided_on: date) -> MonthlyRhythm:
        return self.of_month(month_of(decided_on))

    def first_payable_month(self, decided_on: date) -> str:
        return self.for_decision(decided_on).first_payable_month(decided_on)

    def roster_month(self, declared_month: str, decided_on: date) -> str:
        return self.for_decision(decided_on).roster_month(declared_month, decided_on)
