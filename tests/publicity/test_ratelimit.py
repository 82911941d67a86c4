"""The token bucket's refill, with injected time."""

from __future__ import annotations

import pytest

from services.publicity.ratelimit import RateLimited, TokenBucket

pytestmark = pytest.mark.fast


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
