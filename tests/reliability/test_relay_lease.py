"""Several replicas of a service on one PostgreSQL: exactly one relay publishes, and a
standby takes over when the active one's connection dies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_walking_skeleton import submit_and_accept
from tests.stack import build_service, eventually, reset_jetstream

pytestmark = [pytest.mark.postgres, pytest.mark.nats]


async def test_one_active_relay_and_failover(postgres_url: str, tmp_path: Path,
                                             keys_dir: Path, nats_server: Any,
                                             issuer: Any, span_exporter: Any) -> None:
    await reset_jetstream(nats_server.url)
    kw = {"tmp": tmp_path, "keys_dir": keys_dir, "nats_url": nats_server.url,
          "database_url": postgres_url}
    first, second = build_service("intake", **kw), build_service("intake", **kw)
    await first.start()
    await second.start()
    try:
        second.relay.lease_retry_s = 0.1  # type: ignore[union-attr]
        await eventually(lambda: _true(second.relay.standby))  # type: ignore[union-attr]
        await submit_and_accept(first, issuer)
        await eventually(lambda: _true(first.relay.published == 2))  # type: ignore[union-attr]
        assert second.relay.published == 0  # type: ignore[union-attr]

        first.relay.stop()  # type: ignore[union-attr]
        await asyncio.sleep(0.5)  # its loop ends
        first.app.release_relay_lease()  # as if the active replica's connection died
        await submit_and_accept(second, issuer)
        await eventually(lambda: _true(second.relay.published == 2))  # type: ignore[union-attr]
        assert second.relay.standby is False  # type: ignore[union-attr]
    finally:
        await second.stop()
        await first.stop()


async def _true(value: bool) -> bool:
    return value
