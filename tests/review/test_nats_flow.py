"""Review over a real nats-server, on SQLite and on PostgreSQL: intake's acceptance opens
the case; the opinion goes out; publicity's outcome comes back (an upheld objection, a new
round, then clean); the confirmation publishes the entitlement. Upstream services are
stood in for by publishing their contract envelopes on their own streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import nats
import pytest
from nats.js import JetStreamContext

from shared.auth import Role
from shared.bus import Bus, stream_name
from shared.contracts import GENESIS_HASH, Actor, Envelope, IntegrationEvent, verify_chain
from shared.contracts.audit import AUDIT_RECORD
from shared.contracts.intake import MEMBER_ID_PURPOSE
from shared.contracts.publicity import NoticeClosed, NoticeOpened
from shared.pii import Keyring, Sealed, mask_resident_id
from shared.runtime import ServiceRuntime
from tests.support import actors
from tests.support.infra import NatsServer
from tests.support.places import TAOYUAN, YELIN
from tests.support.review import PANEL, REPORT, acceptance, to_reviewed, visit_body
from tests.support.signing import sealed
from tests.support.stack import build_service, eventually, reset_jetstream
from tests.support.web import client

pytestmark = pytest.mark.nats
REGION = "469028"


class Upstream:
    """Publishes one upstream service's envelopes, chained, as its relay would."""

    def __init__(self, js: JetStreamContext, source: str) -> None:
        self.js, self.source, self.position = js, source, 0
        self.heads: dict[UUID, str] = {}
        self.versions: dict[UUID, int] = {}

    async def publish(self, aggregate_id: UUID, event: IntegrationEvent,
                      actor: dict[str, Any], **where: Any) -> Envelope:
        self.position += 1
        version = self.versions.get(aggregate_id, 0) + 1
        self.versions[aggregate_id] = version
        env = sealed(
            self.heads.get(aggregate_id, GENESIS_HASH), event_id=uuid4(), type=event.TYPE,
            version=event.VERSION, source=self.source, region=REGION,
            aggregate_id=aggregate_id, aggregate_version=version, position=self.position,
            occurred_at=datetime.now(UTC), actor=Actor.model_validate(actor),
            data=event.model_dump(mode="json"), **where)
        self.heads[aggregate_id] = env.hash
        await self.js.publish(env.subject, env.to_bytes(), headers={"Nats-Msg-Id": env.msg_id})
        return env


async def published(js: JetStreamContext, service: str) -> list[Envelope]:
    name = stream_name(REGION, service)
    info = await js.stream_info(name)
    return [Envelope.model_validate_json((await js.get_msg(name, seq)).data)
            for seq in range(info.state.first_seq, info.state.last_seq + 1)]


@pytest.fixture
async def stack(request: pytest.FixtureRequest, backend: str, tmp_path: Path, keys_dir: Path,
                nats_server: NatsServer, span_exporter: Any,
                ) -> AsyncIterator[tuple[ServiceRuntime, JetStreamContext]]:
    await reset_jetstream(nats_server.url)
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    rt = build_service("review", tmp=tmp_path, keys_dir=keys_dir, nats_url=nats_server.url,
                       database_url=database_url)
    rt.app.today = lambda: date(2025, 3, 10)  # type: ignore[method-assign]
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    for upstream in ("intake", "publicity"):
        bus = Bus(nats_server.url, f"test-{upstream}", REGION)
        await bus.connect()
        await bus.ensure_stream(upstream, 3600)
        await bus.close()
    await rt.start()
    yield rt, js
    await rt.stop()
    await nc.close()


CLERK = actors.CLERK.actor()
PUBLICITY = {"user_id": "clerk-yelin-2", "role": "township_clerk", "township": YELIN,
             "village": None}


