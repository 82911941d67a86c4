"""GET /ops/backlog (every service's, from shared/runtime.py): is the service caught up?
Unpublished events behind its relay and unfinished upstream messages per consumer, counted by
the store and by JetStream itself. Shown on review over a real nats-server."""

from __future__ import annotations

from typing import Any

import nats
import pytest

from shared.auth import Role, TokenIssuer
from shared.bus import Bus, OutboxRelay, TrackedConsumer
from shared.runtime import ServiceRuntime
from tests.support.infra import NatsServer
from tests.support.stack import Services, eventually
from tests.support.web import bearer, client

pytestmark = pytest.mark.nats


@pytest.fixture
def review(service: Services) -> ServiceRuntime:
    return service.build("review")


async def test_backlog_counts_what_is_not_yet_published_or_handled(
        review: ServiceRuntime, nats_server: NatsServer) -> None:
    # Before the relay runs, the seeded policy versions are committed but unpublished.
    bus = Bus(nats_server.url, "probe", "469028")
    await bus.connect()
    try:
        head = review.app.recorder.max_notification_id()
        assert head and head > 0
        idle = OutboxRelay(review.app, bus, review.to_integration)
        assert await idle.backlog() == {"position": 0, "head": head, "unpublished": head,
                                         "halted": None, "failing": None}
        await bus.ensure_stream("review", 3600)
        while await idle.publish_pending():
            pass
        assert await idle.backlog() == {"position": head, "head": head, "unpublished": 0,
                                         "halted": None, "failing": None}

        # JetStream counts what waits for a consumer: all of the stream before it binds,
        # then what it has not fetched.
        await bus.ensure_stream("publicity", 3600)
        waiting = TrackedConsumer(review.app, bus, "publicity", {})
        assert (await waiting.lag())["pending"] == 0
        nc = await nats.connect(nats_server.url)
        for i in range(3):
            await nc.jetstream().publish("sa.469028.publicity.notice_posted", b"{}",
                                         headers={"Nats-Msg-Id": f"lag-{i}"})
        await nc.close()
        before = await waiting.lag()
        assert (before["bound"], before["pending"]) == (False, 3)
        await waiting._bind()
        lag = await waiting.lag()
        assert (lag["bound"], lag["pending"], lag["unacknowledged"]) == (True, 3, 0)
        await waiting.close()
    finally:
        await bus.close()


async def test_operator_sees_the_running_service_catch_up(review: ServiceRuntime,
                                                          issuer: TokenIssuer) -> None:
    await review.start()
    async with client(review) as http:
        for role, township in ((Role.TOWNSHIP_CLERK, "469028100"), (Role.PUBLIC, None)):
            r = await http.get("/ops/backlog", headers=bearer(issuer, role, township))
            assert r.status_code == 403, r.text
        assert (await http.get("/ops/backlog")).status_code == 401

        async def caught_up() -> dict[str, Any] | None:
            r = await http.get("/ops/backlog", headers=bearer(issuer, Role.COUNTY_CENTRE))
            assert r.status_code == 200, r.text
            body = r.json()
            return body if body["caught_up"] else None

        body = await eventually(caught_up, 15)
    assert body["service"] == "review"
    assert body["relay"]["unpublished"] == 0 and body["relay"]["head"] > 0
    assert set(body["consumers"]) == set(review.reactions)
    # Upstreams that have published nothing have no stream yet: nothing waits.
    assert all(c["pending"] == 0 for c in body["consumers"].values())
