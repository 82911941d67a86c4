"""Intake's workflow over HTTP against a real intake service in-process (SQLite, real
nats-server): the public applicant, de-duplication, return / resubmit / decline / withdraw,
unmasked views and their record, list filters. Every refusal stores nothing."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from shared.auth import Role
from shared.contracts import Actor
from shared.pii import make_resident_id
from shared.runtime import ServiceRuntime
from tests.support.intake import FULL_ID, assert_nothing_stored, filing, footprint, submitted
from tests.support.places import DAPO, GUANGPO, TAOYUAN, YELIN
from tests.support.web import assert_problem

pytestmark = pytest.mark.nats


def public(as_: Any, user: str = "citizen-1") -> dict[str, str]:
    return dict(as_(Role.PUBLIC, user_id=user))


async def accept(http: httpx.AsyncClient, headers: dict[str, str], application_id: str) -> None:
    r = await http.post(f"/applications/{application_id}/accept", headers=headers)
    assert r.status_code == 200, r.text


# --- the public applicant ---------------------------------------------------------------------


async def test_the_public_files_online_and_follows_only_its_own(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    me, other = public(as_), public(as_, "citizen-2")
    application_id = await submitted(http, me)
    r = await http.get(f"/applications/{application_id}", headers=me)
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    assert not FULL_ID.search(r.text)  # the applicant's own view is masked too

    r = await http.get(f"/applications/{application_id}", headers=other)
    assert_problem(r, 403, "auth.role", "role")
    r = await http.get("/applications", headers=me)
    assert r.json()["total"] == 1
    r = await http.get("/applications", headers=other)
    assert r.json()["total"] == 0
    # The township sees the online filing like any other.
    r = await http.get("/applications", params={"township": YELIN}, headers=clerk)
    assert r.json()["total"] == 1

    before = await footprint(http, intake, clerk)
    r = await http.post(f"/applications/{application_id}/accept", headers=me)
    assert_problem(r, 403, "auth.role", "role")
    r = await http.post(f"/applications/{application_id}/withdraw", json={"reason": "x"},
                        headers=other)
    assert_problem(r, 403, "auth.role", "role")
    assert await footprint(http, intake, clerk) == before

    r = await http.post(f"/applications/{application_id}/withdraw",
                        json={"reason": "已在外地申请"}, headers=me)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"


async def test_the_public_cannot_file_as_the_village_committee(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    body = filing(filed_by="village_committee", entrustment={
        "agent_name": "王主任", "agent_relation": "村委会", "entrusted_on": "2025-01-02"})
    r = await http.post("/applications", json=body, headers=public(as_))
    assert_problem(r, 422, "intake.filed_by_role", "filed_by")
    await assert_nothing_stored(http, intake, clerk)


async def test_a_public_filing_answers_alike_whether_or_not_the_person_is_registered(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    """No membership oracle: a stranger's resident ID gives the public filer a 201 either
    way; the township sees the duplicate flagged, and acceptance refuses it to the clerk."""
    await submitted(http, clerk)  # 黎阿婆's household: an open 低保 application
    stranger = filing(household=0)  # names 黎阿婆 again, by her resident ID
    nobody = filing(household=7)  # people nobody has registered
    answers = []
    for body in (stranger, nobody):
        r = await http.post("/applications", json=body, headers=public(as_))
        assert r.status_code == 201, r.text
        answers.append(r)
    assert {r.json()["status"] for r in answers} == {"submitted"}
    assert set(answers[0].json()) == set(answers[1].json())
    assert "already" not in answers[0].text
    flagged_id, clean_id = (r.json()["application_id"] for r in answers)
    # The public filer's own view says nothing either ...
    for app_id in (flagged_id, clean_id):
        view = await http.get(f"/applications/{app_id}", headers=public(as_))
        assert view.status_code == 200, view.text
        assert "already_members" not in view.json()
    # ... the township sees the flag,
    view = (await http.get(f"/applications/{flagged_id}", headers=clerk)).json()
    assert view["already_members"] == ["members[0].resident_id", "members[1].resident_id"]
    assert (await http.get(f"/applications/{clean_id}", headers=clerk)).json()[
        "already_members"] == []
    # ... and its acceptance gets the clear refusal, writing nothing.
    before = intake.app.recorder.max_notification_id()
    r = await http.post(f"/applications/{flagged_id}/accept", headers=clerk)
    assert_problem(r, 422, "intake.already_member", "members[0].resident_id")
    assert intake.app.recorder.max_notification_id() == before
    # Township roles filing directly keep the clear 422.
    r = await http.post("/applications", json=stranger, headers=clerk)
    assert_problem(r, 422, "intake.already_member", "members[0].resident_id")


async def test_a_public_change_report_answers_alike_whether_or_not_the_person_is_registered(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    """No membership oracle through reported changes either: the household reporting a
    newcomer who is already a member elsewhere gets the same 201; the township sees the
    flag, and the person does not join this household's membership index."""
    await submitted(http, clerk)  # 黎阿婆's household: an open 低保 application
    me = public(as_)
    own = await submitted(http, me, filing(household=7))
    await accept(http, clerk, own)
    intake.app.record_confirmation(UUID(own), uuid4(), date(2025, 3, 3),
                                   Actor(user_id="leader", role="township_leader"))
    registered = {**filing()["members"][1], "relation": "other"}
    registered.pop("student", None)
    stranger = {**filing(household=9)["members"][1], "relation": "other"}
    stranger.pop("student", None)
    answers = []
    for person in (registered, stranger):
        r = await http.post(f"/applications/{own}/changes", headers=me, json={
            "subject": "members", "description": "亲属入户", "occurred_on": "2025-04-01",
            "members_joined": [person]})
        assert r.status_code == 201, r.text
        answers.append(r)
    assert set(answers[0].json()) == set(answers[1].json())
    assert "already" not in answers[0].text
    view = await http.get(f"/applications/{own}", headers=me)
    assert view.status_code == 200 and "already_members" not in view.text
    changes = (await http.get(f"/applications/{own}", headers=clerk)).json()["changes"]
    assert changes[0]["already_members"] == ["members_joined[0].resident_id"]
    assert "already_members" not in changes[1]
    with intake.app.read_session() as s:
        m = intake.app.views.memberships
        indexed = s.execute(m.select().where(m.c.application_id == own)).all()
    assert len(indexed) == 3  # the two filed, and the stranger; not the flagged one
    # A township role reporting it directly keeps the clear 422, writing nothing.
    before = intake.app.recorder.max_notification_id()
    r = await http.post(f"/applications/{own}/changes", headers=clerk, json={
        "subject": "members", "description": "亲属入户", "occurred_on": "2025-04-01",
        "members_joined": [registered]})
    assert_problem(r, 422, "intake.already_member", "members_joined[0].resident_id")
    assert intake.app.recorder.max_notification_id() == before


