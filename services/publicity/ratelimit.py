"""A per-client token bucket for the public endpoints (no login, so no user to limit).

In-process and per replica: it keeps one process from being flooded, nothing more.
Production must also limit at the gateway (nginx `limit_req`, Envoy local/global rate
limit), which sees every replica's traffic and the real client address.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import DomainError


class RateLimited(DomainError):
    status = 429

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("publicity.rate_limited",
                         f"too many requests from this client; retry in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBucket:
    """`capacity` requests at once, refilled at `per_minute`; at most `max_clients` tracked
    (the least recently seen are forgotten, which only ever errs towards letting through)."""

    def __init__(self, capacity: int, per_minute: float, max_clients: int = 10_000,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1 or per_minute <= 0:
            raise ValueError("a bucket needs capacity >= 1 and a positive refill rate")
        self.capacity, self.rate = float(capacity), per_minute / 60.0
        self.max_clients, self.monotonic = max_clients, monotonic
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> None:
        """Spend one token for `client` or raise RateLimited with the wait until the next."""
        now = self.monotonic()
        with self._lock:
            b = self._buckets.pop(client, None) or _Bucket(self.capacity, now)
            b.tokens = min(self.capacity, b.tokens + (now - b.stamp) * self.rate)
            b.stamp = now
            self._buckets[client] = b
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            if b.tokens < 1.0:
                raise RateLimited(max(1.0, math.ceil((1.0 - b.tokens) / self.rate)))
            b.tokens -= 1.0
