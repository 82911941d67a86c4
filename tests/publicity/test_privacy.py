"""Property: whatever review sends about a household, the public endpoints show only the
masked name, household size, kind, amount and village. Random households carry ID
numbers, bank accounts, phone numbers, income and health details in every field review
has (reasons, payee, breakdown); none of it, and no full given name, may reach a public
response."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.publicity.main import PublicityRuntime
from shared.contracts.review import PayeeRef
from shared.fieldcrypt import Keyring
from shared.pii import make_resident_id, mask_bank_account, mask_name, mask_phone
from shared.regions import load_county
from tests.support.publicity import (
    ReviewStream,
    build_publicity,
    deliver,
    opinion,
    started,
    termination,
)
from tests.support.web import client

COUNTY = load_county("469028")
PLACES = [(t.code, v.code) for t in COUNTY.townships for v in t.villages]
# Characters in place names could appear in a response legitimately; given names avoid them.
_PLACE_CHARS = {c for t in COUNTY.townships for c in t.name + "".join(v.name for v in t.villages)}
GIVEN_CHARS = [c for c in "阿婆公明华芳秀英志强丽娟伟军平玉兰国庆春梅德福海燕文静金凤亮"
               if c not in _PLACE_CHARS]
SURNAMES = ["黎", "符", "王", "陈", "吉", "李", "欧阳", "司马", "诸葛"]
SENSITIVE_WORDS = ["月收入", "尿毒症", "精神残疾", "存款", "门牌"]
KEYRING = Keyring.generate("test-1")


@st.composite
def households(draw: Any) -> dict[str, Any]:
    surname = draw(st.sampled_from(SURNAMES))
    given = draw(st.lists(st.sampled_from([c for c in GIVEN_CHARS if c not in surname]),
                          min_size=1, max_size=3))
    born = draw(st.dates(date(1930, 1, 1), date(2010, 12, 31)))
    township, village = draw(st.sampled_from(PLACES))
    return {
        "surname": surname, "given": "".join(given),
        "resident_id": make_resident_id("469028", born, draw(st.integers(0, 99)),
                                        draw(st.sampled_from(["male", "female"]))),
        "account": draw(st.from_regex(r"62[0-9]{14,17}", fullmatch=True)),
        "phone": draw(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)),
        "size": draw(st.integers(1, 9)),
        "amount": Decimal(draw(st.integers(1, 400_000))) / 100,
        "kind": draw(st.sampled_from(["dibao", "tekun", "linshi", "dibao_edge"])),
        "township": township, "village": village,
        "secret": draw(st.sampled_from(SENSITIVE_WORDS)),
    }


@pytest.fixture(scope="module", params=["keep_surname", "keep_surname_and_last"])
def board(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          keys_dir: Path) -> Iterator[tuple[PublicityRuntime, ReviewStream, list[str]]]:
    rt = build_publicity(tmp_path_factory.mktemp("privacy"), keys_dir,
                         name_display_rule=request.param, public_read_burst=100_000,
                         public_reads_per_minute=100_000)
    # The names of every household put on this board so far: the board is shared by the
    # examples, and their masked names are rightly on it.
    yield rt, ReviewStream(), []
    rt.app.close()


async def public_pages(rt: PublicityRuntime, h: dict[str, Any]) -> list[str]:
    """Every public read that could show this household: both boards, every notice."""
    async with client(rt) as http:
        pages = [
            await http.get("/public/notices", params={"village": h["village"], "limit": 200}),
            await http.get(f"/public/roster/villages/{h['village']}", params={"limit": 200}),
            await http.get(f"/public/roster/townships/{h['township']}",
                           params={"limit": 200})]
        for item in pages[0].json()["items"]:
            pages.append(await http.get(f"/public/notices/{item['notice_id']}"))
    assert all(p.status_code == 200 for p in pages), [p.text for p in pages]
    return [p.text for p in pages]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=households())
def test_no_sensitive_value_reaches_a_public_response(
        board: tuple[PublicityRuntime, ReviewStream, list[str]], h: dict[str, Any]) -> None:
    rt, stream, names = board
    rule = rt.app.policy.name_rule
    name = h["surname"] + h["given"]
    rid, account, phone = h["resident_id"], h["account"], h["phone"]
    leaks = [f"身份证 {rid}", f"账号 {account}", f"电话 {phone}", f"{h['secret']} 1500 元"]
    case_id, ent = uuid4(), uuid4()
    place = {"township": h["township"], "village": h["village"], "kind": h["kind"],
             "applicant_name": name, "household_size": h["size"]}
    envs = [
        stream.envelope(opinion(case_id, monthly_amount=h["amount"], reasons=leaks,
                                **place), case_id, household_id=rid),
        stream.envelope(started(
            ent, case_id=case_id, monthly_amount=h["amount"],
            breakdown={"resident_id": rid, "income": leaks[3], "phone": phone},
            payee=PayeeRef(name=name, bank="海南农信", account=KEYRING.encrypt(
                account, mask_bank_account(account), "payee.account")),
            **place), ent, household_id=rid),
        stream.envelope(termination(ent, case_id, reasons=leaks, **place), ent),
    ]
    for env in envs:
        assert deliver(rt, env)

    text = "\n".join(asyncio.run(public_pages(rt, h)))
    assert mask_name(name, rule) in text  # the household is on the board, masked
    for value in (rid, rid[:17], account, mask_bank_account(account), phone,
                  mask_phone(phone), h["secret"]):
        assert value not in text
    assert not re.search(r"[0-9]{15,}", text)  # no ID- or account-length digit run
    names.append(name)
    # Every household's masked name is rightly shown (under keep_surname_and_last an earlier
    # 王阿婆 shows as 王*婆, so a later one-character given name 婆 is in the text): what
    # is left once they are taken out must hold no given name.
    rest = text
    for shown in sorted({mask_name(n, rule) for n in names}, key=len, reverse=True):
        rest = rest.replace(shown, "")
    assert h["given"] not in rest
    if rule == "keep_surname":
        assert not set(h["given"]) & set(text)  # not a single given-name character
    else:
        assert name not in text
