"""payee_changed on the ledger: the entitlement and its 补发 still to be paid take the new
account, once (a redelivery changes nothing); a 补发 already on a locked roster keeps the
account it was paid to. The real application on its own SQLite store."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest

from services.disbursement.domain import HoldResolution, Resolution, ledger_id
from shared.bankcards import unionpay_card
from tests.support.actors import CLERK
from tests.support.disbursement import (
    application,
    china,
    keyring,
    payee_changed,
    started,
    upstream,
)
from tests.support.places import YELIN

pytestmark = pytest.mark.fast
CLOSED, NEW = unionpay_card("622202000000202"), unionpay_card("622848006201234567")


def failed(account: str, code: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([["account", "name", "amount", "status", "reference", "reason"],
                               [account, "黎阿婆", "800.00", "failed", "B1", code]])
    return buf.getvalue().encode()


def test_the_new_account_once_and_never_on_a_locked_roster(tmp_path: Path,
                                                           keys_dir: Path) -> None:
    ring, app = keyring(keys_dir), application(tmp_path, keys_dir)
    granny = started(ring, amount="800.00", start_month="2026-07", account=CLOSED)
    app.record_entitlement_started(granny, upstream(china(date(2026, 6, 20))))
    app.today = lambda: date(2026, 7, 16)
    app.draft_roster(CLERK, YELIN, "2026-07", "dibao")
    app.lock_roster(CLERK, YELIN, "2026-07", "dibao")
    july = app.import_bank_return(CLERK, YELIN, "2026-07", "dibao", "r.csv",
                                  failed(CLOSED, "AC06"))
    app.resolve_discrepancies(CLERK, YELIN, "2026-07", "dibao", list(july.discrepancies),
                              Resolution.CARRIED_FORWARD, "账户冻结，待新账户补发")
    # August (with its 补发) locked on the blocked account, released by the clerk.
    app.today = lambda: date(2026, 8, 17)
    august = app.draft_roster(CLERK, YELIN, "2026-08", "dibao")
    assert len(august.open_holds) == 2
    app.resolve_holds(CLERK, YELIN, "2026-08", "dibao", [h["key"] for h in august.open_holds],
                      HoldResolution.RELEASED, "账户已解冻，银行证明存档")
    app.lock_roster(CLERK, YELIN, "2026-08", "dibao")
    (arrears,) = [r.key for r in august.rows.values() if r.key != str(granny.entitlement_id)]

    change = payee_changed(ring, granny, account=NEW)
    assert app.record_payee_changed(change, upstream(china(date(2026, 8, 20)),
                                                     "payee_changed", 2)) == 1
    assert app.record_payee_changed(change, upstream(china(date(2026, 8, 20)),
                                                     "payee_changed", 2)) == 0
    entry = app.get(ledger_id(granny.entitlement_id))
    assert entry.payee["account_mask"][-4:] == NEW[-4:]
    # The 补发 paid on August's locked roster keeps the account it went to.
    paid = app.get(ledger_id(UUID(arrears)))
    assert paid.payee["account_mask"][-4:] == CLOSED[-4:]
    app.today = lambda: date(2026, 9, 16)
    september = app.draft_roster(CLERK, YELIN, "2026-09", "dibao")
    assert not september.holds
    assert {r.account_mask[-4:] for r in september.rows.values()} == {NEW[-4:]}
