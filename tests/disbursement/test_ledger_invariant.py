"""Every yuan accounted for, property-based: households paid month by month while the bank
fails payments at random, each failure carried forward. An oracle written here (owed, paid
by the bank file the test itself wrote, still outstanding) must agree with the service:

- per household: owed = paid + outstanding (the last month's failures, carried, not yet due);
- per month: the statistics' paid and carried-forward figures are the bank's, and the fund
  plan's amount is what was paid.

The real application on its own SQLite store, through its commands; nothing is mocked.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.disbursement.bank_files import bank_file_csv
from services.disbursement.domain import Resolution
from shared.bankcards import unionpay_card
from tests.support.actors import CLERK
from tests.support.disbursement import application, china, keyring, started, upstream
from tests.support.places import YELIN

MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]
NAMES = ["黎阿婆", "王五", "符大哥", "陈阿妹"]

households = st.lists(st.integers(min_value=100, max_value=1500), min_size=1, max_size=4)
# For every month, which of the roster's rows the bank fails (drawn per row position).
failures = st.lists(st.lists(st.booleans(), min_size=8, max_size=8), min_size=4, max_size=4)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=households, failing=failures)
def test_owed_equals_paid_plus_outstanding(keys_dir: Path, amounts: list[int],
                                           failing: list[list[bool]]) -> None:
    ring = keyring(keys_dir)
    with tempfile.TemporaryDirectory() as tmp:
        app = application(Path(tmp), keys_dir)
        for i, amount in enumerate(amounts):
            app.record_entitlement_started(
                started(ring, amount=f"{amount}.00", start_month=MONTHS[0], name=NAMES[i],
                        account=unionpay_card(f"622202{i:09d}")),
                upstream(china(date(2025, 12, 20))))
        owed: dict[str, Decimal] = defaultdict(Decimal)
        paid: dict[str, Decimal] = defaultdict(Decimal)
        outstanding: dict[str, Decimal] = defaultdict(Decimal)
        for m, month in enumerate(MONTHS):
            app.today = lambda month=month: date.fromisoformat(f"{month}-16")
            for i, amount in enumerate(amounts):
                owed[NAMES[i]] += amount
            for kind in ("tekun", "linshi"):  # empty, but the statistics want every kind
                app.draft_roster(CLERK, YELIN, month, kind)
                app.lock_roster(CLERK, YELIN, month, kind)
            app.draft_roster(CLERK, YELIN, month, "dibao")
            app.lock_roster(CLERK, YELIN, month, "dibao")
            _, content = app.create_export(CLERK, YELIN, month, "dibao", "csv")
            rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))[1:]
            lines, month_paid, month_failed = [], Decimal(0), Decimal(0)
            outstanding.clear()  # what was carried last month is on this roster
            for n, row in enumerate(rows):
                account, name, value = row[3], row[2], Decimal(row[4])
                fails = failing[m][n % 8]
                lines.append((account, name, value, "failed" if fails else "paid", f"B{n}"))
                if fails:
                    outstanding[name] += value
                    month_failed += value
                else:
                    paid[name] += value
                    month_paid += value
            roster = app.import_bank_return(CLERK, YELIN, month, "dibao", "ret.csv",
                                            bank_file_csv(lines))
            if open_ids := [i for i, d in roster.discrepancies.items()
                            if d["resolution"] is None]:
                app.resolve_discrepancies(CLERK, YELIN, month, "dibao", open_ids,
                                          Resolution.CARRIED_FORWARD, "账户冻结，随下月补发")
            stats = app.seal_statistics(CLERK, YELIN, month)
            total = stats.figures["total"]
            assert (Decimal(total["paid"]), Decimal(total["carried_forward"])) == (
                month_paid, month_failed)
            assert Decimal(total["amount"]) == month_paid + month_failed
        for name in NAMES[:len(amounts)]:
            assert owed[name] == paid[name] + outstanding[name], name
