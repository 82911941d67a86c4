"""Review test fixtures: a review service built in-process on its own store, a way to open
cases as intake's acceptance would, and tokens for every role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from shared.auth import Role, TokenIssuer
from shared.contracts import Actor
from shared.contracts.intake import ApplicationAcceptedV1
from shared.pii import Keyring, make_resident_id, mask_resident_id
from shared.runtime import ServiceRuntime
from tests.stack import build_service, client

YELIN, TAOYUAN, CHENGDONG = "469028100", "469028100201", "469028100001"  # 椰林镇
GUANGPO = "469028101"  # 光坡镇
PROBLEM = "application/problem+json"

GRANNY_BORN, MOTHER_BORN, BOY_BORN = date(1956, 3, 14), date(1984, 5, 2), date(2014, 9, 1)


def people(keyring: Keyring) -> list[dict[str, Any]]:
    out = []
    for seq, (name, relation, born, sex, extra) in enumerate([
        ("黎阿婆", "self", GRANNY_BORN, "female", {"work_capacity": "none"}),
        ("符阿妹", "child_in_law", MOTHER_BORN, "female", {"work_capacity": "partial"}),
        ("黎小明", "grandchild", BOY_BORN, "male", {}),
    ]):
        rid = make_resident_id("469028", born, seq + 10, sex)
        out.append({"name": name, "relation": relation, "birth_date": born,
                    "resident_id": keyring.seal(rid, mask_resident_id(rid), "member.resident_id"),
                    "fingerprint": keyring.fingerprint(rid), **extra})
    return out


def acceptance(keyring: Keyring, *, kind: str = "dibao", township: str = YELIN,
               village: str = TAOYUAN, accepted_on: date = date(2025, 3, 3),
               linshi_type: str | None = None, applicant_born: date | None = None,
               application_id: UUID | None = None, **extra: Any) -> ApplicationAcceptedV1:
    """intake's ApplicationAccepted v1 (in clear) for 黎阿婆's household (wages 3,000
    over 6 months)."""
    members = people(keyring)
    if applicant_born is not None:
        members[0]["birth_date"] = applicant_born
    mother = members[1]["fingerprint"]
    data: dict[str, Any] = {
        "application_id": application_id or uuid4(), "kind": kind, "township": township,
        "village": village, "accepted_on": accepted_on, "applicant_name": "黎阿婆",
        "members": members, "close_relative_declared": False, "household_id": "hh-li-001",
        "linshi_type": linshi_type, "urban": False,
        "incomes": [
            {"member_fingerprint": mother, "kind": "wage", "amount": Decimal(3000), "months": 6},
            {"member_fingerprint": members[0]["fingerprint"], "kind": "basic_resident_pension",
             "amount": Decimal(1080), "months": 6},
        ],
        "assets": [{"kind": "deposit", "value": Decimal(8000)}],
        "bank_account": {"bank": "海南农信", "holder_name": "黎阿婆",
                         "account": keyring.seal("6228480123456789012", "***************9012",
                                                 "bank_account")},
    }
    data.update(extra)
    return ApplicationAcceptedV1.model_validate(data)


INTAKE_CLERK = Actor(user_id="clerk-yelin-1", role="township_clerk", township=YELIN)


@pytest.fixture
def keyring(keys_dir: Path) -> Keyring:
    return Keyring.load_or_create(keys_dir / "bus-keyring.json")


@pytest.fixture
def review(tmp_path: Path, keys_dir: Path) -> Iterator[ServiceRuntime]:
    """The review service's app and HTTP routes on a fresh SQLite store. Not started: API
    tests need no bus (the NATS path has its own tests); "today" is pinned."""
    rt = build_service("review", tmp=tmp_path, keys_dir=keys_dir,
                       nats_url="nats://127.0.0.1:1", database_url=None)
    rt.app.today = lambda: date(2025, 3, 10)  # type: ignore[method-assign]
    yield rt
    rt.app.close()


@pytest.fixture
async def http(review: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with client(review) as c:
        yield c


@pytest.fixture
def as_(issuer: TokenIssuer) -> Any:
    def headers(role: Role, township: str | None = YELIN, org: str | None = None,
                user_id: str | None = None) -> dict[str, str]:
        uid = user_id or f"{role.value}-{township or 'county'}"
        if role in (Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR):
            township = None
        return {"authorization": "Bearer " + issuer.mint(uid, role, township, org=org)}
    return headers


def assert_problem(r: httpx.Response, status: int, code: str,
                   field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    if field is not None:
        assert body.get("field") == field, body
    return body


PANEL = [
    {"user_id": "u-lead", "name": "镇长", "role": "leader", "present": True,
     "opinion": "approve"},
    {"user_id": "u-dep", "name": "副镇长", "role": "deputy", "present": True,
     "opinion": "approve"},
    {"user_id": "u-jw", "name": "纪委委员", "role": "discipline", "present": True,
     "opinion": "approve"},
    {"user_id": "u-dir", "name": "中心主任", "role": "member", "present": True,
     "opinion": "approve"},
    {"user_id": "u-staff", "name": "民政专干", "role": "member", "present": True,
     "opinion": "approve"},
]
REPORT = {"bank": "two accounts, 8,000 in total", "tax": "no tax records",
          "real_estate": "one rural home", "vehicles": "none",
          "social_insurance": "basic residents' pension", "business_registration": "none",
          "conclusion": "consistent with the declaration"}


def visit_body(**extra: Any) -> dict[str, Any]:
    return {"visited_on": "2025-03-05", "investigators": ["王调查", "陈调查"],
            "members_present": ["黎阿婆", "符阿妹"],
            "signed_by": ["王调查", "陈调查", "黎阿婆"],
            "documents": [{"document_id": "arc-0001", "kind": "form"},
                          {"document_id": "arc-0002", "kind": "photo",
                           "description": "the kitchen"}],
            **extra}


async def to_reviewed(http: httpx.AsyncClient, as_: Any, case_id: str,
                      outcome: str = "approve") -> None:
    """Assignment → home visit → verification → joint review, all by their proper roles."""
    clerk = as_(Role.TOWNSHIP_CLERK)
    steps = [
        (f"/cases/{case_id}/investigation/assign", clerk, {"investigators": [
            {"user_id": "u-w", "name": "王调查"}, {"user_id": "u-c", "name": "陈调查"}]}),
        (f"/cases/{case_id}/investigation/visits", clerk, visit_body()),
        (f"/cases/{case_id}/verification/request", clerk, None),
        (f"/cases/{case_id}/verification/report", as_(Role.COUNTY_CENTRE), REPORT),
        (f"/cases/{case_id}/joint-review", as_(Role.TOWNSHIP_REVIEWER), {
            "held_on": "2025-03-07", "outcome": outcome,
            "members": [{**m, "opinion": outcome} for m in PANEL]}),
    ]
    for path, headers, body in steps:
        r = await http.post(path, json=body, headers=headers)
        assert r.status_code in (200, 201), (path, r.text)
