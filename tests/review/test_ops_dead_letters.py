"""GET /ops/dead-letters (every service's, from shared/runtime.py) is for the operator, the
county centre: a dead letter is a whole envelope. Shown on review, over a real nats-server,
with a poison message on intake's stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import nats
import pytest

from shared.auth import Role, TokenIssuer
from shared.bus import Bus
from shared.runtime import ServiceRuntime
from tests.support.infra import NatsServer
from tests.support.places import YELIN
from tests.support.stack import build_service, eventually, reset_jetstream
from tests.support.web import assert_problem, client

pytestmark = pytest.mark.nats


@pytest.fixture
async def running(tmp_path: Path, keys_dir: Path, nats_server: NatsServer,
                  span_exporter: Any) -> AsyncIterator[ServiceRuntime]:
    await reset_jetstream(nats_server.url)
    bus = Bus(nats_server.url, "test-intake", "469028")
    await bus.connect()
    await bus.ensure_stream("intake", 3600)
    await bus.close()
    rt = build_service("review", tmp=tmp_path, keys_dir=keys_dir, nats_url=nats_server.url,
                       database_url=None)
    rt.app.today = lambda: date(2025, 3, 10)  # type: ignore[method-assign]
    await rt.start()
    yield rt
    await rt.stop()


async def test_only_the_operator_reads_dead_letters(running: ServiceRuntime,
                                                    nats_server: NatsServer,
                                                    issuer: TokenIssuer) -> None:
    nc = await nats.connect(nats_server.url)
    await nc.jetstream().publish("sa.469028.intake.application_accepted", b"{not an envelope",
                                 headers={"Nats-Msg-Id": "poison-1"})
    await nc.close()
    consumer = next(c for c in running.consumers if c.upstream == "intake")

    async def dead_lettered() -> bool:
        return consumer.dead_lettered == 1
    await eventually(dead_lettered, 15)

    def bearer(role: Role, township: str | None = None) -> dict[str, str]:
        return {"authorization": "Bearer " + issuer.mint(f"{role.value}-1", role, township)}

    async with client(running) as http:
        assert_problem(await http.get("/ops/dead-letters"), 401, "auth.missing_token")
        for role, township in ((Role.TOWNSHIP_CLERK, YELIN), (Role.TOWNSHIP_LEADER, YELIN),
                               (Role.COUNTY_BUREAU, None), (Role.DISCIPLINE_INSPECTOR, None),
                               (Role.PUBLIC, None)):
            r = await http.get("/ops/dead-letters", headers=bearer(role, township))
            assert_problem(r, 403, "auth.role", "role")
            assert "not an envelope" not in r.text
        r = await http.get("/ops/dead-letters", headers=bearer(Role.COUNTY_CENTRE))
    assert r.status_code == 200, r.text
    [letter] = r.json()
    assert letter["subject"] == "sa.469028.deadletter.review.intake"
    assert letter["headers"]["Sa-Dead-Reason"].startswith("poison message")
    assert letter["data"] == "{not an envelope"
