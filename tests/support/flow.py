"""The walking skeleton's steps, shared by the tests that run intake and review together
(e2e, reliability, deploy): a fresh 低保 filing, accepted in intake, its case found in review."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import nats

from shared.auth import Role, TokenIssuer
from shared.bus import stream_name
from shared.contracts import Envelope
from shared.pii import make_resident_id
from tests.support.actors import CLERK, LEADER
from tests.support.places import TAOYUAN, YELIN
from tests.support.stack import eventually
from tests.support.web import bearer, client

_households = itertools.count()


def filing() -> dict[str, Any]:
    """A complete 低保 filing of a household no other call names (intake de-duplicates)."""
    n = next(_households)
    born, child_born = date(1956, 3, 14) + timedelta(days=n // 90), date(2012, 9, 1)
    return {
        "kind": "dibao", "township": YELIN, "village": TAOYUAN, "filed_by": "applicant",
        "members": [
            {"name": "黎阿婆", "relation": "self", "birth_date": born.isoformat(),
             "resident_id": make_resident_id("469028", born, n % 90, "female"),
             "work_capacity": "none", "authorization_signed": True},
            {"name": "黎小明", "relation": "grandchild", "birth_date": child_born.isoformat(),
             "resident_id": make_resident_id("469028", child_born, n % 90, "male"),
             "work_capacity": "none", "student": True},
        ],
        "materials": ["application_form", "commitment_letter", "authorization_form",
                      "hukou_booklet", "id_cards"],
        "bank_account": {"bank": "海南农信", "holder_name": "黎阿婆",
                         "account": "6228480402564890018"},
    }


def clerk(issuer: TokenIssuer) -> dict[str, str]:
    return bearer(issuer, Role.TOWNSHIP_CLERK, YELIN, user_id=CLERK.user_id)


def reviewer(issuer: TokenIssuer) -> dict[str, str]:
    return bearer(issuer, Role.TOWNSHIP_LEADER, YELIN, user_id=LEADER.user_id)


async def submit_and_accept(intake: Any, issuer: TokenIssuer,
                            headers: dict[str, str] | None = None) -> str:
    async with client(intake) as http:
        r = await http.post("/applications", json=filing(), headers=clerk(issuer))
        assert r.status_code == 201, r.text
        application_id = r.json()["application_id"]
        r = await http.post(f"/applications/{application_id}/accept",
                            headers={**clerk(issuer), **(headers or {})})
        assert r.status_code == 200, r.text
    return str(application_id)


async def review_case(review: Any, issuer: TokenIssuer, application_id: str) -> dict[str, Any]:
    async with client(review) as http:
        async def found() -> dict[str, Any] | None:
            r = await http.get(f"/cases/by-application/{application_id}",
                               headers=reviewer(issuer))
            return r.json() if r.status_code == 200 else None
        return await eventually(found)


async def count_cases(review: Any, issuer: TokenIssuer) -> int:
    async with client(review) as http:
        r = await http.get("/cases", params={"township": YELIN}, headers=reviewer(issuer))
        assert r.status_code == 200, r.text
        return int(r.json()["total"])


async def stream_envelopes(url: str, service: str) -> list[Envelope]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    info = await js.stream_info(stream_name("469028", service))
    if info.state.messages == 0:  # an empty stream's first_seq is 0: no message to get
        await nc.close()
        return []
    out = [Envelope.model_validate_json((await js.get_msg(info.config.name, seq)).data)
           for seq in range(info.state.first_seq, info.state.last_seq + 1)]
    await nc.close()
    return out
