"""The public channel end to end over a real nats-server, with the real review service, on
SQLite and on PostgreSQL:

- review's policy_changed events feed the public policy pages: a version the county bureau
  publishes shows as upcoming, and as in force only from its effective date;
- a benefit review confirms reaches the public roster; two reports name its line; the one
  not upheld changes nothing in review, the upheld one makes review's recheck due at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError

from services.publicity.main import PublicityRuntime
from shared.auth import Role, TokenIssuer
from shared.bus import stream_name
from shared.clock import CHINA, ManualClock
from shared.contracts import Envelope, verify_chain
from shared.pii import Keyring
from shared.runtime import ServiceRuntime
from tests.support.infra import NatsServer
from tests.support.places import TAOYUAN, YELIN
from tests.support.publicity import MONDAY, build_publicity
from tests.support.review import confirmed
from tests.support.stack import build_service, eventually, reset_jetstream
from tests.support.web import client

pytestmark = pytest.mark.nats
DEMO_POLICY = Path(__file__).parents[2] / "services/review/data/policy_469028_demo.json"


@pytest.fixture
async def stack(request: pytest.FixtureRequest, backend: str, tmp_path: Path, keys_dir: Path,
                nats_server: NatsServer,
                ) -> AsyncIterator[tuple[ServiceRuntime, PublicityRuntime, ManualClock]]:
    await reset_jetstream(nats_server.url)
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    review = build_service("review", tmp=tmp_path / "review", keys_dir=keys_dir,
                           nats_url=nats_server.url, database_url=database_url)
    review.app.today = lambda: date(2025, 3, 10)  # type: ignore[method-assign]
    clock = ManualClock(MONDAY)
    publicity = build_publicity(tmp_path / "publicity", keys_dir, nats_server.url,
                                database_url, clock, scheduler_interval_s=3600)
    await review.start()
    await publicity.start()
    yield review, publicity, clock
    await publicity.stop()
    await review.stop()


def tokens(issuer: TokenIssuer) -> Any:
    def as_(role: Role, township: str | None = YELIN, org: str | None = None) -> dict[str, str]:
        if role in (Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR):
            township = None
        token = issuer.mint(f"{role.value}-{township or 'county'}", role, township, org=org)
        return {"authorization": "Bearer " + token}
    return as_


async def publicity_events(url: str, type_: str) -> list[Envelope]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        info = await js.stream_info(stream_name("469028", "publicity"))
        envs = [Envelope.model_validate_json((await js.get_msg(info.config.name, seq)).data)
                for seq in range(info.state.first_seq, info.state.last_seq + 1)]
    except NotFoundError:
        return []
    finally:
        await nc.close()
    return [e for e in envs if e.type == type_] if type_ else envs


async def test_policy_pages_and_reports_flow_between_review_and_publicity(
        stack: tuple[ServiceRuntime, PublicityRuntime, ManualClock], issuer: TokenIssuer,
        keys_dir: Path, nats_server: NatsServer) -> None:
    review, publicity, clock = stack
    as_ = tokens(issuer)
    keyring = Keyring.load_or_create(keys_dir / "bus-keyring.json")
    async with client(review) as rhttp, client(publicity) as phttp:
        # -- review's seeded policy reaches the public page (2024 demo version in force).
        async def standards(version: int, upcoming: int = 0) -> dict[str, Any] | None:
            r = await phttp.get("/public/policy/standards")
            body = r.json() if r.status_code == 200 else None
            ok = body and body["policy_version"] == version and len(body["upcoming"]) == upcoming
            return body if ok else None
        seeded = await eventually(lambda: standards(2), 15)
        assert seeded["terms"]["dibao_standard_urban"] == "700"

        # -- the county bureau raises the standard from 10 March, published on the 10th.
        terms = json.loads(DEMO_POLICY.read_text(encoding="utf-8"))["versions"][1]["terms"]
        r = await rhttp.post("/policy", headers=as_(Role.COUNTY_BUREAU), json={
            "effective_from": "2025-03-10", "reason": "提高城市低保标准",
            "terms": {**terms, "label": "2025 demo", "dibao_standard_urban": "760"}})
        assert r.status_code in (200, 201), r.text
        before = await eventually(lambda: standards(2, upcoming=1), 15)
        assert before["upcoming"][0]["terms"]["dibao_standard_urban"] == "760"
        clock.set(datetime(2025, 3, 9, 23, 59, tzinfo=CHINA))
        assert (await phttp.get("/public/policy/standards")).json()["policy_version"] == 2
        clock.set(datetime(2025, 3, 10, 0, 0, tzinfo=CHINA))
        now = (await phttp.get("/public/policy/standards")).json()
        assert (now["policy_version"], now["terms"]["dibao_standard_urban"]) == (3, "760")

        # -- review confirms a 低保 benefit from April; the public roster lists it.
        entitlement_id = await confirmed(rhttp, review, keyring, as_)
        clock.set(datetime(2025, 4, 2, 9, 0, tzinfo=CHINA))

        async def roster_line() -> dict[str, Any] | None:
            items = (await phttp.get(f"/public/roster/villages/{TAOYUAN}")).json()["items"]
            return items[0] if items else None
        line = await eventually(roster_line, 15)

        # -- two reports name that line; one is not upheld, one is.
        receipts = []
        for text in ("她家有小轿车", "她儿媳在县城开店，收入未申报"):
            r = await phttp.post("/public/reports", json={
                "category": "not_eligible", "village": TAOYUAN, "text": text,
                "reference": line["reference"]})
            assert r.status_code == 201, r.text
            receipts.append(r.json())
        queue = (await phttp.get("/reports", params={"township": YELIN},
                                 headers=as_(Role.TOWNSHIP_REVIEWER))).json()
        ids = {i["receipt"]: i["report_id"] for i in queue["items"]}
        for receipt, upheld, finding in ((receipts[0], False, "车辆为亲属所有，已核实"),
                                         (receipts[1], True, "经营收入每月约3000元未申报")):
            r = await phttp.post(f"/reports/{ids[receipt['receipt']]}/finding",
                                 headers=as_(Role.TOWNSHIP_REVIEWER),
                                 json={"upheld": upheld, "finding": finding})
            assert r.status_code == 200, r.text

        # -- review opens the recheck for the upheld report only.
        leader = as_(Role.TOWNSHIP_LEADER)

        async def recheck_due() -> dict[str, Any] | None:
            e = (await rhttp.get(f"/entitlements/{entitlement_id}", headers=leader)).json()
            return e if e["recheck_requests"] else None
        ent = await eventually(recheck_due, 15)
        assert ent["recheck_due"] == "2025-04-02"
        assert [(r["report_id"], r["finding"]) for r in ent["recheck_requests"]] == [
            (ids[receipts[1]["receipt"]], "经营收入每月约3000元未申报")]

    findings = await publicity_events(nats_server.url, "report_finding_recorded")
    assert sorted(e.data["upheld"] for e in findings) == [False, True]
    upheld_events = await publicity_events(nats_server.url, "report_upheld")
    assert [e.data["report_id"] for e in upheld_events] == [ids[receipts[1]["receipt"]]]
    everything = await publicity_events(nats_server.url, "")
    assert verify_chain(everything).ok
    raw = b"".join(e.to_bytes() for e in everything).decode()
    assert "小轿车" not in raw and "县城开店" not in raw  # the reporters' words stay home
    assert receipts[1]["code"] not in raw
