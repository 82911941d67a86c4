"""Intake's inputs as its callers send them: a complete 低保 filing of 黎阿婆's household, and
what a refused request must leave behind (nothing)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx

from shared.pii import make_resident_id
from shared.runtime import ServiceRuntime
from tests.support.places import TAOYUAN, YELIN

# A whole ID number, not 18 digits inside a hex fingerprint (a random key makes those
# appear in about one run in three hundred).
FULL_ID = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


GRANNY_BORN, CHILD_BORN = date(1956, 3, 14), date(2012, 9, 1)


GRANNY_ID = make_resident_id("469028", GRANNY_BORN, 12, "female")


CHILD_ID = make_resident_id("469028", CHILD_BORN, 3, "male")


DIBAO_MATERIALS = ["application_form", "commitment_letter", "authorization_form",
                   "hukou_booklet", "id_cards"]


def filing(name: str = "黎阿婆", household: int = 0, **overrides: Any) -> dict[str, Any]:
    """A complete 低保 filing; `household` > 0 names other people (no de-duplication clash)."""
    granny_id = make_resident_id("469028", GRANNY_BORN, 12 + household, "female")
    child_id = make_resident_id("469028", CHILD_BORN, 3 + household, "male")
    body = {
        "kind": "dibao", "township": YELIN, "village": TAOYUAN, "filed_by": "applicant",
        "members": [
            {"name": name, "relation": "self", "birth_date": GRANNY_BORN.isoformat(),
             "resident_id": granny_id, "work_capacity": "none", "authorization_signed": True},
            {"name": "黎小明", "relation": "grandchild", "birth_date": CHILD_BORN.isoformat(),
             "resident_id": child_id, "work_capacity": "none", "student": True},
        ],
        "materials": DIBAO_MATERIALS,
        "bank_account": {"bank": "海南农信", "holder_name": name,
                         "account": "6228480402564890018"},
    }
    body.update(overrides)
    return body


async def footprint(http: httpx.AsyncClient, rt: ServiceRuntime,
                    clerk: dict[str, str]) -> tuple[int, int | None]:
    """(applications listed for 椰林镇, highest event notification id)."""
    r = await http.get("/applications", params={"township": YELIN}, headers=clerk)
    assert r.status_code == 200, r.text
    return int(r.json()["total"]), rt.app.recorder.max_notification_id()


async def assert_nothing_stored(http: httpx.AsyncClient, rt: ServiceRuntime,
                                clerk: dict[str, str]) -> None:
    assert await footprint(http, rt, clerk) == (0, None)


async def submitted(http: httpx.AsyncClient, headers: dict[str, str],
                    body: dict[str, Any] | None = None) -> str:
    r = await http.post("/applications", json=body or filing(), headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["application_id"])
