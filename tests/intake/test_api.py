"""Intake's HTTP API against a real intake service in-process (SQLite store, the real
nats-server): authentication, roles and jurisdiction, input rules, idempotency, masking,
health. Every refusal is problem+json with a stable code, and stores nothing."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from shared.auth import Role, TokenIssuer
from shared.pii import make_resident_id
from shared.runtime import ServiceRuntime
from tests.support.intake import (
    CHILD_ID,
    FULL_ID,
    GRANNY_BORN,
    GRANNY_ID,
    assert_nothing_stored,
    filing,
    footprint,
    submitted,
)
from tests.support.places import DAPO, GUANGPO, GUANGPO_201, TAOYUAN, YELIN
from tests.support.web import assert_problem

pytestmark = pytest.mark.nats



def bad_checksum(resident_id: str) -> str:
    return resident_id[:17] + ("0" if resident_id[17] != "0" else "1")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- authentication -------------------------------------------------------------------------


async def test_no_token_is_401(http: httpx.AsyncClient, intake: ServiceRuntime,
                               clerk: dict[str, str]) -> None:
    r = await http.post("/applications", json=filing())
    assert_problem(r, 401, "auth.missing_token", field=None)
    await assert_nothing_stored(http, intake, clerk)


async def test_a_non_bearer_scheme_is_401(http: httpx.AsyncClient, intake: ServiceRuntime,
                                          clerk: dict[str, str]) -> None:
    token = clerk["authorization"].removeprefix("Bearer ")
    r = await http.post("/applications", json=filing(), headers={"authorization": f"Basic {token}"})
    assert_problem(r, 401, "auth.missing_token", field=None)
    await assert_nothing_stored(http, intake, clerk)


async def test_a_garbage_token_is_401(http: httpx.AsyncClient, intake: ServiceRuntime,
                                      clerk: dict[str, str]) -> None:
    r = await http.post("/applications", json=filing(),
                        headers={"authorization": "Bearer not-a-jwt"})
    assert_problem(r, 401, "auth.invalid_token", field=None)
    await assert_nothing_stored(http, intake, clerk)


async def test_a_token_signed_by_another_key_is_401(http: httpx.AsyncClient,
                                                    intake: ServiceRuntime,
                                                    clerk: dict[str, str],
                                                    forger: TokenIssuer) -> None:
    forged = forger.mint("clerk-yelin-1", Role.TOWNSHIP_CLERK, YELIN)
    r = await http.post("/applications", json=filing(),
                        headers={"authorization": f"Bearer {forged}"})
    assert_problem(r, 401, "auth.invalid_token", field=None)
    await assert_nothing_stored(http, intake, clerk)


async def test_an_alg_none_token_is_401(http: httpx.AsyncClient, intake: ServiceRuntime,
                                        clerk: dict[str, str]) -> None:
    now = int(time.time())
    claims = {"sub": "clerk-yelin-1", "role": "township_clerk", "township": YELIN,
              "iss": "lingshui-dev", "aud": "social-assistance", "iat": now, "exp": now + 600}
    token = (b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "."
             + b64url(json.dumps(claims).encode()) + ".")
    r = await http.post("/applications", json=filing(),
                        headers={"authorization": f"Bearer {token}"})
    assert_problem(r, 401, "auth.invalid_token", field=None)
    await assert_nothing_stored(http, intake, clerk)


def crafted(header: dict[str, Any], township: str = YELIN) -> str:
    now = int(time.time())
    claims = {"sub": "clerk-yelin-1", "role": "township_clerk", "township": township,
              "iss": "lingshui-dev", "aud": "social-assistance", "iat": now, "exp": now + 600}
    return (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
            + "." + b64url(b"x" * 64))


HOSTILE_TOKENS = {
    "rs256": crafted({"alg": "RS256", "typ": "JWT"}),
    "es256": crafted({"alg": "ES256", "typ": "JWT"}),
    "hs512": crafted({"alg": "HS512", "typ": "JWT"}),
    "alg_is_a_list": crafted({"alg": ["EdDSA"], "typ": "JWT"}),
    "header_is_a_list": (b64url(b"[1, 2]") + "." + b64url(b"{}") + "." + b64url(b"x")),
    "header_not_json": (b64url(b"\xff\xfe") + "." + b64url(b"{}") + "." + b64url(b"x")),
    "kid_is_an_object": crafted({"alg": "EdDSA", "kid": {"a": 1}}),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_TOKENS))
async def test_a_hostile_token_header_is_401_on_writes_and_reads(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        name: str) -> None:
    hostile = {"authorization": f"Bearer {HOSTILE_TOKENS[name]}"}
    r = await http.post("/applications", json=filing(), headers=hostile)
    assert_problem(r, 401, "auth.invalid_token", field=None)
    r = await http.get("/applications", params={"township": YELIN}, headers=hostile)
    assert_problem(r, 401, "auth.invalid_token", field=None)
    await assert_nothing_stored(http, intake, clerk)


async def test_a_genuine_token_for_a_township_outside_the_county_is_401(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    for headers in (as_(Role.TOWNSHIP_CLERK, "469027100"),  # a township of another county
                    as_(Role.TOWNSHIP_CLERK, "469028199"),  # this county's code, no such one
                    as_(Role.VILLAGE_ASSISTANT, YELIN, "469028101201")):  # another's village
        r = await http.post("/applications", json=filing(), headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] in ("auth.unknown_township", "auth.unknown_village")
        r = await http.get("/applications", params={"township": YELIN}, headers=headers)
        assert r.status_code == 401, r.text
    await assert_nothing_stored(http, intake, clerk)


async def test_reads_need_a_token_too(http: httpx.AsyncClient) -> None:
    r = await http.get("/applications", params={"township": YELIN})
    assert_problem(r, 401, "auth.missing_token", field=None)


# --- roles and jurisdiction -----------------------------------------------------------------


async def test_a_village_assistant_may_submit_for_their_own_village(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    va = as_(Role.VILLAGE_ASSISTANT, YELIN, TAOYUAN)
    application_id = await submitted(http, va)
    r = await http.get(f"/applications/{application_id}", headers=va)
    assert r.status_code == 200 and r.json()["village"] == TAOYUAN
    assert (await footprint(http, intake, clerk))[0] == 1


async def test_a_village_assistant_may_not_submit_for_another_village(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    r = await http.post("/applications", json=filing(),
                        headers=as_(Role.VILLAGE_ASSISTANT, YELIN, DAPO))
    assert_problem(r, 403, "auth.jurisdiction", "township")
    await assert_nothing_stored(http, intake, clerk)


async def test_a_clerk_may_not_submit_for_another_township(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    r = await http.post("/applications", json=filing(),
                        headers=as_(Role.TOWNSHIP_CLERK, GUANGPO))
    assert_problem(r, 403, "auth.jurisdiction", "township")
    await assert_nothing_stored(http, intake, clerk)


async def test_a_clerk_of_another_township_may_not_accept_or_read(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    application_id = await submitted(http, clerk)
    before = await footprint(http, intake, clerk)
    guangpo = as_(Role.TOWNSHIP_CLERK, GUANGPO)

    r = await http.post(f"/applications/{application_id}/accept", headers=guangpo)
    assert_problem(r, 403, "auth.jurisdiction", "township")
    r = await http.get(f"/applications/{application_id}", headers=guangpo)
    assert_problem(r, 403, "auth.jurisdiction", "township")
    r = await http.get("/applications", params={"township": YELIN}, headers=guangpo)
    assert_problem(r, 403, "auth.jurisdiction", "township")

    assert await footprint(http, intake, clerk) == before
    r = await http.get(f"/applications/{application_id}", headers=clerk)
    assert r.json()["status"] == "submitted"


async def test_a_village_assistant_may_not_read_another_villages_application(
        http: httpx.AsyncClient, clerk: dict[str, str], as_: Any) -> None:
    application_id = await submitted(http, clerk)
    r = await http.get(f"/applications/{application_id}",
                       headers=as_(Role.VILLAGE_ASSISTANT, YELIN, DAPO))
    assert_problem(r, 403, "auth.jurisdiction", "township")


async def test_a_village_assistant_lists_only_their_own_village(
        http: httpx.AsyncClient, clerk: dict[str, str], as_: Any) -> None:
    await submitted(http, clerk)
    other = as_(Role.VILLAGE_ASSISTANT, YELIN, DAPO)
    r = await http.get("/applications", params={"township": YELIN}, headers=other)
    assert r.status_code == 200 and r.json()["total"] == 0
    own = as_(Role.VILLAGE_ASSISTANT, YELIN, TAOYUAN)
    r = await http.get("/applications", params={"township": YELIN}, headers=own)
    assert r.status_code == 200 and r.json()["total"] == 1


async def test_a_village_assistant_may_not_accept(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    va = as_(Role.VILLAGE_ASSISTANT, YELIN, TAOYUAN)
    application_id = await submitted(http, va)
    before = await footprint(http, intake, clerk)
    r = await http.post(f"/applications/{application_id}/accept", headers=va)
    assert_problem(r, 403, "auth.role", "role")
    assert await footprint(http, intake, clerk) == before


async def test_the_county_bureau_may_read_but_not_submit(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    application_id = await submitted(http, clerk)
    before = await footprint(http, intake, clerk)
    bureau = as_(Role.COUNTY_BUREAU)

    r = await http.get(f"/applications/{application_id}", headers=bureau)
    assert r.status_code == 200 and r.json()["application_id"] == application_id
    r = await http.get("/applications", params={"township": YELIN}, headers=bureau)
    assert r.status_code == 200 and r.json()["total"] == 1

    r = await http.post("/applications", json=filing(), headers=bureau)
    assert_problem(r, 403, "auth.role", "role")
    assert await footprint(http, intake, clerk) == before


async def test_the_public_may_not_read(http: httpx.AsyncClient, clerk: dict[str, str],
                                       as_: Any) -> None:
    application_id = await submitted(http, clerk)
    r = await http.get(f"/applications/{application_id}", headers=as_(Role.PUBLIC))
    assert_problem(r, 403, "auth.role", "role")


# --- input rules ----------------------------------------------------------------------------


async def test_a_resident_id_with_a_wrong_checksum_is_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    body = filing()
    body["members"][0]["resident_id"] = bad_checksum(GRANNY_ID)
    r = await http.post("/applications", json=body, headers=clerk)
    problem = assert_problem(r, 422, "intake.id_checksum", "members[0].resident_id")
    assert bad_checksum(GRANNY_ID) not in r.text and not FULL_ID.search(problem["detail"])
    await assert_nothing_stored(http, intake, clerk)


async def test_a_birth_date_disagreeing_with_the_id_is_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    body = filing()
    body["members"][1]["birth_date"] = "2012-09-02"
    r = await http.post("/applications", json=body, headers=clerk)
    assert_problem(r, 422, "intake.birth_date_mismatch", "members[1].birth_date")
    await assert_nothing_stored(http, intake, clerk)


async def test_a_member_listed_twice_is_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    body = filing()
    body["members"].append({"name": "黎阿婆", "relation": "other", "work_capacity": "none",
                            "birth_date": GRANNY_BORN.isoformat(), "resident_id": GRANNY_ID})
    r = await http.post("/applications", json=body, headers=clerk)
    assert_problem(r, 422, "intake.member_listed_twice", "members[2].resident_id")
    await assert_nothing_stored(http, intake, clerk)


async def test_an_unknown_township_is_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    nowhere = "469028999"
    r = await http.post("/applications",
                        json=filing(township=nowhere, village=nowhere + "201"),
                        headers=as_(Role.TOWNSHIP_CLERK, nowhere))
    # The clerk's own token names the unknown township: refused before the body is read.
    assert_problem(r, 401, "auth.unknown_township", field=None)
    await assert_nothing_stored(http, intake, clerk)


async def test_a_village_outside_the_township_is_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    r = await http.post("/applications", json=filing(village=GUANGPO_201), headers=clerk)
    assert_problem(r, 422, "intake.unknown_village", "village")
    await assert_nothing_stored(http, intake, clerk)


async def test_a_wrong_type_is_a_validation_problem(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    r = await http.post("/applications", json=filing(kind=123), headers=clerk)
    problem = assert_problem(r, 422, "web.validation", "kind")
    assert [e["field"] for e in problem["errors"]] == ["kind"]
    await assert_nothing_stored(http, intake, clerk)


async def test_an_unknown_field_is_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    r = await http.post("/applications", json=filing(approved=True), headers=clerk)
    problem = assert_problem(r, 422, "web.validation", "approved")
    assert problem["errors"][0]["rule"] == "extra_forbidden"
    await assert_nothing_stored(http, intake, clerk)


async def test_an_unknown_member_field_is_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    body = filing()
    body["members"][1]["income"] = 0
    r = await http.post("/applications", json=body, headers=clerk)
    problem = assert_problem(r, 422, "web.validation", "members[1].income")
    assert problem["errors"][0]["rule"] == "extra_forbidden"
    await assert_nothing_stored(http, intake, clerk)


async def test_a_body_over_the_limit_is_413(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    limit = intake.settings.max_body_bytes
    r = await http.post("/applications", json=filing(name="黎" * limit), headers=clerk)
    assert int(r.request.headers["content-length"]) > limit
    assert_problem(r, 413, "web.body_too_large", field=None)
    assert len(r.content) < 1000  # the refusal does not echo the body
    await assert_nothing_stored(http, intake, clerk)


async def test_a_chunked_body_over_the_limit_is_413(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    limit = intake.settings.max_body_bytes
    raw = json.dumps(filing(name="黎" * limit)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(raw), 65536):
            yield raw[i:i + 65536]

    r = await http.post("/applications", content=chunks(),
                        headers={**clerk, "content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert_problem(r, 413, "web.body_too_large", field=None)


async def test_a_65_character_name_is_too_long(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    r = await http.post("/applications", json=filing(name="黎" * 65), headers=clerk)
    problem = assert_problem(r, 422, "web.validation", "members[0].name")
    assert problem["errors"][0]["rule"] == "string_too_long"
    assert "黎" * 65 not in r.text
    await assert_nothing_stored(http, intake, clerk)


async def test_a_64_character_name_is_accepted(http: httpx.AsyncClient,
                                               clerk: dict[str, str]) -> None:
    await submitted(http, clerk, filing(name="黎" * 64))


async def test_malformed_json_is_400(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    r = await http.post("/applications", content=b'{"kind": "dibao", "township": ',
                        headers={**clerk, "content-type": "application/json"})
    problem = assert_problem(r, 400, "web.malformed_json", field=None)
    assert problem["errors"][0]["rule"] == "json_invalid"
    await assert_nothing_stored(http, intake, clerk)


@pytest.mark.parametrize("name", ["'; DROP TABLE intake_events; --", "<script>alert(1)</script>",
                                  "Robert'); DELETE FROM intake_applications;--"])
async def test_injection_strings_are_stored_as_plain_text(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        name: str) -> None:
    # A personal name may not hold them at all (the name rule) ...
    r = await http.post("/applications", json=filing(name=name), headers=clerk)
    assert_problem(r, 422, "intake.name_character", "members[0].name")
    # ... free text may, and keeps them as text.
    asset = {"kind": "deposit", "value": "100.00", "description": name}
    application_id = await submitted(http, clerk, filing(assets=[asset]))
    r = await http.get(f"/applications/{application_id}", headers=clerk)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["assets"][0]["description"] == name

    # The store still works afterwards: its tables are all there and a new filing lands.
    tables = set(sa.inspect(intake.app.engine).get_table_names())
    events_table = intake.app.recorder.events_table_name  # type: ignore[attr-defined]
    assert {events_table, "intake_applications", "intake_idempotency"} <= tables
    await submitted(http, clerk, filing(household=1))
    total, max_id = await footprint(http, intake, clerk)
    assert total == 2 and max_id == 2
    with intake.app.engine.connect() as c:
        assert c.execute(sa.text(f'SELECT COUNT(*) FROM "{events_table}"')).scalar_one() == 2


# --- acceptance -----------------------------------------------------------------------------


async def test_an_application_is_accepted_once(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    application_id = await submitted(http, clerk)
    r = await http.post(f"/applications/{application_id}/accept", headers=clerk)
    assert r.status_code == 200, r.text
    assert r.json() == {"application_id": application_id, "status": "accepted"}
    before = await footprint(http, intake, clerk)

    r = await http.post(f"/applications/{application_id}/accept", headers=clerk)
    assert_problem(r, 422, "intake.accept_state", field=None)
    assert await footprint(http, intake, clerk) == before


async def test_an_unknown_application_is_404(http: httpx.AsyncClient,
                                             clerk: dict[str, str]) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    r = await http.get(f"/applications/{missing}", headers=clerk)
    assert_problem(r, 404, "intake.not_found", field=None)
    r = await http.post(f"/applications/{missing}/accept", headers=clerk)
    assert_problem(r, 404, "intake.not_found", field=None)


# --- idempotency ----------------------------------------------------------------------------


async def test_a_retried_submission_returns_the_first_answer(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    headers = {**clerk, "idempotency-key": "filing-0001"}
    first = await http.post("/applications", json=filing(), headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replay" not in first.headers
    second = await http.post("/applications", json=filing(), headers=headers)
    assert second.status_code == 201, second.text
    assert second.headers["idempotent-replay"] == "true"
    assert second.json()["application_id"] == first.json()["application_id"]
    assert await footprint(http, intake, clerk) == (1, 1)


async def test_a_reused_key_with_another_body_is_409(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    headers = {**clerk, "idempotency-key": "filing-0002"}
    first = await http.post("/applications", json=filing(), headers=headers)
    assert first.status_code == 201, first.text
    r = await http.post("/applications", json=filing(close_relative_declared=True),
                        headers=headers)
    assert_problem(r, 409, "web.idempotency_key_reused", "Idempotency-Key")
    assert await footprint(http, intake, clerk) == (1, 1)


async def test_a_key_belongs_to_its_user(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        as_: Any) -> None:
    other_clerk = as_(Role.TOWNSHIP_CLERK, YELIN, user_id="clerk-yelin-2")
    first = await http.post("/applications", json=filing(),
                            headers={**clerk, "idempotency-key": "shared-key"})
    second = await http.post("/applications", json=filing(household=1),
                             headers={**other_clerk, "idempotency-key": "shared-key"})
    assert first.status_code == second.status_code == 201
    assert "idempotent-replay" not in second.headers
    assert first.json()["application_id"] != second.json()["application_id"]
    assert (await footprint(http, intake, clerk))[0] == 2


async def test_an_overlong_idempotency_key_is_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    r = await http.post("/applications", json=filing(),
                        headers={**clerk, "idempotency-key": "k" * 129})
    assert_problem(r, 422, "web.idempotency_key", "Idempotency-Key")
    await assert_nothing_stored(http, intake, clerk)


async def test_a_retried_accept_returns_200_twice(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    application_id = await submitted(http, clerk)
    headers = {**clerk, "idempotency-key": "accept-0001"}
    first = await http.post(f"/applications/{application_id}/accept", headers=headers)
    assert first.status_code == 200, first.text
    before = await footprint(http, intake, clerk)

    second = await http.post(f"/applications/{application_id}/accept", headers=headers)
    assert second.status_code == 200, second.text  # not intake.accept_state
    assert second.headers["idempotent-replay"] == "true"
    assert second.json() == first.json() == {"application_id": application_id,
                                             "status": "accepted"}
    assert await footprint(http, intake, clerk) == before


# --- reads ----------------------------------------------------------------------------------


async def test_a_read_masks_resident_ids(http: httpx.AsyncClient, clerk: dict[str, str]) -> None:
    application_id = await submitted(http, clerk)
    r = await http.get(f"/applications/{application_id}", headers=clerk)
    assert r.status_code == 200, r.text
    assert GRANNY_ID not in r.text and CHILD_ID not in r.text
    assert not FULL_ID.search(r.text)
    members = r.json()["members"]
    assert [m["resident_id"][:3] + m["resident_id"][-2:] for m in members] == [
        GRANNY_ID[:3] + GRANNY_ID[-2:], CHILD_ID[:3] + CHILD_ID[-2:]]
    assert [m["name"] for m in members] == ["黎阿婆", "黎小明"]


async def test_the_list_shows_no_resident_ids(http: httpx.AsyncClient,
                                              clerk: dict[str, str]) -> None:
    await submitted(http, clerk)
    r = await http.get("/applications", params={"township": YELIN}, headers=clerk)
    assert r.status_code == 200 and r.json()["total"] == 1
    assert not FULL_ID.search(r.text)


# --- health ---------------------------------------------------------------------------------


async def test_liveness(http: httpx.AsyncClient) -> None:
    r = await http.get("/health/live")
    assert r.status_code == 200
    assert r.json() == {"status": "alive", "service": "intake"}


async def test_readiness_checks_store_nats_and_relay(http: httpx.AsyncClient) -> None:
    r = await http.get("/health/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"service": "intake", "ready": True,
                        "checks": {"store": "ok", "nats": "ok", "relay": "ok"}}


@pytest.mark.parametrize(("param", "value"), [("offset", 2**64), ("offset", 2**63),
                                              ("offset", -1), ("limit", 2**64)])
async def test_an_offset_or_limit_beyond_its_bound_is_422_naming_it(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str], param: str,
        value: int) -> None:
    r = await http.get("/applications", params={"township": YELIN, param: value},
                       headers=clerk)
    assert_problem(r, 422, "web.validation", param)


HOSTILE_NAMES = {
    "nul": "黎\x00阿婆", "bel": "黎阿婆\x07", "backspace": "黎\x08阿婆",
    "rtl_override": "\u202e婆阿黎", "zero_width_only": "\u200b\u200b", "zero_width_joiner":
    "黎\u200d阿婆", "bom": "\ufeff黎阿婆", "emoji": "黎阿婆😀", "html": "<b>黎</b>",
    "script": "<script>alert(1)</script>", "digits": "黎阿婆2", "newline": "黎\n阿婆",
    "lone_dot": "·", "leading_dot": "·阿旺", "double_dot": "阿沛··阿旺", "trailing_dot": "阿沛·",
    "combining_first": "\u0301黎", "too_long": "黎" * 65, "private_use": "黎\ue000",
}


def with_names(field: str, value: str) -> dict[str, Any]:
    body = filing()
    if field == "members[1].name":
        body["members"][1]["name"] = value
    elif field == "bank_account.holder_name":
        body["bank_account"]["holder_name"] = value
    elif field == "entrustment.agent_name":
        body.update(filed_by="entrusted_person", entrustment={
            "agent_name": value, "agent_relation": "邻居", "entrusted_on": "2025-01-02"})
    elif field.startswith("close_relatives[0]."):
        relative = {"member_name": "黎阿婆", "official_name": "王村长",
                    "official_post": "village_committee", "relationship": "表亲"}
        relative[field.rsplit(".", 1)[1]] = value
        body.update(close_relative_declared=True, close_relatives=[relative])
    else:
        body["members"][0]["name"] = value
    return body


NAME_FIELDS = ["members[0].name", "members[1].name", "bank_account.holder_name",
               "entrustment.agent_name", "close_relatives[0].member_name",
               "close_relatives[0].official_name"]


@pytest.mark.parametrize("hostile", sorted(HOSTILE_NAMES))
async def test_a_hostile_name_is_refused_naming_the_field(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str],
        hostile: str) -> None:
    for field in NAME_FIELDS:
        r = await http.post("/applications", json=with_names(field, HOSTILE_NAMES[hostile]),
                            headers=clerk)
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["field"] == field, body
        if body["code"] != "web.validation":  # the API's own 64-character bound may come first
            assert body["code"].startswith("intake.name_"), body
    await assert_nothing_stored(http, intake, clerk)


@pytest.mark.parametrize("name", ["黎阿婆", "阿沛·阿旺晋美", "玉素甫·艾力", "Zoe\u0308",
                                  "王" * 40, "ㄚ"])
async def test_real_names_pass_and_are_kept_in_nfc(
        http: httpx.AsyncClient, clerk: dict[str, str], name: str) -> None:
    import unicodedata
    app_id = await submitted(http, clerk, filing(name))
    r = await http.get(f"/applications/{app_id}", headers=clerk)
    assert r.status_code == 200, r.text
    assert r.json()["members"][0]["name"] == unicodedata.normalize("NFC", name)


async def test_a_hostile_name_in_a_reported_change_is_refused(
        http: httpx.AsyncClient, intake: ServiceRuntime, clerk: dict[str, str]) -> None:
    app_id = await submitted(http, clerk)
    before = intake.app.recorder.max_notification_id()
    joined = {"name": "黎\u202e小红", "relation": "child", "birth_date": "2015-03-04",
              "resident_id": make_resident_id("469028", date(2015, 3, 4), 41, "female"),
              "work_capacity": "none"}
    r = await http.post(f"/applications/{app_id}/changes", headers=clerk, json={
        "subject": "members", "description": "新生", "occurred_on": "2025-01-02",
        "members_joined": [joined]})
    assert r.status_code in (422, 409), r.text
    if r.status_code == 422:
        assert r.json()["field"] == "members_joined[0].name", r.text
    assert intake.app.recorder.max_notification_id() == before
