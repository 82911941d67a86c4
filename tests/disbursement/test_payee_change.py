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

from services.disbursement.domain import LedgerEntry, Resolution, ledger_id
from services.review.application import PAYEE_PURPOSE
from shared.auth import Role, TokenIssuer
from shared.bankcards import unionpay_card
from shared.bus import Bus
from shared.contracts import Envelope
from shared.errors import NotFound
from shared.pii import mask_bank_account
from shared.runtime import ServiceRuntime
from tests.support.actors import CLERK
from tests.support.disbursement import ReviewStream, china, keyring, payee_changed, started
from tests.support.entitlements import live
from tests.support.infra import NatsServer
from tests.support.places import YELIN
from tests.support.stack import eventually
from tests.support.web import bearer, client

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


def carried_forward(app: Any, account: str, name: str, amount: str) -> None:
    """July drafted, locked, returned AC04 (closed) by the bank, carried forward."""
    app.today = lambda: date(2026, 7, 16)
    app.draft_roster(CLERK, YELIN, JULY, "dibao")
    app.lock_roster(CLERK, YELIN, JULY, "dibao")
    july = app.import_bank_return(CLERK, YELIN, JULY, "dibao", "r.csv",
                                  bank_return(account, name, amount, "AC04"))
    (d,) = july.discrepancies.values()
    app.resolve_discrepancies(CLERK, YELIN, JULY, "dibao", [d["id"]],
                              Resolution.CARRIED_FORWARD, "账户已销户，待新账户补发")


def exported_accounts(app: Any, month: str) -> list[str]:
    _, content = app.create_export(CLERK, YELIN, month, "dibao", "csv")
    lines = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
    return [x["账号"].strip() for x in lines]  # a leading tab: Excel keeps it text


async def test_a_closed_account_changed_in_review_is_paid_next_roster(
        services: Any, keys_dir: Path, nats_server: NatsServer) -> None:
    rt: ServiceRuntime = await services("disbursement")
    app, ring, review = rt.app, keyring(keys_dir), ReviewStream()
    granny = started(ring, amount="800.00", start_month=JULY, name="黎阿婆", account=CLOSED)
    await publish(nats_server.url, [review.envelope(granny, china(date(2026, 6, 20)),
                                                    granny.entitlement_id, YELIN)])
    consumer = rt.consumers[0]
    await eventually(lambda: consumer.handled == 1, 20)
    carried_forward(app, CLOSED, "黎阿婆", "800.00")

    # Without a new account, August holds both rows for the account returned closed.
    app.today = lambda: date(2026, 8, 17)
    held = app.draft_roster(CLERK, YELIN, AUGUST, "dibao")
    assert len(held.holds) == 2
    assert {r["code"] for h in held.holds.values() for r in h["reasons"]} == {
        "account_returned"}

    change = review.envelope(payee_changed(ring, granny, account=NEW),
                             china(date(2026, 8, 3)), granny.entitlement_id, YELIN)
    assert NEW not in change.to_bytes().decode() and CLOSED not in change.to_bytes().decode()
    await publish(nats_server.url, [change])
    await eventually(lambda: consumer.handled == 2, 20)
    assert consumer.dead_lettered == 0

    august = app.draft_roster(CLERK, YELIN, AUGUST, "dibao")
    assert not august.holds and not august.open_holds
    rows = list(august.rows.values())
    assert sorted(str(r.amount) for r in rows) == ["800.00", "800.00"]  # 补发 + August
    assert {r.account_mask for r in rows} == {mask_bank_account(NEW)}
    assert app.lock_roster(CLERK, YELIN, AUGUST, "dibao").total == 1600
    assert exported_accounts(app, AUGUST) == [NEW, NEW]

    # July's locked roster still names the account the bank returned.
    july = app.roster(CLERK, YELIN, JULY, "dibao")
    assert {r.account_mask for r in july.rows.values()} == {mask_bank_account(CLOSED)}


async def test_reviews_account_change_reaches_the_next_roster(
        services: Any, issuer: TokenIssuer, keys_dir: Path) -> None:
    """Both services on the bus: the entitlement, then the clerk's change in review's API."""
    review, disbursement = await services("review"), await services("disbursement")
    ring = keyring(keys_dir)
    old = {"name": "黎阿婆", "bank": "海南农信", "resident_id_mask": None, "account": ring.encrypt(
        CLOSED, mask_bank_account(CLOSED), PAYEE_PURPOSE).model_dump(mode="json")}
    ent = live(review.app, YELIN, payee=old, start_month=JULY, decided_on=date(2026, 6, 1))
    amount = ent.monthly_amount
    app = disbursement.app

    def entry() -> LedgerEntry | None:
        try:
            return app.get(ledger_id(ent.id))  # type: ignore[no-any-return]
        except NotFound:
            return None
    await eventually(lambda: entry() is not None, 20)
    carried_forward(app, CLOSED, "黎阿婆", f"{amount:.2f}")

    review.app.today = lambda: date(2026, 8, 3)
    async with client(review) as http:
        r = await http.post(f"/entitlements/{ent.id}/payee", headers=bearer(
            issuer, Role.TOWNSHIP_CLERK, YELIN), json={
            "holder_name": "黎阿婆", "bank": "中国农业银行陵水支行", "account_number": NEW,
            "reason": "原账户已销户（银行退回AC04），新开社保卡"})
        assert r.status_code == 200, r.text

    def paid_to_new() -> bool:
        e = entry()
        return e is not None and e.payee is not None and \
            e.payee["account_mask"] == mask_bank_account(NEW)
    await eventually(paid_to_new, 20)
    app.today = lambda: date(2026, 8, 17)
    august = app.draft_roster(CLERK, YELIN, AUGUST, "dibao")
    assert not august.holds
    assert sorted(r.amount for r in august.rows.values()) == [amount, amount]  # 补发 + August
    app.lock_roster(CLERK, YELIN, AUGUST, "dibao")
    assert exported_accounts(app, AUGUST) == [NEW, NEW]
