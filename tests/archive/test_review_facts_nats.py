"""Archive's supervision on the REAL review service's envelopes, over a real nats-server:
review publishes investigation_assigned, home_visit_recorded and joint_review_held; archive
dates the investigation by the record, sees the county's own visit to a close-relative case
(近亲属备案), and raises "investigator voted" when the county's policy lets an investigator
sit in the joint review. Intake and publicity are stood in for by their contract envelopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select

from shared.auth import Principal, Role, TokenIssuer
from shared.contracts import GENESIS_HASH, Actor, Envelope, IntegrationEvent
from shared.contracts.publicity import NoticeClosed
from shared.pii import Keyring
from shared.runtime import ServiceRuntime
from tests.support import actors
from tests.support.infra import NatsServer
from tests.support.places import TAOYUAN, YELIN
from tests.support.point_in_time import assert_equivalent
from tests.support.review import PANEL, REPORT, acceptance, visit_body
from tests.support.signing import sealed
from tests.support.stack import (
    ensure_streams,
    eventually,
    rebuild_read_models,
)
from tests.support.web import client

pytestmark = pytest.mark.nats
TODAY = date(2025, 3, 10)
CLERK = actors.CLERK.actor()


class Upstream:
    """One upstream service's envelopes, chained and numbered as its relay would."""

    def __init__(self, js: JetStreamContext, source: str) -> None:
        self.js, self.source, self.position = js, source, 0
        self.heads: dict[UUID, str] = {}
        self.versions: dict[UUID, int] = {}

    async def publish(self, aggregate_id: UUID, event: IntegrationEvent, **where: Any) -> None:
        self.position += 1
        self.versions[aggregate_id] = version = self.versions.get(aggregate_id, 0) + 1
        env = sealed(
            self.heads.get(aggregate_id, GENESIS_HASH), event_id=uuid4(), type=event.TYPE,
            version=event.VERSION, source=self.source, region="469028",
            aggregate_id=aggregate_id, aggregate_version=version, position=self.position,
            occurred_at=datetime.now(UTC), actor=Actor.model_validate(CLERK),
            data=event.model_dump(mode="json"), **where)
        self.heads[aggregate_id] = env.hash
        await self.js.publish(env.subject, env.to_bytes(), headers={"Nats-Msg-Id": env.msg_id})


@pytest.fixture
async def services(service: Any, tmp_path: Path, nats_server: NatsServer,
                   ) -> AsyncIterator[tuple[ServiceRuntime, ServiceRuntime, JetStreamContext]]:
    await ensure_streams(nats_server.url, "intake", "publicity")

    def pinned(rt: Any) -> None:
        rt.app.today = lambda: TODAY
    review = await service("review", pinned, tmp=tmp_path / "review")
    archive = await service("archive", pinned, tmp=tmp_path / "archive",
                            alert_scan_interval_s=0)
    nc = await nats.connect(nats_server.url)
    yield review, archive, nc.jetstream()
    await nc.close()


