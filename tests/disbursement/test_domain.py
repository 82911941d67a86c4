"""Disbursement's rules with worked numbers: pure, no store, no network."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.disbursement.domain import (
    AssistanceKind,
    BankLine,
    HeldRow,
    LedgerView,
    MonthlyRoster,
    Payee,
    Resolution,
    RosterStatus,
    StatInput,
    Step,
    check_rosters_ready,
    compile_fund_plan,
    compile_statistics,
    draft_rows,
    in_force,
    money,
    open_roster_month,
    paid_span,
    reconcile,
    rows_digest,
)
from shared.clock import MonthlyRhythm
from shared.errors import RuleViolation
from tests.support import actors

pytestmark = pytest.mark.fast

ACTOR = actors.CLERK.as_actor()
SRC = {"event_id": "e", "type": "entitlement_started", "position": 1,
       "occurred_at": "2026-05-20T10:00:00+08:00", "by": "lead"}


def step(seq: int, month: str, amount: str, change: str = "start", size: int = 2) -> Step:
    return Step(seq, month, Decimal(amount), size, change, {**SRC, "event_id": f"e{seq}"})


def entry(key: str, *steps: Step, account: str | None = "fp-" + "a", name: str = "黎阿婆",
          urban: bool = False) -> LedgerView:
    payee = Payee(name, "农信", {"k": "sealed"}, account, "****1111") if account else None
    return LedgerView(key=key, case_id=f"case-{key}", household_id=f"hh-{key}",
                      village="469028100201", urban=urban, applicant_name=name,
                      policy_version=3, payee=payee, steps=steps)


# --- the cut-off -----------------------------------------------------------------------------


@pytest.mark.parametrize(("recorded", "expected"), [
    (date(2026, 6, 1), "2026-06"), (date(2026, 6, 15), "2026-06"),  # on the cut-off: in
    (date(2026, 6, 16), "2026-07"), (date(2026, 12, 31), "2027-01"),  # after: next month
])
def test_first_payable_month_honours_the_15th(recorded: date, expected: str) -> None:
    assert MonthlyRhythm(cutoff_day=15).first_payable_month(recorded) == expected


def test_a_decision_after_the_cut_off_misses_its_declared_month() -> None:
    # Review approved on 20 May, payment from June (the month after): June's roster.
    assert MonthlyRhythm(cutoff_day=15).roster_month("2026-06", date(2026, 5, 20)) == "2026-06"
    # A decrease decided on 16 June "effective June" reaches the July roster: June's was
    # drafted at the cut-off on the 15th.
    assert MonthlyRhythm(cutoff_day=15).roster_month("2026-06", date(2026, 6, 16)) == "2026-07"
    # ...and on the 10th it still makes June.
    assert MonthlyRhythm(cutoff_day=15).roster_month("2026-06", date(2026, 6, 10)) == "2026-06"
    # With a county setting of the 10th, the 12th is too late.
    assert MonthlyRhythm(cutoff_day=10).roster_month("2026-06", date(2026, 6, 12)) == "2026-07"


def test_the_latest_decision_wins_for_every_month_it_covers() -> None:
    steps = [step(1, "2026-03", "500.00"), step(2, "2026-07", "650.00", "increase"),
             step(3, "2026-06", "420.00", "decrease")]  # decided last, from June on
    assert in_force(steps, "2026-02") is None
    assert in_force(steps, "2026-05").amount == Decimal("500.00")
    assert in_force(steps, "2026-06").amount == Decimal("420.00")
    assert in_force(steps, "2026-08").amount == Decimal("420.00")


def test_paid_span_lets_drafting_skip_long_ended_entitlements() -> None:
    assert paid_span([step(1, "2026-03", "500.00")]) == ("2026-03", None)
    ended = [step(1, "2026-03", "500.00"), step(2, "2026-06", "0", "terminate")]
    assert paid_span(ended) == ("2026-03", "2026-05")
    suspended = [*ended, step(3, "2026-08", "500.00", "resume")]
    assert paid_span(suspended) == ("2026-03", None)


def test_money_refuses_fractions_of_a_fen_and_negatives() -> None:
    assert money("560.5") == Decimal("560.50")
    for bad in ("560.555", "-1", "abc", "NaN"):
        with pytest.raises(RuleViolation):
            money(bad)


# --- drafting --------------------------------------------------------------------------------


def test_roster_amounts_from_known_entitlements() -> None:
    entries = [
        entry("a", step(1, "2026-06", "560.00")),  # starts this month: new
        entry("b", step(1, "2026-03", "300.00"),
              step(2, "2026-06", "0", "terminate")),  # ends this month
        entry("c", step(1, "2026-01", "480.00"),
              step(2, "2026-06", "520.00", "increase", size=3)),  # changed
        entry("d", step(1, "2026-01", "200.00")),  # unchanged
        entry("e", step(1, "2026-07", "700.00")),  # starts next month: not yet
    ]
    rows, changes = draft_rows(AssistanceKind.DIBAO, "2026-06", entries)
    assert {r.key: r.amount for r in rows} == {
        "a": Decimal("560.00"), "c": Decimal("520.00"), "d": Decimal("200.00")}
    assert sum(r.amount for r in rows) == Decimal("1280.00")
    assert next(r for r in rows if r.key == "c").household_size == 3
    assert next(r for r in rows if r.key == "c").source == "e2"  # the decision in force
    assert {c["key"]: (c["change"], c["previous"], c["amount"]) for c in changes} == {
        "a": ("new", "0.00", "560.00"), "b": ("ended", "300.00", "0.00"),
        "c": ("changed", "480.00", "520.00")}
    cause = next(c for c in changes if c["key"] == "b")["causes"]
    assert [x["change"] for x in cause] == ["terminate"] and cause[0]["event_id"] == "e2"


def test_temporary_payments_of_the_month_only() -> None:
    entries = [entry("t1", step(1, "2026-06", "1500.00", "payment")),
               entry("t2", step(1, "2026-05", "800.00", "payment"))]  # paid last month
    rows, changes = draft_rows(AssistanceKind.LINSHI, "2026-06", entries)
    assert [(r.key, r.amount) for r in rows] == [("t1", Decimal("1500.00"))]
    assert [c["change"] for c in changes] == ["payment"]


def test_a_row_without_a_bank_account_keeps_the_applicants_name() -> None:
    rows, _ = draft_rows(AssistanceKind.DIBAO, "2026-06",
                         [entry("a", step(1, "2026-06", "100.00"), account=None)])
    assert rows[0].account_fp is None and rows[0].name == "黎阿婆"


# --- the roster aggregate ----------------------------------------------------------------------


def roster(*entries: LedgerView) -> MonthlyRoster:
    rows, changes = draft_rows(AssistanceKind.DIBAO, "2026-06", entries)
    return MonthlyRoster(township="469028100", month="2026-06", kind="dibao",
                         cutoff=date(2026, 6, 15), rows=[r.to_wire() for r in rows],
                         changes=changes, actor=ACTOR.stored())


def test_after_locking_only_a_correction_with_reason_changes_it() -> None:
    r = roster(entry("a", step(1, "2026-06", "560.00")), entry("b", step(1, "2026-01", "90.00")))
    with pytest.raises(RuleViolation) as e:
        r.correct("a", Decimal("500.00"), "typo", ACTOR)
    assert e.value.code == "disbursement.roster_not_locked"
    r.lock(date(2026, 6, 15), ACTOR)
    assert r.status is RosterStatus.LOCKED and r.digest == rows_digest(r.rows.values())
    with pytest.raises(RuleViolation) as e:
        r.redraft(date(2026, 6, 15), [], [], ACTOR)
    assert e.value.code == "disbursement.roster_locked"
    with pytest.raises(RuleViolation) as e:
        r.correct("a", Decimal("500.00"), "  ", ACTOR)
    assert e.value.code == "disbursement.reason_required"
    locked_digest = r.digest
    r.correct("a", Decimal("500.00"), "household income re-checked on 16 June", ACTOR)
    r.correct("b", Decimal("0.00"), "died on 2 June; stop", ACTOR)
    assert r.total == Decimal("500.00") and list(r.rows) == ["a"]
    assert r.digest != locked_digest
    assert [c["reason"] for c in r.corrections] == [
        "household income re-checked on 16 June", "died on 2 June; stop"]
    assert [type(e).__name__ for e in r.collect_events()][-2:] == ["Corrected", "Corrected"]


# --- reconciliation --------------------------------------------------------------------------


def line(n: int, fp: str, name: str, amount: str, status: str = "paid") -> BankLine:
    return BankLine(line=n, account_fp=fp, account_mask="****", name=name,
                    amount=Decimal(amount), status=status, reference=f"B{n}")


def test_reconciliation_reports_every_kind_of_discrepancy() -> None:
    rows, _ = draft_rows(AssistanceKind.DIBAO, "2026-06", [
        entry("ok", step(1, "2026-01", "100.00"), account="fp-ok", name="甲"),
        entry("gone", step(1, "2026-01", "200.00"), account="fp-gone", name="乙"),
        entry("short", step(1, "2026-01", "300.00"), account="fp-short", name="丙"),
        entry("renamed", step(1, "2026-01", "400.00"), account="fp-renamed", name="丁一"),
        entry("bounced", step(1, "2026-01", "500.00"), account="fp-bounced", name="戊"),
    ])
    found = reconcile(rows, [
        line(2, "fp-ok", "甲", "100.00"), line(3, "fp-short", "丙", "250.00"),
        line(4, "fp-renamed", "丁二", "400.00"), line(5, "fp-bounced", "戊", "500.00", "failed"),
        line(6, "fp-stranger", "己", "600.00"), line(7, "fp-ok", "甲", "100.00"),  # twice
    ])
    summary = sorted((d["kind"], d["key"], d["line"]) for d in found)
    assert summary == [
        ("amount_differs", "short", 3), ("extra", None, 6), ("extra", None, 7),
        ("failed", "bounced", 5), ("missing", "gone", None), ("name_differs", "renamed", 4)]
    ok = [r for r in rows if r.key == "ok"]
    assert reconcile(ok, [line(2, "fp-ok", " 甲 ", "100.00")]) == []  # spaces ignored


def test_instalments_on_one_account_pair_by_amount() -> None:
    rows, _ = draft_rows(AssistanceKind.LINSHI, "2026-06", [
        entry("i1", step(1, "2026-06", "1000.00", "payment"), account="fp-x"),
        entry("i2", step(1, "2026-06", "500.00", "payment"), account="fp-x")])
    assert reconcile(rows, [line(2, "fp-x", "黎阿婆", "500.00"),
                            line(3, "fp-x", "黎阿婆", "1000.00")]) == []


def test_reconciled_only_when_every_discrepancy_is_resolved_with_reason() -> None:
    r = roster(entry("a", step(1, "2026-01", "100.00"), account="fp-a"),
               entry("b", step(1, "2026-01", "200.00"), account="fp-b"))
    r.lock(date(2026, 6, 15), ACTOR)
    r.import_bank_return(file_name="ret.csv", sha256="h", lines=[line(2, "fp-a", "黎阿婆",
                                                                      "100.00")],
                         imported_on=date(2026, 6, 21), due_on=date(2026, 6, 20), actor=ACTOR)
    assert r.status is RosterStatus.LOCKED and list(r.discrepancies) == ["d1"]
    assert r.bank_return is not None and r.bank_return["late"] is True
    with pytest.raises(RuleViolation):
        r.resolve(["d1"], Resolution.PAID_MANUALLY, "", date(2026, 6, 21), ACTOR)
    with pytest.raises(RuleViolation) as e:
        r.resolve(["d9"], Resolution.PAID_MANUALLY, "cash", date(2026, 6, 21), ACTOR)
    assert e.value.code == "disbursement.discrepancy_unknown"
    r.resolve(["d1"], Resolution.PAID_MANUALLY, "paid in cash on 21 June, receipt 0042",
              date(2026, 6, 21), ACTOR)
    assert r.status is RosterStatus.RECONCILED
    with pytest.raises(RuleViolation) as e:
        r.correct("a", Decimal("1.00"), "late fix", ACTOR)
    assert e.value.code == "disbursement.roster_reconciled"


def test_a_clean_bank_return_reconciles_at_once() -> None:
    r = roster(entry("a", step(1, "2026-01", "100.00"), account="fp-a"))
    r.lock(date(2026, 6, 15), ACTOR)
    r.import_bank_return(file_name="ret.csv", sha256="h",
                         lines=[line(2, "fp-a", "黎阿婆", "100.00")],
                         imported_on=date(2026, 6, 18), due_on=date(2026, 6, 20), actor=ACTOR)
    assert r.status is RosterStatus.RECONCILED


# --- statistics and the fund plan --------------------------------------------------------------


def test_statistics_count_households_persons_and_money_by_kind_and_area() -> None:
    figures = compile_statistics([
        StatInput("dibao", False, "h1", 3, Decimal("840.00")),
        StatInput("dibao", False, "h2", 1, Decimal("280.00")),
        StatInput("dibao", True, "h3", 2, Decimal("840.00")),
        StatInput("dibao", True, "h5", 1, Decimal("300.00"), arrears=True),  # 补发
        StatInput("linshi", True, "h4", 4, Decimal("1000.00")),  # two instalments,
        StatInput("linshi", True, "h4", 4, Decimal("500.00")),  # one household
    ], {("dibao", False): (1, 2)},
        carried={("dibao", True): Decimal("840.00")},  # h3's failed, carried
        failed={("dibao", True): Decimal("840.00"), ("dibao", False): Decimal("280.00")},
        recovered={("dibao", False): Decimal("120.00")})  # h2's failure paid by hand
    lines = {(x["kind"], x["urban"]): x for x in figures["lines"]}
    assert lines[("dibao", False)] == {"kind": "dibao", "urban": False, "households": 2,
                                       "persons": 4, "amount": "1120.00", "new": 1, "ended": 2,
                                       "paid": "1120.00", "carried_forward": "0.00",
                                       "failed": "280.00", "arrears": "0.00",
                                       "recovered": "120.00"}
    assert lines[("dibao", True)]["paid"] == "300.00"  # h3 on the roster, not paid: carried
    assert lines[("dibao", True)]["arrears"] == "300.00"
    assert lines[("linshi", True)]["households"] == 1
    assert lines[("linshi", True)]["amount"] == "1500.00"
    assert figures["total"] == {"households": 5, "persons": 11, "amount": "3760.00", "new": 1,
                                "ended": 2, "paid": "2920.00", "carried_forward": "840.00",
                                "failed": "1120.00", "arrears": "300.00",
                                "recovered": "120.00"}
    plan = compile_fund_plan([{"township": "469028100", "figures": figures, "late": False,
                               "rows": {"dibao": 4, "tekun": 0, "linshi": 2},
                               "documents": []}], [], ["469028100"])
    dibao = next(k for k in plan["townships"][0]["kinds"] if k["kind"] == "dibao")
    # What the bank paid (the 补发 row in, the carried failure out) less what came back.
    assert (dibao["paid"], dibao["arrears"], dibao["recovered"], dibao["amount"]) == (
        "1420.00", "300.00", "120.00", "1300.00")
    assert plan["total"] == "2800.00"


def test_statistics_need_every_kind_reconciled() -> None:
    ready = {"status": "reconciled", "rows": 3}
    with pytest.raises(RuleViolation) as e:
        check_rosters_ready({"dibao": ready, "tekun": ready})
    assert e.value.code == "disbursement.rosters_not_ready"
    with pytest.raises(RuleViolation):
        check_rosters_ready({"dibao": ready, "tekun": ready,
                             "linshi": {"status": "locked", "rows": 2}})
    check_rosters_ready({"dibao": ready, "tekun": ready,
                         "linshi": {"status": "locked", "rows": 0}})  # nothing to pay


def test_fund_plan_holds_back_rows_with_unresolved_spot_check_errors() -> None:
    figures = compile_statistics([StatInput("dibao", False, "h1", 2, Decimal("600.00")),
                                  StatInput("dibao", False, "h2", 2, Decimal("400.00")),
                                  StatInput("tekun", True, "h3", 1, Decimal("900.00"))], {})
    filing = {"township": "469028100", "figures": figures, "late": True,
              "rows": {"dibao": 2, "tekun": 1, "linshi": 0}, "documents": []}
    held = [HeldRow("469028100", "dibao", "k2", "case-2", Decimal("400.00"), "sc-1",
                    "income under-reported")]
    plan = compile_fund_plan([filing], held, ["469028100", "469028101"])
    t = plan["townships"][0]
    assert t["flagged"] is True and t["late"] is True
    dibao = next(k for k in t["kinds"] if k["kind"] == "dibao")
    assert (dibao["amount"], dibao["rows"], dibao["held_back_amount"]) == ("600.00", 1,
                                                                           "400.00")
    assert plan["totals"] == {"dibao": "600.00", "tekun": "900.00", "linshi": "0.00"}
    assert plan["total"] == "1500.00" and plan["rows"] == 2
    assert plan["missing_townships"] == ["469028101"]
    clean = compile_fund_plan([filing], [], ["469028100"])
    assert clean["townships"][0]["flagged"] is False and clean["total"] == "1900.00"


def test_a_payment_for_a_locked_month_goes_to_the_next_open_roster() -> None:
    assert open_roster_month("2026-06", set()) == "2026-06"
    assert open_roster_month("2026-06", {"2026-05"}) == "2026-06"
    assert open_roster_month("2026-12", {"2026-12", "2027-01"}) == "2027-02"
