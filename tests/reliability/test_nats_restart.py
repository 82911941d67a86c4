"""nats-server dies and comes back (same port, same store): nothing is lost or doubled.

Covers the nats-py pitfalls named in the architecture doc: a pull subscription that goes
quiet after a restart (#504) and JetStream calls that fail around a reconnect (#354).
Messages handed to a fetch that died with the old connection come back after ack_wait,
so this test shortens ack_wait (still longer than the 1 s fetch timeout).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from shared.auth import TokenIssuer
from tests.support.flow import count_cases, review_case, submit_and_accept
from tests.support.infra import NatsServer
from tests.support.stack import build_service, reset_jetstream

pytestmark = [pytest.mark.nats, pytest.mark.slow]


@pytest.fixture
async def own_nats(tmp_path: Path, keys_dir: Path) -> Any:
    server = NatsServer(tmp_path / "nats", keys_dir)
    server.start()
    yield server
    server.stop()


async def test_services_ride_through_a_nats_restart(own_nats: NatsServer, tmp_path: Path,
                                                    keys_dir: Path, issuer: TokenIssuer,
                                                    span_exporter: Any) -> None:
    await reset_jetstream(own_nats.url)
    kw = {"tmp": tmp_path, "keys_dir": keys_dir, "nats_url": own_nats.url, "database_url": None}
    intake = build_service("intake", **kw)
    review = build_service("review", consumer_ack_wait_s=3.0, **kw)
    await intake.start()
    await review.start()
    try:
        first = await submit_and_accept(intake, issuer)
        await review_case(review, issuer, first)

        own_nats.stop()
        # Written while NATS is down: committed locally, published when it returns.
        during = [await submit_and_accept(intake, issuer) for _ in range(3)]
        await asyncio.sleep(1.0)
        own_nats.start()

        for application_id in during:
            await review_case(review, issuer, application_id)
        after = await submit_and_accept(intake, issuer)
        await review_case(review, issuer, after)
        assert await count_cases(review, issuer) == 5
        assert review.consumers[0].dead_lettered == 0
        assert intake.relay is not None and intake.relay.published == 10  # 5 × (submit, accept)
    finally:
        await review.stop()
        await intake.stop()