async def test_archive_supervises_the_real_review_facts(
        services: tuple[ServiceRuntime, ServiceRuntime, JetStreamContext], keyring: Keyring,
        issuer: TokenIssuer) -> None:
    review, archive, js = services
    intake, publicity = Upstream(js, "intake"), Upstream(js, "publicity")

    def as_(role: Role, township: str | None = YELIN, org: str | None = None) -> dict[str, str]:
        county = role in (Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)
        return {"authorization": "Bearer " + issuer.mint(
            f"{role.value}-1", role, None if county else township, org=org)}

    # Accepted on Thu 6 March: the investigation is due to start by Tue 11 March.
    voted = acceptance(keyring, accepted_on=date(2025, 3, 6), close_relative_declared=True)
    county_visited = acceptance(keyring, accepted_on=date(2025, 3, 6),
                                close_relative_declared=True)
    # Accepted on Mon 3 March and never investigated: late since Thu 6 March.
    neglected = acceptance(keyring, accepted_on=date(2025, 3, 3))
    for accepted in (voted, county_visited, neglected):
        await intake.publish(accepted.application_id, accepted,
                             case_id=str(accepted.application_id), township=YELIN)

    async with client(review) as http:
        cases = {}
        for name, accepted in (("voted", voted), ("county_visited", county_visited),
                               ("neglected", neglected)):
            cases[name] = (await eventually(
                lambda a=accepted: _case_of(http, a.application_id, as_), 20))["case_id"]

        # The county lets an investigator sit in the joint review from today on.
        terms = (await http.get("/policy", headers=as_(Role.COUNTY_BUREAU))).json()["terms"]
        r = await http.post("/policy", headers=as_(Role.COUNTY_BUREAU), json={
            "effective_from": TODAY.isoformat(), "reason": "调查人员可参加联审(测试)",
            "terms": {**terms, "investigator_must_recuse": False}})
        assert r.status_code == 201, r.text

        investigator = {"user_id": "u-w", "name": "王调查", "role": "member", "present": True,
                        "opinion": "approve"}
        await _decide(http, as_, review, publicity, cases["voted"],
                      panel=[*PANEL, investigator], county_visit=False)
        await _decide(http, as_, review, publicity, cases["county_visited"], panel=PANEL,
                      county_visit=True)
        # An internal decision (no integration contract): it still reaches archive.
        r = await http.post(f"/cases/{cases['neglected']}/deadline-extension",
                            headers=as_(Role.TOWNSHIP_LEADER),
                            json={"reason": "需补充核对外省房产信息"})
        assert r.status_code == 200, r.text

    def confirmed_in_archive() -> int:
        t = archive.app.views.envelopes
        with archive.app.read_session() as s:
            return len(s.execute(t.select().where(t.c.type == "case_confirmed")).all())
    await eventually(lambda: confirmed_in_archive() == 2, 30)

    centre = as_(Role.COUNTY_CENTRE)
    async with client(archive) as audit:
        r = await audit.get(f"/audit/irregular-decisions?township={YELIN}&as_of=2025-03-10",
                            headers=centre)
        assert r.status_code == 200, r.text
        flagged = {tuple(c["case_ids"]): c for t in r.json()["townships"].values()
                   for c in t["cases"]}
        # Only the neglected case: the two decided ones were investigated, on time, by the
        # dates their records state (not the day the events happened to be published).
        assert [(c["findings"], c["investigated_on"]) for c in flagged.values()] == [
            (["investigation_late"], None)]
        assert cases["neglected"] in next(iter(flagged))
        for name in ("voted", "county_visited"):
            state = (await audit.get(f"/audit/cases/{cases[name]}/state",
                                     headers=centre)).json()["state"]
            assert (state["investigated_on"], state["decision"]) == ("2025-03-10", "confirmed")

        r = await audit.post("/supervision/alerts/scan", json={"months": ["2025-03"]},
                             headers=centre)
        assert r.status_code in (200, 201), r.text
        found = {}
        for kind in ("close_relative_without_county_visit", "investigator_voted"):
            r = await audit.get(f"/supervision/alerts/{kind}", headers=centre)
            assert r.status_code == 200, r.text
            found[kind] = [(a["case_id"], a["detail"]) for a in r.json()["items"]]

        # Issue 16: every review event of the case is on the inspector's timeline, internal
        # ones included, each with who, when, why (one field) and a Chinese label.
        await eventually(lambda: _has_event(archive, "ReviewCase.DecisionDeadlineExtended"),
                         20)
        timeline = (await audit.get(f"/audit/cases/{cases['voted']}/timeline",
                                    headers=centre)).json()["events"]
        ours = [e for e in timeline if e["source"] == "review"]
        events = [e["event"] for e in ours]
        assert events[:2] == ["ReviewCase.Opened", "ReviewCase.InvestigationAssigned"]
        for internal in ("ReviewCase.VerificationRequested", "ReviewCase.PublicityClosed",
                         "ReviewCase.Confirmed", "Entitlement.Started"):
            assert internal in events, (internal, events)
        assert all(e["label"] and e["by"]["user_id"] and e["when"] for e in ours)
        assert all(e["chain_status"] == "linked" for e in timeline)
        confirmed = next(e for e in ours if e["event"] == "ReviewCase.Confirmed")
        assert confirmed["why"] == "准予低保" and confirmed["label"] == "审核确认"
        assert {"field": "status", "old": "publicized", "new": "confirmed"} in \
            confirmed["changes"]
        assert all("家中有冰箱" not in str(e) for e in timeline)  # findings stay in review
        extended = next(e for e in (await audit.get(
            f"/audit/cases/{cases['neglected']}/timeline", headers=centre)).json()["events"]
            if e["event"] == "ReviewCase.DecisionDeadlineExtended")
        assert extended["type"] == "audit_record" and extended["label"] == "延长审核确认期限"
        assert extended["why"] == "需补充核对外省房产信息"
        assert extended["by"]["role"] == "township_leader"
        due = next(c for c in extended["changes"] if c["field"] == "decision_due")
        assert due["old"] < due["new"]
        r = await audit.get(f"/audit/cases/{cases['neglected']}/verification", headers=centre)
        assert r.status_code == 200 and r.json()["ok"], r.text

    # The county visited one close-relative case itself; the other it never saw.
    assert [c for c, _ in found["close_relative_without_county_visit"]] == [cases["voted"]]
    [(case, detail)] = found["investigator_voted"]
    assert case == cases["voted"]
    assert (detail["official"], detail["opinion"], detail["round"]) == ("u-w", "approve", 1)

    # Rebuilt from the streams (audit records included), the read models end identical,
    # once archive has its own newest events (the alerts just raised) back from its stream.
    def caught_up() -> bool:
        t = archive.app.views.envelopes
        with archive.app.read_session() as s:
            got = s.execute(select(func.max(t.c.position)).where(
                t.c.source == "archive")).scalar_one()
        return (got or 0) >= (archive.app.recorder.max_notification_id() or 0)
    await eventually(lambda: caught_up(), 20)
    before = archive.app.snapshot_read_models()
    async with client(archive) as audit:
        done = await rebuild_read_models(audit, centre)
        assert done["result"]["stream_events"]["review"] > 0
    assert archive.app.snapshot_read_models() == before

    # Point in time: every review aggregate (cases, entitlements, policy) at every instant
    # equals review's repository at the version that instant reached.
    t = archive.app.views.envelopes
    with archive.app.read_session() as s:
        aggregates = sorted(set(s.execute(select(t.c.aggregate_id).where(
            t.c.source == "review")).scalars()))
    assert await assert_equivalent(archive, review, aggregates, centre) > 20


