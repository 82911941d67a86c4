"""The service clock: China dates, the demo clock's arithmetic, and one clock setting for
every service."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.archive.main import ArchiveSettings
from services.disbursement.main import DisbursementSettings
from services.intake.main import IntakeSettings
from services.publicity.main import PublicitySettings
from services.review.main import ReviewSettings
from shared.clock import (
    CHINA,
    DemoClock,
    ManualClock,
    MonthlyRhythm,
    RhythmSchedule,
    SystemClock,
    local_date,
    today,
)

pytestmark = pytest.mark.fast


def test_dates_are_china_dates_whatever_the_server_zone() -> None:
    # 17:30 UTC on 2 March is already 3 March in Lingshui.
    late_utc = ManualClock(datetime(2025, 3, 2, 17, 30, tzinfo=UTC))
    assert today(late_utc).isoformat() == "2025-03-03"


def test_demo_clock_shifts_and_accelerates_from_a_fixed_anchor() -> None:
    anchor = datetime.now(CHINA) - timedelta(minutes=1)
    clock = DemoClock(shift=timedelta(days=10), speed=1440.0, anchor=anchor)  # a day a minute
    ahead = clock.now() - datetime.now(CHINA)
    # One real minute since the anchor is one demo day, on top of the ten-day shift.
    assert timedelta(days=10, hours=23) < ahead < timedelta(days=11, hours=1)
    with pytest.raises(ValueError):
        DemoClock(speed=0.5)


@pytest.mark.parametrize("settings_class", [IntakeSettings, ReviewSettings, PublicitySettings,
                                            DisbursementSettings, ArchiveSettings])
def test_every_service_reads_its_clock_from_its_own_settings(
        settings_class: type, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(settings_class().clock, SystemClock)
    prefix = settings_class.model_config["env_prefix"]
    monkeypatch.setenv(prefix + "CLOCK_SHIFT_DAYS", "8")
    shifted = settings_class().clock
    ahead = shifted.now() - datetime.now(CHINA)
    assert timedelta(days=7, hours=23) < ahead < timedelta(days=8, hours=1)



# --- one business time: the county's zone, whatever the process's own TZ --------------------


@pytest.fixture
def far_from_china(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone set to UTC-11 (as CI runs): local dates differ from China's."""
    monkeypatch.setenv("TZ", "Pacific/Pago_Pago")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_business_date_never_follows_the_process_zone(far_from_china: None) -> None:
    instant = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January in China
    assert datetime.fromtimestamp(instant.timestamp()).date() == date(2026, 12, 31)  # local
    assert today(ManualClock(instant)) == date(2027, 1, 1)
    assert local_date(instant) == date(2027, 1, 1)
    assert today(SystemClock()) == datetime.now(UTC).astimezone(CHINA).date()


def test_the_county_zone_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEW_COUNTY_TIMEZONE", "Asia/Urumqi")
    clock = ReviewSettings().clock
    assert clock.zone == ZoneInfo("Asia/Urumqi")
    assert clock.now().utcoffset() == timedelta(hours=6)
    monkeypatch.setenv("REVIEW_COUNTY_TIMEZONE", "Asia/Lingshui")
    with pytest.raises(ValidationError, match="unknown time zone"):
        ReviewSettings()


def test_a_manual_clock_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 1, 1, 9))


def test_every_service_shares_one_working_calendar(tmp_path: Path) -> None:
    calendars = {id(cls(var_dir=tmp_path).calendar) for cls in (
        IntakeSettings, ReviewSettings, PublicitySettings, DisbursementSettings, ArchiveSettings)}
    assert len(calendars) == 1  # loaded once per process, operator files included


def test_operator_holiday_files_reach_every_service(tmp_path: Path) -> None:
    (tmp_path / "holidays").mkdir()
    (tmp_path / "holidays" / "2027.json").write_text(json.dumps({
        "year": 2027, "holidays": ["2027-01-01", "2027-02-05"], "workdays": [],
        "source": "国务院办公厅 2027 (test)"}), encoding="utf-8")
    for cls in (ReviewSettings, PublicitySettings, ArchiveSettings):
        cal = cls(var_dir=tmp_path).calendar
        assert cal.has_official_schedule(2027) and not cal.is_working_day(date(2027, 2, 5))


@pytest.mark.parametrize(("day", "cutoff", "month"), [
    (date(2026, 6, 15), 15, "2026-06"), (date(2026, 6, 16), 15, "2026-07"),
    (date(2026, 12, 16), 15, "2027-01"), (date(2026, 2, 28), 31, "2026-02"),
])
def test_the_cutoff_rule(day: date, cutoff: int, month: str) -> None:
    assert MonthlyRhythm(cutoff_day=cutoff).first_payable_month(day) == month


def test_the_rhythm_of_a_month_is_the_one_in_force_on_its_first_day() -> None:
    schedule = RhythmSchedule.from_policy([
        {"policy_version": 1, "effective_from": "2015-01-01", "terms": {"roster_cutoff_day": 15}},
        {"policy_version": 2, "effective_from": "2026-06-10",
         "terms": {"roster_cutoff_day": 10, "file_by_day": 25}},
        {"policy_version": 3, "effective_from": "2026-06-10",  # a correction, same day
         "terms": {"roster_cutoff_day": 12, "file_by_day": 25}}])
    assert schedule.of_month("2026-06").cutoff_day == 15  # changed mid-month: from July on
    assert schedule.of_month("2026-07") == MonthlyRhythm(12, 20, 25)
    assert schedule.roster_month("2026-07", date(2026, 7, 13)) == "2026-08"
    assert RhythmSchedule().of_month("2030-01") == MonthlyRhythm()  # before any table
