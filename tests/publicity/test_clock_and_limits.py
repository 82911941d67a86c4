"""The demo clock's arithmetic and the token bucket's refill, with injected time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.publicity.clock import CHINA, DemoClock, ManualClock, today
from services.publicity.main import PublicitySettings, clock_for
from services.publicity.ratelimit import RateLimited, TokenBucket


def test_windows_use_the_china_date_whatever_the_server_zone() -> None:
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


def test_settings_choose_the_real_clock_unless_told_otherwise() -> None:
    assert type(clock_for(PublicitySettings())).__name__ == "SystemClock"
    shifted = clock_for(PublicitySettings(clock_shift_days=8))
    assert shifted.now() - datetime.now(CHINA) > timedelta(days=7, hours=23)


def test_bucket_spends_its_burst_then_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(capacity=2, per_minute=6, monotonic=lambda: now[0])  # one per 10 s
    bucket.take("a")
    bucket.take("a")
    with pytest.raises(RateLimited) as e:
        bucket.take("a")
    assert e.value.status == 429 and e.value.retry_after_s == 10
    bucket.take("b")  # another client has its own bucket
    now[0] = 10.0
    bucket.take("a")  # one token back after 10 s
    with pytest.raises(RateLimited):
        bucket.take("a")


def test_bucket_forgets_the_least_recent_clients_beyond_its_bound() -> None:
    now = [0.0]
    bucket = TokenBucket(capacity=1, per_minute=1, max_clients=2, monotonic=lambda: now[0])
    for client in ("a", "b", "c"):  # "a" is forgotten when "c" arrives
        bucket.take(client)
    bucket.take("a")  # a fresh bucket: erring towards letting through, memory bounded
    with pytest.raises(RateLimited):
        bucket.take("c")
