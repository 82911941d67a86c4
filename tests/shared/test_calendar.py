import json
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from shared.calendar import (
    FIXED_DATE_HOLIDAYS,
    Deadline,
    HolidaySchedule,
    HolidayScheduleError,
    WorkingCalendar,
)
from shared.clock import MonthlyRhythm

pytestmark = pytest.mark.fast

HYPOTHETICAL_2027 = {
    "year": 2027,
    # Test data only: the real 2027 arrangement is not published yet.
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03"],
    "workdays": [],
    "source": "hypothetical schedule for tests",
}


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.load()


def _write(directory: Path, name: str, content: object) -> Path:
    path = directory / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return path


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


# --- agreement with chinesecalendar -------------------------------------------------


def test_agrees_with_chinese_calendar_every_day_of_known_years(cal):
    first_year = min(chinese_calendar.holidays).year
    last_year = max(chinese_calendar.holidays).year
    assert last_year >= 2026
    for day in _days(date(first_year, 1, 1), date(last_year, 12, 31)):
        assert cal.is_working_day(day) == chinese_calendar.is_workday(day), day
        assert cal.has_official_schedule(day.year)


def test_agrees_with_chinese_calendar_2024_to_2026(cal):
    # The years live deadlines are computed in; kept explicit in case the range above moves.
    for day in _days(date(2024, 1, 1), date(2026, 12, 31)):
        assert cal.is_working_day(day) == chinese_calendar.is_workday(day), day


# --- holidays and make-up workdays ---------------------------------------------------


def test_spring_festival_2026_data(cal):
    off = [date(2026, 2, d) for d in range(15, 24)]
    assert all(not chinese_calendar.is_workday(d) for d in off)
    assert all(not cal.is_working_day(d) for d in off)
    for makeup in (date(2026, 2, 14), date(2026, 2, 28)):  # both Saturdays
        assert makeup.weekday() == 5
        assert chinese_calendar.is_workday(makeup)
        assert cal.is_working_day(makeup)


def test_twenty_working_days_across_spring_festival_2026(cal):
    # Accepted Fri 6 Feb. Counting: 9–13 Feb (5), Sat 14 (6), 15–23 off, 24–27 (10),
    # Sat 28 (11), 2–6 Mar (16), 9–12 Mar (20).
    deadline = cal.add_working_days(date(2026, 2, 6), 20)
    assert deadline == Deadline(due=date(2026, 3, 12), provisional=False)
    assert str(deadline) == "2026-03-12"
    assert cal.working_days_between(date(2026, 2, 6), date(2026, 3, 12)) == 20


def test_national_day_2025_golden_week(cal):
    # Make-up workday Sun 28 Sep counts; 1–8 Oct off; Sat 11 Oct is a make-up workday.
    assert cal.add_working_days(date(2025, 9, 26), 3).due == date(2025, 9, 30)
    assert cal.add_working_days(date(2025, 9, 30), 1).due == date(2025, 10, 9)
    assert cal.add_working_days(date(2025, 9, 30), 3).due == date(2025, 10, 11)
    assert cal.working_days_between(date(2025, 9, 30), date(2025, 10, 8)) == 0


def test_start_day_does_not_count_and_zero_is_start(cal):
    monday = date(2026, 3, 2)
    assert cal.add_working_days(monday, 1).due == date(2026, 3, 3)
    assert cal.add_working_days(monday, 0) == Deadline(monday, provisional=False)
    # Accepted on a Saturday: the first working day is Monday.
    assert cal.add_working_days(date(2026, 3, 7), 1).due == date(2026, 3, 9)


def test_negative_count_is_rejected(cal):
    with pytest.raises(ValueError):
        cal.add_working_days(date(2026, 3, 2), -1)


def test_working_days_between_inverts_add_working_days(cal):
    for start in (date(2025, 9, 20), date(2026, 1, 28), date(2026, 12, 20)):
        for n in range(0, 45):
            assert cal.working_days_between(start, cal.add_working_days(start, n).due) == n


