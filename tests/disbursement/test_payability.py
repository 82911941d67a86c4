"""The payability check before the lock: rows the bank would refuse are held with their
reason (a UnionPay card number failing its Luhn check, a holder who is not the payee, no
account, an account returned closed last month) and the lock refuses while any is open.
The real application on its own SQLite store."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.disbursement.domain import HoldResolution, Resolution
from shared.bankcards import account_problem, unionpay_card
from shared.errors import RuleViolation
from tests.support.actors import CLERK
from tests.support.disbursement import application, china, keyring, payee, started, upstream
from tests.support.places import YELIN

pytestmark = pytest.mark.fast

JUNE, JULY = "2026-06", "2026-07"
GOOD = unionpay_card("622202000000101")
BAD_CARD = GOOD[:-1] + str((int(GOOD[-1]) + 1) % 10)  # one digit off: Luhn fails
CLOSING = unionpay_card("622202000000202")


def test_account_numbers_as_the_bank_reads_them() -> None:
    assert account_problem(GOOD) is None and account_problem(BAD_CARD) == "card_luhn"
    assert account_problem("12345") == "account_format"
    assert account_problem("4300123456") is None  # a passbook: no check digit


def reasons(roster: Any) -> dict[str, list[str]]:
    return {h["name"]: [r["code"] for r in h["reasons"]] for h in roster.holds.values()}


def test_held_rows_are_resolved_before_the_lock(tmp_path: Path, keys_dir: Path) -> None:
    ring = keyring(keys_dir)
    app = application(tmp_path, keys_dir)
    decided = upstream(china(date(2026, 5, 20)))
    app.record_entitlement_started(started(ring, amount="800.00", start_month=JUNE,
                                           name="黎阿婆", account=GOOD), decided)
    app.record_entitlement_started(started(ring, amount="650.00", start_month=JUNE,
                                           name="王五", account=BAD_CARD),
                                   upstream(china(date(2026, 5, 20))))
    guarded = started(ring, amount="720.00", start_month=JUNE, name="符小妹",
                      account=unionpay_card("622202000000303"))
    guarded = guarded.model_copy(update={"payee": payee(ring, "符大哥",
                                                         unionpay_card("622202000000303"))})
    app.record_entitlement_started(guarded, upstream(china(date(2026, 5, 20))))
    app.record_entitlement_started(started(ring, amount="500.00", start_month=JUNE,
                                           name="陈阿妹", with_payee=False),
                                   upstream(china(date(2026, 5, 20))))

    roster = app.draft_roster(CLERK, YELIN, JUNE, "dibao")
    assert reasons(roster) == {"王五": ["card_luhn"], "符大哥": ["holder_name_differs"],
                               "陈阿妹": ["no_account"]}
    with pytest.raises(RuleViolation) as refused:
        app.lock_roster(CLERK, YELIN, JUNE, "dibao")
    assert (refused.value.code, refused.value.field) == ("disbursement.holds_open", "holds")
    assert app.roster(CLERK, YELIN, JUNE, "dibao").status.value == "drafted"

    held = {h["name"]: k for k, h in roster.holds.items()}
    with pytest.raises(RuleViolation) as no_reason:
        app.resolve_holds(CLERK, YELIN, JUNE, "dibao", [held["符大哥"]],
                          HoldResolution.RELEASED, " ")
    assert no_reason.value.code == "disbursement.reason_required"
    app.resolve_holds(CLERK, YELIN, JUNE, "dibao", [held["符大哥"]], HoldResolution.RELEASED,
                      "监护人账户，经审批同意")
    app.resolve_holds(CLERK, YELIN, JUNE, "dibao", [held["王五"], held["陈阿妹"]],
                      HoldResolution.EXCLUDED, "待更正账户后补发")
    # A redraft keeps both decisions: the release (same reasons) and the exclusions.
    again = app.draft_roster(CLERK, YELIN, JUNE, "dibao")
    assert not again.open_holds and {r.name for r in again.rows.values()} == {"黎阿婆", "符大哥"}
    locked = app.lock_roster(CLERK, YELIN, JUNE, "dibao")
    assert locked.total == 1520
    summary = app.roster_summary(CLERK, YELIN, JUNE, "dibao")  # the read model agrees
    assert (summary["rows"], summary["total"]) == (2, "1520.00")

    # What was excluded is owed on the next roster (补发), and held again there.
    app.today = lambda: date(2026, 7, 16)
    july = app.draft_roster(CLERK, YELIN, JULY, "dibao")
    arrears = [c for c in july.changes if c["change"] == "arrears"]
    assert sorted(c["amount"] for c in arrears) == ["500.00", "650.00"]
    assert sorted(r["code"] for h in july.holds.values() for r in h["reasons"]) == [
        "card_luhn", "card_luhn", "holder_name_differs", "no_account", "no_account"]


def test_an_account_returned_closed_is_held_next_month(tmp_path: Path, keys_dir: Path) -> None:
    ring = keyring(keys_dir)
    app = application(tmp_path, keys_dir)
    app.record_entitlement_started(started(ring, amount="800.00", start_month=JUNE,
                                           name="黎阿婆", account=CLOSING),
                                   upstream(china(date(2026, 5, 20))))
    app.record_entitlement_started(started(ring, amount="650.00", start_month=JUNE,
                                           name="王五", account=GOOD),
                                   upstream(china(date(2026, 5, 20))))
    app.draft_roster(CLERK, YELIN, JUNE, "dibao")
    app.lock_roster(CLERK, YELIN, JUNE, "dibao")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerows([["account", "name", "amount", "status", "reference", "reason"],
                 [CLOSING, "黎阿婆", "800.00", "failed", "B1", "AC04"],
                 [GOOD, "王五", "650.00", "paid", "B2", ""]])
    roster = app.import_bank_return(CLERK, YELIN, JUNE, "dibao", "r.csv", buf.getvalue().encode())
    (d,) = roster.discrepancies.values()
    app.resolve_discrepancies(CLERK, YELIN, JUNE, "dibao", [d["id"]], Resolution.PAID_MANUALLY,
                              "已销户，现金发放，凭证存档")

    app.today = lambda: date(2026, 7, 16)
    july = app.draft_roster(CLERK, YELIN, JULY, "dibao")
    (hold,) = july.holds.values()
    assert hold["name"] == "黎阿婆"
    (why,) = hold["reasons"]
    assert (why["code"], why["reason_code"], why["month"]) == ("account_returned", "AC04", JUNE)
