"""Publicity's HTTP API in-process on a real store (SQLite), review events delivered through
the kernel's exactly-once step: the public board, objections (no login, rate-limited, bad
input refused with problem+json), the officials' queues, roles and jurisdiction, and the
roster as of any past date. Every refusal stores nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from weakref import WeakKeyDictionary

import httpx
import pytest

from services.publicity.main import PublicityRuntime
from shared.auth import Role
from shared.clock import ManualClock
from tests.support.places import DAPO, GUANGPO, TAOYUAN, YELIN
from tests.support.publicity import (
    MONDAY,
    ReviewStream,
    build_publicity,
    changed,
    days,
    deliver,
    opinion,
    started,
    termination,
)
from tests.support.web import assert_problem, client

_streams: WeakKeyDictionary[PublicityRuntime, ReviewStream] = WeakKeyDictionary()


def posted(rt: PublicityRuntime, **overrides: Any) -> UUID:
    """A fresh case's opinion, delivered on review's (one, numbered) stream."""
    case_id = uuid4()
    stream = _streams.setdefault(rt, ReviewStream())
    assert deliver(rt, stream.envelope(opinion(case_id, **overrides), case_id))
    return rt.app.notice_id(case_id, "opinion", overrides.get("round_", 1))


# --- the public board ----------------------------------------------------------------------

async def test_public_board_shows_only_the_allowed_fields(rt: PublicityRuntime,
                                                          http: httpx.AsyncClient) -> None:
    notice_id = posted(rt)
    r = await http.get("/public/notices", params={"village": TAOYUAN})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 1
    assert page["items"] == [{
        "notice_id": str(notice_id), "subject": "opinion", "starts_on": "2025-03-03",
        "ends_on": "2025-03-10", "name": "黎**", "household_size": 2, "kind": "dibao",
        "monthly_amount": "640.00", "village": {"code": TAOYUAN, "name": "桃源村"}}]
    r = await http.get(f"/public/notices/{notice_id}")
    assert r.json() == page["items"][0]
    assert (await http.get("/public/notices", params={"village": DAPO})).json()["total"] == 0


async def test_opinion_without_publicity_posts_nothing(rt: PublicityRuntime,
                                                       http: httpx.AsyncClient) -> None:
    case_id = uuid4()
    env = ReviewStream().envelope(opinion(case_id, kind="linshi", publicity_required=False),
                                  case_id)
    assert deliver(rt, env)
    assert rt.app.recorder.max_notification_id() is None
    assert (await http.get("/public/notices")).json()["total"] == 0


async def test_redelivered_or_replayed_opinion_posts_one_notice(rt: PublicityRuntime) -> None:
    stream, case_id = ReviewStream(), uuid4()
    env = stream.envelope(opinion(case_id), case_id)
    assert deliver(rt, env)
    assert not deliver(rt, env)  # same position: the inbox stops it
    assert deliver(rt, stream.envelope(opinion(case_id), case_id))  # same round, new position
    assert rt.app.recorder.max_notification_id() == 1


async def test_a_later_round_supersedes_a_still_open_notice(rt: PublicityRuntime,
                                                            http: httpx.AsyncClient) -> None:
    stream, case_id = ReviewStream(), uuid4()
    deliver(rt, stream.envelope(opinion(case_id), case_id))
    deliver(rt, stream.envelope(opinion(case_id, round_=2, monthly_amount="580"), case_id))
    items = (await http.get("/public/notices")).json()["items"]
    assert [i["monthly_amount"] for i in items] == ["580.00"]
    first = rt.app.get(rt.app.notice_id(case_id, "opinion", 1))
    assert first.status == "superseded"


async def test_termination_notice_shows_the_amount_being_stopped(
        rt: PublicityRuntime, http: httpx.AsyncClient) -> None:
    stream, ent, case_id = ReviewStream(), uuid4(), uuid4()
    deliver(rt, stream.envelope(started(ent, case_id=case_id, kind="tekun",
                                        applicant_name="黎阿公", household_size=1,
                                        monthly_amount="1210"), ent))
    deliver(rt, stream.envelope(termination(ent, case_id), ent))
    item = (await http.get("/public/notices")).json()["items"][0]
    assert (item["subject"], item["name"], item["monthly_amount"], item["kind"]) == (
        "termination", "黎**", "1210.00", "tekun")


# --- objections: public, bad input, limits -------------------------------------------------

async def test_anyone_objects_without_login_and_the_township_sees_it(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any) -> None:
    notice_id = posted(rt)
    r = await http.post(f"/public/notices/{notice_id}/objections",
                        json={"text": "他家有小轿车", "contact": "13800001111"})
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["status"] == "pending" and receipt["filed_on"] == "2025-03-03"

    clerk = as_(Role.TOWNSHIP_CLERK, YELIN)
    queue = (await http.get("/notices", params={"township": YELIN, "view": "pending_objections"},
                            headers=clerk)).json()
    assert [i["notice_id"] for i in queue["items"]] == [str(notice_id)]
    detail = (await http.get(f"/notices/{notice_id}", headers=clerk)).json()
    assert detail["objections"][0]["text"] == "他家有小轿车"
    assert detail["objections"][0]["contact"] == "13800001111"
    # The village assistant lives next door: counts, never the objector's words or contact.
    assistant = as_(Role.VILLAGE_ASSISTANT, YELIN, TAOYUAN)
    seen = (await http.get(f"/notices/{notice_id}", headers=assistant)).json()
    assert seen["objections"][0]["text"] is None and seen["objections"][0]["contact"] is None


async def test_objection_upheld_closes_and_not_upheld_keeps_posted(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any) -> None:
    kept, closed = posted(rt), posted(rt)
    leader = as_(Role.TOWNSHIP_LEADER, YELIN)
    for notice_id, upheld in ((kept, False), (closed, True)):
        oid = (await http.post(f"/public/notices/{notice_id}/objections",
                               json={"text": "收入不实"})).json()["objection_id"]
        r = await http.post(f"/notices/{notice_id}/objections/{oid}/investigation",
                            json={"method": "re_investigation", "notes": "入户复核"},
                            headers=as_(Role.TOWNSHIP_CLERK, YELIN))
        assert r.status_code == 200 and r.json()["status"] == "under_investigation", r.text
        r = await http.post(f"/notices/{notice_id}/objections/{oid}/resolution",
                            json={"upheld": upheld, "finding": "经复核"}, headers=leader)
        assert r.status_code == 200, r.text
    board = (await http.get("/public/notices")).json()
    assert [i["notice_id"] for i in board["items"]] == [str(kept)]
    assert (await http.get(f"/public/notices/{closed}")).status_code == 404
    n = rt.app.get(closed)
    assert (n.outcome, n.finding) == ("objection_upheld", "经复核")


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"text": "x" * 2001}, 422, "web.validation", "text"),
    ({"text": ""}, 422, "web.validation", "text"),
    ({"text": "ok", "contact": "1" * 65}, 422, "web.validation", "contact"),
    ({"text": "ok", "name": "名" * 33}, 422, "web.validation", "name"),
    ({"text": "ok", "resident_id": "469028"}, 422, "web.validation", "resident_id"),
    ({"words": "ok"}, 422, "web.validation", "text"),
])
async def test_bad_objections_are_refused_and_nothing_is_stored(
        rt: PublicityRuntime, http: httpx.AsyncClient, body: dict[str, Any], status: int,
        code: str, field: str) -> None:
    notice_id = posted(rt)
    r = await http.post(f"/public/notices/{notice_id}/objections", json=body)
    assert_problem(r, status, code, field)
    assert rt.app.recorder.max_notification_id() == 1


async def test_malformed_oversized_or_misplaced_objections(rt: PublicityRuntime,
                                                           http: httpx.AsyncClient) -> None:
    notice_id = posted(rt)
    url = f"/public/notices/{notice_id}/objections"
    r = await http.post(url, content=b'{"text": "unterminated',
                        headers={"content-type": "application/json"})
    assert_problem(r, 400, "web.malformed_json")
    r = await http.post(url, content=b"x" * 2_000_000,
                        headers={"content-type": "application/json"})
    assert_problem(r, 413, "web.body_too_large")
    r = await http.post(f"/public/notices/{uuid4()}/objections", json={"text": "ok"})
    assert_problem(r, 404, "publicity.not_found")
    r = await http.post("/public/notices/not-a-uuid/objections", json={"text": "ok"})
    assert_problem(r, 422, "web.validation", "notice_id")
    assert rt.app.recorder.max_notification_id() == 1


async def test_objection_after_the_window_is_refused(rt: PublicityRuntime,
                                                     http: httpx.AsyncClient,
                                                     clock: ManualClock) -> None:
    notice_id = posted(rt)
    clock.advance(days(8))  # Tuesday 11 March: the window ended with the 10th
    r = await http.post(f"/public/notices/{notice_id}/objections", json={"text": "迟到的异议"})
    assert_problem(r, 422, "publicity.outside_window", "notice_id")
    assert rt.app.recorder.max_notification_id() == 1


async def test_retried_objection_with_the_same_key_files_once(rt: PublicityRuntime,
                                                              http: httpx.AsyncClient) -> None:
    notice_id = posted(rt)
    url, key = f"/public/notices/{notice_id}/objections", {"idempotency-key": "k-1"}
    first = await http.post(url, json={"text": "重复提交"}, headers=key)
    again = await http.post(url, json={"text": "重复提交"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replay") == "true"
    assert first.json() == again.json()
    assert len(rt.app.get(notice_id).objections) == 1


async def test_objections_are_rate_limited_per_client(tmp_path: Path, keys_dir: Path) -> None:
    rt = build_publicity(tmp_path, keys_dir, public_objection_burst=2,
                         public_objections_per_minute=1, trusted_proxy_hops=1)
    notice_id = posted(rt)
    url = f"/public/notices/{notice_id}/objections"
    # Behind one trusted gateway the rightmost entry is the client; what a client writes
    # further left is its own claim and changes nothing.
    a, b = {"x-forwarded-for": "10.0.0.1"}, {"x-forwarded-for": "10.0.0.2"}
    forged = {"x-forwarded-for": "1.2.3.4, 10.0.0.1"}
    async with client(rt) as http:
        for _ in range(2):
            assert (await http.post(url, json={"text": "异议"}, headers=a)).status_code == 201
        r = await http.post(url, json={"text": "异议"}, headers=forged)
        body = assert_problem(r, 429, "publicity.rate_limited")
        assert int(r.headers["retry-after"]) >= 1 and body["retry_after_s"] >= 1
        assert (await http.post(url, json={"text": "异议"}, headers=b)).status_code == 201
    assert len(rt.app.get(notice_id).objections) == 3


async def test_a_forged_forwarded_for_sent_straight_to_the_port_does_not_dodge_the_limit(
        tmp_path: Path, keys_dir: Path) -> None:
    """A client that is not a configured proxy is limited by its own address, whatever its
    X-Forwarded-For says; the gateway (loopback here) is still believed."""
    rt = build_publicity(tmp_path, keys_dir, public_objection_burst=2,
                         public_objections_per_minute=1, trusted_proxy_hops=1)
    notice_id = posted(rt)
    url = f"/public/notices/{notice_id}/objections"
    straight = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=rt.http, client=("203.0.113.9", 40000)),
        base_url="http://publicity")
    async with straight as http:
        codes = [(await http.post(url, json={"text": "异议"},
                                  headers={"x-forwarded-for": f"10.9.9.{i}"})).status_code
                 for i in range(4)]
        assert codes == [201, 201, 429, 429]
        r = await http.post(url, json={"text": "异议"}, headers={"x-forwarded-for": "10.9.9.9"})
        assert_problem(r, 429, "publicity.rate_limited")
    assert len(rt.app.get(notice_id).objections) == 2  # nothing written past the limit
    async with client(rt) as via_gateway:  # peer 127.0.0.1: the gateway names the client
        r = await via_gateway.post(url, json={"text": "异议"},
                                   headers={"x-forwarded-for": "198.51.100.7"})
        assert r.status_code == 201, r.text


def test_trusted_proxies_are_a_setting_that_refuses_a_typo(tmp_path: Path,
                                                           keys_dir: Path) -> None:
    from pydantic import ValidationError

    from services.publicity.main import PublicitySettings
    assert PublicitySettings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxies
    with pytest.raises(ValidationError):
        PublicitySettings(trusted_proxies="10.0.0.300/8")


async def test_public_reads_are_rate_limited_too(tmp_path: Path, keys_dir: Path) -> None:
    rt = build_publicity(tmp_path, keys_dir, public_read_burst=3, public_reads_per_minute=1)
    async with client(rt) as http:
        codes = [(await http.get("/public/notices")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


# --- officials: roles, jurisdiction, queues ------------------------------------------------

async def test_official_endpoints_need_a_token_and_the_right_role(
        rt: PublicityRuntime, http: httpx.AsyncClient, as_: Any) -> None:
    notice_id = posted(rt)
    oid = (await http.post(f"/public/notices/{notice_id}/objections",
                           json={"text": "异议"})).json()["objection_id"]
    before = rt.app.recorder.max_notification_id()
    resolution = f"/notices/{notice_id}/objections/{oid}/resolution"
    body = {"upheld": True, "finding": "成立"}
    assert_problem(await http.post(resolution, json=body), 401, "auth.missing_token")
    assert_problem(await http.get("/notices", params={"township": YELIN}), 401,
                   "auth.missing_token")
    assert_problem(await http.post(resolution, json=body,
                                   headers=as_(Role.TOWNSHIP_CLERK, YELIN)), 403, "auth.role")
    assert_problem(await http.post(resolution, json=body,
                                   headers=as_(Role.COUNTY_BUREAU)), 403, "auth.role")
    assert_problem(await http.post(resolution, json=body,
                                   headers=as_(Role.TOWNSHIP_LEADER, GUANGPO)),
                   403, "auth.jurisdiction")
    assert_problem(await http.get(f"/notices/{notice_id}",
                                  headers=as_(Role.TOWNSHIP_CLERK, GUANGPO)),
                   403, "auth.jurisdiction")
    assert_problem(await http.get(f"/notices/{notice_id}",
                                  headers=as_(Role.VILLAGE_ASSISTANT, YELIN, DAPO)),
                   403, "auth.jurisdiction")
    assert_problem(await http.get("/notices", params={"township": YELIN},
                                  headers=as_(Role.PUBLIC)), 403, "auth.role")
    assert rt.app.recorder.max_notification_id() == before
    assert rt.app.get(notice_id).is_open
    # County oversight sees every township.
    r = await http.get(f"/notices/{notice_id}", headers=as_(Role.DISCIPLINE_INSPECTOR))
    assert r.status_code == 200 and r.json()["objections"][0]["text"] == "异议"


async def test_bad_findings_are_refused(rt: PublicityRuntime, http: httpx.AsyncClient,
                                        as_: Any) -> None:
    notice_id = posted(rt)
    oid = (await http.post(f"/public/notices/{notice_id}/objections",
                           json={"text": "异议"})).json()["objection_id"]
    before = rt.app.recorder.max_notification_id()
    leader = as_(Role.TOWNSHIP_LEADER, YELIN)
    url = f"/notices/{notice_id}/objections/{oid}/resolution"
    assert_problem(await http.post(url, json={"upheld": True}, headers=leader),
                   422, "web.validation", "finding")
    assert_problem(await http.post(url, json={"upheld": "maybe", "finding": "x"},
                                   headers=leader), 422, "web.validation", "upheld")
    assert_problem(await http.post(f"/notices/{notice_id}/objections/{uuid4()}/resolution",
                                   json={"upheld": True, "finding": "x"}, headers=leader),
                   422, "publicity.unknown_objection", "objection_id")
    assert_problem(await http.post(f"/notices/{notice_id}/objections/{oid}/investigation",
                                   json={"method": "rumour", "notes": "x"}, headers=leader),
                   422, "web.validation", "method")
    assert rt.app.recorder.max_notification_id() == before


async def test_queues_open_closing_soon_and_pending(rt: PublicityRuntime,
                                                    http: httpx.AsyncClient, as_: Any,
                                                    clock: ManualClock) -> None:
    early = posted(rt)  # ends 10 March
    clock.advance(days(5))  # Saturday 8 March
    late = posted(rt)  # ends 15 March
    await http.post(f"/public/notices/{late}/objections", json={"text": "异议"})
    clerk = as_(Role.TOWNSHIP_CLERK, YELIN)

    async def view(name: str) -> list[str]:
        r = await http.get("/notices", params={"township": YELIN, "view": name}, headers=clerk)
        assert r.status_code == 200, r.text
        # Every timestamp the API returns says its offset (SQLite would drop it).
        assert all(datetime.fromisoformat(i["opened_at"]).utcoffset() is not None
                   for i in r.json()["items"])
        return [i["notice_id"] for i in r.json()["items"]]

    assert await view("open") == [str(early), str(late)]
    assert await view("closing_soon") == [str(early)]  # ends within 2 days of the 8th
    assert await view("pending_objections") == [str(late)]
    assert await view("closed") == []
    assert_problem(await http.get("/notices", params={"township": YELIN, "view": "late"},
                                  headers=clerk), 422, "web.validation", "view")


# --- the long-term roster ------------------------------------------------------------------

async def test_roster_as_of_any_past_date(rt: PublicityRuntime, http: httpx.AsyncClient,
                                          clock: ManualClock) -> None:
    clock.set(MONDAY.replace(year=2025, month=9))
    stream, granny, uncle, other = ReviewStream(), uuid4(), uuid4(), uuid4()
    for env in (
        stream.envelope(started(granny), granny),  # 640 from January
        stream.envelope(started(uncle, applicant_name="符文强", household_size=1,
                                monthly_amount="420", start_month="2025-03",
                                kind="tekun"), uncle),
        stream.envelope(started(other, village=DAPO, applicant_name="陈美玲"), other),
        stream.envelope(changed(granny, "increase", "700", "2025-04"), granny),
        stream.envelope(changed(granny, "terminate", "0", "2025-07"), granny),
        stream.envelope(changed(uncle, "suspend", "0", "2025-05"), uncle),
        stream.envelope(changed(uncle, "resume", "420", "2025-06"), uncle),
    ):
        assert deliver(rt, env)

    async def board(as_of: str, **params: Any) -> list[tuple[str, str]]:
        r = await http.get(f"/public/roster/villages/{TAOYUAN}",
                           params={"as_of": as_of, **params})
        assert r.status_code == 200, r.text
        assert r.json()["as_of"] == as_of
        return [(i["name"], i["monthly_amount"]) for i in r.json()["items"]]

    assert await board("2024-12-31") == []
    assert await board("2025-02-10") == [("黎**", "640.00")]
    assert await board("2025-03-01") == [("符**", "420.00"), ("黎**", "640.00")]
    assert await board("2025-04-30") == [("符**", "420.00"), ("黎**", "700.00")]
    assert await board("2025-05-15") == [("黎**", "700.00")]  # 符 suspended
    assert await board("2025-08-01") == [("符**", "420.00")]  # 黎 terminated
    assert await board("2025-04-30", limit=1, offset=1) == [("黎**", "700.00")]

    r = await http.get(f"/public/roster/townships/{YELIN}", params={"as_of": "2025-04-30"})
    assert r.json()["total"] == 3
    item = r.json()["items"][0]
    assert set(item) == {"reference", "name", "household_size", "kind", "monthly_amount",
                         "village"}
    # Today by default, never the future, and only real places.
    assert (await http.get(f"/public/roster/villages/{TAOYUAN}")).json()["as_of"] == "2025-09-03"
    assert_problem(await http.get(f"/public/roster/villages/{TAOYUAN}",
                                  params={"as_of": "2025-09-04"}),
                   422, "publicity.as_of_future", "as_of")
    assert_problem(await http.get("/public/roster/villages/469028999999"),
                   422, "publicity.unknown_village", "village")
    assert_problem(await http.get("/public/roster/townships/12345"), 422, "web.validation")

    # The roster is a projection of the events: rebuilt from the log, it answers the same.
    rt.app.rebuild_projections()
    assert await board("2025-04-30") == [("符**", "420.00"), ("黎**", "700.00")]
    assert await board("2025-08-01") == [("符**", "420.00")]


async def test_change_for_an_unknown_entitlement_is_a_rule_violation(
        rt: PublicityRuntime) -> None:
    from shared.errors import RuleViolation

    ent = uuid4()
    with pytest.raises(RuleViolation) as e:
        deliver(rt, ReviewStream().envelope(changed(ent, "increase", "700", "2025-04"), ent))
    assert e.value.code == "publicity.unknown_entitlement"
    assert rt.app.recorder.max_notification_id() is None


@pytest.mark.parametrize("value", [2**64, 10**30, 10_000_001])
async def test_a_public_list_offset_beyond_its_bound_is_422_naming_it(
        http: httpx.AsyncClient, value: int) -> None:
    r = await http.get("/public/notices", params={"offset": value})
    assert_problem(r, 422, "web.validation", "offset")
    assert (await http.get("/public/notices", params={"offset": 10_000_000})).status_code == 200
