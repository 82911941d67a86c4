"""A province-sized month in disbursement: draft, lock, export, reconcile, statistics.

For each size N (entitlements and 临时救助 payments on the ledger, spread over the county's
11 townships), as deployed (encryption at rest on):
1. a process seeds the ledger through the same application methods review's events reach
   (sealed bank accounts unsealed and fingerprinted, one LedgerEntry per entitlement,
   batches of 1000 per transaction): reported as setup, not part of the month;
2. the month for every township × kind (33 rosters): draft at the cut-off, lock, export
   the bank roster as CSV (the audited export answering with its file, accounts unsealed),
   reconcile the bank's return file with injected discrepancies, resolve them (one
   recorded decision per roster), seal the statistics (XLSX + PDF + SM2 seal), each over a
   copy of the seeded store, in two modes:
   - cold: every step in a fresh process (a new application over the same store, empty
     caches), as a service restarted between the clerks' calls, or one of two replicas,
     serves them; its start-up is reported apart from the step;
   - warm: the whole month in one process, the aggregate cache kept between steps;
3. separately times a later download of each export (regenerated, checked against the
   audited hash) and the XLSX export (for people, not the bank);
4. reports seconds, CPU seconds and peak resident memory (VmHWM, reset before each step)
   per step.

    .venv/bin/python bench/disbursement_month.py                       # 20k and 200k
    .venv/bin/python bench/disbursement_month.py --sizes 20000 --modes cold --json out.json
    .venv/bin/python bench/disbursement_month.py --tree /work/main     # another checkout's code
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

# --tree PATH: measure that checkout's services with this bench (before/after in one run).
_TREE = (sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv
         else str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, _TREE)

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
from shared.fieldcrypt import Keyring  # noqa: E402
from shared.pii import mask_bank_account  # noqa: E402
from shared.runtime import tune_gc  # noqa: E402

CHINA = timezone(timedelta(hours=8))
MONTH = "2026-06"
KINDS = ("dibao", "tekun", "linshi")
MONTH_STEPS = ("draft", "lock", "export_csv", "reconcile", "resolve", "statistics")
DOWNLOAD = "download_csv"
XLSX = "export_xlsx"
LABELS = {DOWNLOAD: "download_csv (again, not in the month)",
          XLSX: "export_xlsx (people, not the bank)"}
MODES = ("cold", "warm")


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
            payee = PayeeRef(name=f"户主{i}", bank="海南农信", account=ring.encrypt(
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


def _settings(work: Path, database_url: str | None, encrypt: bool) -> DisbursementSettings:
    return DisbursementSettings(var_dir=work, database_url=database_url,
                                encrypt_at_rest=encrypt,
                                keyring_file=work / "keys" / "bus-keyring.json")


def _app(work: Path, database_url: str | None, encrypt: bool) -> Any:
    app = build_application(_settings(work, database_url, encrypt))
    app.today = lambda: date(2026, 6, 16)
    app.now = lambda: datetime(2026, 6, 16, 9, 0, tzinfo=CHINA)
    return app


def _timed(result: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    _reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    result[name] = {"seconds": round(time.perf_counter() - t0, 3),
                    "cpu_seconds": round(time.process_time() - c0, 3),
                    "peak_rss_mb": round(_status("VmHWM"), 1)}
    return out


def run_seed(n: int, work: Path, database_url: str | None, encrypt: bool) -> dict[str, Any]:
    tune_gc()  # as ServiceRuntime.serve does for the running service
    app = _app(work, database_url, encrypt)
    ring = Keyring.load_or_create(_settings(work, database_url, encrypt)
                                  .resolved_keyring_file)
    steps: dict[str, Any] = {}
    events = _timed(steps, "seed (setup)",
                    lambda: seed(app, ring, n, app.county.township_codes))
    app.close()
    return {"ledger_events": events, **steps["seed (setup)"]}


class Month:
    """The clerks' and leaders' calls of each step, as they would call the application (no
    HTTP). What one step hands the next (export ids, the exported files, the discrepancies
    found) is kept in `work`, written outside the timed part, so a step can run in a fresh
    process."""

    def __init__(self, app: Any, work: Path) -> None:
        self.app, self.work = app, work
        self.townships = app.county.township_codes
        self.clerks = {t: Principal(f"clerk-{t}", Role.TOWNSHIP_CLERK, t)
                       for t in self.townships}
        self.leaders = {t: Principal(f"leader-{t}", Role.TOWNSHIP_LEADER, t)
                        for t in self.townships}
        self.rosters = [(t, k) for t in self.townships for k in KINDS]
        self.state_file = work / "bench-state.json"
        self.files = work / "bench-files"
        self.files.mkdir(exist_ok=True)
        self.state: dict[str, Any] = (json.loads(self.state_file.read_text())
                                      if self.state_file.exists() else {})

    def save_state(self) -> None:
        self.state_file.write_text(json.dumps(self.state))

    def _file(self, t: str, k: str, what: str) -> Path:
        return self.files / f"{t}-{k}.{what}"

    def draft(self) -> Callable[[], Any]:
        def run() -> list[tuple[int, Decimal]]:  # sizes, not 33 aggregates, kept
            out = []
            for t, k in self.rosters:
                r = self.app.draft_roster(self.clerks[t], t, MONTH, k)
                out.append((len(r.rows), r.total))
            return out
        return run

    def after_draft(self, drafted: list[tuple[int, Decimal]]) -> None:
        self.state["rows"] = sum(n for n, _ in drafted)
        self.state["total_yuan"] = str(sum((total for _, total in drafted), Decimal(0)))

    def lock(self) -> Callable[[], Any]:
        return lambda: [self.app.lock_roster(self.clerks[t], t, MONTH, k) and None
                        for t, k in self.rosters]

    def export(self, fmt: str) -> Callable[[], Any]:
        def run() -> dict[tuple[str, str], tuple[str, bytes]]:
            files = {}
            for t, k in self.rosters:
                meta, content = self.app.create_export(self.clerks[t], t, MONTH, k, fmt)
                files[(t, k)] = (meta["export_id"], content)
            return files
        return run

    def after_export(self, files: dict[tuple[str, str], tuple[str, bytes]]) -> None:
        for (t, k), (export_id, content) in files.items():
            self._file(t, k, "csv").write_bytes(content)
            self.state.setdefault("export_ids", {})[f"{t}-{k}"] = export_id

    def download(self) -> Callable[[], Any]:
        ids = self.state["export_ids"]
        return lambda: {(t, k): self.app.export_file(self.clerks[t], t, MONTH, k,
                                                     ids[f"{t}-{k}"])[1]
                        for t, k in self.rosters}

    def check_download(self, downloaded: dict[tuple[str, str], bytes]) -> None:
        for (t, k), content in downloaded.items():
            assert content == self._file(t, k, "csv").read_bytes(), \
                f"the download of {t} {k} differs from its export"

    def reconcile(self) -> Callable[[], Any]:
        # The bank's files, built before the step (untimed) from the exported ones.
        returns = {(t, k): bank_return(self._file(t, k, "csv").read_bytes(), i)
                   for i, (t, k) in enumerate(self.rosters)}
        self.state["bank_file_mb"] = round(
            sum(len(f) for f, _ in returns.values()) / 2**20, 1)
        self.state["injected"] = sum(x for _, x in returns.values())

        def run() -> dict[str, list[str]]:
            found = {}
            for t, k in self.rosters:
                r = self.app.import_bank_return(self.clerks[t], t, MONTH, k, "return.csv",
                                                returns.pop((t, k))[0])
                found[f"{t}-{k}"] = list(r.discrepancies)
            return found
        return run

    def after_reconcile(self, found: dict[str, list[str]]) -> None:
        self.state["found"] = found
        self.state["discrepancies"] = sum(len(ids) for ids in found.values())

    def resolve(self) -> Callable[[], Any]:
        found = self.state["found"]

        def run() -> None:
            for t, k in self.rosters:
                if ids := found[f"{t}-{k}"]:
                    self.app.resolve_discrepancies(self.clerks[t], t, MONTH, k, ids,
                                                   Resolution.PAID_MANUALLY,
                                                   "checked against the bank's vouchers")
        return run

    def statistics(self) -> Callable[[], Any]:
        return lambda: [self.app.seal_statistics(self.leaders[t], t, MONTH) and None
                        for t in self.townships]


# step name -> (the Month method making the timed call, what is kept of its answer)
STEPS: dict[str, tuple[Callable[[Month], Callable[[], Any]], Any]] = {
    "draft": (Month.draft, Month.after_draft),
    "lock": (Month.lock, None),
    "export_csv": (lambda m: m.export("csv"), Month.after_export),
    DOWNLOAD: (Month.download, Month.check_download),
    "reconcile": (Month.reconcile, Month.after_reconcile),
    "resolve": (Month.resolve, None),
    "statistics": (Month.statistics, None),
    XLSX: (lambda m: m.export("xlsx"), None),
}


def step_order(xlsx: bool) -> list[str]:
    order = ["draft", "lock", "export_csv", DOWNLOAD, "reconcile", "resolve", "statistics"]
    return order + ([XLSX] if xlsx else [])


def run_steps(steps: list[str], work: Path, database_url: str | None,
              encrypt: bool, profile: Path | None = None) -> dict[str, Any]:
    """Run `steps` in this process over the store in `work`, one application object
    (`profile`: cProfile of the timed calls only, saved there)."""
    tune_gc()  # as ServiceRuntime.serve does for the running service
    result: dict[str, Any] = {"steps": {}, "start": {}}
    app = _timed(result["start"], "start", lambda: _app(work, database_url, encrypt))
    result["start"] = result["start"]["start"]
    month = Month(app, work)
    profiler = None
    if profile is not None:
        import cProfile
        profiler = cProfile.Profile()
    for name in steps:
        make, keep = STEPS[name]
        call = make(month)
        if profiler is not None:
            call = functools.partial(profiler.runcall, call)
        out = _timed(result["steps"], name, call)
        if keep is not None:
            keep(month, out)
        del out
        month.save_state()
    app.close()
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
    result["state"] = {k: v for k, v in month.state.items() if k not in ("found", "export_ids")}
    return result


def _child(argv: list[str], tree: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, *argv, "--tree", tree]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _month_totals(steps: dict[str, Any]) -> dict[str, Any]:
    return {"month_seconds": round(sum(steps[s]["seconds"] for s in MONTH_STEPS), 3),
            "month_cpu_seconds": round(sum(steps[s]["cpu_seconds"] for s in MONTH_STEPS), 3),
            "month_peak_rss_mb": max(steps[s]["peak_rss_mb"] for s in MONTH_STEPS)}


def run_size(n: int, modes: list[str], xlsx: bool, database_url: str | None, encrypt: bool,
             tree: str) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-disb-"))
    try:
        seeded = root / "seeded"
        flags = ["--database-url", database_url] if database_url else []
        flags += [] if encrypt else ["--no-encrypt"]
        load = os.getloadavg()[0]
        run: dict[str, Any] = {"n": n, "load_start": load,
                               "seed": _child(["--seed", str(n), "--work", str(seeded),
                                               *flags], tree), "modes": {}}
        run["ledger_events"] = run["seed"].pop("ledger_events")
        for mode in modes:
            work = root / mode
            shutil.copytree(seeded, work)  # the same seeded store for each mode
            order = step_order(xlsx)
            if mode == "warm":
                r = _child(["--steps", ",".join(order), "--work", str(work), *flags], tree)
                got = {"start": r["start"], "steps": r["steps"]}
            else:
                got = {"start": {}, "steps": {}}
                for name in order:
                    r = _child(["--steps", name, "--work", str(work), *flags], tree)
                    got["start"][name], got["steps"][name] = r["start"], r["steps"][name]
            got.update(_month_totals(got["steps"]))
            state = r["state"]
            for k in ("rows", "total_yuan", "bank_file_mb", "discrepancies", "injected"):
                if run.setdefault(k, state[k]) != state[k]:
                    sys.exit(f"{mode}: {k} {state[k]} differs from {run[k]}")
            run["modes"][mode] = got
            shutil.rmtree(work)
        run["load_end"] = os.getloadavg()[0]
        return run
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="20000,200000")
    p.add_argument("--modes", default="cold,warm",
                   help="cold: each step in a fresh process; warm: the month in one")
    p.add_argument("--no-xlsx", action="store_true", help="skip the XLSX export timing")
    p.add_argument("--no-encrypt", action="store_true",
                   help="encryption at rest off (every deployment has it on)")
    p.add_argument("--database-url", default=None,
                   help="an EMPTY PostgreSQL database (one size and one mode per run)")
    p.add_argument("--tree", default=_TREE, help="the checkout whose services are measured")
    p.add_argument("--json", default=None)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--steps", help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--profile", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    encrypt = not args.no_encrypt
    if args.seed:
        args.work.mkdir(parents=True)
        print(json.dumps(run_seed(args.seed, args.work, args.database_url, encrypt)))
        return
    if args.steps:
        print(json.dumps(run_steps(args.steps.split(","), args.work, args.database_url,
                                   encrypt, args.profile)))
        return
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    sizes = [int(x) for x in args.sizes.split(",")]
    if any(m not in MODES for m in modes):
        p.error(f"--modes takes {','.join(MODES)}")
    if args.database_url and (len(modes) > 1 or len(sizes) > 1):
        p.error("a PostgreSQL database holds one month: give one size and one mode")
    runs = []
    started = datetime.now(UTC).isoformat(timespec="seconds")
    for n in sizes:
        runs.append(run_size(n, modes, not args.no_xlsx, args.database_url, encrypt,
                             args.tree))
        report(runs[-1], runs[0])
    summary = {"bench": "disbursement_month", "started_utc": started,
               "python": platform.python_version(), "nproc": os.cpu_count(),
               "tree": args.tree, "commit": subprocess.run(
                   ["git", "rev-parse", "--short", "HEAD"], cwd=args.tree,
                   capture_output=True, text=True).stdout.strip(),
               "backend": "postgres" if args.database_url else "sqlite",
               "encrypt_at_rest": encrypt, "runs": runs}
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(summary, ensure_ascii=False))


def report(run: dict[str, Any], base: dict[str, Any]) -> None:
    print(f"\n== N = {run['n']:,} ledger entries ({run['ledger_events']:,} events): "
          f"{run['rows']:,} roster rows, {run['total_yuan']} yuan, bank files "
          f"{run['bank_file_mb']} MB, {run['injected']:,} injected -> "
          f"{run['discrepancies']:,} discrepancies; load average "
          f"{run['load_start']:.1f} -> {run['load_end']:.1f}")
    s = run["seed"]
    print(f"seed (setup): {s['seconds']:.2f} s, {s['cpu_seconds']:.2f} CPU s, "
          f"peak {s['peak_rss_mb']:.1f} MB")
    for mode, m in run["modes"].items():
        cold = mode == "cold"
        print(f"-- {mode}: " + ("each step in a fresh process (start-up apart)" if cold
                                else "the month in one process, caches kept"))
        print(f"{'step':38} {'seconds':>9} {'CPU s':>7} {'µs/row':>8} {'peak RSS MB':>12}"
              + (f" {'start s':>8}" if cold else ""))
        for name, x in m["steps"].items():
            per_row = x["seconds"] / max(run["rows"], 1) * 1e6
            start = m["start"][name]["seconds"] if cold else None
            print(f"{LABELS.get(name, name):38} {x['seconds']:9.2f} {x['cpu_seconds']:7.2f} "
                  f"{per_row:8.1f} "
                  f"{x['peak_rss_mb']:12.1f}" + (f" {start:8.2f}" if cold else ""))
        b = base["modes"].get(mode, m)
        growth = (m["month_seconds"] / b["month_seconds"]) / (run["n"] / base["n"])
        print(f"{'month (draft..statistics)':38} {m['month_seconds']:9.2f} "
              f"{m['month_cpu_seconds']:7.2f} {m['month_seconds'] / run['rows'] * 1e6:8.1f} "
              f"{m['month_peak_rss_mb']:12.1f}   cost per row vs N={base['n']:,}: "
              f"x{growth:.2f}", flush=True)


if __name__ == "__main__":
    main()
