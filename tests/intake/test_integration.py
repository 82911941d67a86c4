"""Intake across real NATS, on SQLite and on PostgreSQL: acceptance reaches review with the
whole case as filed (sensitive values sealed), and review's decisions come back as the
status filers see and the de-duplication register uses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import nats
import pytest

from shared.auth import Role, TokenIssuer
from shared.bus import Bus, stream_name
from shared.contracts import (
    Actor,
    Envelope,
    IntegrationEvent,
    event_id_for,
    parse_data,
    verify_chain,
)
from shared.contracts.audit import AUDIT_RECORD
from shared.contracts.intake import ApplicationAccepted, ChangeReported
from shared.contracts.review import CaseConfirmed, EntitlementChanged
from shared.pii import Keyring, make_resident_id
from tests.support.intake import CHILD_BORN, GRANNY_BORN, filing
from tests.support.places import TAOYUAN, YELIN
from tests.support.signing import sealed
from tests.support.stack import eventually
from tests.support.web import client

pytestmark = pytest.mark.nats


def headers(issuer: TokenIssuer, role: Role = Role.TOWNSHIP_CLERK,
            user: str = "clerk-yelin-1") -> dict[str, str]:
    return {"authorization": "Bearer " + issuer.mint(user, role, YELIN)}


def full_filing(household: int) -> dict[str, Any]:
    body = filing(household=household)
    body["members"][0]["phone"] = "13812345678"
    body["members"][0]["incomes"] = [
        {"kind": "pension", "amount": "1800.00", "months": 6},
        {"kind": "basic_resident_pension", "amount": "180", "months": 1}]
    body["members"][1]["disability"] = {"kind": "hearing", "grade": 2}
    body["assets"] = [{"kind": "deposit", "value": "3200.50"},
                      {"kind": "vehicle", "value": "8000", "exempt": True,
                       "description": "三轮车 (for work)"}]
    body["materials"] = [*body["materials"], "income_proof"]
    body["close_relative_declared"] = True
    body["close_relatives"] = [{"member_name": "黎阿婆", "official_name": "黎某某",
                                "official_post": "village_committee", "relationship": "son"}]
    return body


async def intake_envelopes(url: str) -> tuple[list[Envelope], bytes]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    info = await js.stream_info(stream_name("469028", "intake"))
    raw = [(await js.get_msg(info.config.name, seq)).data
           for seq in range(info.state.first_seq, info.state.last_seq + 1)]
    await nc.close()
    return [Envelope.model_validate_json(r) for r in raw], b"\n".join(raw)


async def test_acceptance_reaches_review_with_the_case_as_filed(
        services: Any, issuer: TokenIssuer, keys_dir: Any, nats_server: Any) -> None:
    intake, review = await services("intake"), await services("review")
    body = full_filing(10)
    async with client(intake) as http:
        r = await http.post("/applications", json=body, headers=headers(issuer))
        assert r.status_code == 201, r.text
        application_id = r.json()["application_id"]
        r = await http.post(f"/applications/{application_id}/accept", headers=headers(issuer))
        assert r.status_code == 200, r.text

    async with client(review) as http:
        async def opened() -> dict[str, Any] | None:
            r = await http.get(f"/cases/by-application/{application_id}",
                               headers=headers(issuer, Role.TOWNSHIP_LEADER, "lead"))
            return r.json() if r.status_code == 200 else None
        case = await eventually(opened)
    assert case["close_relative_declared"] is True and case["kind"] == "dibao"

    envelopes, raw = await intake_envelopes(nats_server.url)
    assert [e.type for e in envelopes] == ["application_submitted", "application_accepted"]
    assert verify_chain(envelopes).ok
    for secret in (body["members"][0]["resident_id"], body["members"][1]["resident_id"],
                   "13812345678", "6228480402564890018"):
        assert secret.encode() not in raw  # sealed on the bus, never plaintext
    # Names, birth dates, health and income travel sealed too (in UTF-8 or \u-escaped).
    for secret in ("黎阿婆", "黎小明", "黎某某", GRANNY_BORN.isoformat(),
                   CHILD_BORN.isoformat(), "1800.00", "3200.50", "hearing", "pension"):
        assert secret.encode() not in raw, secret
        assert secret.encode("ascii", "backslashreplace") not in raw, secret

    sealed_accepted = parse_data(envelopes[1])
    assert isinstance(sealed_accepted, ApplicationAccepted)
    assert envelopes[1].version == 2 and sealed_accepted.household_size == 2
    assert sealed_accepted.household.mask == "黎**"
    keyring = Keyring.from_file(keys_dir / "bus-keyring.json")
    accepted = sealed_accepted.opened(keyring)
    granny = accepted.members[0]
    assert granny.name == "黎阿婆" and granny.birth_date == GRANNY_BORN
    assert keyring.unseal(granny.resident_id, "member.resident_id") == (
        body["members"][0]["resident_id"])
    assert granny.fingerprint == keyring.fingerprint(body["members"][0]["resident_id"])
    assert granny.phone is not None and granny.phone.mask == "138****5678"
    assert accepted.members[1].disability is not None
    assert accepted.members[1].disability.grade == 2
    assert accepted.bank_account is not None
    assert keyring.unseal(accepted.bank_account.account, "bank_account.account") == (
        "6228480402564890018")
    assert accepted.household_id == envelopes[1].household_id
    assert accepted.household_id and accepted.household_id.startswith("hh-")
    assert accepted.urban is False  # 桃源村 is a rural village in the register
    assert accepted.accepted_on == intake.app.today()  # the service clock's business date
    assert [(i.kind, i.amount, i.months) for i in accepted.incomes] == [
        ("pension", Decimal("1800.00"), 6), ("basic_resident_pension", Decimal("180"), 1)]
    assert {i.member_fingerprint for i in accepted.incomes} == {granny.fingerprint}
    assert [(a.kind, a.value, a.exempt) for a in accepted.assets] == [
        ("deposit", Decimal("3200.50"), False), ("vehicle", Decimal("8000"), True)]
    assert accepted.close_relatives[0].official_post == "village_committee"
    assert accepted.filed_by == "applicant" and accepted.policy_version == 1
    assert accepted.single_person is False and accepted.linshi_type is None


class ReviewStub:
    """Publishes review's integration events as review would: real NATS, real envelopes."""

    def __init__(self, url: str) -> None:
        self.bus = Bus(url, "review-stub", "469028")
        self.position = 0
        self.heads: dict[UUID, str] = {}

    async def start(self) -> None:
        await self.bus.connect()
        await self.bus.ensure_stream("review", 60)

    async def publish(self, aggregate_id: UUID, contract: IntegrationEvent) -> None:
        self.position += 1
        version = self.position
        env = sealed(
            self.heads.get(aggregate_id, "0" * 64),
            event_id=event_id_for("review", aggregate_id, version), type=contract.TYPE,
            version=contract.VERSION, source="review", region="469028",
            aggregate_id=aggregate_id, aggregate_version=version, position=self.position,
            occurred_at=datetime.now(UTC),
            actor=Actor(user_id="leader-yelin", role="township_leader", township=YELIN),
            case_id=str(aggregate_id), township=YELIN, data=contract.model_dump(mode="json"))
        self.heads[aggregate_id] = env.hash
        assert self.bus.js is not None
        await self.bus.js.publish(env.subject, env.to_bytes(),
                                  headers={"Nats-Msg-Id": env.msg_id})


