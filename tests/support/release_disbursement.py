"""Writes disbursement's events as the release before issue 24's typing wrote them:
`python -m tests.support.release_disbursement`. A SQLite event store with
encryption at rest (its key beside it) holding every aggregate kind through a realistic
month in 椰林镇: review's policy and decisions, May's three rosters (a hold excluded, a
correction, an export, a bank return with a failure carried forward), the sealed and filed
statistics, a spot check and the county's fund plan to its acknowledgement, then a
backdated decrease owed back (追回), partly recovered and written off, and June's draft.
tests/disbursement/test_release_events.py loads them with the code of today.

Run with the code of the release (it was, at commit f1a6c7f); the output is committed."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

from services.disbursement.domain import HoldResolution, Resolution, Upstream
from services.disbursement.main import DisbursementSettings, build_application
from shared.auth import Principal, Role
from shared.contracts.review import PolicyChanged
from tests.support.disbursement import (
    CHINA_TZ,
    REVIEWER,
    changed,
    china,
    keyring,
    spot_check,
    started,
    temporary,
)
from tests.support.places import YELIN

OUT = Path(__file__).parents[1] / "data" / "release_events" / "disbursement"
MAY, JUNE = "2026-05", "2026-06"
CLERK = Principal("clerk-yelin", Role.TOWNSHIP_CLERK, YELIN, name="陈小梅")
LEADER = Principal("lead-yelin", Role.TOWNSHIP_LEADER, YELIN, name="王建国")
BUREAU = Principal("bureau-1", Role.COUNTY_BUREAU, None, name="李明")
FINANCE = Principal("finance-1", Role.FINANCE_BUREAU, None, org="陵水县财政局")


def uid(name: str) -> UUID:
    """Fixed ids, so the loading test names each aggregate."""
    return uuid5(NAMESPACE_URL, f"lingshui:release-events:disbursement:{name}")


# Entitlements and the 临时救助 payment (keys fixed), and their people.
LI = dict(entitlement_id=uid("li"), case_id=uid("case-li"), name="黎阿婆",
          account="6222020000000015", amount="800.00")
WANG = dict(entitlement_id=uid("wang"), case_id=uid("case-wang"), name="王五",
            account="6222020000000023", amount="650.00")
FU = dict(entitlement_id=uid("fu"), case_id=uid("case-fu"), name="符秀英", amount="1200.00")
PAYMENT_ID, PAYMENT_CASE = uid("payment"), uid("case-payment")
SPOT_CHECK = uid("spot-check")


def event(n: int, type_: str, day: date) -> Upstream:
    return Upstream(event_id=str(uid(f"event-{n}")), type=type_, position=n,
                    occurred_at=china(day).isoformat(), actor=REVIEWER)


def on(app: object, day: date) -> None:
    app.today = lambda: day  # type: ignore[attr-defined]
    app.now = lambda: datetime(day.year, day.month, day.day, 9, tzinfo=CHINA_TZ)  # type: ignore[attr-defined]


def bank_return(*lines: tuple[str, str, str, str, str, str]) -> bytes:
    head = "账号,户名,金额,状态,流水号,失败原因\r\n"
    return (head + "".join(",".join(x) + "\r\n" for x in lines)).encode("utf-8-sig")


def write(var: Path) -> None:
    keys = var / "keys"
    app = build_application(DisbursementSettings(
        var_dir=var, keyring_file=keys / "bus-keyring.json", seal_keys_dir=keys / "seals",
        trust_list_file=keys / "bus-trust.json",
        signing_key_file=keys / "bus-signing" / "disbursement.ed25519.pem",
        encrypt_at_rest=True, seal_algorithm="ed25519"))
    ring = keyring(keys)
    try:
        on(app, date(2026, 4, 20))
        app.record_policy(PolicyChanged(version=1, effective_from=date(2026, 1, 1), table={
            "roster_cutoff_day": 15, "reconcile_by_day": 25, "file_by_day": 28}),
            event(1, "policy_changed", date(2026, 1, 1)))
        for n, p in enumerate((LI, WANG), start=2):
            app.record_entitlement_started(started(
                ring, amount=p["amount"], start_month=MAY, name=p["name"],
                account=p["account"], entitlement_id=p["entitlement_id"],
                case_id=p["case_id"]), event(n, "entitlement_started", date(2026, 4, 20)))
        fu = started(ring, amount=FU["amount"], start_month=MAY, name=FU["name"],
                     kind="tekun", household_size=1, entitlement_id=FU["entitlement_id"],
                     case_id=FU["case_id"], with_payee=False)
        app.record_entitlement_started(fu, event(4, "entitlement_started", date(2026, 4, 20)))
        app.record_temporary_payment(temporary(
            ring, amount="2000.00", month=MAY, case_id=PAYMENT_CASE).model_copy(
                update={"payment_id": PAYMENT_ID}),
            event(5, "temporary_payment_approved", date(2026, 4, 28)))

        on(app, date(2026, 5, 16))
        for kind in ("dibao", "tekun", "linshi"):
            app.draft_roster(CLERK, YELIN, MAY, kind)
        app.draft_roster(CLERK, YELIN, MAY, "dibao")  # redrafted: the same rows
        app.resolve_holds(CLERK, YELIN, MAY, "tekun", [str(FU["entitlement_id"])],
                          HoldResolution.EXCLUDED, "无收款账户，待补录后补发")
        for kind in ("dibao", "tekun", "linshi"):
            app.lock_roster(CLERK, YELIN, MAY, kind)
        app.correct_roster(CLERK, YELIN, MAY, "dibao", str(WANG["entitlement_id"]),
                           Decimal("640.00"), "核减：家庭人口变化，按640元发放")
        app.create_export(CLERK, YELIN, MAY, "dibao", "csv")

        on(app, date(2026, 5, 22))
        roster = app.import_bank_return(CLERK, YELIN, MAY, "dibao", "椰林镇5月回盘.csv",
                                        bank_return(
            (LI["account"], "黎阿婆", "800.00", "成功", "B0001", ""),
            (WANG["account"], "王五", "640.00", "失败", "B0002", "AM04")))
        app.resolve_discrepancies(CLERK, YELIN, MAY, "dibao", list(roster.discrepancies),
                                  Resolution.CARRIED_FORWARD, "余额不足，下月补发")
        app.import_bank_return(CLERK, YELIN, MAY, "linshi", "椰林镇5月临时救助回盘.csv",
                               bank_return(("6222029876543214", "符大哥", "2000.00", "成功",
                                            "B0003", "")))

        on(app, date(2026, 5, 26))
        app.seal_statistics(LEADER, YELIN, MAY)
        app.file_statistics(LEADER, YELIN, MAY)
        app.record_spot_check(spot_check(YELIN, MAY, (LI["case_id"], False, False),
                                         spot_check_id=SPOT_CHECK),
                              event(6, "spot_check_completed", date(2026, 5, 26)))
        app.compile_fund_plan(BUREAU, MAY)
        app.record_spot_check(spot_check(YELIN, MAY, (LI["case_id"], False, True),
                                         spot_check_id=SPOT_CHECK),
                              event(7, "spot_check_completed", date(2026, 5, 27)))
        on(app, date(2026, 5, 27))
        app.compile_fund_plan(BUREAU, MAY)  # recompiled: the error is resolved
        app.issue_fund_plan(BUREAU, MAY, "其余乡镇延期报送，先行下达椰林镇")
        app.household_list(FINANCE, MAY)
        app.acknowledge_fund_plan(FINANCE, MAY, "陵财社〔2026〕18号", "已入一卡通系统")

        on(app, date(2026, 6, 10))
        li = started(ring, amount=LI["amount"], start_month=MAY, name=LI["name"],
                     account=LI["account"], entitlement_id=LI["entitlement_id"],
                     case_id=LI["case_id"])
        app.record_entitlement_changed(
            changed(li, change="decrease", amount="600.00", effective_month=MAY,
                    reasons=["子女务工收入增加"]),
            event(8, "entitlement_changed", date(2026, 6, 10)))
        (owed,) = app.recoveries(CLERK, YELIN)
        key = UUID(owed["key"])
        app.record_recovered(CLERK, key, Decimal("120.00"), "本人退回部分，收据存档")
        app.write_off_recovery(LEADER, key, "家庭确无能力退还，经集体研究核销")
        on(app, date(2026, 6, 16))
        app.draft_roster(CLERK, YELIN, JUNE, "dibao")
    finally:
        app.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        write(var)
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
        # One file, no WAL beside it: SQLite's backup copies what the WAL still holds.
        src, dst = sqlite3.connect(var / "disbursement.db"), sqlite3.connect(
            OUT / "disbursement.db")
        src.backup(dst)
        for (table,) in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                    "AND name != 'disbursement_events'").fetchall():
            dst.execute(f"DROP TABLE {table}")  # read models: rebuilt from the events
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.execute("VACUUM")
        src.close()
        dst.close()
        shutil.copy(var / "keys" / "disbursement-at-rest.key", OUT / "disbursement-at-rest.key")
    for f in sorted(OUT.iterdir()):
        print(f"{f}: {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
