"""Changes effective in months already on a locked roster: an increase is paid as 补发 and
a decrease, a backdated end, a death or fraud is owed back as 追回, on the next roster, each
naming the month it corrects; a recovery is then recovered or written off by a decision with
its reason. The real application on its own SQLite store."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from shared.errors import RuleViolation
from tests.support.actors import CLERK, LEADER
from tests.support.disbursement import application, changed, china, keyring, started, upstream
from tests.support.places import YELIN

pytestmark = pytest.mark.fast

MONTHS = ("2026-03", "2026-04", "2026-05")


def paid_months(app: Any, ring: Any, amount: str = "600.00") -> Any:
    e = started(ring, amount=amount, start_month=MONTHS[0])
    app.record_entitlement_started(e, upstream(china(date(2026, 2, 20))))
    for m in MONTHS:
        app.today = lambda m=m: date.fromisoformat(f"{m}-16")
        app.draft_roster(CLERK, YELIN, m, "dibao")
        app.lock_roster(CLERK, YELIN, m, "dibao")
    app.today = lambda: date(2026, 6, 10)  # June, before its cut-off
    return e


def june(app: Any) -> dict[str, list[dict[str, Any]]]:
    app.today = lambda: date(2026, 6, 16)
    roster = app.draft_roster(CLERK, YELIN, "2026-06", "dibao")
    out: dict[str, list[dict[str, Any]]] = {}
    for c in roster.changes:
        out.setdefault(c["change"], []).append(c)
    return {"rows": [r for r in roster.rows.values()], **out}


def test_an_increase_for_locked_months_is_paid_as_arrears(tmp_path: Path,
                                                          keys_dir: Path) -> None:
    ring = keyring(keys_dir)
    app = application(tmp_path, keys_dir)
    e = paid_months(app, ring)
    app.record_entitlement_changed(
        changed(e, change="increase", amount="700.00", effective_month="2026-04"),
        upstream(china(date(2026, 6, 10)), "entitlement_changed", 2))
    got = june(app)
    arrears = sorted((c["causes"][0]["original_month"], c["amount"]) for c in got["arrears"])
    assert arrears == [("2026-04", "100.00"), ("2026-05", "100.00")]
    assert sorted(str(r.amount) for r in got["rows"]) == ["100.00", "100.00", "700.00"]
    assert app.recoveries(CLERK, YELIN) == []


def test_a_backdated_death_is_owed_back_then_recovered_or_written_off(
        tmp_path: Path, keys_dir: Path) -> None:
    ring = keyring(keys_dir)
    app = application(tmp_path, keys_dir)
    e = paid_months(app, ring)
    end = changed(e, change="terminate", amount="0.00", effective_month="2026-04",
                  reasons=["户主于3月去世"]).model_copy(update={"cause": "death"})
    app.record_entitlement_changed(end, upstream(china(date(2026, 6, 10)),
                                                 "entitlement_changed", 2))
    got = june(app)
    assert not got["rows"]  # nothing paid in June, and a recovery is never a bank row
    assert sorted(c["amount"] for c in got["recovery"]) == ["-600.00", "-600.00"]
    owed = app.recoveries(CLERK, YELIN)
    assert [(r["original_month"], r["amount"], r["status"], r["cause"], r["adjusted_late"])
            for r in owed] == [("2026-04", "600.00", "owed", "death", False),
                               ("2026-05", "600.00", "owed", "death", False)]

    april, may = (UUID(r["key"]) for r in owed)
    with pytest.raises(RuleViolation) as too_much:
        app.record_recovered(CLERK, april, Decimal("600.01"), "家属退回")
    assert (too_much.value.code, too_much.value.field) == ("disbursement.recovery_amount",
                                                           "amount")
    app.record_recovered(CLERK, april, Decimal("600.00"), "家属已退回，收据存档")
    app.record_recovered(CLERK, may, Decimal("200.00"), "家属退回部分")
    app.write_off_recovery(LEADER, may, "家庭确无能力退还，经集体研究核销")
    with pytest.raises(RuleViolation) as settled:
        app.write_off_recovery(LEADER, may, "再次核销")
    assert settled.value.code == "disbursement.recovery_settled"
    after = {r["original_month"]: r for r in app.recoveries(CLERK, YELIN)}
    assert (after["2026-04"]["status"], after["2026-04"]["recovered"]) == ("recovered",
                                                                         "600.00")
    assert (after["2026-05"]["status"], after["2026-05"]["recovered"],
            after["2026-05"]["written_off"]) == ("written_off", "200.00", "400.00")


def test_fraud_records_the_fine_and_a_late_death_is_flagged(tmp_path: Path,
                                                            keys_dir: Path) -> None:
    ring = keyring(keys_dir)
    app = application(tmp_path, keys_dir)
    e = paid_months(app, ring)
    fraud = changed(e, change="terminate", amount="0.00", effective_month="2026-05",
                    reasons=["隐瞒收入骗取低保"]).model_copy(update={
                        "cause": "fraud", "fine_multiple": Decimal("2"),
                        "fine_reason": "骗取低保金，处2倍罚款"})
    app.record_entitlement_changed(fraud, upstream(china(date(2026, 6, 10)),
                                                   "entitlement_changed", 2))
    (r,) = app.recoveries(CLERK, YELIN)
    assert (r["original_month"], r["amount"], r["fine"], r["cause"]) == (
        "2026-05", "600.00", "1200.00", "fraud")

    other = application(tmp_path / "b", keys_dir)
    e2 = paid_months(other, ring)
    other.today = lambda: date(2026, 8, 10)
    late = changed(e2, change="terminate", amount="0.00", effective_month="2026-03",
                   ).model_copy(update={"cause": "death"})
    other.record_entitlement_changed(late, upstream(china(date(2026, 8, 10)),
                                                    "entitlement_changed", 2))
    flagged = {x["original_month"]: x["adjusted_late"] for x in other.recoveries(CLERK, YELIN)}
    assert flagged == {"2026-03": True, "2026-04": True, "2026-05": True}


def test_a_second_change_of_the_same_month_owes_only_the_difference(
        tmp_path: Path, keys_dir: Path) -> None:
    ring = keyring(keys_dir)
    app = application(tmp_path, keys_dir)
    e = paid_months(app, ring)
    app.record_entitlement_changed(
        changed(e, change="decrease", amount="500.00", effective_month="2026-05"),
        upstream(china(date(2026, 6, 10)), "entitlement_changed", 2))
    app.record_entitlement_changed(
        changed(e, change="decrease", amount="450.00", effective_month="2026-05"),
        upstream(china(date(2026, 6, 11)), "entitlement_changed", 3))
    assert sorted(r["amount"] for r in app.recoveries(CLERK, YELIN)) == ["100.00", "50.00"]
