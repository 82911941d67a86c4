"""A household's changed bank account reaches disbursement: July's payment fails AC04
(closed), is carried forward; review changes the account (payee_changed, over a real
nats-server); August's roster pays the carried 补发 and August's amount to the new account,
holds nothing, and July's locked roster keeps the old account."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.disbursement.domain import Resolution
from shared.bankcards import unionpay_card
from shared.bus import Bus
from shared.contracts import Envelope
from shared.runtime import ServiceRuntime
from tests.support.actors import CLERK
from tests.support.disbursement import ReviewStream, china, keyring, payee_changed, started
from tests.support.infra import NatsServer
from tests.support.places import YELIN
from tests.support.stack import eventually

pytestmark = pytest.mark.nats
JULY, AUGUST = "2026-07", "2026-08"
CLOSED = unionpay_card("622202000000202")
NEW = unionpay_card("622848006201234567")


async def publish(url: str, envelopes: list[Envelope]) -> None:
    bus = Bus(url, "review-under-test", "469028")
    await bus.connect()
    await bus.ensure_stream("review", 3600)
    assert bus.js is not None
    for env in envelopes:
        await bus.js.publish(env.subject, env.to_bytes(), headers={"Nats-Msg-Id": env.msg_id})
    await bus.close()


def bank_return(account: str, name: str, amount: str, code: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([["account", "name", "amount", "status", "reference", "reason"],
                               [account, name, amount, "failed", "B1", code]])
    return buf.getvalue().encode()


async def test_a_closed_account_changed_in_review_is_paid_next_roster(
        services: Any, keys_dir: Path, nats_server: NatsServer) -> None:
    rt: ServiceRuntime = await services("disbursement")
    app, ring, review = rt.app, keyring(keys_dir), ReviewStream()
    granny = started(ring, amount="800.00", start_month=JULY, name="黎阿婆", account=CLOSED)
    await publish(nats_server.url, [review.envelope(granny, china(date(2026, 6, 20)),
                                                    granny.entitlement_id, YELIN)])
    consumer = rt.consumers[0]

    async def handled(n: int) -> Any:
        async def done() -> bool:
            return consumer.handled == n
        return done
    await eventually(await handled(1), 20)

    app.today = lambda: date(2026, 7, 16)
    app.draft_roster(CLERK, YELIN, JULY, "dibao")
    app.lock_roster(CLERK, YELIN, JULY, "dibao")
    july = app.import_bank_return(CLERK, YELIN, JULY, "dibao", "r.csv", bank_return(
        CLOSED, "黎阿婆", "800.00", "AC04"))
    (d,) = july.discrepancies.values()
    app.resolve_discrepancies(CLERK, YELIN, JULY, "dibao", [d["id"]],
                              Resolution.CARRIED_FORWARD, "账户已销户，待新账户补发")

    # Without a new account, August holds both rows for the account returned closed.
    app.today = lambda: date(2026, 8, 17)
    held = app.draft_roster(CLERK, YELIN, AUGUST, "dibao")
    assert {r["code"] for h in held.holds.values() for r in h["reasons"]} == {
        "account_returned"}

    change = review.envelope(payee_changed(ring, granny, account=NEW),
                             china(date(2026, 8, 3)), granny.entitlement_id, YELIN)
    assert NEW not in change.to_bytes().decode() and CLOSED not in change.to_bytes().decode()
    await publish(nats_server.url, [change])
    await eventually(await handled(2), 20)
    assert consumer.dead_lettered == 0

    august = app.draft_roster(CLERK, YELIN, AUGUST, "dibao")
    assert not august.holds and not august.open_holds
    rows = list(august.rows.values())
    assert sorted(str(r.amount) for r in rows) == ["800.00", "800.00"]  # 补发 + August
    assert {r.account_mask for r in rows} == {"*" * (len(NEW) - 4) + NEW[-4:]}
    assert app.lock_roster(CLERK, YELIN, AUGUST, "dibao").total == 1600
    _, exported = app.create_export(CLERK, YELIN, AUGUST, "dibao", "csv")
    lines = list(csv.DictReader(io.StringIO(exported.decode("utf-8-sig"))))
    assert [x["账号"].strip() for x in lines] == [NEW, NEW]  # tab: Excel keeps it text

    # July's locked roster still names the account the bank returned.
    july = app.roster(CLERK, YELIN, JULY, "dibao")
    assert {r.account_mask[-4:] for r in july.rows.values()} == {CLOSED[-4:]}
