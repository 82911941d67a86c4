"""From review's confirmation to an issued fund plan that the example finance bureau
receives and acknowledges: over a real nats-server, on SQLite and on PostgreSQL.

Review's envelopes are published onto review's stream exactly as its relay does (chained,
`Nats-Msg-Id = review:<position>`); disbursement consumes them with its tracked consumer.
"""

from __future__ import annotations

import base64
import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from deploy.finance_consumer import FinanceBureauConsumer
from deploy.verify_seal import check as offline_check
from services.disbursement.bank_files import bank_file_csv
from shared.auth import Role, TokenIssuer
from shared.bus import Bus
from shared.contracts import Envelope, verify_chain
from shared.contracts.common import AssistanceKind
from shared.runtime import ServiceRuntime
from shared.seals import SealKeys, TrustList
from tests.support.disbursement import (
    ReviewStream,
    changed,
    china,
    keyring,
    spot_check,
    started,
    temporary,
    token,
)
from tests.support.flow import stream_envelopes
from tests.support.infra import NatsServer
from tests.support.places import YELIN
from tests.support.stack import eventually
from tests.support.web import client

pytestmark = pytest.mark.nats
MONTH = "2026-06"


@pytest.fixture
async def disbursement_on(services: Any) -> ServiceRuntime:
    return await services("disbursement")


async def publish_review(url: str, envelopes: list[Envelope]) -> None:
    bus = Bus(url, "review-under-test", "469028")
    await bus.connect()
    await bus.ensure_stream("review", 3600)
    assert bus.js is not None
    for env in envelopes:
        await bus.js.publish(env.subject, env.to_bytes(), headers={"Nats-Msg-Id": env.msg_id})
    # A republish after a relay crash: same id, dropped by JetStream.
    await bus.js.publish(envelopes[0].subject, envelopes[0].to_bytes(),
                         headers={"Nats-Msg-Id": envelopes[0].msg_id})
    await bus.close()