async def test_review_decisions_drive_status_changes_and_deduplication(
        services: Any, issuer: TokenIssuer, keys_dir: Any, nats_server: Any) -> None:
    review = ReviewStub(nats_server.url)
    await review.start()
    intake = await services("intake")
    clerk = headers(issuer)
    body = filing(household=20)
    async with client(intake) as http:
        async def status(application_id: str) -> str:
            r = await http.get(f"/applications/{application_id}", headers=clerk)
            return str(r.json()["status"])

        r = await http.post("/applications", json=body, headers=clerk)
        application_id = r.json()["application_id"]
        r = await http.post(f"/applications/{application_id}/accept", headers=clerk)
        assert r.status_code == 200
        change = {"subject": "income", "description": "领取养老金", "occurred_on": "2025-01-01",
                  "incomes": [{"resident_id": body["members"][0]["resident_id"],
                               "kind": "pension", "amount": "900", "months": 1}]}
        r = await http.post(f"/applications/{application_id}/changes", json=change,
                            headers=clerk)
        assert r.status_code == 422 and r.json()["code"] == "intake.change_state"

        case_id = uuid4()
        await review.publish(case_id, CaseConfirmed(
            case_id=case_id, application_id=UUID(application_id), kind="dibao",
            township=YELIN, village=TAOYUAN, decided_on=date(2025, 3, 3),
            monthly_amount=Decimal("560"), entitlement_id=uuid4()))

        async def confirmed() -> bool:
            return await status(application_id) == "confirmed"
        await eventually(confirmed)
        r = await http.get(f"/applications/{application_id}", headers=clerk)
        assert r.json()["case_id"] == str(case_id)

        # An active case: the same person cannot file again for the same kind.
        r = await http.post("/applications", json=body, headers=clerk)
        assert r.status_code == 422 and r.json()["code"] == "intake.already_member"

        newborn = date(2025, 1, 20)
        change = {"subject": "members", "description": "新生儿入户", "occurred_on": "2025-02-01",
                  "members_joined": [{
                      "name": "黎小宝", "relation": "grandchild",
                      "birth_date": newborn.isoformat(), "work_capacity": "none",
                      "resident_id": make_resident_id("469028", newborn, 77, "female")}]}
        r = await http.post(f"/applications/{application_id}/changes", json=change,
                            headers={"authorization": "Bearer " + issuer.mint(
                                "va-taoyuan", Role.VILLAGE_ASSISTANT, YELIN, TAOYUAN)})
        assert r.status_code == 201, r.text
        change_id = r.json()["change_id"]
        r = await http.get("/applications", params={"status": "confirmed"}, headers=clerk)
        assert r.json()["items"][0]["household_size"] == 3

        await review.publish(case_id, EntitlementChanged(
            entitlement_id=uuid4(), case_id=case_id, kind="dibao", township=YELIN,
            village=TAOYUAN, change="terminate", monthly_amount=Decimal("0"),
            household_size=3, effective_month="2025-05", reasons=["收入超过标准"]))

        async def terminated() -> bool:
            return await status(application_id) == "terminated"
        await eventually(terminated)
        r = await http.post("/applications", json=body, headers=clerk)
        assert r.status_code == 201, r.text  # the case ended: the household may apply again

    async def all_published() -> tuple[list[Envelope], bytes] | None:
        found = await intake_envelopes(nats_server.url)
        return found if len(found[0]) == 6 else None
    everything, raw = await eventually(all_published)
    # Facts learned from review are not republished as contracts, only as audit records;
    # the change is, with its member sealed.
    assert [e.audit.event for e in everything if e.type == AUDIT_RECORD and e.audit] == [
        "Application.CaseConfirmed", "Application.CaseTerminated"]
    envelopes = [e for e in everything if e.type != AUDIT_RECORD]
    assert [e.type for e in envelopes] == ["application_submitted", "application_accepted",
                                           "change_reported", "application_submitted"]
    sealed_change = parse_data(envelopes[2])
    assert isinstance(sealed_change, ChangeReported) and envelopes[2].version == 2
    assert str(sealed_change.change_id) == change_id and sealed_change.case_id == case_id
    for secret in (change["members_joined"][0]["resident_id"], "黎小宝", "新生儿入户",
                   newborn.isoformat()):
        assert secret.encode() not in raw, secret  # what changed travels sealed
    reported = sealed_change.opened(Keyring.from_file(keys_dir / "bus-keyring.json"))
    assert reported.members_joined[0].name == "黎小宝"
    assert reported.members_joined[0].resident_id.mask.startswith("469")
    assert envelopes[2].actor is not None and envelopes[2].actor.role == "village_assistant"

    # The read models rebuild from the log to the same state.
    def snapshot() -> tuple[Any, ...]:
        with intake.app.read_session() as s:
            t, m = intake.app.views.applications, intake.app.views.memberships
            return (sorted(tuple(r) for r in s.execute(t.select()).all()),
                    sorted(tuple(r) for r in s.execute(m.select()).all()))
    before = snapshot()
    assert intake.app.rebuild_projections() > 0
    assert snapshot() == before
    await review.bus.close()
