"""The service clock: China dates, the demo clock's arithmetic, and one clock setting for
every service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.archive.main import ArchiveSettings
from services.disbursement.main import DisbursementSettings
from services.intake.main import IntakeSettings
from services.publicity.main import PublicitySettings
from services.review.main import ReviewSettings
from shared.clock import CHINA, DemoClock, ManualClock, SystemClock, today


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