def test_working_days_between_is_zero_when_end_not_after_start(cal):
    assert cal.working_days_between(date(2026, 3, 10), date(2026, 3, 10)) == 0
    assert cal.working_days_between(date(2026, 3, 10), date(2026, 3, 2)) == 0


# --- years without an official schedule ---------------------------------------------


def test_count_into_2027_is_provisional_and_skips_weekends_and_fixed_holidays(cal):
    assert not cal.has_official_schedule(2027)
    # From Thu 24 Dec 2026: 25 Dec (1), 28–31 Dec (5), Fri 1 Jan 2027 is 元旦 whatever the
    # notice will say (skipped), 4–8 Jan (10), 11–15 Jan (15), 18–22 Jan (20).
    deadline = cal.add_working_days(date(2026, 12, 24), 20)
    assert deadline == Deadline(due=date(2027, 1, 22), provisional=True)
    assert str(deadline) == "2027-01-22 (provisional)"


@pytest.mark.parametrize("day", [date(2027, 1, 1), date(2027, 5, 1), date(2027, 5, 2),
                                 date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3)])
def test_fixed_date_statutory_holidays_are_off_in_a_year_without_a_schedule(cal, day):
    assert not cal.has_official_schedule(day.year)
    assert not cal.is_working_day(day)


def test_an_ordinary_weekday_of_an_unscheduled_year_is_a_working_day(cal):
    assert cal.is_working_day(date(2027, 1, 4))  # a Monday
    assert not cal.is_working_day(date(2027, 1, 9))  # a Saturday


def test_an_overdue_count_across_new_year_is_provisional(cal):
    # Due Thu 24 Dec 2026, asked on Mon 4 Jan 2027: 25, 28–31 Dec and 4 Jan; 1 Jan is off.
    count = cal.count_working_days(date(2026, 12, 24), date(2027, 1, 4))
    assert (count.days, count.provisional) == (6, True)
    inside = cal.count_working_days(date(2026, 12, 1), date(2026, 12, 8))
    assert (inside.days, inside.provisional) == (5, False)
    assert cal.working_days_between(date(2026, 12, 24), date(2027, 1, 4)) == 6


def test_count_inside_2026_is_not_provisional(cal):
    assert not cal.add_working_days(date(2026, 12, 1), 10).provisional


@pytest.mark.parametrize("year", [1990, 2099])
def test_years_far_outside_data_never_crash(cal, year):
    assert not cal.has_official_schedule(year)
    for day in _days(date(year, 1, 1), date(year, 12, 31)):
        fixed = (day.month, day.day) in FIXED_DATE_HOLIDAYS
        assert cal.is_working_day(day) == (day.weekday() < 5 and not fixed)
    deadline = cal.add_working_days(date(year, 12, 30), 5)
    assert deadline.provisional
    assert cal.working_days_between(date(year, 1, 1), date(year, 1, 31)) > 0


# --- overlays and extension ---------------------------------------------------------


def test_operator_file_makes_2027_official(tmp_path):
    _write(tmp_path, "2027.json", HYPOTHETICAL_2027)
    cal = WorkingCalendar.load(extra_dirs=[tmp_path])
    assert cal.has_official_schedule(2027)
    assert not cal.is_working_day(date(2027, 1, 1))
    assert cal.schedule(2027).source == "hypothetical schedule for tests"
    # Same count as the provisional case, but 1 Jan 2027 is now a holiday.
    assert cal.add_working_days(date(2026, 12, 24), 20) == Deadline(date(2027, 1, 22), False)


def test_missing_operator_dir_adds_nothing(tmp_path):
    cal = WorkingCalendar.load(extra_dirs=[tmp_path / "not-created"])
    assert not cal.has_official_schedule(2027)


