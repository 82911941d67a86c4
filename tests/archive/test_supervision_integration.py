"""County supervision over real NATS, on SQLite and on PostgreSQL: the archive consumes a
generated month from the intake, review and publicity streams; the statistics served equal
the oracle's; a sealed filing and an alert go out on archive's own stream (and come back into
its timeline), the seal verifying against the bytes the county downloads."""

from __future__ import annotations

from datetime import date
from typing import Any

import nats
import pytest

from services.archive.main import ArchiveRuntime
from shared.auth import Role, TokenIssuer
from shared.contracts import Envelope, parse_data
from shared.contracts.archive import MonthlyFilingSubmitted
from shared.seals import TrustList, verify_seal
from tests.support.archive import stored
from tests.support.infra import NatsServer
from tests.support.places import YELIN
from tests.support.stack import ensure_streams, eventually
from tests.support.supervision import World, comparable
from tests.support.web import client

pytestmark = pytest.mark.nats


@pytest.fixture
async def archive(services: Any, nats_server: NatsServer) -> ArchiveRuntime:
    await ensure_streams(nats_server.url, "intake", "review", "publicity")

    def pinned(rt: Any) -> None:
        rt.app.today = lambda: date(2025, 4, 9)
    return await services("archive", pinned, alert_scan_interval_s=0)


async def test_statistics_filing_and_alerts_from_the_streams(
        archive: ArchiveRuntime, nats_server: NatsServer, issuer: TokenIssuer) -> None:
    world = World(seed=7, per_township=6)
    envelopes = world.envelopes()
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    for env in envelopes:
        await js.publish(env.subject, env.to_bytes(), headers={"Nats-Msg-Id": env.msg_id})
    await eventually(lambda: stored(archive) >= len(envelopes), timeout=60)

    def h(role: Role, township: str | None = None) -> dict[str, str]:
        return {"authorization": "Bearer " + issuer.mint(f"{role.value}-1", role, township)}

    async with client(archive) as http:
        r = await http.get("/supervision/statistics?from=2025-03&to=2025-04",
                           headers=h(Role.COUNTY_CENTRE))
        assert r.status_code == 200, r.text
        for f in r.json()["series"]:
            assert comparable(f) == world.expected(f["month"])
        leader = h(Role.TOWNSHIP_LEADER, YELIN)
        path = f"/supervision/filings/{YELIN}/2025-03"
        assert (await http.post(path + "/compile", headers=leader)).status_code == 201
        r = await http.post(path + "/submit", json={"reviewed_version": 1}, headers=leader)
        assert r.json()["code"] == "archive.late_reason_required"  # due Apr 8
        r = await http.post(path + "/submit", json={"reviewed_version": 1, "note": "停电"},
                            headers=leader)
        assert r.status_code == 200 and r.json()["late"] is True
        document = (await http.get(path + "/document", headers=h(Role.COUNTY_BUREAU))).content
        r = await http.post("/supervision/alerts/scan", json={"months": ["2025-03"]},
                            headers=h(Role.COUNTY_CENTRE))
        assert r.json()["raised"]

    # Archive's own stream carries them, and its own consumer files them in the timeline.
    await eventually(lambda: stored(archive, "archive", "monthly_filing_submitted") == 1
        and stored(archive, "archive", "supervision_alert_raised") >= 1, timeout=20)
    sub = await js.pull_subscribe("sa.469028.archive.monthly_filing_submitted",
                                  stream="SA_469028_ARCHIVE")
    msg = (await sub.fetch(1, timeout=5))[0]
    env = Envelope.model_validate_json(msg.data)
    submitted = parse_data(env)
    assert isinstance(submitted, MonthlyFilingSubmitted)
    assert env.hash_is_valid() and env.actor and env.actor.role == "township_leader"
    assert submitted.township == YELIN and submitted.late
    trust = TrustList.load(archive.settings.resolved_seal_keys_dir / "trust-list.json")
    assert verify_seal(submitted.seal.model_dump(), trust, subject="2025-03",
                       content=document).valid
    await nc.close()