# --- rules over HTTP --------------------------------------------------------------------------


async def test_a_person_in_another_open_application_of_the_same_kind_is_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    first = await submitted(http, clerk)
    other = filing(household=1)
    other["members"].append({**filing()["members"][1], "relation": "other"})
    # Filed by the applicant in person, even in another township: still one county.
    r = await http.post("/applications", json={**other, "township": GUANGPO,
                                               "village": "469028101201"},
                        headers=as_(Role.TOWNSHIP_CLERK, GUANGPO))
    assert_problem(r, 422, "intake.already_member", "members[2].resident_id")
    assert not FULL_ID.search(r.text) and first not in r.text
    assert await footprint(http, intake, clerk) == (1, 1)

    # Another kind is another matter; a declined application frees its members.
    await submitted(http, clerk, filing(kind="dibao_edge"))
    r = await http.post(f"/applications/{first}/decline", json={"reason": "户籍不在本镇"},
                        headers=clerk)
    assert r.status_code == 200 and r.json()["status"] == "declined"
    await submitted(http, clerk, filing())
    assert (await footprint(http, intake, clerk))[0] == 3


async def test_a_missing_signature_is_refused(http: httpx.AsyncClient, intake: ServiceRuntime,
                                              clerk: dict[str, str]) -> None:
    body = filing()
    body["members"][0]["authorization_signed"] = False
    r = await http.post("/applications", json=body, headers=clerk)
    assert_problem(r, 422, "intake.authorization_missing", "members[0].authorization_signed")
    await assert_nothing_stored(http, intake, clerk)


async def test_a_tekun_applicant_able_to_work_is_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    born = date(1980, 5, 5)
    body = filing(kind="tekun")
    body["members"] = [{"name": "符大哥", "relation": "self", "birth_date": born.isoformat(),
                        "resident_id": make_resident_id("469028", born, 31, "male"),
                        "work_capacity": "none", "authorization_signed": True}]
    r = await http.post("/applications", json=body, headers=clerk)
    assert_problem(r, 422, "intake.tekun_capacity_to_work", "members[0]")
    await assert_nothing_stored(http, intake, clerk)


@pytest.mark.parametrize(("amount", "code"), [("-500", "intake.negative_amount"),
                                              ("99999999", "intake.absurd_amount")])
async def test_negative_and_absurd_incomes_are_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str], amount: str,
        code: str) -> None:
    body = filing()
    body["members"][0]["incomes"] = [{"kind": "pension", "amount": amount, "months": 1}]
    r = await http.post("/applications", json=body, headers=clerk)
    assert_problem(r, 422, code, "members[0].incomes[0].amount")
    await assert_nothing_stored(http, intake, clerk)


