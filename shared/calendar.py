"""Chinese working days (工作日) for statutory time limits.

Review deadlines such as "investigation within 3 working days of acceptance" or
"decision within 20 working days" count official working days: weekends and the
State Council's public holidays are off, and make-up workdays (调休上班) on
weekends are on.

The `chinesecalendar` package only knows years it was released with, while
deadlines set in December already fall into the next year.  So the holiday
schedule is *data*: the package seeds the years it knows, JSON files (one per
year) overlay it, and a published policy event can `extend` it at runtime.
For a year with no official schedule we fall back to Monday–Friday less the
statutory holidays whose dates are fixed in advance (元旦, 劳动节, 国庆: 《全国年节及纪念日
放假办法》), and mark the resulting deadline or count as provisional instead of failing.
The lunar holidays and the make-up workdays are only known from the State Council's notice.

Every service uses one calendar per process (`working_calendar`), operator files included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

__all__ = [
    "FIXED_DATE_HOLIDAYS",
    "SHIPPED_HOLIDAYS_DIR",
    "Deadline",
    "HolidaySchedule",
    "HolidayScheduleError",
    "WorkingCalendar",
    "WorkingDayCount",
    "working_calendar",
]

SHIPPED_HOLIDAYS_DIR = Path(__file__).parent / "data" / "holidays"

_SATURDAY = 5
# (month, day) of the statutory holidays fixed by the Gregorian calendar (2025 revision of
# 《全国年节及纪念日放假办法》): known for any year before its notice is published.
FIXED_DATE_HOLIDAYS = ((1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3))


class HolidayScheduleError(ValueError):
    """A holiday schedule (file or event) is inconsistent."""


def _schedule_problems(
    year: int, holidays: Iterable[date], workdays: Iterable[date], source: str
) -> list[str]:
    holidays, workdays = set(holidays), set(workdays)
    problems = []
    if not source.strip():
        problems.append("source must name the official notice")
    outside = sorted(d for d in holidays | workdays if d.year != year)
    if outside:
        problems.append(f"dates outside {year}: {', '.join(map(str, outside))}")
    both = sorted(holidays & workdays)
    if both:
        problems.append(f"dates both holiday and workday: {', '.join(map(str, both))}")
    # A make-up workday on a weekday changes nothing, so it is almost surely a typo.
    weekday_workdays = sorted(d for d in workdays if d.weekday() < _SATURDAY)
    if weekday_workdays:
        problems.append(
            "make-up workdays must fall on a Saturday or Sunday: "
            + ", ".join(map(str, weekday_workdays))
        )
    return problems


@dataclass(frozen=True)
class HolidaySchedule:
    """One year's official arrangement (节假日安排) as published by the State Council.

    `holidays` are the days off (weekend days inside a holiday block may be listed
    too); `workdays` are the weekend days that become working days (调休).
    """

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str

    def __post_init__(self) -> None:
        # Schedules also arrive as policy events, not only as validated files.
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        problems = _schedule_problems(self.year, self.holidays, self.workdays, self.source)
        if problems:
            raise HolidayScheduleError(f"holiday schedule {self.year}: " + "; ".join(problems))


class _HolidayScheduleFile(BaseModel):
    """Shape of `<year>.json`."""

    # Strict: only ISO date strings, so a bare 20270101 is not read as a Unix timestamp.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    year: int
    holidays: list[date]
    workdays: list[date]
    source: str

    @model_validator(mode="after")
    def _consistent(self) -> _HolidayScheduleFile:
        problems = _schedule_problems(self.year, self.holidays, self.workdays, self.source)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _describe(exc: ValidationError) -> str:
    """One line per problem, in words an operator editing the JSON understands."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(map(str, error["loc"]))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] not in ("value_error", "missing", "json_invalid"):
            message += f" (got {error['input']!r})"
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _read_schedule_file(path: Path) -> HolidaySchedule:
    try:
        parsed = _HolidayScheduleFile.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise HolidayScheduleError(f"cannot read holiday schedule {path}: {exc}") from exc
    except ValidationError as exc:
        raise HolidayScheduleError(f"invalid holiday schedule {path}: {_describe(exc)}") from exc
    # The file name is how operators find a year; a mismatch means a copy-paste slip.
    if path.stem != str(parsed.year):
        raise HolidayScheduleError(
            f"invalid holiday schedule {path}: file name must be {parsed.year}.json"
        )
    return HolidaySchedule(
        year=parsed.year,
        holidays=frozenset(parsed.holidays),
        workdays=frozenset(parsed.workdays),
        source=parsed.source,
    )


def _schedules_from_directory(directory: Path) -> list[HolidaySchedule]:
    if not directory.exists():
        return []  # an operator directory that was never created just adds nothing
    if not directory.is_dir():
        raise HolidayScheduleError(f"holiday schedule path {directory} is not a directory")
    return [_read_schedule_file(p) for p in sorted(directory.glob("*.json"))]


