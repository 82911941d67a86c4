"""A stream whose store the server cannot create yet (JetStream 10049, seen when a stream of
that name is still being removed from disk) is retried, not fatal; a lasting failure still
raises, and no other error is retried. The server condition cannot be produced portably,
so JetStream's answer is played by a stand-in for `add_stream` alone."""

from __future__ import annotations

from typing import Any

import pytest
from nats.js.errors import ServerError

from shared.bus import STORE_NOT_CREATED, Bus

pytestmark = pytest.mark.fast


class StoreNotReady:
    """Answers add_stream with 10049 `failures` times, then accepts."""

    def __init__(self, failures: int, err_code: int = STORE_NOT_CREATED) -> None:
        self.failures, self.err_code, self.calls = failures, err_code, 0
        self.created: list[str] = []

    async def add_stream(self, config: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ServerError(code=500, err_code=self.err_code,
                              description="error creating store for stream")
        self.created.append(config.name)


def bus_with(js: StoreNotReady) -> Bus:
    bus = Bus("nats://127.0.0.1:1", "test", "469028")
    bus.js = js  # type: ignore[assignment]
    return bus


async def test_a_store_not_created_yet_is_retried() -> None:
    js = StoreNotReady(failures=2)
    await bus_with(js).ensure_stream("intake", 60)
    assert js.created == ["SA_469028_INTAKE", "SA_469028_DEADLETTER"]
    assert js.calls == 4


async def test_a_lasting_failure_or_another_error_still_raises() -> None:
    js = StoreNotReady(failures=100)
    with pytest.raises(ServerError):
        await bus_with(js)._ensure(type("C", (), {"name": "S"})(), attempts=3)
    assert js.calls == 3
    other = StoreNotReady(failures=1, err_code=10000)
    with pytest.raises(ServerError):
        await bus_with(other).ensure_stream("intake", 60)
    assert other.calls == 1
