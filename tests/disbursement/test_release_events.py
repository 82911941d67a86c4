"""Events written by the release before the domain's typed values (issue 24) still load:
every aggregate of tests/data/release_events/disbursement (made by
tests/support/release_disbursement.py with that release's code, encrypted at rest) is
rebuilt by today's code to the state the flow left it in. The stored event form is plain
data, so no upcaster is involved."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.disbursement.domain import (
    FundPlanStatus,
    LedgerEntry,
    RosterStatus,
    StatisticsStatus,
    adjustment_key,
    arrears_key,
    fund_plan_id,
    ledger_id,
    policy_rhythm_id,
    roster_id,
    spot_check_id,
    statistics_id,
)
from services.disbursement.main import DisbursementSettings, build_application
from tests.support.places import YELIN
from tests.support.release_disbursement import (
    FU,
    LI,
    MAY,
    OUT,
    PAYMENT_ID,
    SPOT_CHECK,
    WANG,
    uid,
)

pytestmark = pytest.mark.fast

REGION = "469028"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    var = tmp_path_factory.mktemp("release")
    shutil.copy(OUT / "disbursement.db", var / "disbursement.db")  # never write the original
    application = build_application(DisbursementSettings(
        var_dir=var, encrypt_at_rest=True, cipher_key_file=OUT / "disbursement-at-rest.key",
        seal_keys_dir=var / "seals"))
    yield application
    application.close()


def key(p: dict[str, Any]) -> str:
    return str(p["entitlement_id"])


def test_the_files_are_small_and_encrypted() -> None:
    db = OUT / "disbursement.db"
    assert db.stat().st_size < 300_000
    assert "黎阿婆".encode() not in db.read_bytes()  # names only under the at-rest cipher


def test_ledger_entries_keep_their_steps_payees_and_recoveries(app: Any) -> None:
    li: LedgerEntry = app.get(ledger_id(LI["entitlement_id"]))
    assert (li.entry_type, li.kind, li.township, li.applicant_name, li.urban) == (
        "entitlement", "dibao", YELIN, "黎阿婆", False)
    assert [(s.seq, s.month, s.amount, s.change) for s in li.steps] == [
        (1, "2026-05", Decimal("800.00"), "start"),  # the decrease reaches June's roster
        (2, "2026-06", Decimal("600.00"), "decrease")]
    assert li.steps[1].reasons == ("子女务工收入增加",)
    assert li.payee is not None and li.payee["account_mask"] == "************0015"
    assert li.payee["name"] == "黎阿婆" and li.payee["account_sealed"]["kid"]

    fu = app.get(ledger_id(FU["entitlement_id"]))
    assert (fu.kind, fu.payee, fu.steps[0].household_size) == ("tekun", None, 1)
    payment = app.get(ledger_id(PAYMENT_ID))
    assert (payment.entry_type, payment.kind, payment.steps[0].amount,
            payment.details["instalments"]) == ("temporary_payment", "linshi",
                                                Decimal("2000.00"), 1)

    may_dibao = roster_id(YELIN, MAY, "dibao")
    carried = app.get(ledger_id(arrears_key(may_dibao, key(WANG))))
    assert (carried.entry_type, carried.steps[0].month, carried.steps[0].amount,
            carried.steps[0].source["type"]) == ("arrears", "2026-06", Decimal("640.00"),
                                                 "carried_forward")
    held = app.get(ledger_id(arrears_key(roster_id(YELIN, MAY, "tekun"), key(FU))))
    assert (held.steps[0].source["type"], held.steps[0].amount) == ("held_over",
                                                                   Decimal("1200.00"))

    # May was paid 800 on a locked roster, then decided 600: 200 owed back.
    recovery = app.get(ledger_id(adjustment_key(LI["entitlement_id"], str(uid("event-8")),
                                                MAY)))
    assert (recovery.entry_type, recovery.steps[0].amount, recovery.recovered,
            recovery.written_off, recovery.recovery_outstanding) == (
        "recovery", Decimal("200.00"), Decimal("120.00"), Decimal("80.00"), Decimal("0.00"))
    assert recovery.details["original_month"] == MAY


def test_rosters_keep_rows_holds_corrections_exports_and_the_bank_return(app: Any) -> None:
    dibao = app.get(roster_id(YELIN, MAY, "dibao"))
    assert dibao.status is RosterStatus.RECONCILED
    assert {k: (r.name, r.amount) for k, r in dibao.rows.items()} == {
        key(LI): ("黎阿婆", Decimal("800.00")), key(WANG): ("王五", Decimal("640.00"))}
    assert dibao.total == Decimal("1440.00") and dibao.digest is not None
    (correction,) = dibao.corrections
    assert (correction["previous"], correction["amount"], correction["actor"]["name"]) == (
        "650.00", "640.00", "陈小梅")
    (export,) = dibao.exports.values()
    assert (export["format"], export["layout"], export["user_id"]) == ("csv", "v2-utf-8",
                                                                      "clerk-yelin")
    assert dibao.bank_return is not None
    assert (dibao.bank_return["paid_total"], dibao.bank_return["imported_on"],
            dibao.bank_return["late"]) == (Decimal("800.00"), date(2026, 5, 22), False)
    (failed,) = dibao.discrepancies.values()
    assert (failed["kind"], failed["key"], failed["reason_code"], failed["resolution"],
            failed["resolved_by"]) == ("failed", key(WANG), "AM04", "carried_forward",
                                       "clerk-yelin")

    tekun = app.get(roster_id(YELIN, MAY, "tekun"))
    assert (tekun.status, tekun.rows) == (RosterStatus.LOCKED, {})
    hold = tekun.holds[key(FU)]
    assert (hold["resolution"], hold["reasons"][0]["code"], hold["resolved_by"]) == (
        "excluded", "no_account", "clerk-yelin")

    linshi = app.get(roster_id(YELIN, MAY, "linshi"))
    assert (linshi.status, linshi.total) == (RosterStatus.RECONCILED, Decimal("2000.00"))

    june = app.get(roster_id(YELIN, "2026-06", "dibao"))
    assert june.status is RosterStatus.DRAFTED and june.cutoff == date(2026, 6, 15)
    assert sorted((r.name, str(r.amount)) for r in june.rows.values()) == [
        ("王五", "640.00"), ("王五", "650.00"), ("黎阿婆", "600.00")]
    assert {c["change"] for c in june.changes} >= {"arrears", "changed", "recovery"}


def test_statistics_fund_plan_spot_check_and_rhythm(app: Any) -> None:
    stats = app.get(statistics_id(YELIN, MAY))
    assert (stats.status, stats.filed_on, stats.late) == (StatisticsStatus.FILED,
                                                           date(2026, 5, 26), False)
    rural_dibao = next(x for x in stats.figures["lines"]
                       if x["kind"] == "dibao" and not x["urban"])
    assert (rural_dibao["households"], rural_dibao["amount"], rural_dibao["paid"],
            rural_dibao["carried_forward"]) == (2, "1440.00", "800.00", "640.00")
    assert sorted(d["document_kind"] for d in stats.documents) == ["statistics_pdf",
                                                                    "statistics_xlsx"]
    assert {r["kind"]: r["status"] for r in stats.rosters} == {
        "dibao": "reconciled", "tekun": "locked", "linshi": "reconciled"}

    plan = app.get(fund_plan_id(REGION, MAY))
    assert plan.status is FundPlanStatus.ACKNOWLEDGED
    assert (plan.plan["total"], plan.plan["held_back"], plan.issued_on) == (
        "2800.00", [], date(2026, 5, 27))
    assert plan.document is not None and plan.document.document_kind == "fund_plan_json"
    assert plan.acknowledgement == {
        "receipt_reference": "陵财社〔2026〕18号", "note": "已入一卡通系统",
        "actor": {"user_id": "finance-1", "role": "finance_bureau", "township": None,
                  "village": None, "org": "陵水县财政局"}}
    (listed,) = plan.household_lists
    assert (listed["rows"], listed["total"], listed["by"]) == (2, "2800.00", "finance-1")

    check = app.get(spot_check_id(SPOT_CHECK))
    assert (check.township, check.month) == (YELIN, MAY)
    assert [(r["case_id"], r["upheld"], r["resolved"]) for r in check.results] == [
        (str(LI["case_id"]), False, True)]

    rhythm = app.get(policy_rhythm_id(REGION))
    version = rhythm.schedule().of_month(MAY)
    assert (version.cutoff_day, version.reconcile_by_day, version.file_by_day) == (15, 25, 28)