async def _decide(http: httpx.AsyncClient, as_: Any, review: ServiceRuntime,
                  publicity: Upstream, case_id: str, *, panel: list[dict[str, Any]],
                  county_visit: bool) -> None:
    """Assignment → visit(s) → verification → joint review → opinion → clean publicity →
    confirmation, each by its proper role."""
    clerk, leader = as_(Role.TOWNSHIP_CLERK), as_(Role.TOWNSHIP_LEADER)
    r = await http.post(f"/cases/{case_id}/investigation/assign", headers=clerk, json={
        "investigators": [{"user_id": "u-w", "name": "王调查"},
                          {"user_id": "u-c", "name": "陈调查"}]})
    assert r.status_code == 200, r.text
    r = await http.post(f"/cases/{case_id}/investigation/visits", headers=clerk,
                        json=visit_body(visited_on="2025-03-10"))
    assert r.status_code == 201, r.text
    if county_visit:
        # Review's HTTP API admits only township clerks and contractors to visits, so the
        # county centre's own visit is recorded through the application.
        review.app.record_home_visit(
            Principal("centre-7", Role.COUNTY_CENTRE), UUID(case_id),
            {"visited_on": TODAY, "investigators": ["县中心甲", "县中心乙"],
             "members_present": [], "signed_by": ["县中心甲", "县中心乙"], "documents": [],
             "notes": "", "contractor": None}, {})
    for path, headers, body in [
        (f"/cases/{case_id}/verification/request", clerk, None),
        (f"/cases/{case_id}/verification/report", as_(Role.COUNTY_CENTRE), REPORT),
        (f"/cases/{case_id}/joint-review", as_(Role.TOWNSHIP_REVIEWER),
         {"held_on": "2025-03-10", "outcome": "approve", "members": panel}),
        (f"/cases/{case_id}/opinion", leader, {"approve": True})]:
        r = await http.post(path, json=body, headers=headers)
        assert r.status_code in (200, 201), (path, r.text)
    notice = uuid4()
    await publicity.publish(notice, NoticeClosed(
        notice_id=notice, case_id=UUID(case_id), subject="opinion", round=1, township=YELIN,
        village=TAOYUAN, outcome="clean", closed_on=TODAY), case_id=case_id, township=YELIN)

    async def publicized() -> bool:
        c = (await http.get(f"/cases/{case_id}", headers=leader)).json()
        return c["status"] == "publicized"
    await eventually(publicized, 20)
    r = await http.post(f"/cases/{case_id}/confirm", json={"notice": "准予低保"},
                        headers=leader)
    assert r.status_code == 200, r.text


async def _case_of(http: httpx.AsyncClient, application_id: UUID, as_: Any
                   ) -> dict[str, Any] | None:
    r = await http.get(f"/cases/by-application/{application_id}",
                       headers=as_(Role.TOWNSHIP_LEADER))
    return r.json() if r.status_code == 200 else None


def _has_event(archive: ServiceRuntime, name: str) -> bool:
    t = archive.app.views.envelopes
    with archive.app.read_session() as s:
        return any(Envelope.model_validate_json(b).audit.event == name  # type: ignore[union-attr]
                   for b in s.execute(t.select().with_only_columns(t.c.body).where(
                       t.c.type == "audit_record")).scalars())