def _schedules_from_chinesecalendar() -> dict[int, HolidaySchedule]:
    import chinese_calendar

    source = f"chinesecalendar {metadata.version('chinesecalendar')} (国务院办公厅节假日安排通知)"
    holidays: dict[int, set[date]] = {}
    workdays: dict[int, set[date]] = {}
    for day in chinese_calendar.holidays:
        holidays.setdefault(day.year, set()).add(day)
    for day in chinese_calendar.workdays:
        workdays.setdefault(day.year, set()).add(day)
    # chinese_calendar lets a workday entry win over a holiday entry; mirror that.
    return {
        year: HolidaySchedule(
            year=year,
            holidays=frozenset(holidays.get(year, set()) - workdays.get(year, set())),
            workdays=frozenset(workdays.get(year, set())),
            source=source,
        )
        for year in range(min(holidays), max(holidays) + 1)
    }


@dataclass(frozen=True)
class Deadline:
    """A due date; `provisional` when part of the count had no official schedule."""

    due: date
    provisional: bool

    def __str__(self) -> str:
        return f"{self.due.isoformat()} (provisional)" if self.provisional else self.due.isoformat()


@dataclass(frozen=True)
class WorkingDayCount:
    """A number of working days; `provisional` when part of the span had no official
    schedule."""

    days: int
    provisional: bool


class WorkingCalendar:
    """Immutable working-day calendar over per-year official schedules."""

    def __init__(self, schedules: Mapping[int, HolidaySchedule] | None = None) -> None:
        schedules = dict(schedules or {})
        for year, schedule in schedules.items():
            if schedule.year != year:
                raise HolidayScheduleError(f"schedule for {schedule.year} filed under {year}")
        self._schedules: Mapping[int, HolidaySchedule] = MappingProxyType(schedules)

    @classmethod
    def load(cls, extra_dirs: Sequence[Path] = ()) -> WorkingCalendar:
        """Package years, then shipped JSON files, then each operator dir; later wins."""
        schedules = _schedules_from_chinesecalendar()
        for directory in (SHIPPED_HOLIDAYS_DIR, *map(Path, extra_dirs)):
            for schedule in _schedules_from_directory(directory):
                schedules[schedule.year] = schedule
        return cls(schedules)

    def extend(self, schedule: HolidaySchedule) -> WorkingCalendar:
        """A calendar with `schedule` added, or replacing that year's schedule."""
        return WorkingCalendar({**self._schedules, schedule.year: schedule})

    @property
    def official_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._schedules))

    def has_official_schedule(self, year: int) -> bool:
        return year in self._schedules

    def schedule(self, year: int) -> HolidaySchedule | None:
        return self._schedules.get(year)

    def is_working_day(self, day: date) -> bool:
        schedule = self._schedules.get(day.year)
        is_weekday = day.weekday() < _SATURDAY
        if schedule is None:
            return is_weekday and (day.month, day.day) not in FIXED_DATE_HOLIDAYS
        if day in schedule.holidays:
            return False
        return is_weekday or day in schedule.workdays

    def add_working_days(self, start: date, n: int) -> Deadline:
        """The day `n` working days after `start` (start itself does not count)."""
        if n < 0:
            raise ValueError(f"number of working days must be >= 0, got {n}")
        due = start
        remaining = n
        while remaining:
            due += timedelta(days=1)
            if self.is_working_day(due):
                remaining -= 1
        return Deadline(due=due, provisional=not self._official_throughout(start, due))

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 if end <= start)."""
        return self.count_working_days(start, end).days

    def count_working_days(self, start: date, end: date) -> WorkingDayCount:
        """`working_days_between`, marked provisional when a year of the span has no
        official schedule (an overdue count across 1 January, say)."""
        count = 0
        day = start + timedelta(days=1)
        while day <= end:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return WorkingDayCount(count, not self._official_throughout(start, max(start, end)))

    def _official_throughout(self, start: date, end: date) -> bool:
        return all(self.has_official_schedule(y) for y in range(start.year, end.year + 1))

    def __repr__(self) -> str:
        years = self.official_years
        span = f"{years[0]}–{years[-1]}" if years else "none"
        return f"WorkingCalendar(official years: {span})"


@lru_cache(maxsize=8)
def _load_cached(dirs: tuple[Path, ...]) -> WorkingCalendar:
    return WorkingCalendar.load(dirs)


def working_calendar(*extra_dirs: Path | None) -> WorkingCalendar:
    """The process's one calendar: package years, shipped files, then the operator's
    directories (`<var_dir>/holidays` and any configured one), loaded once."""
    return _load_cached(tuple(Path(d).resolve() for d in extra_dirs if d is not None))
