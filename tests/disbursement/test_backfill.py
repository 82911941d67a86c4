"""建账: a county loads the entitlements it already pays, by the reactions' own rules, in
one transaction per batch; a known or repeated entitlement refuses the whole batch."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.disbursement.application import DisbursementApplication
from services.disbursement.domain import ledger_id
from shared.contracts.common import AssistanceKind
from shared.errors import RuleViolation
from tests.support.actors import CLERK
from tests.support.disbursement import application, china, keyring, started, temporary, upstream
from tests.support.places import YELIN

pytestmark = pytest.mark.fast


@pytest.fixture
def app(tmp_path: Path, keys_dir: Path) -> DisbursementApplication:
    return application(tmp_path, keys_dir)


def test_backfill_records_a_batch_and_refuses_known_or_repeated_entries(
        app: DisbursementApplication, keys_dir: Path) -> None:
    ring = keyring(keys_dir)
    jan = upstream(china(date(2026, 1, 5)))
    a = started(ring, amount="300.00", start_month="2026-01", name="甲", account="6222020000000015")
    b = started(ring, amount="450.00", start_month="2026-01", name="乙", account="6222020000000023")
    edge = started(ring, amount="0.00", start_month="2026-01", name="丙",
                   kind=AssistanceKind.DIBAO_EDGE, account="6222020000000031")
    pay = temporary(ring, amount="800.00", month="2026-06")
    with app.unit_of_work():
        assert app.backfill([(a, jan), (edge, jan), (pay, upstream(china(date(2026, 6, 3))))]) == 2
    with pytest.raises(RuleViolation) as known, app.unit_of_work():
        app.backfill([(b, jan), (a, jan)])
    assert known.value.code == "disbursement.entitlement_known"
    with pytest.raises(RuleViolation) as paid, app.unit_of_work():
        app.backfill([(b, jan), (pay, jan)])
    assert paid.value.code == "disbursement.payment_known"
    with pytest.raises(RuleViolation) as twice, app.unit_of_work():
        app.backfill([(b, jan), (b, jan)])
    assert twice.value.code == "disbursement.entitlement_known"
    with app.unit_of_work():  # nothing of the refused batches was written
        assert app.backfill([(b, jan)]) == 1
    rows = app.draft_roster(CLERK, YELIN, "2026-06", "dibao").rows
    assert sorted(r.amount for r in rows.values()) == [300, 450]
    assert len(app.draft_roster(CLERK, YELIN, "2026-06", "linshi").rows) == 1


def test_a_payment_arriving_after_its_roster_was_locked_is_paid_on_the_next_one(
        app: DisbursementApplication, keys_dir: Path) -> None:
    """先行救助 granted after the cut, or an approval delayed on the bus: its month's roster
    is already locked, so it would be on no roster at all; the next open month pays it."""
    ring = keyring(keys_dir)
    with app.unit_of_work():
        app.record_temporary_payment(temporary(ring, amount="800.00", month="2026-06"),
                                     upstream(china(date(2026, 6, 3))))
    june = app.draft_roster(CLERK, YELIN, "2026-06", "linshi")
    assert len(june.rows) == 1
    app.lock_roster(CLERK, YELIN, "2026-06", "linshi")
    late = temporary(ring, amount="500.00", month="2026-06", name="王大姐",
                     account="6222020000000098")
    with app.unit_of_work():
        app.record_temporary_payment(late, upstream(china(date(2026, 6, 10))))
    assert len(app.roster(CLERK, YELIN, "2026-06", "linshi").rows) == 1  # locked: unchanged
    app.today = lambda: date(2026, 7, 16)  # type: ignore[method-assign]
    july = app.draft_roster(CLERK, YELIN, "2026-07", "linshi")
    assert [r.amount for r in july.rows.values()] == [500]
    entry = app.get(ledger_id(late.payment_id), "entitlement")
    assert entry.details["roster_locked"] == "2026-06"
