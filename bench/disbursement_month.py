"""A province-sized month in disbursement: draft, lock, export, reconcile, statistics.

For each size N (entitlements and 临时救助 payments on the ledger, spread over the county's
11 townships), a fresh process:
1. seeds the ledger through the same application methods review's events reach (sealed bank
   accounts unsealed and fingerprinted, one LedgerEntry per entitlement, batches of 1000 per
   transaction): reported as setup, not part of the month;
2. times the month for every township × kind (33 rosters): draft at the cut-off, lock,
   export the bank roster as CSV (the audited export answering with its file, accounts
   unsealed), reconcile the bank's return file with injected discrepancies, resolve them
   (one recorded decision per roster), seal the statistics (XLSX + PDF + SM2 seal);
3. separately times a later download of each export (regenerated, checked against the
   audited hash) and the XLSX export (for people, not the bank);
4. reports seconds and peak resident memory (VmHWM, reset before each step) per step.

    .venv/bin/python bench/disbursement_month.py                       # 20k and 200k
    .venv/bin/python bench/disbursement_month.py --sizes 1000000       # once: ~30 min
    .venv/bin/python bench/disbursement_month.py --sizes 20000 --json out.json
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.disbursement.bank_files import bank_file_csv  # noqa: E402
from services.disbursement.domain import Resolution, Upstream  # noqa: E402
from services.disbursement.main import DisbursementSettings, build_application  # noqa: E402
from shared.auth import Principal, Role  # noqa: E402
from shared.bankcards import unionpay_card  # noqa: E402
from shared.contracts.common import AssistanceKind  # noqa: E402
from shared.contracts.review import (  # noqa: E402
    EntitlementChanged,
    EntitlementStarted,
    PayeeRef,
    TemporaryPaymentApproved,
)
from shared.pii import Keyring, mask_bank_account  # noqa: E402
from shared.runtime import tune_gc  # noqa: E402

CHINA = timezone(timedelta(hours=8))
MONTH = "2026-06"
KINDS = ("dibao", "tekun", "linshi")
MONTH_STEPS = ("draft", "lock", "export_csv", "reconcile", "resolve", "statistics")
DOWNLOAD = "download_csv (again, not in the month)"


def _status(field: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> bool:
    try:  # Linux: "5" resets the peak RSS (VmHWM) to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _upstream(position: int, type_: str, day: date) -> Upstream:
    return Upstream(event_id=str(uuid4()), type=type_, position=position,
                    occurred_at=datetime(day.year, day.month, day.day, 10,
                                         tzinfo=CHINA).isoformat(),
                    actor={"user_id": "bench-reviewer", "role": "township_leader"})


def seed(app: Any, ring: Keyring, n: int, townships: tuple[str, ...]) -> int:
    """N ledger entries: 5 % 临时救助 payments this month, 25 % 特困, the rest 低保; 2 %
    start this month, 1 % decrease and 1 % end this month. Entries arrive through
    `backfill` (建账, one transaction per 1000), changes one event each through the
    consumer's method (a batch's changes in one transaction: this is setup). Returns the
    events written."""
    events = 0
    for first in range(0, n, 1000):
        items: list[Any] = []
        changes: list[Any] = []
        for i in range(first, min(first + 1000, n)):
            t = townships[i % len(townships)]
            village = f"{t}{201 + i % 5:03d}"
            account = unionpay_card(f"6222{i:011d}")
            payee = PayeeRef(name=f"户主{i}", bank="海南农信", account=ring.seal(
                account, mask_bank_account(account), "payee.account"))
            if i % 20 == 0:
                items.append((TemporaryPaymentApproved(
                    payment_id=uuid4(), case_id=uuid4(), household_id=f"h{i}", township=t,
                    village=village, urban=i % 3 == 0, applicant_name=f"户主{i}",
                    household_size=1 + i % 5, amount=Decimal("1500.00"), month=MONTH,
                    advance=i % 40 == 0, payee=payee),
                    _upstream(i, "temporary_payment_approved", date(2026, 6, 8))))
                continue
            kind = AssistanceKind.TEKUN if i % 4 == 1 else AssistanceKind.DIBAO
            new = i % 50 == 2
            e = EntitlementStarted(
                entitlement_id=uuid4(), case_id=uuid4(), household_id=f"h{i}", kind=kind,
                township=t, village=village, urban=i % 3 == 0, applicant_name=f"户主{i}",
                household_size=1 + i % 5,
                monthly_amount=Decimal(1200 if kind is AssistanceKind.TEKUN else 200 + i % 500),
                breakdown={}, start_month=MONTH if new else "2026-01", policy_version=1,
                payee=payee)
            items.append((e, _upstream(i, "entitlement_started",
                                       date(2026, 5, 20) if new else date(2025, 12, 10))))
            if i % 100 in (3, 4):
                change = "decrease" if i % 100 == 3 else "terminate"
                changes.append((EntitlementChanged(
                    entitlement_id=e.entitlement_id, case_id=e.case_id, kind=kind, township=t,
                    village=village, change=change,
                    monthly_amount=Decimal(0) if change == "terminate" else e.monthly_amount - 50,
                    household_size=e.household_size, effective_month=MONTH,
                    reasons=["re-check"]), _upstream(i, "entitlement_changed", date(2026, 6, 5))))
        with app.unit_of_work():
            events += app.backfill(items)
        with app.unit_of_work():  # setup: the batch's changes in one transaction
            for c, up in changes:
                app.record_entitlement_changed(c, up)
                events += 1
    return events


def bank_return(exported: bytes, salt: int) -> tuple[bytes, int]:
    """What the bank sends back: the export, with discrepancies injected (0.5 % missing,
    0.2 % each amount differs / name differs / failed, 0.1 % extra lines)."""
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))[1:]
    out, injected = [], 0
    for j, (_, ref, name, account, amount, *_rest) in enumerate(rows):
        k = (j + salt) % 1000
        status = "paid"
        if k < 5:
            injected += 1
            continue
        if k in (10, 11):
            amount, injected = str(Decimal(amount) + 1), injected + 1
        elif k in (20, 21):
            name, injected = name + "某", injected + 1
        elif k in (30, 31):
            status, injected = "failed", injected + 1
        out.append((account.strip(), name, amount, status, f"BANK-{ref[:8]}"))  # tab: Excel
        if k == 40:
            out.append((f"9999{j:012d}", "陌生人", "100.00", "paid", "BANK-X"))
            injected += 1
    return bank_file_csv(out), injected


def run_one(n: int, xlsx: bool, database_url: str | None) -> dict[str, Any]:
    tune_gc()  # as ServiceRuntime.serve does for the running service
    tmp = Path(tempfile.mkdtemp(prefix="bench-disb-"))
    settings = DisbursementSettings(var_dir=tmp, database_url=database_url,
                                    keyring_file=tmp / "keys" / "bus-keyring.json")
    app = build_application(settings)
    ring = Keyring.load_or_create(settings.resolved_keyring_file)
    townships = app.county.township_codes
    app.today = lambda: date(2026, 6, 16)
    app.now = lambda: datetime(2026, 6, 16, 9, 0, tzinfo=CHINA)
    clerks = {t: Principal(f"clerk-{t}", Role.TOWNSHIP_CLERK, t) for t in townships}
    leaders = {t: Principal(f"leader-{t}", Role.TOWNSHIP_LEADER, t) for t in townships}
    rosters = [(t, k) for t in townships for k in KINDS]
    result: dict[str, Any] = {"n": n, "steps": {}}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        _reset_peak()
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        result["steps"][name] = {"seconds": round(time.perf_counter() - t0, 3),
                                 "cpu_seconds": round(time.process_time() - c0, 3),
                                 "peak_rss_mb": round(_status("VmHWM"), 1)}
        return out

    result["ledger_events"] = timed("seed (setup)", lambda: seed(app, ring, n, townships))
    def draft() -> list[tuple[int, Decimal]]:  # keep sizes, not 33 aggregates, in memory
        out = []
        for t, k in rosters:
            r = app.draft_roster(clerks[t], t, MONTH, k)
            out.append((len(r.rows), r.total))
        return out

    drafted = timed("draft", draft)
    result["rows"] = sum(n for n, _ in drafted)
    result["total_yuan"] = str(sum((total for _, total in drafted), Decimal(0)))
    timed("lock", lambda: [app.lock_roster(clerks[t], t, MONTH, k) for t, k in rosters])

    export_ids: dict[tuple[str, str], str] = {}

    def export(fmt: str) -> dict[tuple[str, str], bytes]:
        files = {}
        for t, k in rosters:
            meta, files[(t, k)] = app.create_export(clerks[t], t, MONTH, k, fmt)
            export_ids[(t, k)] = meta["export_id"]
        return files

    exported = timed("export_csv", lambda: export("csv"))
    downloaded = timed(DOWNLOAD, lambda: {  # a later download: regenerated, hash checked
        (t, k): app.export_file(clerks[t], t, MONTH, k, export_ids[(t, k)])[1]
        for t, k in rosters})
    assert downloaded == exported, "a download differs from its export"
    downloaded.clear()
    returns = {key: bank_return(content, i) for i, (key, content) in enumerate(exported.items())}
    result["bank_file_mb"] = round(sum(len(f) for f, _ in returns.values()) / 2**20, 1)
    def reconcile() -> dict[tuple[str, str], list[str]]:
        found = {}
        for t, k in rosters:
            r = app.import_bank_return(clerks[t], t, MONTH, k, "return.csv", returns[(t, k)][0])
            found[(t, k)] = list(r.discrepancies)
        return found

    imported = timed("reconcile", reconcile)
    result["discrepancies"] = sum(len(ids) for ids in imported.values())
    result["injected"] = sum(x for _, x in returns.values())
    exported.clear()
    returns.clear()

    def resolve() -> None:
        for (t, k), ids in imported.items():
            if ids:
                app.resolve_discrepancies(clerks[t], t, MONTH, k, ids,
                                          Resolution.PAID_MANUALLY,
                                          "checked against the bank's vouchers")

    timed("resolve", resolve)
    timed("statistics", lambda: [app.seal_statistics(leaders[t], t, MONTH) for t in townships])
    if xlsx:
        timed("export_xlsx (people, not the bank)", lambda: export("xlsx"))
    result["month_seconds"] = round(sum(result["steps"][s]["seconds"] for s in MONTH_STEPS), 3)
    result["month_cpu_seconds"] = round(
        sum(result["steps"][s]["cpu_seconds"] for s in MONTH_STEPS), 3)
    result["month_peak_rss_mb"] = max(result["steps"][s]["peak_rss_mb"] for s in MONTH_STEPS)
    app.close()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="20000,200000")
    p.add_argument("--no-xlsx", action="store_true", help="skip the XLSX export timing")
    p.add_argument("--database-url", default=None, help="an EMPTY PostgreSQL database")
    p.add_argument("--json", default=None)
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, not args.no_xlsx, args.database_url)))
        return
    runs = []
    for n in (int(x) for x in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--one", str(n)]
        cmd += ["--no-xlsx"] if args.no_xlsx else []
        cmd += ["--database-url", args.database_url] if args.database_url else []
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        report(runs[-1], runs[0])
    summary = {"python": platform.python_version(), "nproc": os.cpu_count(),
               "backend": "postgres" if args.database_url else "sqlite", "runs": runs}
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))


def report(run: dict[str, Any], base: dict[str, Any]) -> None:
    print(f"\n== N = {run['n']:,} ledger entries ({run['ledger_events']:,} events): "
          f"{run['rows']:,} roster rows, {run['total_yuan']} yuan, bank files "
          f"{run['bank_file_mb']} MB, {run['injected']:,} injected -> "
          f"{run['discrepancies']:,} discrepancies")
    print(f"{'step':38} {'seconds':>9} {'CPU s':>7} {'µs/row':>8} {'peak RSS MB':>12}")
    for name, s in run["steps"].items():
        per_row = s["seconds"] / max(run["rows"], 1) * 1e6
        print(f"{name:38} {s['seconds']:9.2f} {s['cpu_seconds']:7.2f} {per_row:8.1f} "
              f"{s['peak_rss_mb']:12.1f}")
    growth = (run["month_seconds"] / base["month_seconds"]) / (run["n"] / base["n"])
    print(f"{'month (draft..statistics)':38} {run['month_seconds']:9.2f} "
          f"{run['month_cpu_seconds']:7.2f} {run['month_seconds'] / run['rows'] * 1e6:8.1f} "
          f"{run['month_peak_rss_mb']:12.1f}   cost per row vs N={base['n']:,}: x{growth:.2f}",
          flush=True)
    print(f"load average now: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}",
          flush=True)


if __name__ == "__main__":
    main()
