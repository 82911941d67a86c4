"""County supervision, pure: the figures against an oracle computed from the generated
month's scripts; worked numbers for the percentile, the monthly filing's lines, as-of
replay, the filing's lifecycle, the alert rules, and the seal."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from services.archive.supervision import (
    AlertKind,
    AlertRules,
    Figures,
    FilingBasis,
    FilingStatus,
    MonthlyFiling,
    Population,
    Record,
    SealedDocument,
    SupervisionAlert,
    compile_activity,
    conflict_findings,
    cube,
    deadline_findings,
    outlier_findings,
    percentile_nearest_rank,
)
from shared.calendar import WorkingCalendar
from shared.contracts import Actor
from shared.errors import RuleViolation
from shared.seals import SealKeys
from tests.support.places import GUANGPO, YELIN
from tests.support.supervision import TOWNSHIPS, World, at, comparable, record_of

pytestmark = pytest.mark.fast

CALENDAR = WorkingCalendar.load()
ACTOR = Actor(user_id="u1", role="township_leader", township=YELIN)


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def records(world: World) -> list[Record]:
    return [record_of(e) for e in world.envelopes()]


def figures(records: list[Record], township: str | None = None, kind: str | None = None,
            months: tuple[str, ...] = ("2025-03", "2025-04"),
            as_of: date | None = None) -> list[dict[str, Any]]:
    if as_of is not None:
        cut = at(as_of + timedelta(days=1), 0)
        records = [r for r in records if r.at < cut]
    return Figures(Population.fold(records), CALENDAR.working_days_between, township,
                   kind).series(list(months), as_of)


# --- the figures against the oracle ----------------------------------------------------------

@pytest.mark.parametrize("township", [*TOWNSHIPS, None])
@pytest.mark.parametrize("kind", ["dibao", "tekun", "linshi", "dibao_edge", None])
def test_figures_match_the_oracle_per_township_and_kind(
        world: World, records: list[Record], township: str | None, kind: str | None) -> None:
    for f in figures(records, township, kind):
        assert comparable(f) == world.expected(f["month"], township, kind), (f["month"])


def test_the_generated_month_is_not_trivial(world: World, records: list[Record]) -> None:
    """The oracle comparison means something only if every figure has cases behind it."""
    march = figures(records)[0]
    assert march["households"] > 10 and march["entries"] > 0 and march["exits"] > 0
    assert march["decided"] > 10 and 0 < march["confirmed"] < march["decided"]
    assert march["objections_resolved"] > 0 and march["spot_errors"] > 0
    assert march["decided_late"] > 0 and march["open_overdue"] > 0
    assert march["close_relative_confirmed"] + march["close_relative_rejected"] > 0
    assert march["speed_p90_working_days"] > march["speed_avg_working_days"] > 0
    assert figures(records)[1]["exits"] > 0  # the April suspension


def test_a_figure_as_of_a_past_date_ignores_later_events(
        world: World, records: list[Record]) -> None:
    as_of = date(2025, 3, 14)
    for township in (YELIN, None):
        for f in figures(records, township, as_of=as_of):
            assert comparable(f) == world.expected(f["month"], township, None, as_of)
    now, then = figures(records)[0], figures(records, as_of=as_of)[0]
    assert then["decided"] < now["decided"]
    assert then["open_overdue"] != now["open_overdue"] or then["amount"] != now["amount"]


def test_county_totals_equal_the_sum_of_townships_for_additive_figures(
        records: list[Record]) -> None:
    result = cube(Population.fold(records), CALENDAR.working_days_between,
                  ["2025-03"], list(TOWNSHIPS))
    total = next(r for r in result["totals"] if r["kind"] is None)
    for figure in ("households", "persons", "amount", "entries", "exits", "decided"):
        assert total[figure] == sum(r[figure] for r in result["rows"]), figure


def test_worked_numbers_for_speed_and_rates() -> None:
    assert percentile_nearest_rank([], 90) is None
    assert percentile_nearest_rank([7], 90) == 7
    # Ten values: the 9th smallest; eleven values: ceil(9.9) = the 10th.
    assert percentile_nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9
    assert percentile_nearest_rank(list(range(1, 12)), 90) == 10
    # Accepted Mon 2025-03-03, decided Mon 2025-03-31: 20 working days (no holiday).
    assert CALENDAR.working_days_between(date(2025, 3, 3), date(2025, 3, 31)) == 20
    # Across the 2025 Qingming holiday (Apr 4–6): Apr 3 → Apr 8 is 2 working days.
    assert CALENDAR.working_days_between(date(2025, 4, 3), date(2025, 4, 8)) == 2


def _r(type_: str, data: dict[str, Any], day: date, source: str = "review",
       township: str = YELIN, role: str = "township_leader", user: str = "lead-1",
       position: list[int] = [0]) -> Record:  # noqa: B006 - a counter across calls
    position[0] += 1
    return Record(source=source, type=type_, position=position[0], at=at(day),
                  township=township, case_id=data.get("case_id"), household_id=None,
                  actor_user=user, actor_role=role, data={"township": township, **data})


def test_a_phase_out_pays_through_its_last_month_then_stops() -> None:
    e = str(uuid4())
    recs = [
        _r("entitlement_started", {"entitlement_id": e, "case_id": "c1", "kind": "dibao",
                                   "household_size": 3, "monthly_amount": "600.00",
                                   "start_month": "2025-01"}, date(2024, 12, 20)),
        _r("entitlement_changed", {"entitlement_id": e, "case_id": "c1", "kind": "dibao",
                                   "change": "phase_out", "monthly_amount": "300.00",
                                   "household_size": 3, "effective_month": "2025-02",
                                   "until_month": "2025-03"}, date(2025, 1, 20)),
    ]
    series = Figures(Population.fold(recs), CALENDAR.working_days_between).series(
        ["2025-01", "2025-02", "2025-03", "2025-04"])
    assert [(f["households"], f["amount"]) for f in series] == [
        (1, Decimal("600.00")), (1, Decimal("300.00")), (1, Decimal("300.00")),
        (0, Decimal("0.00"))]
    assert [(f["entries"], f["exits"]) for f in series] == [(1, 0), (0, 0), (0, 0), (0, 1)]


# --- the monthly filing (报备) -----------------------------------------------------------------

def test_the_filing_counts_the_townships_month_per_kind_with_reasons(
        world: World, records: list[Record]) -> None:
    activity = compile_activity(records, YELIN, "2025-03")
    mine = [s for s in world.scripts if s.township == YELIN]
    lines = activity["lines"]
    assert lines["applications_accepted"]["total"] == sum(
        1 for s in mine if s.accepted_on.month == 3 and s.accepted_on.year == 2025)
    assert lines["confirmations"]["total"] == sum(
        1 for s in mine if s.confirmed and s.decided_on and s.decided_on.month == 3
        and s.decided_on.year == 2025)
    assert lines["rejections"]["total"] == sum(
        1 for s in mine if s.decided_on and not s.confirmed and s.decided_on.month == 3
        and s.decided_on.year == 2025)
    assert lines["terminations"]["total"] == 0  # the March termination was recorded in Feb
    assert lines["suspensions"]["total"] == 1  # recorded in March, effective April
    assert lines["confirmations"]["dibao"] + lines["confirmations"]["tekun"] + lines[
        "confirmations"]["linshi"] + lines["confirmations"]["dibao_edge"] == lines[
        "confirmations"]["total"]
    rejected = [i for t in TOWNSHIPS for i in compile_activity(records, t, "2025-03")["items"]
                if i["line"] == "rejections"]
    assert rejected and all(i["reasons"] == "收入超标" for i in rejected)
    assert all(i["case_id"] for i in activity["items"])
    # Nothing of another township.
    assert all(i["village"] in (None, YELIN + "201") for i in activity["items"])


def test_reports_and_objections_are_filed_with_their_outcomes() -> None:
    recs = [
        _r("report_filed", {"report_id": "r1", "category": "favouritism",
                            "queue": "township", "filed_on": "2025-03-04"},
           date(2025, 3, 4), source="publicity"),
        _r("report_finding_recorded", {"report_id": "r1", "category": "favouritism",
                                       "queue": "township", "upheld": True,
                                       "concluded_on": "2025-03-20"},
           date(2025, 3, 20), source="publicity"),
        # The discipline queue carries no township: it never reaches a township's filing.
        _r("report_filed", {"report_id": "r2", "category": "bribery", "queue": "discipline",
                            "filed_on": "2025-03-05"}, date(2025, 3, 5), source="publicity"),
    ]
    lines = compile_activity(recs, YELIN, "2025-03")["lines"]
    assert lines["reports_filed"]["total"] == 1 and lines["reports_upheld"]["total"] == 1


def test_filing_lifecycle_seal_what_was_reviewed_then_receipt_and_queries() -> None:
    activity = compile_activity([], YELIN, "2025-03")
    basis = FilingBasis(envelopes=0, sha256="0" * 64)
    sealed = SealedDocument(sha256="x", media_type="application/pdf", size=1, seal={})
    f = MonthlyFiling.compile(township=YELIN, month="2025-03", due_on=date(2025, 4, 8),
                              due_provisional=False, activity=activity, basis=basis,
                              actor=ACTOR)
    f.recompile(activity, basis, ACTOR)
    with pytest.raises(RuleViolation) as e:
        f.submit(1, sealed, date(2025, 4, 7), None, ACTOR)
    assert e.value.code == "archive.filing_changed"
    with pytest.raises(RuleViolation) as e:
        f.receive(date(2025, 4, 8), ACTOR)
    assert e.value.code == "archive.filing_not_submitted"
    with pytest.raises(RuleViolation) as e:
        f.submit(2, sealed, date(2025, 4, 9), " ", ACTOR)  # a day late, no reason
    assert (e.value.code, e.value.field) == ("archive.late_reason_required", "note")
    f.submit(2, sealed, date(2025, 4, 9), "迟报原因: 系统故障", ACTOR)
    assert f.status is FilingStatus.SUBMITTED and f.submission and f.submission["late"]
    with pytest.raises(RuleViolation) as e:
        f.recompile(activity, basis, ACTOR)
    assert e.value.code == "archive.filing_submitted"
    f.receive(date(2025, 4, 10), ACTOR)
    q = f.raise_query("3月确认件数与统计表不一致，请说明", ACTOR)
    f.answer_query(q, "统计表按发放月份统计", ACTOR)
    with pytest.raises(RuleViolation) as e:
        f.answer_query(q, "again", ACTOR)
    assert e.value.code == "archive.query_answered"
    assert [type(ev).__name__ for ev in f.collect_events()] == [
        "Compiled", "Recompiled", "Submitted", "Received", "Queried", "QueryAnswered"]


def test_the_seal_binds_document_township_and_month(tmp_path: Any) -> None:
    keys = SealKeys(tmp_path / "seals", create_missing=True, service="archive")
    seal = keys.seal(YELIN, "2025-03", "monthly_filing_xlsx", b"filing bytes").to_wire()

    def seal_valid(s: dict[str, Any], month: str, content: bytes | None = None) -> bool:
        return keys.verify(s, subject=month, content=content).valid

    assert seal_valid(seal, "2025-03", b"filing bytes")
    assert not seal_valid(seal, "2025-04", b"filing bytes")
    assert not seal_valid(seal, "2025-03", b"filing bytes, edited")
    assert not seal_valid({**seal, "owner": GUANGPO}, "2025-03")
    assert (tmp_path / "seals" / f"{YELIN}.sm2.pem").stat().st_mode & 0o077 == 0
    again = SealKeys(tmp_path / "seals").seal(YELIN, "2025-03", "monthly_filing_xlsx", b"x")
    assert again.key_id == seal["key_id"]  # one township, one key
    provisioned_only = SealKeys(tmp_path / "seals", create_missing=False, service="archive")
    with pytest.raises(RuleViolation) as e:  # where replicas run, no replica invents a seal
        provisioned_only.seal(GUANGPO, "2025-03", "monthly_filing_xlsx", b"x")
    assert e.value.code == "archive.seal_key_missing"
    assert provisioned_only.seal(YELIN, "2025-03", "k", b"x").key_id == seal["key_id"]


# --- alerts --------------------------------------------------------------------------------

def test_missed_15th_and_20th_deadlines() -> None:
    recs = [
        _r("roster_locked", {"month": "2025-03", "kind": "dibao"}, date(2025, 3, 14),
           source="disbursement"),
        _r("roster_reconciled", {"month": "2025-03", "late": False}, date(2025, 3, 19),
           source="disbursement"),
        _r("statistics_filed", {"month": "2025-03", "filed_on": "2025-03-20", "late": False},
           date(2025, 3, 20), source="disbursement"),
        _r("roster_locked", {"month": "2025-03", "kind": "dibao"}, date(2025, 3, 17),
           source="disbursement", township=GUANGPO),
    ]
    found = deadline_findings(recs, [YELIN, GUANGPO], ["2025-03"], date(2025, 3, 25),
                              AlertRules())
    assert {(f.township, f.subject.rsplit(":", 1)[1]) for f in found} == {
        (GUANGPO, "cutoff"), (GUANGPO, "file_by")}
    assert next(f for f in found if f.subject.endswith("file_by")).detail["missed"] == [
        "reconciliation", "statistics"]
    # Before the 15th nothing is missed yet.
    assert deadline_findings(recs, [GUANGPO], ["2025-03"], date(2025, 3, 15),
                             AlertRules()) == []


def test_outliers_are_measured_from_the_county_median() -> None:
    def row(t: str, decided: int, confirmed: int, households: int, amount: str) -> dict:
        return {"township": t, "kind": "dibao", "month": "2025-03", "decided": decided,
                "approval_rate": Decimal(confirmed) / decided, "households": households,
                "average_amount": Decimal(amount)}
    rows = [row("a", 10, 7, 10, "500"), row("b", 10, 6, 10, "520"),
            row("c", 10, 10, 10, "480"), row("d", 10, 2, 10, "1100"),
            row("e", 2, 0, 2, "9000")]  # too few to compare: never flagged
    found = {(f.kind, f.township) for f in outlier_findings(rows, AlertRules())}
    # Median rate 0.65: d (0.2) is 0.45 away, c (1.0) is 0.35 away. Median amount 510:
    # d is +116%.
    assert found == {(AlertKind.APPROVAL_RATE_OUTLIER, "d"),
                     (AlertKind.APPROVAL_RATE_OUTLIER, "c"),
                     (AlertKind.AVERAGE_AMOUNT_OUTLIER, "d")}


def test_close_relative_without_county_visit_and_investigator_who_voted() -> None:
    visited, unvisited = "case-visited", "case-unvisited"
    recs = []
    for case in (visited, unvisited):
        recs.append(_r("case_opened", {"case_id": case, "close_relative_declared": True,
                                       "kind": "dibao"}, date(2025, 3, 3)))
    recs.append(_r("home_visit_recorded", {"case_id": visited, "investigators": ["王五", "赵六"]},
                   date(2025, 3, 5), role="county_centre", user="centre-1"))
    recs.append(_r("investigation_assigned", {
        "case_id": unvisited, "investigators": [{"user_id": "clerk-9", "name": "李四"}]},
        date(2025, 3, 4)))
    recs.append(_r("joint_review_held", {"case_id": unvisited, "round": 1, "members": [
        {"user_id": "clerk-9", "name": "李四", "present": True, "opinion": "approve"},
        {"user_id": "lead-1", "name": "张三", "present": True, "opinion": "approve"},
        {"user_id": "x", "name": "赵六", "present": True, "recused": True,
         "recusal_reason": "investigated"}]}, date(2025, 3, 10)))
    for case in (visited, unvisited):
        recs.append(_r("case_confirmed", {"case_id": case, "decided_on": "2025-03-12"},
                       date(2025, 3, 12)))
    found = conflict_findings(recs)
    assert [(f.kind, f.case_id) for f in found] == [
        (AlertKind.INVESTIGATOR_VOTED, unvisited),
        (AlertKind.CLOSE_RELATIVE_WITHOUT_COUNTY_VISIT, unvisited)]
    assert found[0].detail["official"] == "clerk-9"


def test_an_alert_closes_only_with_a_reason() -> None:
    a = SupervisionAlert.raise_(kind="deadline_missed", subject="x", township=YELIN,
                                month="2025-03", case_id=None, detail={}, actor=ACTOR)
    with pytest.raises(RuleViolation):
        a.acknowledge("  ", ACTOR)
    a.acknowledge("约谈乡镇分管领导", ACTOR)
    with pytest.raises(RuleViolation) as e:
        a.acknowledge("again", ACTOR)
    assert e.value.code == "archive.alert_acknowledged"


def test_supervision_reads_only_types_some_contract_defines() -> None:
    # Archive names other services' events by their contract classes: a renamed contract
    # fails at import, and nothing here can name a type no service publishes.
    from services.archive.supervision import BUSINESS_DATE, SUPERVISED_TYPES
    from shared.contracts import registered

    published = {t for (_, t, _) in registered()}
    assert SUPERVISED_TYPES.issubset(published) and set(BUSINESS_DATE).issubset(published)


def test_charts_are_titled_in_chinese_with_names_not_codes() -> None:
    from services.archive.report_files import FIGURE_TITLES, figure_png

    assert all(not any(ch.isascii() and ch.isalpha() for ch in t)
               for t in FIGURE_TITLES.values()), FIGURE_TITLES
    series = [{"month": "2025-01", "amount": "100.00"}, {"month": "2025-02", "amount": None}]
    assert figure_png(series, "amount", "椰林镇 城乡低保").startswith(b"\x89PNG")
