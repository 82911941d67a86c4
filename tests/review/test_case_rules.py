"""The ReviewCase, Entitlement and SpotCheck rules, pure: steps out of order name the rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from services.review.domain import (
    CaseStatus,
    Entitlement,
    EntitlementStatus,
    PolicyTerms,
    ReviewCase,
    SpotCheck,
    compute,
    tekun_category,
)
from services.review.values import (
    Assessment,
    Findings,
    HomeVisit,
    Household,
    Investigator,
    Member,
    OpinionInputs,
    PanelMember,
    SampledCase,
    VerificationReport,
)
from shared.errors import RuleViolation
from tests.support import actors
from tests.support.review import ALL_ACHIEVED, household, terms

pytestmark = pytest.mark.fast

CLERK = actors.CLERK.as_actor()
T = terms()
TEAM = T.min_investigators  # a home visit team of the policy's minimum size
R15 = T.rhythm()  # the monthly rhythm of these terms: cut-off on the 15th
ON = date(2025, 3, 10)


def new_case(kind: str = "dibao", linshi_type: str | None = None) -> ReviewCase:
    return ReviewCase(application_id=uuid4(), kind=kind, township="469028100",
                      village="469028100201", accepted_on=date(2025, 3, 3), household_size=3,
                      applicant_name="黎阿婆", close_relative_declared=False,
                      investigation_due=date(2025, 3, 6), decision_due=date(2025, 3, 31),
                      deadlines_provisional=False, actor=CLERK.stored(), household=household(),
                      linshi_type=linshi_type, policy_version=1)


VISIT = HomeVisit(visited_on=date(2025, 3, 5), investigators=("王调查", "陈调查"),
                  members_present=("黎阿婆",), signed_by=("王调查", "陈调查", "黎阿婆"))
REPORT = VerificationReport(
    bank="no accounts above 2,000", tax="none", real_estate="one home", vehicles="none",
    social_insurance="basic pension", business_registration="none",
    conclusion="consistent with the declaration")
TEAM_W, TEAM_C = Investigator(user_id="u-w", name="王调查"), Investigator(user_id="u-c",
                                                                         name="陈调查")


def panel(**changes: dict[str, Any]) -> list[PanelMember]:
    base = {
        "leader": {"user_id": "u-lead", "name": "镇长", "role": "leader"},
        "deputy": {"user_id": "u-dep", "name": "副镇长", "role": "deputy"},
        "discipline": {"user_id": "u-jw", "name": "纪委委员", "role": "discipline"},
        "director": {"user_id": "u-dir", "name": "中心主任", "role": "member"},
        "staff": {"user_id": "u-staff", "name": "民政专干", "role": "member"},
        "village_lead": {"user_id": "u-vl", "name": "包村领导", "role": "member"},
    }
    out = []
    for key, m in base.items():
        out.append(PanelMember.of({
            "present": True, "related_to_household": False, "recused": False,
            "recusal_reason": None, "opinion": "approve", **m, **changes.get(key, {})}))
    return out


def investigated(kind: str = "dibao", linshi_type: str | None = None) -> ReviewCase:
    case = new_case(kind, linshi_type)
    case.assign_investigation([TEAM_W, TEAM_C], None, T, ON, CLERK)
    case.record_home_visit(VISIT, Findings(), TEAM, CLERK)
    case.request_verification(ON, CLERK)
    case.record_verification(REPORT, ON, CLERK)
    return case


def reviewed(kind: str = "dibao", outcome: str = "approve") -> ReviewCase:
    case = investigated(kind)
    opinion = "approve" if outcome == "approve" else "reject"
    members = panel(**{k: {"opinion": opinion} for k in
                       ("leader", "deputy", "discipline", "director", "staff", "village_lead")})
    case.hold_joint_review(ON, members, outcome, T, CLERK)
    return case


def opinion(case: ReviewCase, approve: bool = True, **assessment: Any) -> dict[str, Any]:
    """The opinion as the case records it."""
    return case.issue_opinion(approve, [] if approve else ["income above the standard"],
                              Assessment.of(assessment), 1, T, ON, date(2025, 3, 13),
                              CLERK).to_stored()


def violation(code: str) -> Any:
    class Match:
        def __enter__(self) -> None:
            self.ctx = pytest.raises(RuleViolation)
            self.info = self.ctx.__enter__()

        def __exit__(self, *exc: Any) -> bool:
            handled = self.ctx.__exit__(*exc)
            assert self.info.value.code == code, self.info.value.code
            return bool(handled)
    return Match()


# --- investigation ---------------------------------------------------------------------------


def test_a_township_team_needs_two_investigators() -> None:
    case = new_case()
    with violation("review.investigation_team"):
        case.assign_investigation([TEAM_W], None, T, ON, CLERK)
    case.assign_investigation([], "海南某社工服务中心", T, ON, CLERK)
    assert case.status is CaseStatus.INVESTIGATING and case.contractor == "海南某社工服务中心"


def test_a_contractor_acts_only_on_its_own_cases() -> None:
    case = new_case()
    case.assign_investigation([], "org-a", T, ON, CLERK)
    case.check_contractor("org-a")
    with violation("review.contractor_not_assigned"):
        case.check_contractor("org-b")
    with violation("review.contractor_not_assigned"):
        new_case().check_contractor("org-a")


def test_a_home_visit_needs_an_assignment_and_signatures() -> None:
    case = new_case()
    with violation("review.investigation_not_assigned"):
        case.record_home_visit(VISIT, Findings(), TEAM, CLERK)
    case.assign_investigation([], "org-a", T, ON, CLERK)
    with violation("review.visit_unsigned"):
        case.record_home_visit(replace(VISIT, signed_by=("王调查", "黎阿婆")), Findings(), TEAM,
                               CLERK)


def test_the_visit_team_minimum_is_the_policy_term() -> None:
    case = new_case()
    case.assign_investigation([], "org-a", T, ON, CLERK)
    with violation("review.investigation_team"):  # a county asking for three
        case.record_home_visit(VISIT, Findings(), 3, CLERK)
    three = ("王调查", "陈调查", "李调查")
    case.record_home_visit(replace(VISIT, investigators=three, signed_by=(*three, "黎阿婆")),
                           Findings(), 3, CLERK)
    assert len(case.visits) == 1


def test_tekun_ages_are_policy_terms() -> None:
    sixty_two, seventeen, fifteen = (
        Member(fingerprint="fp", name="黎阿公", relation="self", birth_date=date(y, 1, 1))
        for y in (1963, 2008, 2010))
    rules = terms(tekun_elderly_age=60, tekun_minor_age=16, tekun_student_minor_age=18)
    assert tekun_category(sixty_two, rules, ON) == "elderly"
    assert tekun_category(fifteen, rules, ON) == "minor"
    assert tekun_category(seventeen, rules, ON) is None  # 16 or older, not a student
    assert tekun_category(replace(seventeen, student=True), rules, ON) == "minor"
    later = terms(tekun_elderly_age=65, tekun_minor_age=14, tekun_student_minor_age=18)
    assert tekun_category(sixty_two, later, ON) is None
    assert tekun_category(fifteen, later, ON) is None
    with pytest.raises(RuleViolation) as bad:
        terms(tekun_elderly_age=16, tekun_minor_age=18, tekun_student_minor_age=18)
    assert bad.value.field == "terms.tekun_elderly_age"
    # A version published before these terms existed keeps the rule it was decided under.
    added = {"tekun_elderly_age", "tekun_minor_age", "tekun_student_minor_age"}
    old = PolicyTerms.from_dict({k: v for k, v in T.to_dict().items() if k not in added})
    assert (old.tekun_elderly_age, old.tekun_minor_age, old.tekun_student_minor_age) == (
        60, 18, 18)


def test_the_visit_replaces_the_filed_figures_with_the_verified_ones() -> None:
    case = new_case()
    case.assign_investigation([], "org-a", T, ON, CLERK)
    case.record_home_visit(VISIT, Findings.of({
        "members": [{"member_fingerprint": "fp-mother", "counted": False,
                     "finding": "works in Sanya, lives there"}],
        "incomes": [], "assets": None, "irregular_income": True}), TEAM, CLERK)
    assert case.household["members"][1]["counted"] is False
    assert case.household["incomes"] == [] and case.household["irregular_income"] is True
    assert case.household["assets"] == household()["assets"]
    with violation("review.unknown_member"):
        case.record_home_visit(
            VISIT, Findings.of({"members": [{"member_fingerprint": "fp-stranger"}]}), TEAM,
            CLERK)


# --- joint review ----------------------------------------------------------------------------


def test_an_opinion_without_an_investigation_is_refused() -> None:
    case = new_case()
    with violation("review.investigation_missing"):
        opinion(case)


def test_a_joint_review_needs_the_verification_report() -> None:
    case = new_case()
    case.assign_investigation([], "org-a", T, ON, CLERK)
    case.record_home_visit(VISIT, Findings(), TEAM, CLERK)
    with violation("review.verification_missing"):
        case.hold_joint_review(ON, panel(), "approve", T, CLERK)


def test_a_joint_review_without_the_discipline_member_is_refused() -> None:
    case = investigated()
    with violation("review.joint_review_no_discipline_member"):
        case.hold_joint_review(ON, panel(discipline={"present": False}), "approve", T, CLERK)
    with violation("review.joint_review_no_discipline_member"):
        case.hold_joint_review(ON, panel(discipline={"recused": True, "recusal_reason": "亲属"}),
                               "approve", T, CLERK)


def test_a_joint_review_needs_the_leader_or_deputy_and_the_quorum() -> None:
    case = investigated()
    with violation("review.joint_review_no_chair"):
        case.hold_joint_review(ON, panel(leader={"present": False}, deputy={"present": False}),
                               "approve", T, CLERK)
    # The deputy alone chairs.
    with violation("review.joint_review_quorum"):  # 4 sitting, quorum 5
        case.hold_joint_review(ON, panel(leader={"present": False}, staff={"present": False}),
                               "approve", T, CLERK)
    case.hold_joint_review(ON, panel(leader={"present": False}), "approve", T, CLERK)
    assert case.status is CaseStatus.REVIEWED


def test_relatives_and_the_cases_investigator_must_recuse() -> None:
    case = investigated()
    with violation("review.recusal_required"):
        case.hold_joint_review(ON, panel(staff={"related_to_household": True}), "approve", T,
                               CLERK)
    with violation("review.recusal_required"):
        case.hold_joint_review(ON, panel(staff={"user_id": "u-w", "name": "王调查"}), "approve",
                               T, CLERK)
    with violation("review.reason_required"):
        case.hold_joint_review(ON, panel(staff={"related_to_household": True, "recused": True}),
                               "approve", T, CLERK)
    # When the county does not require it, the investigator may sit.
    case.hold_joint_review(ON, panel(staff={"user_id": "u-w", "name": "王调查"}), "approve",
                           terms(investigator_must_recuse=False), CLERK)


def test_the_outcome_follows_the_members_opinions() -> None:
    case = investigated()
    split = panel(leader={"opinion": "reject"}, deputy={"opinion": "reject"},
                  discipline={"opinion": "reject"})
    with violation("review.joint_review_outcome"):  # 3 of 6 is not a majority
        case.hold_joint_review(ON, split, "approve", T, CLERK)
    case.hold_joint_review(ON, split, "reject", T, CLERK)


# --- opinion, publicity, decision ----------------------------------------------------------


def test_an_opinion_records_the_breakdown_and_the_policy_version() -> None:
    case = reviewed()
    o = opinion(case)
    assert o["amount"] == Decimal(1580) and o["policy_version"] == 1
    assert o["breakdown"]["gap_total"] == "1450.00" and o["publicity_required"] is True
    assert case.status is CaseStatus.OPINION_ISSUED


def test_an_opinion_must_agree_with_the_joint_review() -> None:
    case = reviewed(outcome="reject")
    with violation("review.opinion_contradicts_joint_review"):
        opinion(case, approve=True)
    with violation("review.reason_required"):
        case.issue_opinion(False, [" "], Assessment(), 1, T, ON, date(2025, 3, 13), CLERK)
    o = opinion(case, approve=False)
    assert o["publicity_required"] is False and case.rejection_due == date(2025, 3, 13)


def test_a_confirmation_before_publicity_has_ended_is_refused() -> None:
    case = reviewed()
    opinion(case)
    with violation("review.publicity_not_ended"):
        case.confirm(ON, "准予", 12, None, R15, CLERK)
    notice = uuid4()
    assert case.publicity_opened(notice, 1, date(2025, 3, 11), date(2025, 3, 18), CLERK)
    with violation("review.publicity_not_ended"):
        case.confirm(ON, "准予", 12, None, R15, CLERK)
    assert case.publicity_closed(notice, 1, "clean", None, date(2025, 3, 18), None, CLERK)
    case.confirm(date(2025, 3, 19), "准予", 12, None, R15, CLERK)
    assert case.status is CaseStatus.CONFIRMED and case.decision is not None
    assert case.decision["start_month"] == "2025-04"  # from the first day of next month
    with violation("review.case_closed"):
        case.reject(ON, ["late change of mind"], CLERK)


def test_an_upheld_objection_opens_a_new_round() -> None:
    case = reviewed()
    opinion(case)
    notice = uuid4()
    case.publicity_closed(notice, 1, "objection_upheld", "hidden income", date(2025, 3, 18),
                          None, CLERK)
    assert case.status is CaseStatus.REINVESTIGATING and case.round == 2
    # A stale notice of round 1 changes nothing.
    assert not case.publicity_closed(notice, 1, "clean", None, date(2025, 3, 19), None, CLERK)
    with violation("review.investigation_missing"):
        case.hold_joint_review(ON, panel(), "approve", T, CLERK)
    case.record_home_visit(VISIT, Findings(), TEAM, CLERK)
    case.hold_joint_review(ON, panel(), "approve", T, CLERK)
    assert opinion(case)["round"] == 2


def test_a_rejected_opinion_is_decided_without_publicity() -> None:
    case = reviewed(outcome="reject")
    opinion(case, approve=False)
    with violation("review.opinion_rejects"):
        case.confirm(ON, "", 12, None, R15, CLERK)
    case.reject(date(2025, 3, 12), ["per-capita income above the standard"], CLERK)
    assert case.status is CaseStatus.REJECTED


def test_tekun_needs_the_category_and_records_tier_and_care_mode() -> None:
    case = reviewed("tekun")
    o = opinion(case, self_care={**ALL_ACHIEVED, "bathing": False}, care_mode="dispersed")
    assert o["breakdown"]["self_care_tier"] == "partial" and o["amount"] == Decimal(1245)
    young = reviewed("tekun")
    young.household["members"][0]["birth_date"] = date(1980, 1, 1)  # 45, not disabled
    with violation("review.tekun_category"):
        opinion(young, self_care=ALL_ACHIEVED, care_mode="dispersed")


def test_linshi_above_the_ceiling_waits_for_the_county() -> None:
    case = reviewed("linshi")
    case.linshi_type = "expenditure"
    o = opinion(case, band="major", instalments=2)
    assert o["breakdown"]["county_approval_required"] is True
    assert case.status is CaseStatus.AWAITING_COUNTY
    notice = uuid4()
    assert not case.publicity_opened(notice, 1, ON, ON, CLERK)  # not before the county
    with violation("review.county_approval_missing"):
        case.confirm(ON, "准予", None, None, R15, CLERK)
    case.approve_at_county(["一事一议: major medical cost"], ON, CLERK)
    case.publicity_opened(notice, 1, ON, ON, CLERK)
    case.publicity_closed(notice, 1, "clean", None, date(2025, 3, 17), None, CLERK)
    case.confirm(date(2025, 3, 17), "准予", None, None, R15, CLERK)
    assert [(p["amount"], p["month"]) for p in case.payments] == [
        (Decimal(5850), "2025-04"), (Decimal(5850), "2025-05")]  # after the 15th: next roster


def test_emergency_help_first_then_complete_the_record() -> None:
    case = new_case("linshi", "emergency")
    b = case.grant_advance("serious", 1, 1, T, ON, date(2025, 3, 24), "house fire",
                           CLERK).to_stored()
    assert b["monthly_amount"] == "3900" and case.status is CaseStatus.CONFIRMED
    assert case.payments[0]["advance"] is True and case.payments[0]["month"] == "2025-03"
    with violation("review.investigation_missing"):
        case.complete_advance_record(ON, "", CLERK)
    case.assign_investigation([], "org-a", T, ON, CLERK)
    case.record_home_visit(VISIT, Findings(), TEAM, CLERK)
    with violation("review.reason_required"):
        case.complete_advance_record(ON, " ", CLERK)
    case.complete_advance_record(date(2025, 3, 20), "signed form filed", CLERK)
    assert case.advance is not None and case.advance["completed_on"] == date(2025, 3, 20)
    with violation("review.case_closed"):  # now the case is closed for investigation too
        case.record_home_visit(VISIT, Findings(), TEAM, CLERK)
    with violation("review.advance_above_ceiling"):
        new_case("linshi", "emergency").grant_advance("major", 1, 1, T, ON, ON, "fire", CLERK)
    with violation("review.advance_not_allowed"):
        new_case("linshi", "expenditure").grant_advance("general", 1, 1, T, ON, ON, "x", CLERK)


# --- entitlement ---------------------------------------------------------------------------

INPUTS = OpinionInputs(household=Household.of(household()), on=ON)
BREAKDOWN = compute("dibao", INPUTS, T)  # 1,580 a month


def entitlement(kind: str = "dibao") -> Entitlement:
    return Entitlement(case_id=uuid4(), kind=kind, household_id="hh-1", township="469028100",
                       village="469028100201", urban=False, applicant_name="黎阿婆",
                       household_size=3, monthly_amount=Decimal(1580), breakdown={},
                       policy_version=1, start_month="2025-04", recheck_due=date(2026, 4, 1),
                       recheck_months=12, payee=None, inputs={}, actor=CLERK.stored())


def test_adjustments_take_effect_by_the_cut_off() -> None:
    e = entitlement()
    assert e.adjust(Decimal(1700), 3, BREAKDOWN, INPUTS, 1, [], date(2025, 6, 15), R15,
                    CLERK) == "increase"
    assert e.changes[-1]["effective_month"] == "2025-06"
    with violation("review.reason_required"):  # a decrease needs written reasons
        e.adjust(Decimal(1200), 3, BREAKDOWN, INPUTS, 1, [], date(2025, 6, 16), R15, CLERK)
    e.adjust(Decimal(1200), 3, BREAKDOWN, INPUTS, 1, ["wages rose"], date(2025, 6, 16), R15, CLERK)
    assert e.changes[-1]["effective_month"] == "2025-07" and e.monthly_amount == Decimal(1200)
    # Decided before the benefit even started: effective from its first month.
    f = entitlement()
    f.adjust(Decimal(1600), 3, BREAKDOWN, INPUTS, 1, [], date(2025, 3, 20), R15, CLERK)
    assert f.changes[-1]["effective_month"] == "2025-04"


def test_suspend_resume_phase_out_terminate() -> None:
    e = entitlement()
    e.suspend(["not reachable for the recheck"], date(2025, 5, 2), R15, CLERK)
    assert e.status is EntitlementStatus.SUSPENDED
    with violation("review.entitlement_state"):
        e.adjust(Decimal(1), 3, BREAKDOWN, INPUTS, 1, ["x"], date(2025, 5, 2), R15, CLERK)
    e.resume([], date(2025, 6, 2), R15, CLERK)
    assert e.status is EntitlementStatus.ACTIVE and e.changes[-1]["amount"] == Decimal(1580)
    with violation("review.phase_out_too_long"):
        e.phase_out(7, ["employed"], date(2025, 7, 1), T, R15, CLERK)
    e.phase_out(6, ["employed at the resort"], date(2025, 7, 20), T, R15, CLERK)
    assert e.changes[-1]["effective_month"] == "2025-08"
    assert e.phase_out_until == "2026-01"
    e.terminate(["moved away"], date(2025, 9, 1), R15, CLERK)
    assert e.status is EntitlementStatus.TERMINATED and e.ends_after == "2025-08"
    with violation("review.entitlement_terminated"):
        e.resume([], date(2025, 9, 2), R15, CLERK)


def test_a_tekun_termination_goes_through_publicity_first() -> None:
    e = entitlement("tekun")
    with violation("review.reason_required"):
        e.terminate([], date(2025, 8, 3), R15, CLERK)
    assert e.terminate(["regained capacity to work"], date(2025, 8, 3), R15, CLERK) is False
    assert e.status is EntitlementStatus.TERMINATION_PENDING
    with violation("review.termination_pending"):
        e.suspend(["x"], date(2025, 8, 4), R15, CLERK)
    e.termination_notice_closed("objection_upheld", "still cannot work", date(2025, 8, 11),
                                CLERK)
    assert e.status is EntitlementStatus.ACTIVE
    e.terminate(["died"], date(2025, 9, 3), R15, CLERK)
    e.termination_notice_closed("clean", None, date(2025, 9, 10), CLERK)
    assert e.status is EntitlementStatus.TERMINATED
    assert e.changes[-1]["effective_month"] == "2025-10"  # the month after the notice


# --- spot check ----------------------------------------------------------------------------


def test_a_spot_check_needs_a_result_for_every_sampled_case() -> None:
    a, b = str(uuid4()), str(uuid4())
    s = SpotCheck.draw(township="469028100", month="2025-03", seed="ab",
                       population={"dibao": 2}, percent={"dibao": "10"},
                       sample=[SampledCase(a, "dibao"), SampledCase(b, "dibao")],
                       policy_version=1, actor=CLERK)
    s.record_result(a, True, None, None, CLERK)
    with violation("review.corrective_action_required"):
        s.record_result(b, False, "income understated", None, CLERK)
    with violation("review.not_in_sample"):
        s.record_result(str(uuid4()), True, None, None, CLERK)
    with violation("review.spot_check_incomplete"):
        s.complete(CLERK)
    s.record_result(b, False, "income understated", "recompute and recover", CLERK)
    s.complete(CLERK)
    assert s.completed