@pytest.mark.parametrize(("patch", "field"), [
    ({"bank_account": {"bank": "x", "holder_name": "y", "account": "12ab"}},
     "bank_account.account"),
    ({"materials": ["../etc/passwd"]}, "materials[0]"),
    ({"linshi_type": "sudden"}, "linshi_type"),
    ({"members": []}, "members"),
])
async def test_malformed_parts_are_validation_problems(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        patch: dict[str, Any], field: str) -> None:
    r = await http.post("/applications", json=filing(**patch), headers=clerk)
    assert_problem(r, 422, "web.validation", field)
    await assert_nothing_stored(http, intake, clerk)


async def test_a_float_amount_keeps_its_fen(http: httpx.AsyncClient,
                                           clerk: dict[str, str]) -> None:
    body = filing()
    body["members"][0]["incomes"] = [{"kind": "pension", "amount": "1234.56", "months": 6}]
    application_id = await submitted(http, clerk, body)
    r = await http.get(f"/applications/{application_id}", headers=clerk)
    assert r.json()["members"][0]["incomes"][0]["amount"] == "1234.56"


# --- return, resubmit, accept, decline --------------------------------------------------------


async def test_a_return_lists_every_missing_item_at_once_and_resubmission_completes_it(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    va = as_(Role.VILLAGE_ASSISTANT, YELIN, TAOYUAN)
    incomplete = filing(materials=["application_form"], bank_account=None)
    incomplete["members"][0]["incomes"] = [{"kind": "wage", "amount": "600", "months": 1}]
    application_id = await submitted(http, va, incomplete)

    r = await http.post(f"/applications/{application_id}/accept", headers=clerk)
    assert_problem(r, 422, "intake.incomplete", "materials")
    r = await http.get(f"/applications/{application_id}/missing", headers=va)
    assert [m["code"] for m in r.json()["missing"]] == [
        "commitment_letter", "authorization_form", "hukou_booklet", "id_cards",
        "income_proof", "bank_account"]

    r = await http.post(f"/applications/{application_id}/return", headers=va,
                        json={"items": ["x"]})
    assert_problem(r, 403, "auth.role", "role")  # a village assistant does not accept
    r = await http.post(f"/applications/{application_id}/return", headers=clerk,
                        json={"items": ["工资证明需加盖单位公章"], "note": "请一次补齐"})
    assert r.status_code == 200, r.text
    returned = r.json()
    assert returned["status"] == "returned"
    assert [m["code"] for m in returned["missing"]] == [
        "commitment_letter", "authorization_form", "hukou_booklet", "id_cards",
        "income_proof", "bank_account", "clerk"]

    completed = filing()
    completed["members"][0]["incomes"] = incomplete["members"][0]["incomes"]
    completed["materials"] = [*completed["materials"], "income_proof"]
    content = {k: v for k, v in completed.items()
               if k not in ("kind", "township", "village", "filed_by")}
    r = await http.post(f"/applications/{application_id}/resubmit", json=content, headers=va)
    assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
    await accept(http, clerk, application_id)
    r = await http.get(f"/applications/{application_id}", headers=clerk)
    got = r.json()
    assert (got["status"], got["round"]) == ("accepted", 2)
    assert got["returns"][0]["missing"][-1]["description"] == "工资证明需加盖单位公章"
    # The service's business date (China's calendar), never the machine's.
    assert date.fromisoformat(got["accepted_on"]) == intake.app.today()


async def test_a_retried_return_returns_the_first_answer(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    application_id = await submitted(http, clerk, filing(bank_account=None))
    headers = {**clerk, "idempotency-key": "return-1"}
    r = await http.post(f"/applications/{application_id}/return", json={}, headers=clerk)
    assert_problem(r, 422, "intake.reason_required", "note")  # the one-time notice says why
    body = {"note": "请补齐银行账户材料"}
    first = await http.post(f"/applications/{application_id}/return", json=body,
                            headers=headers)
    before = await footprint(http, intake, clerk)
    second = await http.post(f"/applications/{application_id}/return", json=body,
                             headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.headers["idempotent-replay"] == "true" and second.json() == first.json()
    assert await footprint(http, intake, clerk) == before


async def test_decline_and_withdraw_need_reasons_and_respect_jurisdiction(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    application_id = await submitted(http, clerk)
    before = await footprint(http, intake, clerk)
    r = await http.post(f"/applications/{application_id}/decline", json={"reason": ""},
                        headers=clerk)
    assert_problem(r, 422, "web.validation", "reason")
    r = await http.post(f"/applications/{application_id}/decline", json={"reason": "户籍不符"},
                        headers=as_(Role.TOWNSHIP_CLERK, GUANGPO))
    assert_problem(r, 403, "auth.jurisdiction", "township")
    r = await http.post(f"/applications/{application_id}/withdraw", json={"reason": "不需要"},
                        headers=as_(Role.VILLAGE_ASSISTANT, YELIN, DAPO))
    assert_problem(r, 403, "auth.jurisdiction", "township")
    assert await footprint(http, intake, clerk) == before

    await accept(http, clerk, application_id)
    r = await http.post(f"/applications/{application_id}/decline", json={"reason": "迟了"},
                        headers=clerk)
    assert_problem(r, 422, "intake.decline_state", field=None)
    r = await http.post(f"/applications/{application_id}/withdraw",
                        json={"reason": "申请人书面撤回"},
                        headers=as_(Role.VILLAGE_ASSISTANT, YELIN, TAOYUAN))
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"


# --- unmasked views ---------------------------------------------------------------------------


async def test_an_unmasked_view_is_allowed_to_some_roles_and_recorded(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    body = filing()
    body["members"][0]["phone"] = "13812345678"
    application_id = await submitted(http, clerk, body)
    granny_id = body["members"][0]["resident_id"]

    masked = (await http.get(f"/applications/{application_id}", headers=clerk)).json()
    assert masked["members"][0]["phone"] == "138****5678"
    assert masked["bank_account"]["account"] == "***************0018"
    assert granny_id not in str(masked)

    before = await footprint(http, intake, clerk)
    for who in (as_(Role.VILLAGE_ASSISTANT, YELIN, TAOYUAN), as_(Role.COUNTY_BUREAU),
                as_(Role.TOWNSHIP_LEADER, YELIN)):
        r = await http.get(f"/applications/{application_id}",
                           params={"unmask": "true", "reason": "核对"}, headers=who)
        assert_problem(r, 403, "intake.unmask_role", "unmask")
    r = await http.get(f"/applications/{application_id}", params={"unmask": "true"},
                       headers=clerk)
    assert_problem(r, 422, "intake.reason_required", "reason")
    assert await footprint(http, intake, clerk) == before

    r = await http.get(f"/applications/{application_id}",
                       params={"unmask": "true", "reason": "核对户口簿原件"}, headers=clerk)
    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["unmasked"] is True and shown["members"][0]["resident_id"] == granny_id
    assert shown["members"][0]["phone"] == "13812345678"
    assert shown["bank_account"]["account"] == "6228480402564890018"
    inspector = as_(Role.DISCIPLINE_INSPECTOR)
    r = await http.get(f"/applications/{application_id}",
                       params={"unmask": "true", "reason": "专项检查"}, headers=inspector)
    assert r.status_code == 200

    r = await http.get(f"/applications/{application_id}/disclosures", headers=inspector)
    log = r.json()["items"]
    assert [(d["viewer_user_id"], d["viewer_role"], d["reason"]) for d in log] == [
        ("clerk-yelin-1", "township_clerk", "核对户口簿原件"),
        ("discipline_inspector-county", "discipline_inspector", "专项检查")]
    assert log[0]["fields"] == "members.resident_id,members.phone,bank_account.account"
    r = await http.get(f"/applications/{application_id}/disclosures", headers=clerk)
    assert_problem(r, 403, "auth.role", "role")


# --- lists ------------------------------------------------------------------------------------


async def test_lists_filter_by_status_kind_village_and_date_with_pagination(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    ids = [await submitted(http, clerk, filing(household=n)) for n in range(1, 4)]
    await submitted(http, clerk, filing(household=4, kind="dibao_edge", village=DAPO))
    await accept(http, clerk, ids[0])

    async def listed(**params: Any) -> dict[str, Any]:
        r = await http.get("/applications", params=params, headers=clerk)
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert (await listed())["total"] == 4  # a clerk's own township by default
    assert [i["application_id"] for i in (await listed(status="accepted"))["items"]] == [ids[0]]
    assert (await listed(kind="dibao_edge"))["total"] == 1
    assert (await listed(village=DAPO))["total"] == 1
    today = intake.app.today().isoformat()  # the service's clock, not the machine's
    assert (await listed(filed_from=today, filed_to=today))["total"] == 4
    assert (await listed(filed_to="2000-01-01"))["total"] == 0
    page1, page2 = await listed(limit=3), await listed(limit=3, offset=3)
    assert len(page1["items"]) == 3 and len(page2["items"]) == 1
    every = {i["application_id"] for i in page1["items"] + page2["items"]}
    assert len(every) == 4
    assert page1["items"][0]["applicant_name"] == "黎阿婆"
    assert not FULL_ID.search(str(page1))

    r = await http.get("/applications", params={"status": "approved"}, headers=clerk)
    assert_problem(r, 422, "web.validation", "status")
    r = await http.get("/applications", headers=as_(Role.COUNTY_CENTRE))
    assert r.json()["total"] == 4  # county roles see the whole county
    r = await http.get("/applications", params={"township": GUANGPO}, headers=clerk)
    assert_problem(r, 403, "auth.jurisdiction", "township")
