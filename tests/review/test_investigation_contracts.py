"""Review publishes who investigated and who decided (investigation_assigned,
home_visit_recorded, joint_review_held), mapped from its own events the way the relay maps
them: names and roles of officials travel, the visit's findings and the household do not."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest

from shared.auth import Principal, Role
from shared.bus import OutboxRelay
from shared.contracts import Envelope, parse_data, verify_chain
from shared.contracts.review import HomeVisitRecorded, InvestigationAssigned, JointReviewHeld
from shared.fieldcrypt import Keyring
from shared.runtime import ServiceRuntime
from tests.support.places import YELIN
from tests.support.review import PANEL, REPORT, opened, visit_body

pytestmark = pytest.mark.fast

FINDINGS_AND_HOUSEHOLD = ("符阿妹", "在外务工", "家中有冰箱", "the kitchen", "4321.77")


def relayed(review: ServiceRuntime) -> list[Envelope]:
    """The envelopes the outbox relay would publish for everything stored so far."""
    relay = OutboxRelay(review.app, review.bus, review.to_integration)
    return relay.pending_envelopes()


def of_type(envelopes: list[Envelope], type_: str, case_id: str) -> list[Envelope]:
    return [e for e in envelopes if e.type == type_ and e.case_id == case_id]


async def test_investigation_and_joint_review_facts_are_published_without_findings(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    clerk = as_(Role.TOWNSHIP_CLERK)
    r = await http.post(f"/cases/{case_id}/investigation/assign", headers=clerk, json={
        "investigators": [{"user_id": "u-w", "name": "王调查"},
                          {"user_id": "u-c", "name": "陈调查"}]})
    assert r.status_code == 200, r.text
    r = await http.post(f"/cases/{case_id}/investigation/visits", headers=clerk,
                        json=visit_body())
    assert r.status_code == 201, r.text
    # The county's own visit (近亲属备案), with findings and notes. Review's HTTP API admits
    # only township clerks and contractors to visits, so county staff act through the app.
    county = Principal("centre-7", Role.COUNTY_CENTRE)
    mother = review.app.case(county, UUID(case_id)).household["members"][1]["fingerprint"]
    review.app.record_home_visit(county, UUID(case_id), {
        "visited_on": date(2025, 3, 8), "investigators": ["县中心甲", "县中心乙"],
        "members_present": ["符阿妹"], "signed_by": ["县中心甲", "县中心乙", "符阿妹"],
        "documents": [{"document_id": "arc-0009", "kind": "photo",
                       "description": "the kitchen"}],
        "notes": "家中有冰箱", "contractor": None,
    }, {"members": [{"member_fingerprint": mother, "finding": "在外务工"}],
        "incomes": [{"member_fingerprint": mother, "kind": "wage",
                     "amount": Decimal("4321.77"), "months": 6}]})
    # The findings are on record in review (so their absence on the bus means something).
    household = review.app.case(county, UUID(case_id)).household
    assert [str(i["amount"]) for i in household["incomes"]] == ["4321.77"]
    for path, headers, body in [
        (f"/cases/{case_id}/verification/request", clerk, None),
        (f"/cases/{case_id}/verification/report", as_(Role.COUNTY_CENTRE), REPORT),
        (f"/cases/{case_id}/joint-review", as_(Role.TOWNSHIP_REVIEWER),
         {"held_on": "2025-03-09", "outcome": "approve", "members": PANEL})]:
        r = await http.post(path, json=body, headers=headers)
        assert r.status_code in (200, 201), (path, r.text)

    envelopes = relayed(review)
    assert verify_chain(envelopes).ok

    assigned = of_type(envelopes, "investigation_assigned", case_id)
    assert len(assigned) == 1
    a = parse_data(assigned[0])
    assert isinstance(a, InvestigationAssigned)
    assert [(i.user_id, i.name) for i in a.investigators] == [("u-w", "王调查"),
                                                             ("u-c", "陈调查")]
    assert (a.round, a.assigned_on.isoformat(), a.contractor, a.kind) == (
        1, "2025-03-10", None, "dibao")
    assert assigned[0].township == YELIN and assigned[0].household_id == "hh-li-001"
    assert assigned[0].actor is not None and assigned[0].actor.role == "township_clerk"

    visits = [parse_data(e) for e in of_type(envelopes, "home_visit_recorded", case_id)]
    assert all(isinstance(v, HomeVisitRecorded) for v in visits)
    assert [(v.visited_on.isoformat(), v.investigators, v.visiting_body) for v in visits] == [
        ("2025-03-05", ["王调查", "陈调查"], "township"),
        ("2025-03-08", ["县中心甲", "县中心乙"], "county")]
    assert [v.document_ids for v in visits] == [["arc-0001", "arc-0002"], ["arc-0009"]]
    for env in of_type(envelopes, "home_visit_recorded", case_id):
        raw = env.to_bytes().decode()
        leaked = [s for s in FINDINGS_AND_HOUSEHOLD if s in raw]
        assert not leaked, f"{leaked} left review on the bus"
        assert set(env.data) == set(HomeVisitRecorded.model_fields)

    held = of_type(envelopes, "joint_review_held", case_id)
    assert len(held) == 1
    j = parse_data(held[0])
    assert isinstance(j, JointReviewHeld)
    assert (j.round, j.held_on.isoformat(), j.outcome) == (1, "2025-03-09", "approve")
    assert [(m.user_id, m.name, m.role, m.present, m.recused, m.opinion) for m in j.members] \
        == [(m["user_id"], m["name"], m["role"], True, False, "approve") for m in PANEL]
    assert held[0].actor is not None and held[0].actor.role == "township_reviewer"

    # Republishing after a crash builds the same bytes (same event ids, same hashes).
    assert [e.to_bytes() for e in relayed(review)] == [e.to_bytes() for e in envelopes]


async def test_a_contractor_assignment_names_the_organisation(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    r = await http.post(f"/cases/{case_id}/investigation/assign",
                        json={"contractor": "org-hainan-survey"},
                        headers=as_(Role.TOWNSHIP_CLERK))
    assert r.status_code in (200, 201), r.text
    contractor = as_(Role.CONTRACTOR_INVESTIGATOR, org="org-hainan-survey")
    r = await http.post(f"/cases/{case_id}/investigation/visits", headers=contractor,
                        json=visit_body())
    assert r.status_code == 201, r.text

    envelopes = relayed(review)
    a = parse_data(of_type(envelopes, "investigation_assigned", case_id)[0])
    assert isinstance(a, InvestigationAssigned)
    assert (a.investigators, a.contractor) == ([], "org-hainan-survey")
    v = parse_data(of_type(envelopes, "home_visit_recorded", case_id)[0])
    assert isinstance(v, HomeVisitRecorded)
    assert (v.contractor, v.visiting_body) == ("org-hainan-survey", "township")
