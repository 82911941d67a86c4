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
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from fastapi import Request

from shared.errors import DomainError

Networks = tuple[IPv4Network | IPv6Network, ...]
LOOPBACK: Networks = (ip_network("127.0.0.0/8"), ip_network("::1/128"))


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


def parse_networks(text: str) -> Networks:
    """"127.0.0.1/32, 10.0.0.0/8": the proxies whose X-Forwarded-For is believed."""
    return tuple(ip_network(part.strip(), strict=False) for part in text.split(",")
                 if part.strip())


def _trusted(peer: str, proxies: Networks) -> bool:
    try:
        address = ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def client_key(request: Request, proxy_hops: int, trusted_proxies: Networks = LOOPBACK) -> str:
    """Who to rate-limit: the peer, or behind `proxy_hops` trusted proxies the address the
    outermost of them saw. Counted from the right: entries further left are the client's
    own claims and could be forged to dodge the limit. The header counts only when the peer
    is one of `trusted_proxies`: sent straight to this service, it is the client's claim."""
    peer = request.client.host if request.client else "unknown"
    if proxy_hops < 1 or not _trusted(peer, trusted_proxies):
        return peer
    chain = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",")
             if a.strip()]
    return chain[-proxy_hops][:64] if len(chain) >= proxy_hops else peer


@dataclass(frozen=True)
class PublicLimits:
    """The public endpoints' buckets and whom to believe about the client; main.py puts
    one on the HTTP app's state (`public_limits`), the routes' dependencies charge it."""

    reads: TokenBucket
    writes: TokenBucket  # objections, reports, inquiries
    lookups: TokenBucket  # receipt-and-code lookups
    proxy_hops: int = 0
    trusted_proxies: Networks = LOOPBACK

    def charge(self, bucket: TokenBucket, request: Request) -> str:
        key = client_key(request, self.proxy_hops, self.trusted_proxies)
        bucket.take(key)
        return key


def _limits(request: Request) -> PublicLimits:
    limits: PublicLimits = request.app.state.public_limits
    return limits


def read_token(request: Request) -> str:
    """A dependency: one read token for the calling client; the client's key."""
    limits = _limits(request)
    return limits.charge(limits.reads, request)


def write_token(request: Request) -> str:
    limits = _limits(request)
    return limits.charge(limits.writes, request)


def lookup_token(request: Request) -> str:
    limits = _limits(request)
    return limits.charge(limits.lookups, request)
