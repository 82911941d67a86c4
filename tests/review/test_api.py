"""Review's HTTP API in-process: the case from acceptance to entitlement, roles and
jurisdiction, the contractor's assignment, masking, bad input, time limits, policy,
dynamic management and spot checks. Every refusal is problem+json and stores nothing."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from shared.auth import Role
from shared.contracts.intake import ChangeDetails, ChangeReported
from shared.pii import Keyring
from shared.runtime import ServiceRuntime
from tests.support.places import GUANGPO, YELIN
from tests.support.review import (
    INTAKE_CLERK,
    PANEL,
    REPORT,
    TERMS,
    acceptance,
    confirmed,
    opened,
    publicity_clean,
    to_reviewed,
    visit_body,
)
from tests.support.web import assert_problem


def position(review: ServiceRuntime) -> int | None:
    return review.app.recorder.max_notification_id()


# --- the whole case -----------------------------------------------------------------------


async def test_dibao_from_acceptance_to_entitlement(http: httpx.AsyncClient,
                                                    review: ServiceRuntime,
                                                    keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    leader = as_(Role.TOWNSHIP_LEADER)
    await to_reviewed(http, as_, case_id)

    r = await http.post(f"/cases/{case_id}/opinion", json={"approve": True}, headers=leader)
    assert r.status_code == 201, r.text
    opinion = r.json()
    assert opinion["amount"] == "1580" and opinion["policy_version"] == 2
    b = opinion["breakdown"]
    assert (b["per_capita_income"], b["standard"], b["gap_total"], b["addons_total"]) == (
        "166.67", "650", "1450.00", "130.00")

    r = await http.post(f"/cases/{case_id}/confirm", json={"notice": "准予低保"},
                        headers=leader)
    assert_problem(r, 422, "review.publicity_not_ended")

    await publicity_clean(review, case_id)
    r = await http.post(f"/cases/{case_id}/confirm", json={"notice": "准予低保，每月1580元"},
                        headers=leader)
    assert r.status_code == 200, r.text
    assert r.json()["decision"]["start_month"] == "2025-04"
    entitlement_id = r.json()["entitlement_id"]

    r = await http.get(f"/entitlements/{entitlement_id}", headers=as_(Role.TOWNSHIP_CLERK))
    e = r.json()
    assert (e["monthly_amount"], e["start_month"], e["policy_version"]) == ("1580", "2025-04", 2)
    # 符阿妹 is 40 with partial work capacity, nobody else of working age able to work:
    # yearly recheck from the first month.
    assert e["recheck_due"] == "2026-04-01" and e["recheck_months"] == 12
    r = await http.get(f"/cases/{case_id}", headers=as_(Role.DISCIPLINE_INSPECTOR))
    assert r.json()["status"] == "confirmed"
    assert r.json()["payee"]["account"] == "***************9012"

    r = await http.get(f"/cases/{case_id}/opinion/recompute", headers=leader)
    assert r.json()["identical"] is True


async def test_a_rejection_needs_reasons_and_is_due_in_3_working_days(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    await to_reviewed(http, as_, case_id, outcome="reject")
    leader = as_(Role.TOWNSHIP_LEADER)
    r = await http.post(f"/cases/{case_id}/opinion", json={"approve": False}, headers=leader)
    assert_problem(r, 422, "review.reason_required", "reasons")
    r = await http.post(f"/cases/{case_id}/opinion",
                        json={"approve": False, "reasons": ["赡养人有能力赡养"]}, headers=leader)
    assert r.status_code == 201 and r.json()["publicity_required"] is False
    case = (await http.get(f"/cases/{case_id}", headers=leader)).json()
    assert case["rejection_due"] == "2025-03-13"  # Mon 10 → Thu 13
    r = await http.post(f"/cases/{case_id}/reject", json={"reasons": ["赡养人有能力赡养"]},
                        headers=leader)
    assert r.status_code == 200 and r.json()["status"] == "rejected"


# --- out of order -------------------------------------------------------------------------


async def test_an_opinion_without_an_investigation_is_422(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    before = position(review)
    r = await http.post(f"/cases/{case_id}/opinion", json={"approve": True},
                        headers=as_(Role.TOWNSHIP_LEADER))
    assert_problem(r, 422, "review.investigation_missing")
    assert position(review) == before


async def test_a_joint_review_without_the_discipline_member_is_422(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    clerk = as_(Role.TOWNSHIP_CLERK)
    for path, headers, body in [
        (f"/cases/{case_id}/investigation/assign", clerk, {"contractor": "org-a"}),
        (f"/cases/{case_id}/investigation/visits", as_(Role.CONTRACTOR_INVESTIGATOR,
                                                       org="org-a"), visit_body()),
        (f"/cases/{case_id}/verification/request", clerk, None),
        (f"/cases/{case_id}/verification/report", as_(Role.COUNTY_CENTRE), REPORT),
    ]:
        assert (await http.post(path, json=body, headers=headers)).status_code in (200, 201)
    before = position(review)
    members = [m for m in PANEL if m["role"] != "discipline"] + [
        {"user_id": "u-x", "name": "包村领导", "role": "member", "present": True,
         "opinion": "approve"}]
    r = await http.post(f"/cases/{case_id}/joint-review", headers=as_(Role.TOWNSHIP_REVIEWER),
                        json={"held_on": "2025-03-07", "outcome": "approve",
                              "members": members})
    assert_problem(r, 422, "review.joint_review_no_discipline_member", "members")
    assert position(review) == before


async def test_a_contractor_acts_and_reads_only_its_own_cases(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    mine, theirs = opened(review, keyring), opened(review, keyring)
    clerk = as_(Role.TOWNSHIP_CLERK)
    await http.post(f"/cases/{mine}/investigation/assign", json={"contractor": "org-a"},
                    headers=clerk)
    await http.post(f"/cases/{theirs}/investigation/assign", json={"contractor": "org-b"},
                    headers=clerk)
    a = as_(Role.CONTRACTOR_INVESTIGATOR, org="org-a")
    before = position(review)
    r = await http.post(f"/cases/{theirs}/investigation/visits", json=visit_body(), headers=a)
    assert_problem(r, 422, "review.contractor_not_assigned", "case_id")
    assert position(review) == before
    assert_problem(await http.get(f"/cases/{theirs}", headers=a), 403,
                   "review.contractor_not_assigned")
    listed = (await http.get("/cases", params={"township": YELIN}, headers=a)).json()
    assert [i["case_id"] for i in listed["items"]] == [mine]
    r = await http.post(f"/cases/{mine}/investigation/visits", json=visit_body(), headers=a)
    assert r.status_code == 201 and r.json()["status"] == "investigated"


# --- roles, jurisdiction, masking ---------------------------------------------------------


async def test_roles_and_jurisdiction(http: httpx.AsyncClient, review: ServiceRuntime,
                                      keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    await to_reviewed(http, as_, case_id)
    before = position(review)
    body = {"approve": True}
    path = f"/cases/{case_id}/opinion"
    assert_problem(await http.post(path, json=body), 401, "auth.missing_token")
    assert_problem(await http.post(path, json=body, headers=as_(Role.TOWNSHIP_CLERK)),
                   403, "auth.role", "role")
    assert_problem(await http.post(path, json=body, headers=as_(Role.PUBLIC)),
                   403, "auth.role", "role")
    assert_problem(await http.post(path, json=body,
                                   headers=as_(Role.TOWNSHIP_LEADER, GUANGPO)),
                   403, "auth.jurisdiction", "township")
    assert_problem(await http.get(f"/cases/{case_id}",
                                  headers=as_(Role.TOWNSHIP_CLERK, GUANGPO)),
                   403, "auth.jurisdiction", "township")
    assert_problem(await http.get("/cases", params={"township": YELIN},
                                  headers=as_(Role.TOWNSHIP_LEADER, GUANGPO)),
                   403, "auth.jurisdiction", "township")
    assert_problem(await http.post(f"/cases/{case_id}/verification/report", json=REPORT,
                                   headers=as_(Role.TOWNSHIP_LEADER)), 403, "auth.role")
    assert position(review) == before
    # County roles read every township.
    r = await http.get(f"/cases/{case_id}", headers=as_(Role.COUNTY_BUREAU))
    assert r.status_code == 200 and r.json()["status"] == "reviewed"


async def test_the_verification_report_is_masked_for_roles_that_may_not_see_it(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    await to_reviewed(http, as_, case_id)
    seen = (await http.get(f"/cases/{case_id}", headers=as_(Role.TOWNSHIP_REVIEWER))).json()
    assert seen["verification"]["report"] == REPORT and seen["verification"]["masked"] is False
    clerk_view = await http.get(f"/cases/{case_id}", headers=as_(Role.TOWNSHIP_CLERK))
    assert clerk_view.json()["verification"]["masked"] is True
    assert set(clerk_view.json()["verification"]["report"].values()) == {"***"}
    assert "8,000 in total" not in clerk_view.text
    # Resident IDs are never stored or shown in full.
    assert all(m["resident_id_mask"].count("*") == 13
               for m in seen["household"]["members"])


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field", "rule"), [
    ({**visit_body(), "approved": True}, "approved", "extra_forbidden"),
    (visit_body(incomes=[{"member_fingerprint": "x", "kind": "wage", "amount": "-1",
                          "months": 6}]), "incomes[0].amount", "greater_than_equal"),
    (visit_body(incomes=[{"member_fingerprint": "x", "kind": "lottery", "amount": "1",
                          "months": 6}]), "incomes[0].kind", "enum"),
    (visit_body(investigators=["王" * 65, "陈调查"]), "investigators[0]", "string_too_long"),
    (visit_body(incomes=[{"member_fingerprint": "x", "kind": "wage", "amount": "1",
                          "months": 13}]), "incomes[0].months", "less_than_equal"),
])
async def test_bad_input_names_the_field_and_stores_nothing(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any,
        body: dict[str, Any], field: str, rule: str) -> None:
    case_id = opened(review, keyring)
    clerk = as_(Role.TOWNSHIP_CLERK)
    await http.post(f"/cases/{case_id}/investigation/assign", headers=clerk, json={
        "investigators": [{"name": "王调查"}, {"name": "陈调查"}]})
    before = position(review)
    r = await http.post(f"/cases/{case_id}/investigation/visits", json=body, headers=clerk)
    problem = assert_problem(r, 422, "web.validation", field)
    assert problem["errors"][0]["rule"] == rule
    assert position(review) == before


async def test_domain_rules_on_input_name_the_field(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    clerk = as_(Role.TOWNSHIP_CLERK)
    before = position(review)
    r = await http.post(f"/cases/{case_id}/investigation/assign", headers=clerk,
                        json={"investigators": [{"name": "王调查"}]})
    assert_problem(r, 422, "review.investigation_team", "investigators")
    await http.post(f"/cases/{case_id}/investigation/assign", headers=clerk, json={
        "investigators": [{"name": "王调查"}, {"name": "陈调查"}]})
    before = position(review)
    r = await http.post(f"/cases/{case_id}/investigation/visits", headers=clerk,
                        json=visit_body(members=[{"member_fingerprint": "not-a-member"}]))
    assert_problem(r, 422, "review.unknown_member", "members[0].member_fingerprint")
    r = await http.post(f"/cases/{case_id}/investigation/visits", headers=clerk,
                        json=visit_body(visited_on="2025-03-11"))
    assert_problem(r, 422, "review.date_in_future", "visited_on")
    assert position(review) == before
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(await http.get(f"/cases/{missing}", headers=clerk), 404, "review.not_found")


async def test_a_retried_confirmation_returns_the_first_answer(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    await to_reviewed(http, as_, case_id)
    leader = as_(Role.TOWNSHIP_LEADER)
    await http.post(f"/cases/{case_id}/opinion", json={"approve": True}, headers=leader)
    await publicity_clean(review, case_id)
    headers = {**leader, "idempotency-key": "confirm-1"}
    first = await http.post(f"/cases/{case_id}/confirm", json={"notice": "准予"},
                            headers=headers)
    after = position(review)
    second = await http.post(f"/cases/{case_id}/confirm", json={"notice": "准予"},
                             headers=headers)
    assert second.status_code == 200 and second.headers["idempotent-replay"] == "true"
    assert second.json() == first.json() and position(review) == after


# --- 特困 and 临时救助 ----------------------------------------------------------------------


async def test_tekun_opinion_with_self_care_tier(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring, kind="tekun")
    await to_reviewed(http, as_, case_id)
    leader = as_(Role.TOWNSHIP_LEADER)
    r = await http.post(f"/cases/{case_id}/opinion", json={"approve": True}, headers=leader)
    assert_problem(r, 422, "review.self_care_incomplete", "self_care.eating")
    care = {"eating": True, "dressing": False, "bed_transfer": False, "toileting": False,
            "indoor_walking": False, "bathing": True}
    r = await http.post(f"/cases/{case_id}/opinion", headers=leader,
                        json={"approve": True, "self_care": care, "care_mode": "centralized"})
    assert r.status_code == 201, r.text
    b = r.json()["breakdown"]
    assert (b["self_care_tier"], b["care_mode"], r.json()["amount"]) == (
        "total", "centralized", "1845")  # 650 × 1.3 + 1,000
    case = (await http.get(f"/cases/{case_id}", headers=leader)).json()
    assert case["decision_due"] == "2025-03-24"  # 15 working days from Mon 3 March


async def test_linshi_above_the_ceiling_needs_the_county_bureau(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring, kind="linshi", linshi_type="expenditure")
    await to_reviewed(http, as_, case_id)
    leader = as_(Role.TOWNSHIP_LEADER)
    r = await http.post(f"/cases/{case_id}/opinion", headers=leader,
                        json={"approve": True, "band": "major", "instalments": 3})
    assert r.status_code == 201 and r.json()["status"] == "awaiting_county"
    assert r.json()["breakdown"]["instalments"] == ["3900", "3900", "3900"]
    assert_problem(await http.post(f"/cases/{case_id}/county-approval", headers=leader,
                                   json={"reasons": ["x"]}), 403, "auth.role")
    r = await http.post(f"/cases/{case_id}/county-approval", headers=as_(Role.COUNTY_BUREAU),
                        json={"reasons": ["一事一议：重大疾病"]})
    assert r.status_code == 200 and r.json()["status"] == "opinion_issued"


async def test_emergency_help_first(http: httpx.AsyncClient, review: ServiceRuntime,
                                    keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring, kind="linshi", linshi_type="emergency")
    leader = as_(Role.TOWNSHIP_LEADER)
    r = await http.post(f"/cases/{case_id}/advance", headers=leader,
                        json={"band": "serious", "reason": "房屋火灾"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "confirmed"
    assert r.json()["payments"][0]["amount"] == "3900"
    assert r.json()["advance"]["completion_due"] == "2025-03-24"  # 10 working days
    deadlines = (await http.get("/deadlines", params={"township": YELIN,
                                                      "as_of": "2025-03-21"},
                                headers=leader)).json()
    assert [(d["case_id"], d["deadline"]) for d in deadlines["due_soon"]] == [
        (case_id, "advance_record")]


# --- time limits across the Spring Festival ----------------------------------------------


async def test_deadlines_count_working_days_across_the_spring_festival(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    # Accepted Friday 24 January 2025. Spring Festival: 28 Jan – 4 Feb off; Sunday 26 Jan
    # and Saturday 8 Feb are make-up working days.
    dibao = opened(review, keyring, accepted_on=date(2025, 1, 24))
    tekun = opened(review, keyring, kind="tekun", accepted_on=date(2025, 1, 24))
    leader = as_(Role.TOWNSHIP_LEADER)
    d = (await http.get(f"/cases/{dibao}", headers=leader)).json()
    # 26, 27 Jan, then 5 Feb: the third working day.
    assert d["investigation_due"] == "2025-02-05"
    # 26, 27 Jan; 5, 6, 7, 8 (Sat), 10–14, 17–21, 24–27 Feb: the 20th is 27 February.
    assert d["decision_due"] == "2025-02-27"
    t = (await http.get(f"/cases/{tekun}", headers=leader)).json()
    assert t["decision_due"] == "2025-02-20"  # the 15th working day

    r = await http.get("/deadlines", params={"township": YELIN, "as_of": "2025-02-25"},
                       headers=leader)
    report = r.json()
    assert report["due_soon_until"] == "2025-02-28"  # 3 working days on
    overdue = {(i["case_id"], i["deadline"]): i for i in report["overdue"]}
    assert overdue[(tekun, "decision")]["working_days_late"] == 3  # 21, 24, 25 Feb
    assert overdue[(dibao, "investigation_start")]["due"] == "2025-02-05"
    assert [(i["case_id"], i["deadline"], i["working_days_left"])
            for i in report["due_soon"]] == [(dibao, "decision", 2)]

    # Extended to 45 working days with a recorded reason; only the leader may.
    assert_problem(await http.post(f"/cases/{dibao}/deadline-extension",
                                   json={"reason": "分户"}, headers=as_(Role.TOWNSHIP_CLERK)),
                   403, "auth.role")
    r = await http.post(f"/cases/{dibao}/deadline-extension",
                        json={"reason": "异地申请，调查困难"}, headers=leader)
    assert r.json()["decision_due"] == "2025-04-03"  # the 45th, the eve of Qingming
    r = await http.post(f"/cases/{dibao}/deadline-extension",
                        json={"reason": "again"}, headers=leader)
    assert_problem(r, 422, "review.already_extended")


# --- policy ---------------------------------------------------------------------------------


async def test_the_county_bureau_publishes_policy_versions(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    bureau = as_(Role.COUNTY_BUREAU)
    terms = {**TERMS, "dibao_standard_rural": "700", "label": "2025-07 rural raise"}
    body = {"effective_from": "2025-07-01", "reason": "县民政局2025年第3号文", "terms": terms}
    assert_problem(await http.post("/policy", json=body, headers=as_(Role.TOWNSHIP_LEADER)),
                   403, "auth.role")
    r = await http.post("/policy", json={**body, "effective_from": "2025-03-01"},
                        headers=bureau)
    assert_problem(r, 422, "review.policy_retroactive", "effective_from")
    r = await http.post("/policy", json={**body, "terms": {**terms, "spot_check_percent": {
        **TERMS["spot_check_percent"], "tekun": "20"}}}, headers=bureau)
    assert_problem(r, 422, "review.policy_invalid", "terms.spot_check_percent")
    r = await http.post("/policy", json={**body, "terms": {**terms, "rural": "1"}},
                        headers=bureau)
    assert_problem(r, 422, "web.validation", "terms.rural")
    r = await http.post("/policy", json=body, headers=bureau)
    assert r.status_code == 201 and r.json()["policy_version"] == 3

    clerk = as_(Role.TOWNSHIP_CLERK)
    now = (await http.get("/policy", headers=clerk)).json()
    assert now["policy_version"] == 2 and now["terms"]["illustrative"] is True
    later = (await http.get("/policy", params={"on": "2025-07-01"}, headers=clerk)).json()
    assert later["policy_version"] == 3 and later["terms"]["dibao_standard_rural"] == "700"
    assert (await http.get("/policy", params={"on": "2016-05-01"}, headers=clerk)).json()[
        "terms"]["dibao_standard_rural"] == "280"  # the 2015 historical standard


@pytest.mark.parametrize(("change", "field", "rule"), [
    ({"addon_elderly_age": 130}, "terms.addon_elderly_age", "less_than_equal"),
    ({"recheck_months_stable": 0}, "terms.recheck_months_stable", "greater_than_equal"),
    ({"tekun_care_standard": {"self_caring": "100", "partial": "-1", "total": "1000"}},
     "terms.tekun_care_standard.partial", "greater_than_equal"),
    ({"decision_working_days": {"dibao": 20, "dibao_edge": 20, "tekun": 15}},
     "terms.decision_working_days.linshi", "missing"),
    ({"linshi_bands": {}}, "terms.linshi_bands", "too_short"),
    ({"rounding_mode": "banker"}, "terms.rounding_mode", "literal_error"),
])
async def test_policy_terms_are_refused_outside_the_domains_bounds(
        http: httpx.AsyncClient, review: ServiceRuntime, as_: Any, change: dict[str, Any],
        field: str, rule: str) -> None:
    """PolicyTermsIn is the domain's PolicyTerms within policy_bounds.py's ranges: a term
    out of range is a 422 naming it and the rule, and nothing is published."""
    before = position(review)
    r = await http.post("/policy", headers=as_(Role.COUNTY_BUREAU), json={
        "effective_from": "2025-07-01", "reason": "县民政局2025年第3号文",
        "terms": {**TERMS, **change}})
    assert assert_problem(r, 422, "web.validation", field)["errors"][0]["rule"] == rule
    assert position(review) == before


def test_the_policy_input_holds_exactly_the_domains_terms() -> None:
    from dataclasses import fields

    from services.review.domain import PolicyTerms
    from services.review.schemas import PolicyTermsIn

    assert list(PolicyTermsIn.model_fields) == [f.name for f in fields(PolicyTerms)]
    # A term a publication may omit takes the value declared beside the domain.
    omitted = PolicyTermsIn.model_validate(TERMS)
    assert (omitted.tekun_elderly_age, omitted.tekun_minor_age,
            omitted.tekun_student_minor_age, omitted.reconcile_by_day) == (60, 16, 18, 20)


async def test_a_joint_review_role_is_one_of_the_domains(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    members = [{**PANEL[0], "role": "chair"}, *PANEL[1:]]
    r = await http.post(f"/cases/{case_id}/joint-review", headers=as_(Role.TOWNSHIP_REVIEWER),
                        json={"held_on": "2025-03-07", "outcome": "approve",
                              "members": members})
    problem = assert_problem(r, 422, "web.validation", "members[0].role")
    assert problem["errors"][0]["rule"] == "literal_error"
    assert "'deputy', 'discipline', 'leader' or 'member'" in problem["errors"][0]["message"]


async def test_a_past_opinion_recomputes_to_the_same_number_after_a_policy_change(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    case_id = opened(review, keyring)
    await to_reviewed(http, as_, case_id)
    leader = as_(Role.TOWNSHIP_LEADER)
    await http.post(f"/cases/{case_id}/opinion", json={"approve": True}, headers=leader)
    await http.post("/policy", headers=as_(Role.COUNTY_BUREAU), json={
        "effective_from": "2025-03-10", "reason": "raise", "terms": {
            **TERMS, "dibao_standard_rural": "900"}})
    r = await http.get(f"/cases/{case_id}/opinion/recompute", headers=leader)
    assert r.json()["identical"] is True
    assert r.json()["recomputed"]["monthly_amount"] == "1580" and r.json()[
        "policy_version"] == 2


# --- dynamic management ---------------------------------------------------------------------


async def test_an_adjustment_recomputes_and_follows_the_cut_off(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    entitlement_id = await confirmed(http, review, keyring, as_)
    review.app.today = lambda: date(2025, 6, 16)  # type: ignore[method-assign]
    leader = as_(Role.TOWNSHIP_LEADER)
    e = (await http.get(f"/entitlements/{entitlement_id}", headers=leader)).json()
    case = (await http.get(f"/cases/{e['case_id']}", headers=leader)).json()
    mother_fp = case["household"]["members"][1]["fingerprint"]
    raise_wages = {"incomes": [{"member_fingerprint": mother_fp, "kind": "wage",
                                "amount": "6000", "months": 6}]}
    path = f"/entitlements/{entitlement_id}/adjust"
    before = position(review)
    assert_problem(await http.post(path, json=raise_wages, headers=leader), 422,
                   "review.reason_required", "reasons")
    assert position(review) == before
    r = await http.post(path, json={**raise_wages, "reasons": ["工资增加"]}, headers=leader)
    assert r.status_code == 200, r.text
    # 650 × 3 − 1,000 + 130 = 1,080, decided on the 16th: July's roster.
    assert (r.json()["change"], r.json()["monthly_amount"]) == ("decrease", "1080")
    assert r.json()["last_change"]["effective_month"] == "2025-07"
    r = await http.post(path, json={"incomes": [{"member_fingerprint": mother_fp,
                                                 "kind": "wage", "amount": "12000",
                                                 "months": 6}], "reasons": ["就业"]},
                        headers=leader)
    assert_problem(r, 422, "review.not_eligible")
    r = await http.post(f"/entitlements/{entitlement_id}/phase-out", headers=leader,
                        json={"months": 6, "reasons": ["就业渐退"]})
    assert r.json()["status"] == "phasing_out"
    listed = (await http.get("/entitlements", params={"township": YELIN},
                             headers=leader)).json()
    assert listed["items"][0]["ends_after"] == "2025-12"


async def test_a_tekun_termination_waits_for_its_publicity(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    care = {a: True for a in ("eating", "dressing", "bed_transfer", "toileting",
                              "indoor_walking", "bathing")}
    entitlement_id = await confirmed(http, review, keyring, as_, kind="tekun",
                                     self_care=care, care_mode="dispersed")
    leader = as_(Role.TOWNSHIP_LEADER)
    r = await http.post(f"/entitlements/{entitlement_id}/terminate", headers=leader,
                        json={"reasons": ["死亡"]})
    assert r.json()["status"] == "termination_pending"
    case_id = (await http.get(f"/entitlements/{entitlement_id}", headers=leader)).json()[
        "case_id"]
    # What the reaction to publicity's NoticeClosed(subject="termination") runs.
    review.app.termination_notice_closed(UUID(case_id), "clean", None, date(2025, 4, 20),
                                         INTAKE_CLERK)
    e = (await http.get(f"/entitlements/{entitlement_id}", headers=leader)).json()
    assert e["status"] == "terminated" and e["changes"][-1]["effective_month"] == "2025-05"


# --- spot checks ----------------------------------------------------------------------------


async def test_a_spot_check_samples_confirmed_cases_and_records_results(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    await confirmed(http, review, keyring, as_)
    await confirmed(http, review, keyring, as_)
    centre = as_(Role.COUNTY_CENTRE)
    assert_problem(await http.post("/spot-checks", json={"township": YELIN, "month": "2025-03"},
                                   headers=as_(Role.TOWNSHIP_LEADER)), 403, "auth.role")
    r = await http.post("/spot-checks", json={"township": YELIN, "month": "2025-03"},
                        headers=centre)
    assert_problem(r, 422, "review.spot_check_month", "month")  # March has not ended
    review.app.today = lambda: date(2025, 4, 2)  # type: ignore[method-assign]
    r = await http.post("/spot-checks", json={"township": YELIN, "month": "2025-03"},
                        headers=centre)
    assert r.status_code == 201, r.text
    check = r.json()
    assert check["population"] == {"dibao": 2} and len(check["sample"]) == 1  # 10% → 1
    assert_problem(await http.post("/spot-checks", json={"township": YELIN,
                                                         "month": "2025-03"}, headers=centre),
                   422, "review.spot_check_exists")
    sid = check["spot_check_id"]
    r = await http.post(f"/spot-checks/{sid}/results", headers=centre, json={
        "case_id": check["sample"][0]["case_id"], "upheld": False,
        "finding": "收入少报", "corrective_action": "重新核算并追回"})
    assert r.status_code == 201
    r = await http.post(f"/spot-checks/{sid}/complete", headers=centre)
    assert r.status_code == 200 and r.json()["completed"] is True


# --- intake's later events ---------------------------------------------------------------


async def test_a_change_reported_in_intake_makes_the_recheck_due_and_feeds_the_adjustment(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    entitlement_id = await confirmed(http, review, keyring, as_)
    leader = as_(Role.TOWNSHIP_LEADER)
    e = (await http.get(f"/entitlements/{entitlement_id}", headers=leader)).json()
    case = (await http.get(f"/cases/{e['case_id']}", headers=leader)).json()
    mother = case["household"]["members"][1]["fingerprint"]
    reported = ChangeReported.sealing(  # as intake publishes it: what changed sealed
        ChangeDetails(description="儿媳外出务工",
                      members_left=[{"fingerprint": mother, "reason": "moved_out"}]),
        keyring, "test-change", change_id=uuid4(), application_id=case["application_id"],
        case_id=case["case_id"], kind="dibao", township=YELIN, village=case["village"],
        reported_on=date(2025, 5, 6), occurred_on=date(2025, 5, 1), subject="members")
    assert b"moved_out" not in reported.model_dump_json().encode()
    # What the reaction to intake's change_reported runs.
    assert review.app.change_reported(reported, INTAKE_CLERK) is True
    due = (await http.get("/entitlements", params={"township": YELIN,
                                                   "recheck_due_by": "2025-05-06"},
                          headers=leader)).json()
    assert [i["entitlement_id"] for i in due["items"]] == [entitlement_id]

    review.app.today = lambda: date(2025, 5, 12)  # type: ignore[method-assign]
    r = await http.post(f"/entitlements/{entitlement_id}/adjust", headers=leader,
                        json={"apply_reported": True, "reasons": ["儿媳已迁出，不再计入"]})
    assert r.status_code == 200, r.text
    # Two members, no counted income: 650 × 2 + 65 + 65 = 1,430, in May's roster.
    assert (r.json()["change"], r.json()["monthly_amount"]) == ("decrease", "1430")
    assert r.json()["last_change"]["effective_month"] == "2025-05"
    e = (await http.get(f"/entitlements/{entitlement_id}", headers=leader)).json()
    assert e["reported_changes"] == []


async def test_a_withdrawn_application_closes_the_open_case(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    accepted = acceptance(keyring)
    case_id = str(review.app.open_case(accepted, INTAKE_CLERK))
    review.app.application_withdrawn(accepted.application_id, "家庭情况好转", date(2025, 3, 10),
                                     INTAKE_CLERK)
    case = (await http.get(f"/cases/{case_id}", headers=as_(Role.TOWNSHIP_CLERK))).json()
    assert case["status"] == "withdrawn"
    r = await http.post(f"/cases/{case_id}/investigation/assign", headers=as_(
        Role.TOWNSHIP_CLERK), json={"contractor": "org-a"})
    assert_problem(r, 422, "review.case_closed")


async def test_dibao_edge_recognition_has_a_validity_and_no_entitlement(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    mother_income = acceptance(keyring).incomes[0]
    case_id = opened(review, keyring, kind="dibao_edge", incomes=[
        {**mother_income.model_dump(), "amount": "12000"}])  # 666.67 per capita
    await to_reviewed(http, as_, case_id)
    leader = as_(Role.TOWNSHIP_LEADER)
    r = await http.post(f"/cases/{case_id}/opinion", json={"approve": True}, headers=leader)
    assert r.status_code == 201, r.text
    assert r.json()["breakdown"]["threshold"] == "975.00"
    await publicity_clean(review, case_id)
    r = await http.post(f"/cases/{case_id}/confirm", json={"notice": "认定为低保边缘家庭"},
                        headers=leader)
    assert r.json()["entitlement_id"] is None
    assert r.json()["decision"]["valid_until"] == "2026-03-10"  # 12 months