async def test_acceptance_to_entitlement_over_nats(
        stack: tuple[ServiceRuntime, JetStreamContext], keyring: Keyring, as_: Any) -> None:
    review, js = stack
    intake, publicity = Upstream(js, "intake"), Upstream(js, "publicity")
    accepted = acceptance(keyring)
    await intake.publish(accepted.application_id, accepted, CLERK,
                         case_id=str(accepted.application_id), township=YELIN)
    leader = as_(Role.TOWNSHIP_LEADER)

    async with client(review) as http:
        async def case_opened() -> dict[str, Any] | None:
            r = await http.get(f"/cases/by-application/{accepted.application_id}",
                               headers=leader)
            return r.json() if r.status_code == 200 else None
        case = await eventually(case_opened, 15)
        case_id = case["case_id"]
        assert case["household"]["incomes"][0]["amount"] == "3000"

        await to_reviewed(http, as_, case_id)
        r = await http.post(f"/cases/{case_id}/opinion", json={"approve": True},
                            headers=leader)
        assert r.status_code == 201 and r.json()["amount"] == "1580"

        async def review_published(type_: str, count: int = 1) -> list[Envelope] | None:
            envs = [e for e in await published(js, "review") if e.type == type_]
            return envs if len(envs) >= count else None
        first = (await eventually(lambda: review_published("opinion_issued"), 15))[0]
        assert first.data["round"] == 1 and first.data["monthly_amount"] == "1580"
        assert first.data["policy_version"] == 2 and first.actor is not None
        assert "breakdown" not in first.data  # income details never go to publicity

        # Publicity: a notice, an upheld objection → review re-investigates.
        notice = uuid4()
        await publicity.publish(notice, NoticeOpened(
            notice_id=notice, case_id=UUID(case_id), subject="opinion", round=1,
            township=YELIN, village=TAOYUAN, starts_on=date(2025, 3, 11),
            ends_on=date(2025, 3, 18)), PUBLICITY, case_id=case_id, township=YELIN)
        await publicity.publish(notice, NoticeClosed(
            notice_id=notice, case_id=UUID(case_id), subject="opinion", round=1,
            township=YELIN, village=TAOYUAN, outcome="objection_upheld",
            finding="子女在三亚有稳定工作", closed_on=date(2025, 3, 18)), PUBLICITY,
            case_id=case_id, township=YELIN)

        async def status(expected: str) -> dict[str, Any] | None:
            c = (await http.get(f"/cases/{case_id}", headers=leader)).json()
            return c if c["status"] == expected else None
        assert (await eventually(lambda: status("reinvestigating"), 15))["round"] == 2

        clerk = as_(Role.TOWNSHIP_CLERK)
        r = await http.post(f"/cases/{case_id}/investigation/visits", headers=clerk,
                            json=visit_body(visited_on="2025-03-10"))
        assert r.status_code == 201, r.text
        r = await http.post(f"/cases/{case_id}/joint-review", headers=as_(
            Role.TOWNSHIP_REVIEWER), json={"held_on": "2025-03-10", "outcome": "approve",
                                           "members": PANEL})
        assert r.status_code == 201, r.text
        r = await http.post(f"/cases/{case_id}/opinion", json={"approve": True},
                            headers=leader)
        assert r.status_code == 201 and r.json()["round"] == 2
        second = (await eventually(lambda: review_published("opinion_issued", 2), 15))[1]
        assert second.data["round"] == 2

        notice2 = uuid4()
        await publicity.publish(notice2, NoticeClosed(
            notice_id=notice2, case_id=UUID(case_id), subject="opinion", round=2,
            township=YELIN, village=TAOYUAN, outcome="clean", closed_on=date(2025, 3, 25)),
            PUBLICITY, case_id=case_id, township=YELIN)
        await eventually(lambda: status("publicized"), 15)

        r = await http.post(f"/cases/{case_id}/confirm", json={"notice": "准予低保"},
                            headers=leader)
        assert r.status_code == 200, r.text
        entitlement_id = r.json()["entitlement_id"]

        started = (await eventually(lambda: review_published("entitlement_started"), 15))[0]
        confirmed = (await review_published("case_confirmed") or [None])[0]

    assert confirmed is not None and confirmed.data["entitlement_id"] == entitlement_id
    assert started.data["monthly_amount"] == "1580" and started.data["start_month"] == "2025-04"
    assert started.data["breakdown"]["gap_total"] == "1450.00"
    assert started.data["policy_version"] == 2 and started.data["recheck_due"] == "2026-04-01"
    assert started.household_id == "hh-li-001" and started.township == YELIN
    # The bank account travels sealed end to end: only a key holder reads it.
    payee = started.data["payee"]
    assert keyring.unseal(Sealed.model_validate(payee["account"]), "bank_account") == \
        "6228480123456789012"
    # The holder's ID only masked, by review, from the ID it unsealed (for the bank roster).
    ids = [keyring.unseal(m.resident_id, MEMBER_ID_PURPOSE) for m in accepted.members]
    assert payee["resident_id_mask"] == mask_resident_id(ids[0])  # 黎阿婆 holds the account
    assert started.version == 2

    everything = await published(js, "review")
    assert verify_chain(everything).ok
    report = next(e for e in everything if e.type == "verification_reported")
    raw = report.to_bytes().decode()
    assert "8,000 in total" not in raw and "consistent with the declaration" not in raw
    opened = json.loads(keyring.unseal(Sealed.model_validate(report.data["report"]),
                                       "review.verification_report"))
    assert opened == REPORT
    # Every event left review (issue 16); the report's words are in none of them, and no
    # member's resident ID in clear (the full number: a part can occur in a hash or a seal).
    assert all("8,000 in total" not in e.to_bytes().decode() for e in everything)
    assert not [i for e in everything for i in ids if i in e.to_bytes().decode()]
    assert all(e.audit is not None and e.audit.label for e in everything)
    requested = next(e for e in everything if e.audit
                     and e.audit.event == "ReviewCase.VerificationRequested")
    assert requested.type == AUDIT_RECORD and requested.audit.label == "申请家庭经济状况核对"
    types = [e.type for e in everything if e.type != AUDIT_RECORD]
    assert types[0] == "policy_changed" and "case_opened" in types
    assert types.count("opinion_issued") == 2