async def month_end(http: httpx.AsyncClient, clerk: dict[str, str], kind: str,
                    fail_name: str | None = None,
                    exported_rows: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Draft, lock, export for the bank (its rows into `exported_rows`), and reconcile
    against what the bank paid."""
    base = f"/rosters/{YELIN}/{MONTH}/{kind}"
    assert (await http.post(f"{base}/draft", headers=clerk)).status_code == 201
    assert (await http.post(f"{base}/lock", headers=clerk)).status_code == 200
    meta = (await http.post(f"{base}/exports", json={"format": "csv"}, headers=clerk)).json()
    exported = (await http.get(f"{base}/exports/{meta['export_id']}", headers=clerk)).content
    lines = list(csv.DictReader(io.StringIO(exported.decode("utf-8-sig"))))
    if exported_rows is not None:
        exported_rows.extend(lines)
    returned = bank_file_csv([(x["账号"], x["户名"], x["金额(元)"],
                               "failed" if x["户名"] == fail_name else "paid",
                               f"BANK-{x['序号']}") for x in lines])
    r = await http.post(f"{base}/bank-return", headers=clerk,
                        files={"file": ("return.csv", io.BytesIO(returned), "text/csv")})
    assert r.status_code == 201, r.text
    if ids := [d["id"] for d in r.json()["discrepancies"]]:
        r = await http.post(f"{base}/discrepancies/resolve", headers=clerk,
                            json={"discrepancy_ids": ids, "resolution": "paid_manually",
                                  "reason": "paid at the township office, receipt 0042"})
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "reconciled"
    return r.json()


async def test_confirmation_to_acknowledged_fund_plan(
        disbursement_on: ServiceRuntime, issuer: TokenIssuer, keys_dir: Path,
        nats_server: NatsServer, tmp_path: Path) -> None:
    rt = disbursement_on
    ring = keyring(keys_dir)
    granny = started(ring, amount="560.00", start_month=MONTH, name="黎阿婆",
                     account="6222021111111113", resident_id_mask="469*************2X")
    uncle = started(ring, amount="1200.00", start_month="2026-04", name="王五",
                    account="6222022222222229", kind=AssistanceKind.TEKUN, urban=True,
                    household_size=1)
    doubtful = started(ring, amount="480.00", start_month="2026-05", name="陈六",
                       account="6222023333333335")
    flood = temporary(ring, amount="1500.00", month=MONTH, name="符大哥",
                      account="6222024444444441", advance=True)
    review = ReviewStream()
    envs = [
        review.envelope(granny, china(date(2026, 5, 20)), granny.case_id, YELIN,
                        granny.case_id),
        review.envelope(uncle, china(date(2026, 3, 25)), uncle.case_id, YELIN),
        review.envelope(doubtful, china(date(2026, 4, 28)), doubtful.case_id, YELIN),
        review.envelope(changed(doubtful, change="increase", amount="520.00",
                                effective_month=MONTH), china(date(2026, 6, 3)),
                        doubtful.case_id, YELIN),
        review.envelope(flood, china(date(2026, 6, 8)), flood.case_id, YELIN),
        review.envelope(spot_check(YELIN, "2026-05", (doubtful.case_id, False, False),
                                   (uncle.case_id, True, True)),
                        china(date(2026, 6, 10)), doubtful.case_id, YELIN),
    ]
    await publish_review(nats_server.url, envs)
    consumer = rt.consumers[0]

    async def consumed() -> bool:
        return consumer.handled == len(envs)
    await eventually(consumed, 20)
    assert consumer.dead_lettered == 0

    rt.app.today = lambda: date(2026, 6, 16)
    clerk, leader = token(issuer, Role.TOWNSHIP_CLERK), token(issuer, Role.TOWNSHIP_LEADER)
    bureau = token(issuer, Role.COUNTY_BUREAU, None)
    async with client(rt) as http:
        rows: list[dict[str, str]] = []
        dibao = await month_end(http, clerk, "dibao", fail_name="陈六", exported_rows=rows)
        assert (dibao["rows"], dibao["total"]) == (2, "1080.00")  # 560 + 520 (increase)
        # The masked ID review sent; empty for a payee recorded without one.
        assert {x["户名"]: x["身份证号(脱敏)"] for x in rows} == {
            "黎阿婆": "469*************2X", "陈六": ""}
        await month_end(http, clerk, "tekun")
        linshi = await month_end(http, clerk, "linshi")
        assert linshi["total"] == "1500.00"

        r = await http.get(f"/townships/{YELIN}/months/{MONTH}/changes",
                           headers=token(issuer, Role.DISCIPLINE_INSPECTOR, None))
        why = {c["key"]: c for k in r.json()["kinds"] for c in k.get("changes") or []}
        assert why[str(granny.entitlement_id)]["change"] == "new"
        cause = why[str(doubtful.entitlement_id)]["causes"][0]
        assert (cause["type"], cause["event_id"]) == ("entitlement_changed",
                                                      str(envs[3].event_id))

        r = await http.post(f"/statistics/{YELIN}/{MONTH}/seal", headers=leader)
        assert r.status_code == 201, r.text
        total = r.json()["figures"]["total"]
        assert (total["households"], total["amount"]) == (4, "3780.00")
        pdf = await http.get(f"/statistics/{YELIN}/{MONTH}/documents/pdf", headers=bureau)
        files = {"file": ("t.pdf", io.BytesIO(pdf.content), "application/pdf")}
        v = (await http.post("/seals/verify", files=files, headers=bureau)).json()
        assert v["valid"] is True and v["sealed_by"] == YELIN
        assert datetime.fromisoformat(v["sealed_at"]).utcoffset() is not None  # says its offset
        assert (v["algorithm"], v["key_is_current"]) == ("sm2", True)

        # Offline: the file, its GB/T 38540 seal and the published trust list (no login).
        seal = await http.get(f"/statistics/{YELIN}/{MONTH}/documents/pdf/seal",
                              headers=bureau)
        trust = await http.get("/seals/trust-list")
        assert seal.status_code == trust.status_code == 200
        listed = TrustList.from_wire(trust.json())
        verdict = offline_check(pdf.content, seal.content, listed, subject=MONTH, owner=YELIN)
        assert verdict.valid and verdict.owner == YELIN, verdict.reason
        assert not offline_check(pdf.content, seal.content, listed, subject="2026-07").valid
        # A seal over the same file by a key of one's own is refused.
        rogue = SealKeys(tmp_path / "rogue", create_missing=True).seal(
            YELIN, MONTH, "statistics_pdf", pdf.content)
        verdict = offline_check(pdf.content, base64.b64decode(rogue.signature), listed)
        assert (verdict.valid, verdict.code) == (False, "unknown_key")
        altered = bytearray(pdf.content)
        altered[100] ^= 0x20
        files = {"file": ("t.pdf", io.BytesIO(bytes(altered)), "application/pdf")}
        assert (await http.post("/seals/verify", files=files, headers=bureau)).json()[
            "valid"] is False

        rt.app.today = lambda: date(2026, 6, 19)
        r = await http.post(f"/statistics/{YELIN}/{MONTH}/file", headers=leader)
        assert r.json()["late"] is False

        r = await http.post(f"/fund-plans/{MONTH}/compile", headers=bureau)
        plan = r.json()["plan"]
        yelin = plan["townships"][0]
        assert yelin["flagged"] is True
        assert [(h["key"], h["amount"]) for h in plan["held_back"]] == [
            (str(doubtful.entitlement_id), "520.00")]
        assert plan["totals"] == {"dibao": "560.00", "tekun": "1200.00", "linshi": "1500.00"}
        r = await http.post(f"/fund-plans/{MONTH}/issue", headers=bureau, json={})
        assert r.json()["code"] == "disbursement.plan_incomplete"
        r = await http.post(f"/fund-plans/{MONTH}/issue", headers=bureau,
                            json={"reason": "the other townships file on the 25th"})
        assert r.status_code == 200, r.text

        # The finance bureau: a durable consumer of fund_plan_issued, acknowledging via API.
        nc = await nats.connect(nats_server.url)
        finance = FinanceBureauConsumer(
            nc.jetstream(), http, lambda: issuer.mint("cz-1", Role.FINANCE_BUREAU))

        async def acknowledged() -> bool:
            await finance.run_once(timeout=0.5)
            return bool(finance.acknowledged)
        await eventually(acknowledged, 20)
        received = finance.acknowledged[0]
        assert finance.rejected == []
        assert (str(received.total), received.rows) == (plan["total"], plan["rows"])
        assert received.townships[0].seals[0].owner == YELIN
        await nc.close()

        r = await http.get(f"/fund-plans/{MONTH}", headers=bureau)
        assert r.json()["status"] == "acknowledged"
        assert r.json()["acknowledgement"]["actor"]["role"] == "finance_bureau"

    async def published() -> list[Envelope] | None:
        envs = await stream_envelopes(nats_server.url, "disbursement")
        return envs if envs and envs[-1].type == "fund_plan_acknowledged" else None
    out = await eventually(published, 10)
    assert verify_chain(out).ok
    types = [e.type for e in out]
    assert types.count("roster_locked") == 3 and types.count("roster_reconciled") == 3
    assert types.count("roster_exported") == 3
    assert {"statistics_sealed", "statistics_filed", "fund_plan_issued"} <= set(types)
    # No account on the bus (the full numbers: a short prefix can occur in a hash or a seal).
    accounts = ("6222021111111113", "6222022222222229", "6222023333333335", "6222024444444441")
    assert not [a for e in out for a in accounts if a in e.model_dump_json()]