def test_later_dir_replaces_a_whole_year(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    _write(first, "2027.json", HYPOTHETICAL_2027)
    _write(second, "2027.json", {**HYPOTHETICAL_2027, "holidays": ["2027-01-01"]})
    cal = WorkingCalendar.load(extra_dirs=[first, second])
    assert cal.schedule(2027).holidays == {date(2027, 1, 1)}


def test_extend_adds_a_year_without_touching_the_original(cal):
    schedule = HolidaySchedule(
        year=2027,
        holidays=frozenset({date(2027, 1, 1)}),
        workdays=frozenset({date(2027, 1, 9)}),  # a Saturday, hypothetical
        source="policy event (test)",
    )
    extended = cal.extend(schedule)
    assert extended.has_official_schedule(2027)
    assert not extended.is_working_day(date(2027, 1, 1))
    assert extended.is_working_day(date(2027, 1, 9))
    assert not cal.has_official_schedule(2027)
    assert cal.is_working_day(date(2027, 1, 11))  # a Monday: nothing known makes it off
    assert not cal.is_working_day(date(2027, 1, 9))


def test_extend_replaces_a_known_year(cal):
    replacement = HolidaySchedule(2026, frozenset(), frozenset(), source="correction (test)")
    extended = cal.extend(replacement)
    assert extended.is_working_day(date(2026, 2, 16))
    assert not cal.is_working_day(date(2026, 2, 16))


@pytest.mark.parametrize(
    "holidays, workdays, source, message",
    [
        ({date(2026, 1, 1)}, set(), "x", "outside 2027"),
        ({date(2027, 1, 9)}, {date(2027, 1, 9)}, "x", "both holiday and workday"),
        (set(), {date(2027, 1, 8)}, "x", "Saturday or Sunday"),
        (set(), set(), " ", "source"),
    ],
)
def test_inconsistent_schedule_event_is_rejected(holidays, workdays, source, message):
    with pytest.raises(HolidayScheduleError, match=message):
        HolidaySchedule(2027, frozenset(holidays), frozenset(workdays), source)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("2027.json", "{not json", "invalid"),
        ("2027.json", {**HYPOTHETICAL_2027, "holidays": ["2026-12-31"]}, "outside 2027"),
        (
            "2027.json",
            {**HYPOTHETICAL_2027, "workdays": ["2027-01-02"]},
            "both holiday and workday",
        ),
        ("2027.json", {**HYPOTHETICAL_2027, "holidays": ["2027-02-30"]}, "holidays"),
        ("2027.json", {**HYPOTHETICAL_2027, "holidays": [20270101]}, "holidays"),
        ("2027.json", {k: v for k, v in HYPOTHETICAL_2027.items() if k != "source"}, "source"),
        ("2027.json", {**HYPOTHETICAL_2027, "holiday": []}, "holiday"),
        ("2028.json", HYPOTHETICAL_2027, "file name must be 2027.json"),
    ],
)
def test_malformed_file_names_the_file(tmp_path, name, content, message):
    path = _write(tmp_path, name, content)
    with pytest.raises(HolidayScheduleError, match=message) as error:
        WorkingCalendar.load(extra_dirs=[tmp_path])
    assert str(path) in str(error.value)


def test_shipped_files_are_valid():
    # Any schedule shipped in shared/data/holidays must load.
    assert WorkingCalendar.load().has_official_schedule(2026)


# --- roster cut-off -----------------------------------------------------------------


@pytest.mark.parametrize(
    "year, month, day, expected",
    [
        (2026, 3, 15, date(2026, 3, 15)),
        (2026, 2, 31, date(2026, 2, 28)),
        (2028, 2, 31, date(2028, 2, 29)),
        (2026, 4, 31, date(2026, 4, 30)),
        (2026, 12, 31, date(2026, 12, 31)),
    ],
)
def test_monthly_cutoff_clamps_to_month_end(year, month, day, expected):
    assert MonthlyRhythm(cutoff_day=day).cutoff(f"{year}-{month:02d}") == expected


def test_monthly_cutoff_defaults_to_the_15th():
    assert MonthlyRhythm().cutoff("2026-06") == date(2026, 6, 15)
