"""The public channel over HTTP, in-process on a real store (SQLite): reports filed without
login and followed with a receipt and code; a report about an official invisible to the
township it accuses on every listing and detail endpoint; inquiries due in working days
with an overdue list; answers public only with consent; the policy pages following review's
policy events by effective date; and abuse (oversized, malformed, floods) refused with
problem+json, storing nothing."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import sqlalchemy as sa
import yaml

from services.publicity.contracts import PublicityContracts
from services.publicity.main import DEFAULT_CHECKLIST_FILE, PublicityRuntime
from shared.auth import Role
from shared.clock import CHINA, ManualClock
from shared.contracts.review import PolicyChanged
from tests.support.places import DAPO, GUANGPO, GUANGPO_201, TAOYUAN, YELIN
from tests.support.publicity import ReviewStream, build_publicity, days, deliver, started
from tests.support.web import assert_problem, client, user_id_of

TOWNSHIP_ROLES = (Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER)
COUNTY_CIVIL = (Role.COUNTY_CENTRE, Role.COUNTY_BUREAU)


async def file_report(http: httpx.AsyncClient, category: str = "not_eligible",
                      village: str = TAOYUAN, **extra: Any) -> dict[str, Any]:
    r = await http.post("/public/reports", json={
        "category": category, "village": village, "text": "他家儿子在三亚开店，收入未申报",
        **extra})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def report_id(rt: PublicityRuntime, receipt: str) -> UUID:
    found = rt.app._by_receipt(receipt)
    assert found is not None and found[0] == "report"
    return found[1]


# --- reports: filing and following -----------------------------------------------------------

async def test_reporter_gets_a_receipt_and_code_and_sees_only_their_report(
        rt: PublicityRuntime, http: httpx.AsyncClient) -> None:
    mine = await file_report(http, contact="13900001111")
    theirs = await file_report(http, village=DAPO)
    assert mine["receipt"].startswith("JB-20250303-") and len(mine["code"]) == 19
    assert mine["filed_on"] == "2025-03-03"

    r = await http.get(f"/public/reports/{mine['receipt']}",
                       headers={"Receipt-Code": mine["code"].lower().replace("-", " ")})
    assert r.status_code == 200, r.text
    assert r.json() == {"receipt": mine["receipt"], "category": "not_eligible",
                        "status": "received", "filed_on": "2025-03-03", "concluded_on": None,
                        "outcome": None, "reply": None}
    assert "13900001111" not in r.text and "三亚" not in r.text
    # Another report's code, a made-up code, an unknown receipt: the same 404.
    for receipt, code in ((mine["receipt"], theirs["code"]),
                          (mine["receipt"], "AAAA-AAAA-AAAA-AAAA"),
                          ("JB-20250303-ZZZZZZZZ", mine["code"])):
        assert_problem(await http.get(f"/public/reports/{receipt}",
                                      headers={"Receipt-Code": code}),
                       404, "publicity.receipt_not_found")
    assert_problem(await http.get(f"/public/reports/{mine['receipt']}"), 422,
                   "web.validation", "Receipt-Code")
    # The code itself is nowhere in the store: only its salted hash.
    raw = b"".join(bytes(n.state) for n in rt.app.notifications(0, 100))
    assert mine["code"].encode() not in raw and mine["code"].replace("-", "").encode() not in raw


async def test_household_report_not_upheld_tells_the_reporter_and_asks_nothing(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any) -> None:
    filed = await file_report(http)
    rid = report_id(rt, filed["receipt"])
    clerk, leader = as_(Role.TOWNSHIP_CLERK, YELIN), as_(Role.TOWNSHIP_LEADER, YELIN)
    r = await http.post(f"/reports/{rid}/investigation", headers=clerk,
                        json={"notes": "入户核查，查阅工商登记：无经营记录"})
    assert r.status_code == 200 and r.json()["status"] == "under_investigation", r.text
    assert_problem(await http.post(f"/reports/{rid}/finding", headers=clerk, json={
        "upheld": False, "finding": "x"}), 403, "publicity.report_role", "role")
    r = await http.post(f"/reports/{rid}/finding", headers=leader, json={
        "upheld": False, "finding": "经核查，该户收入已如实申报",
        "reply": "经核查，反映情况不属实。感谢监督。"})
    assert r.status_code == 200 and r.json()["recheck_requested"] is False, r.text
    r = await http.get(f"/public/reports/{filed['receipt']}",
                       headers={"Receipt-Code": filed["code"]})
    assert r.json()["outcome"] == "not_upheld" and r.json()["status"] == "concluded"
    assert r.json()["reply"] == "经核查，反映情况不属实。感谢监督。"
    assert "收入已如实申报" not in r.text  # the finding is the township's, not the reporter's
    types = [type(e).__name__ for _, e in rt.app.iter_domain_events()]
    assert "RecheckRequested" not in types


async def test_upheld_report_on_a_roster_line_names_the_benefit_for_review(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any) -> None:
    ent, case_id = uuid4(), uuid4()
    deliver(rt, ReviewStream().envelope(started(ent, case_id=case_id), ent))
    line = (await http.get(f"/public/roster/villages/{TAOYUAN}")).json()["items"][0]
    filed = await file_report(http, reference=line["reference"])
    rid = report_id(rt, filed["receipt"])
    r = await http.post(f"/reports/{rid}/finding", headers=as_(Role.TOWNSHIP_REVIEWER, YELIN),
                        json={"upheld": True, "finding": "经营收入每月约4000元未申报"})
    body = r.json()
    assert (body["case_id"], body["entitlement_id"], body["recheck_requested"]) == (
        str(case_id), str(ent), True)
    out = [o for o in map(lambda p: PublicityContracts(rt.app)(p[1], p[0]),
                          rt.app.iter_domain_events()) if o is not None]
    upheld = out[-1]
    assert upheld.contract.TYPE == "report_upheld"
    assert (upheld.contract.entitlement_id, upheld.contract.case_id,  # type: ignore[attr-defined]
            upheld.township) == (ent, case_id, YELIN)
    # The reporter's words never travel.
    assert all("三亚" not in o.contract.model_dump_json() for o in out)
    # A reference from another village, or none at all on the board, is refused.
    assert_problem(await http.post("/public/reports", json={
        "category": "not_eligible", "village": DAPO, "text": "x",
        "reference": line["reference"]}), 422, "publicity.reference_elsewhere", "reference")
    assert_problem(await http.post("/public/reports", json={
        "category": "not_eligible", "village": TAOYUAN, "text": "x",
        "reference": str(uuid4())}), 422, "publicity.unknown_reference", "reference")


# --- reports about officials: the accused township sees nothing -------------------------------

async def test_report_about_an_official_is_invisible_to_the_accused_township(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any) -> None:
    filed = await file_report(http, category="favouritism",
                              contact="13900003333", name="知情人")
    household = await file_report(http)  # a household report in the same township
    rid = report_id(rt, filed["receipt"])
    bodies = {"investigation": {"notes": "n"}, "finding": {"upheld": True, "finding": "f"},
              "escalation": {"reason": "r"}}

    async def sees_nothing(headers: dict[str, str]) -> None:
        for view in ("open", "concluded", "all"):
            for params in ({"township": YELIN}, {}):
                r = await http.get("/reports", params={**params, "view": view},
                                   headers=headers)
                if r.status_code == 200:
                    assert str(rid) not in r.text and "知情人" not in r.text, r.text
                else:
                    assert_problem(r, 422, "publicity.township_required", "township")
            assert_problem(await http.get("/reports", headers=headers, params={
                "queue": "discipline", "township": YELIN, "view": view}),
                403, "publicity.discipline_queue", "queue")
        assert_problem(await http.get(f"/reports/{rid}", headers=headers),
                       404, "publicity.report_not_found")
        for action, body in bodies.items():
            r = await http.post(f"/reports/{rid}/{action}", json=body, headers=headers)
            assert r.status_code in (403, 404), r.text
            assert r.json()["code"] in ("auth.role", "publicity.report_not_found")
            assert "知情人" not in r.text and "favouritism" not in r.text

    for role in TOWNSHIP_ROLES:
        await sees_nothing(as_(role, YELIN))
        listed = (await http.get("/reports", params={"township": YELIN, "view": "all"},
                                 headers=as_(role, YELIN))).json()
        assert [i["receipt"] for i in listed["items"]] == [household["receipt"]]
    for role in COUNTY_CIVIL:  # the county's civil affairs may be implicated too
        await sees_nothing(as_(role))
    for role in (Role.VILLAGE_ASSISTANT, Role.CONTRACTOR_INVESTIGATOR, Role.FINANCE_BUREAU,
                 Role.PUBLIC):
        headers = as_(role, YELIN, TAOYUAN if role is Role.VILLAGE_ASSISTANT else None)
        assert_problem(await http.get("/reports", params={"township": YELIN},
                                      headers=headers), 403, "auth.role")
        assert_problem(await http.get(f"/reports/{rid}", headers=headers), 403, "auth.role")
    assert (await http.get(f"/reports/{rid}")).status_code == 401

    inspector = as_(Role.DISCIPLINE_INSPECTOR)
    queue = (await http.get("/reports", params={"queue": "discipline"},
                            headers=inspector)).json()
    assert [i["report_id"] for i in queue["items"]] == [str(rid)]
    detail = (await http.get(f"/reports/{rid}", headers=inspector)).json()
    assert (detail["reporter_name"], detail["contact"], detail["township"]) == (
        "知情人", "13900003333", YELIN)
    r = await http.post(f"/reports/{rid}/finding", headers=inspector,
                        json={"upheld": True, "finding": "村干部亲属违规纳入"})
    assert r.status_code == 200 and r.json()["recheck_requested"] is False, r.text
    await sees_nothing(as_(Role.TOWNSHIP_LEADER, YELIN))  # and after the finding too

    # Nothing published about it names the township, a case or a household.
    mapped = [PublicityContracts(rt.app)(e, p) for p, e in rt.app.iter_domain_events()
              if str(e.originator_id) == str(rid)]
    assert [o.contract.TYPE for o in mapped if o] == ["report_filed",
                                                      "report_finding_recorded"]
    for o in mapped:
        assert o is not None and o.township is None and o.case_id is None
        assert o.household_id is None and o.contract.township is None  # type: ignore[attr-defined]


async def test_escalated_report_leaves_the_township_queue(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any) -> None:
    filed = await file_report(http)
    rid = report_id(rt, filed["receipt"])
    clerk = as_(Role.TOWNSHIP_CLERK, YELIN)
    r = await http.post(f"/reports/{rid}/escalation", headers=clerk,
                        json={"reason": "反映村委会主任优亲厚友"})
    assert r.status_code == 200 and r.json()["queue"] == "discipline", r.text
    assert (await http.get("/reports", params={"township": YELIN, "view": "all"},
                           headers=clerk)).json()["total"] == 0
    assert_problem(await http.get(f"/reports/{rid}", headers=clerk), 404,
                   "publicity.report_not_found")
    assert (await http.get(f"/reports/{rid}", headers=as_(Role.DISCIPLINE_INSPECTOR))
            ).json()["routes"][0]["by"] == user_id_of(Role.TOWNSHIP_CLERK, YELIN)


async def test_township_reads_only_its_own_household_reports(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any) -> None:
    filed = await file_report(http)
    rid = report_id(rt, filed["receipt"])
    other = as_(Role.TOWNSHIP_LEADER, GUANGPO)
    assert_problem(await http.get("/reports", params={"township": YELIN}, headers=other),
                   403, "auth.jurisdiction")
    assert (await http.get("/reports", params={"township": GUANGPO}, headers=other)
            ).json()["total"] == 0
    assert_problem(await http.get(f"/reports/{rid}", headers=other), 404,
                   "publicity.report_not_found")
    assert (await http.get(f"/reports/{rid}", headers=as_(Role.COUNTY_CENTRE))
            ).status_code == 200


# --- inquiries -------------------------------------------------------------------------------

async def test_inquiry_is_due_in_working_days_and_listed_when_overdue(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any, clock: ManualClock) -> None:
    # Friday 26 September 2025, five working days: Sunday 28th is a make-up working day,
    # 1-8 October the National Day holiday, so the fifth falls on Friday 10 October.
    clock.set(datetime(2025, 9, 26, 10, 0, tzinfo=CHINA))
    r = await http.post("/public/inquiries", json={
        "township": YELIN, "topic": "dibao", "question": "家里老人生病，能申请低保吗？",
        "publish_consent": True})
    assert r.status_code == 201, r.text
    asked = r.json()
    assert (asked["filed_on"], asked["due_on"]) == ("2025-09-26", "2025-10-10")
    assert asked["receipt"].startswith("ZX-20250926-")
    leader = as_(Role.TOWNSHIP_LEADER, YELIN)

    clock.set(datetime(2025, 10, 10, 17, 0, tzinfo=CHINA))  # the last day: not yet overdue
    assert (await http.get("/inquiries", params={"township": YELIN, "view": "overdue"},
                           headers=leader)).json()["total"] == 0
    clock.set(datetime(2025, 10, 14, 9, 0, tzinfo=CHINA))  # Sat 11th was a make-up day
    overdue = (await http.get("/inquiries", params={"township": YELIN, "view": "overdue"},
                              headers=leader)).json()
    assert overdue["total"] == 1
    item = overdue["items"][0]
    assert (item["due_on"], item["overdue"], item["working_days_late"]) == (
        "2025-10-10", True, 3)
    assert_problem(await http.get("/inquiries", params={"township": YELIN},
                                  headers=as_(Role.TOWNSHIP_LEADER, GUANGPO)),
                   403, "auth.jurisdiction")

    r = await http.post(f"/inquiries/{item['inquiry_id']}/answer", headers=leader,
                        json={"answer": "可以申请，请带户口簿到镇社会事务服务中心。"})
    assert r.status_code == 200 and r.json()["published"] is True, r.text
    assert (await http.get("/inquiries", params={"township": YELIN, "view": "overdue"},
                           headers=leader)).json()["total"] == 0
    mine = (await http.get(f"/public/inquiries/{asked['receipt']}",
                           headers={"Receipt-Code": asked["code"]})).json()
    assert (mine["status"], mine["answered_on"]) == ("answered", "2025-10-14")
    public = (await http.get("/public/answers", params={"township": YELIN})).json()
    assert [(i["question"], i["answer"]) for i in public["items"]] == [
        ("家里老人生病，能申请低保吗？", "可以申请，请带户口簿到镇社会事务服务中心。")]


async def test_an_answer_without_consent_stays_private(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any) -> None:
    asked = (await http.post("/public/inquiries", json={
        "village": GUANGPO_201, "question": "我家的申请到哪一步了？", "contact": "13800000000"})
    ).json()
    inquiries = (await http.get("/inquiries", params={"township": GUANGPO},
                                headers=as_(Role.TOWNSHIP_CLERK, GUANGPO))).json()
    iid = inquiries["items"][0]["inquiry_id"]
    r = await http.post(f"/inquiries/{iid}/answer", headers=as_(Role.TOWNSHIP_CLERK, GUANGPO),
                        json={"answer": "正在入户调查", "publish": True})
    assert r.json()["published"] is False
    assert (await http.get("/public/answers")).json()["total"] == 0
    mine = (await http.get(f"/public/inquiries/{asked['receipt']}",
                           headers={"Receipt-Code": asked["code"]})).json()
    assert mine["answer"] == "正在入户调查" and mine["published"] is False
    assert_problem(await http.post(f"/inquiries/{iid}/answer",
                                   headers=as_(Role.TOWNSHIP_CLERK, YELIN),
                                   json={"answer": "x"}), 403, "auth.jurisdiction")


# --- policy information ----------------------------------------------------------------------

TABLE = {"illustrative": True, "label": "demo", "dibao_standard_urban": "700",
         "dibao_standard_rural": "650", "dibao_edge_multiple": "1.5",
         "tekun_basic_multiple": "1.3", "investigation_start_working_days": 3,
         "decision_working_days": {"dibao": 20, "dibao_edge": 20, "tekun": 15, "linshi": 20},
         "decision_extended_working_days": 45, "rejection_notice_working_days": 3,
         "tekun_confirmation_working_days": 15, "joint_review_quorum": 5}


def publish_policy(rt: PublicityRuntime, stream: ReviewStream, version: int,
                   effective_from: date, **terms: Any) -> None:
    assert deliver(rt, stream.envelope(PolicyChanged(
        version=version, effective_from=effective_from, table={**TABLE, **terms}),
        UUID(int=469028)))


async def test_standards_change_on_the_effective_date_and_not_before(
        rt: PublicityRuntime, http: httpx.AsyncClient, clock: ManualClock) -> None:
    assert_problem(await http.get("/public/policy/standards"), 404,
                   "publicity.policy_not_published")
    stream = ReviewStream()
    publish_policy(rt, stream, 1, date(2024, 1, 1))
    publish_policy(rt, stream, 2, date(2025, 3, 10), dibao_standard_urban="760",
                   dibao_standard_rural="700")
    now = (await http.get("/public/policy/standards")).json()
    assert (now["on"], now["policy_version"], now["effective_from"]) == (
        "2025-03-03", 1, "2024-01-01")
    assert now["terms"]["dibao_standard_urban"] == "700"
    assert "joint_review_quorum" not in now["terms"]  # internal terms are not the public's
    assert [(u["policy_version"], u["effective_from"], u["terms"]["dibao_standard_urban"])
            for u in now["upcoming"]] == [(2, "2025-03-10", "760")]

    clock.advance(days(6))  # Sunday 9 March: the day before
    assert (await http.get("/public/policy/standards")).json()["policy_version"] == 1
    clock.advance(days(1))  # Monday 10 March
    later = (await http.get("/public/policy/standards")).json()
    assert (later["policy_version"], later["terms"]["dibao_standard_urban"],
            later["upcoming"]) == (2, "760", [])
    past = (await http.get("/public/policy/standards", params={"on": "2025-03-09"})).json()
    assert past["policy_version"] == 1
    assert_problem(await http.get("/public/policy/standards", params={"on": "2025-03-11"}),
                   422, "publicity.as_of_future", "on")
    limits = (await http.get("/public/policy/time-limits")).json()
    assert limits["terms"]["decision_working_days"]["tekun"] == 15
    assert (limits["terms"]["notice_window_days"],
            limits["terms"]["inquiry_response_working_days"]) == (7, 5)


async def test_kind_page_serves_the_checklist_intake_enforces(
        rt: PublicityRuntime, http: httpx.AsyncClient) -> None:
    publish_policy(rt, ReviewStream(), 1, date(2024, 1, 1))
    page = (await http.get("/public/policy/kinds/dibao")).json()
    with DEFAULT_CHECKLIST_FILE.open(encoding="utf-8") as f:
        intake = yaml.safe_load(f)["versions"][-1]
    assert [m["code"] for m in page["materials"]] == [
        m["code"] for m in intake["materials"]["dibao"]]
    assert page["checklist_version"] == intake["version"]
    held = next(m for m in page["materials"] if m["code"] == "disability_certificate")
    assert held["bring"] is False and "残疾" in held["condition"]
    steps = {s["step"]: s for s in page["procedure"]}
    assert steps["decide"]["working_days"] == 20 and steps["publicity"]["calendar_days"] == 7
    assert_problem(await http.get("/public/policy/kinds/lottery"), 422, "web.validation")


async def test_township_offices_come_from_the_region_data(http: httpx.AsyncClient) -> None:
    body = (await http.get("/public/townships")).json()
    assert len(body["townships"]) == 11 and body["villages_are_sample"] is True
    yelin = body["townships"][0]
    assert (yelin["code"], yelin["office"]) == (YELIN, "椰林镇社会事务服务中心")


# --- abuse -------------------------------------------------------------------------------------

async def test_oversized_malformed_and_unknown_input_is_refused_and_stores_nothing(
        tmp_path: Path, keys_dir: Path) -> None:
    rt = build_publicity(tmp_path, keys_dir, public_objection_burst=100)
    async with client(rt) as http:
        await refused(rt, http)
    rt.app.close()


async def refused(rt: PublicityRuntime, http: httpx.AsyncClient) -> None:
    ok = {"category": "left_out", "village": TAOYUAN, "text": "应保未保"}
    cases = [
        ({**ok, "text": "举" * 4001}, 422, "web.validation", "text"),
        ({**ok, "contact": "1" * 65}, 422, "web.validation", "contact"),
        ({**ok, "category": "gossip"}, 422, "web.validation", "category"),
        ({**ok, "village": "<script>"}, 422, "web.validation", "village"),
        ({**ok, "village": "469028199201"}, 422, "publicity.unknown_village", "village"),
        ({**ok, "reporter_ip": "1.2.3.4"}, 422, "web.validation", "reporter_ip"),
        ({**ok, "text": "   "}, 422, "web.validation", "text"),
    ]
    for body, status, code, field in cases:
        assert_problem(await http.post("/public/reports", json=body), status, code, field)
    assert_problem(await http.post("/public/inquiries", json={"question": "x"}), 422,
                   "publicity.place_required", "township")
    assert_problem(await http.post("/public/inquiries", json={
        "township": YELIN, "question": "问" * 2001}), 422, "web.validation", "question")
    assert_problem(await http.post("/public/reports", content=b'{"category": "left_out",',
                                   headers={"content-type": "application/json"}),
                   400, "web.malformed_json")
    assert_problem(await http.post("/public/reports", content=b"x" * 70_000,
                                   headers={"content-type": "application/json"}),
                   413, "web.body_too_large")
    assert rt.app.recorder.max_notification_id() is None


async def test_a_retried_filing_returns_the_receipt_but_never_stores_the_code(
        rt: PublicityRuntime, http: httpx.AsyncClient) -> None:
    ok = {"category": "left_out", "village": TAOYUAN, "text": "邻居家困难但未被纳入"}
    first = await http.post("/public/reports", json=ok, headers={"Idempotency-Key": "k1"})
    again = await http.post("/public/reports", json=ok, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replay"] == "true"
    assert again.json()["receipt"] == first.json()["receipt"]
    assert first.json()["code"] and again.json()["code"] is None
    t = rt.app.kernel.idempotency
    with rt.app.read_session() as s:
        stored = [row.body for row in s.execute(sa.select(t.c.body))]
    assert stored and all(first.json()["code"].encode() not in body for body in stored)
    status = await http.get(f"/public/reports/{first.json()['receipt']}",
                            headers={"Receipt-Code": first.json()["code"]})
    assert status.status_code == 200


async def test_text_is_stored_as_given_and_returned_only_as_escaped_json(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any) -> None:
    text = '<script>alert("x")</script> & <img src=x onerror=1>'
    filed = await file_report(http, **{"text": text})
    r = await http.get(f"/reports/{report_id(rt, filed['receipt'])}",
                       headers=as_(Role.TOWNSHIP_CLERK, YELIN))
    assert r.headers["content-type"] == "application/json"
    assert r.json()["text"] == text  # byte for byte: evidence is not rewritten
    status = await http.get(f"/public/reports/{filed['receipt']}",
                            headers={"Receipt-Code": filed["code"]})
    assert status.headers["x-content-type-options"] == "nosniff"
    assert status.headers["content-security-policy"] == "default-src 'none'"


async def test_floods_of_filings_and_code_guesses_are_refused(
        tmp_path: Path, keys_dir: Path) -> None:
    rt = build_publicity(tmp_path, keys_dir, public_objection_burst=3,
                         public_objections_per_minute=1, public_lookup_burst=4,
                         public_lookups_per_minute=1)
    async with client(rt) as http:
        filed = [await file_report(http) for _ in range(2)]
        r = await http.post("/public/inquiries", json={"township": YELIN, "question": "?"})
        assert r.status_code == 201  # filings share one bucket per client
        r = await http.post("/public/reports", json={
            "category": "left_out", "village": TAOYUAN, "text": "第四次"})
        body = assert_problem(r, 429, "publicity.rate_limited")
        assert int(r.headers["retry-after"]) >= 1 and body["retry_after_s"] >= 1
        for n in range(4):
            assert (await http.get(f"/public/reports/{filed[0]['receipt']}",
                                   headers={"Receipt-Code": f"AAAA-AAAA-AAAA-AAA{n}"})
                    ).status_code == 404
        assert_problem(await http.get(f"/public/reports/{filed[0]['receipt']}",
                                      headers={"Receipt-Code": filed[0]["code"]}),
                       429, "publicity.rate_limited")
        # A client behind another address has its own bucket; reading policy is separate.
        assert (await http.get("/public/townships")).status_code == 200
    assert len([1 for _, e in rt.app.iter_domain_events()]) == 3
    rt.app.close()


async def test_read_models_rebuild_from_the_events_to_the_same_answers(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any) -> None:
    await file_report(http)
    await file_report(http, category="bribery")
    await http.post("/public/inquiries", json={"township": YELIN, "question": "标准是多少",
                                               "publish_consent": True})
    leader, inspector = as_(Role.TOWNSHIP_LEADER, YELIN), as_(Role.DISCIPLINE_INSPECTOR)
    iid = (await http.get("/inquiries", params={"township": YELIN}, headers=leader)
           ).json()["items"][0]["inquiry_id"]
    await http.post(f"/inquiries/{iid}/answer", headers=leader, json={"answer": "见政策页"})

    async def answers() -> list[Any]:
        return [(await http.get("/reports", params={"township": YELIN, "view": "all"},
                                headers=leader)).json(),
                (await http.get("/reports", params={"queue": "discipline", "view": "all"},
                                headers=inspector)).json(),
                (await http.get("/inquiries", params={"township": YELIN, "view": "all"},
                                headers=leader)).json(),
                (await http.get("/public/answers")).json()]
    before = await answers()
    assert rt.app.rebuild_projections() == 4  # two filed, one asked, one answered
    assert await answers() == before


async def test_an_unusable_checklist_file_is_said_plainly(
        tmp_path: Path, keys_dir: Path) -> None:
    rt = build_publicity(tmp_path, keys_dir, materials_checklist_file=tmp_path / "none.yaml")
    async with client(rt) as http:
        assert_problem(await http.get("/public/policy/kinds/dibao"), 404,
                       "publicity.checklist_unavailable")
    rt.app.close()
