"""The public channel's domain, pure: where a report goes and who may read it, the receipt
code (hashed, compared in constant time, forgiving of how it is typed), findings that ask
review for a recheck, inquiries answered late or early and published only with consent,
the policy bulletin's "in force on a day", and the procedure's numbers from the policy."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from services.publicity.domain import (
    CODE_ALPHABET,
    Inquiry,
    InquiryStatus,
    PolicyBulletin,
    Report,
    ReportCategory,
    ReportQueue,
    ReportStatus,
    ReportSubject,
    Secret,
    check_code,
    may_decide_report,
    may_investigate_report,
    may_read_report,
    procedure,
    queue_for,
)
from shared.contracts import Actor
from shared.errors import RuleViolation
from tests.support.places import GUANGPO, TAOYUAN, YELIN

pytestmark = pytest.mark.fast

PUBLIC = Actor(user_id="public", role="public")
LEADER = Actor(user_id="lead-1", role="township_leader", township=YELIN)
INSPECTOR = Actor(user_id="jw-1", role="discipline_inspector")
RAW_CODE = "ABCD2345EFGH6789"
FILED = date(2025, 3, 3)


def secret(receipt: str = "JB-20250303-AAAAAAAA") -> Secret:
    return Secret.issued(receipt, RAW_CODE, "f" * 32)


def report(category: ReportCategory, *, case: bool = True) -> Report:
    subject = ReportSubject(township=YELIN, village=TAOYUAN,
                            reference=str(UUID(int=7)) if case else None,
                            case_id=UUID(int=1) if case else None,
                            entitlement_id=UUID(int=2) if case else None)
    return Report.file(category=category, subject=subject, text="  他家儿子在三亚开店  ",
                       contact=None, reporter_name=None, secret=secret(), on=FILED,
                       actor=PUBLIC)


def event_names(aggregate: Report | Inquiry) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


# --- routing and visibility ------------------------------------------------------------------

@pytest.mark.parametrize("category,queue", [
    (ReportCategory.NOT_ELIGIBLE, ReportQueue.TOWNSHIP),
    (ReportCategory.LEFT_OUT, ReportQueue.TOWNSHIP),
    (ReportCategory.FAVOURITISM, ReportQueue.DISCIPLINE),
    (ReportCategory.BRIBERY, ReportQueue.DISCIPLINE),
    (ReportCategory.DATA_LEAK, ReportQueue.DISCIPLINE),
])
def test_reports_about_officials_go_to_the_inspector(category: ReportCategory,
                                                     queue: ReportQueue) -> None:
    assert queue_for(category) is queue
    assert report(category).queue == queue.value


ROLES = ["township_clerk", "township_reviewer", "township_leader", "village_assistant",
         "contractor_investigator", "county_centre", "county_bureau", "finance_bureau",
         "public", "discipline_inspector"]


@pytest.mark.parametrize("role", ROLES)
def test_only_the_inspector_reads_or_handles_the_discipline_queue(role: str) -> None:
    for township in (YELIN, GUANGPO, None):  # the accused township and any other
        expected = role == "discipline_inspector"
        assert may_read_report("discipline", YELIN, role, township) is expected
        assert may_investigate_report("discipline", YELIN, role, township) is expected
        assert may_decide_report("discipline", YELIN, role, township) is expected


def test_a_household_report_is_its_townships_under_county_oversight() -> None:
    assert may_read_report("township", YELIN, "township_clerk", YELIN)
    assert not may_read_report("township", YELIN, "township_clerk", GUANGPO)
    assert not may_read_report("township", YELIN, "village_assistant", YELIN)
    assert may_read_report("township", YELIN, "county_centre", None)
    assert may_read_report("township", YELIN, "discipline_inspector", None)
    # Investigating is the township's; the finding is the joint-review group's.
    assert may_investigate_report("township", YELIN, "township_clerk", YELIN)
    assert not may_investigate_report("township", YELIN, "county_centre", None)
    assert not may_decide_report("township", YELIN, "township_clerk", YELIN)
    assert may_decide_report("township", YELIN, "township_reviewer", YELIN)


# --- the code ---------------------------------------------------------------------------------

def test_only_a_hash_of_the_code_is_kept_and_typing_is_forgiven() -> None:
    s = secret()
    assert s.code == "ABCD-2345-EFGH-6789"
    r = report(ReportCategory.NOT_ELIGIBLE)
    filed = r.collect_events()[0]
    assert RAW_CODE not in repr(vars(filed)) and s.code not in repr(vars(filed))
    assert r.code_digest == s.digest and len(r.code_digest) == 64
    assert r.code_matches("abcd 2345 efgh 6789")
    assert r.code_matches("ABCD2345EFGH6789")
    assert not r.code_matches("ABCD-2345-EFGH-6780")
    assert not check_code(s.code, "e" * 32, s.digest)  # the salt is part of the hash


def test_a_code_is_sixteen_characters_of_crockford_base32() -> None:
    assert len(set(CODE_ALPHABET)) == 32 and not set("ILOU") & set(CODE_ALPHABET)
    with pytest.raises(ValueError):
        Secret.issued("JB-20250303-AAAAAAAA", "ABCD", "f" * 32)


def test_misread_letters_are_read_as_the_digits_they_look_like() -> None:
    s = Secret.issued("JB-20250303-AAAAAAAA", "0123456789ABCDEF", "f" * 32)
    assert check_code("OI23-4567-89AB-CDEF", s.salt, s.digest)


# --- findings --------------------------------------------------------------------------------

def test_upheld_household_report_asks_for_a_recheck() -> None:
    r = report(ReportCategory.NOT_ELIGIBLE)
    r.record_investigation("入户核查，查阅工商登记", date(2025, 3, 5), LEADER)
    assert r.status == ReportStatus.UNDER_INVESTIGATION
    r.record_finding(upheld=True, finding="经营收入未申报", reply="经核查，举报属实，已启动复查",
                     request_recheck=False, on=date(2025, 3, 7), actor=LEADER)
    assert (r.status, r.upheld, r.concluded_on) == (ReportStatus.CONCLUDED, True,
                                                    date(2025, 3, 7))
    assert r.text == "他家儿子在三亚开店"  # stored as given, surrounding blanks aside
    assert event_names(r) == ["Filed", "InvestigationRecorded", "FindingRecorded",
                              "RecheckRequested"]
    with pytest.raises(RuleViolation) as e:
        r.record_investigation("again", date(2025, 3, 8), LEADER)
    assert e.value.code == "publicity.report_concluded"


def test_not_upheld_report_asks_for_nothing() -> None:
    r = report(ReportCategory.NOT_ELIGIBLE)
    r.record_finding(upheld=False, finding="收入已如实申报", reply=None,
                     request_recheck=False, on=date(2025, 3, 7), actor=LEADER)
    assert event_names(r) == ["Filed", "FindingRecorded"]
    with pytest.raises(RuleViolation) as e:
        report(ReportCategory.NOT_ELIGIBLE).record_finding(
            upheld=False, finding="x", reply=None, request_recheck=True, on=FILED,
            actor=LEADER)
    assert e.value.code == "publicity.recheck_needs_upheld"


def test_inspector_decides_whether_an_official_report_reaches_review() -> None:
    kept = report(ReportCategory.FAVOURITISM)
    kept.record_finding(upheld=True, finding="村干部亲属违规纳入", reply=None,
                        request_recheck=False, on=FILED, actor=INSPECTOR)
    assert event_names(kept) == ["Filed", "FindingRecorded"]
    sent = report(ReportCategory.FAVOURITISM)
    sent.record_finding(upheld=True, finding="村干部亲属违规纳入", reply=None,
                        request_recheck=True, on=FILED, actor=INSPECTOR)
    assert event_names(sent)[-1] == "RecheckRequested"
    nothing = report(ReportCategory.BRIBERY, case=False)
    with pytest.raises(RuleViolation) as e:
        nothing.record_finding(upheld=True, finding="f", reply=None, request_recheck=True,
                               on=FILED, actor=INSPECTOR)
    assert e.value.code == "publicity.nothing_to_recheck"


def test_escalation_only_ever_goes_to_the_inspector() -> None:
    r = report(ReportCategory.NOT_ELIGIBLE)
    r.escalate("举报内容涉及村干部优亲厚友", date(2025, 3, 4), LEADER)
    assert r.queue == ReportQueue.DISCIPLINE
    assert r.routes == [{"from": "township", "to": "discipline",
                         "reason": "举报内容涉及村干部优亲厚友", "on": date(2025, 3, 4),
                         "by": "lead-1"}]
    with pytest.raises(RuleViolation) as e:
        r.escalate("again", date(2025, 3, 4), INSPECTOR)
    assert e.value.code == "publicity.already_with_discipline"


def test_text_limits_hold_in_the_domain_too() -> None:
    with pytest.raises(RuleViolation) as e:
        Report.file(category=ReportCategory.LEFT_OUT,
                    subject=ReportSubject(township=YELIN, village=TAOYUAN), text="x" * 4001,
                    contact=None, reporter_name=None, secret=secret(), on=FILED, actor=PUBLIC)
    assert (e.value.code, e.value.field) == ("publicity.text_too_long", "text")


# --- inquiries -------------------------------------------------------------------------------

def inquiry(consent: bool) -> Inquiry:
    return Inquiry.ask(township=YELIN, village=None, topic="dibao", question="低保标准是多少？",
                       contact=None, publish_consent=consent,
                       secret=secret("ZX-20250926-AAAAAAAA"), on=date(2025, 9, 26),
                       due_on=date(2025, 10, 10), due_provisional=False, actor=PUBLIC)


def test_an_inquiry_is_overdue_only_after_its_due_day_and_while_open() -> None:
    q = inquiry(consent=True)
    assert not q.is_overdue_on(date(2025, 10, 10))
    assert q.is_overdue_on(date(2025, 10, 11))
    q.give_answer("城市每人每月700元", publish=True, on=date(2025, 10, 13), actor=LEADER)
    assert (q.status, q.published) == (InquiryStatus.ANSWERED, True)
    assert not q.is_overdue_on(date(2025, 10, 14))
    answered = q.collect_events()[-1]
    assert answered.late is True  # type: ignore[attr-defined]
    with pytest.raises(RuleViolation) as e:
        q.give_answer("again", publish=True, on=date(2025, 10, 14), actor=LEADER)
    assert e.value.code == "publicity.inquiry_answered"


@pytest.mark.parametrize("consent,publish,published", [
    (True, True, True), (True, False, False), (False, True, False), (False, False, False)])
def test_an_answer_is_public_only_with_consent_and_not_withheld(
        consent: bool, publish: bool, published: bool) -> None:
    q = inquiry(consent)
    q.give_answer("答复", publish=publish, on=date(2025, 10, 9), actor=LEADER)
    assert q.published is published


# --- policy ----------------------------------------------------------------------------------

def test_bulletin_shows_a_version_from_its_effective_date_not_before() -> None:
    b = PolicyBulletin(region="469028", actor=PUBLIC.stored())
    assert b.record(1, date(2024, 1, 1), {"dibao_standard_urban": "700"}, "e1", PUBLIC)
    assert b.record(2, date(2025, 7, 1), {"dibao_standard_urban": "760"}, "e2", PUBLIC)
    assert not b.record(2, date(2025, 7, 1), {"dibao_standard_urban": "760"}, "e2", PUBLIC)
    assert b.in_force(date(2025, 6, 30)).policy_version == 1  # type: ignore[union-attr]
    assert b.in_force(date(2025, 7, 1)).policy_version == 2  # type: ignore[union-attr]
    assert b.in_force(date(2023, 12, 31)) is None
    assert [v.policy_version for v in b.upcoming(date(2025, 6, 30))] == [2]


def test_procedure_carries_the_numbers_of_the_policy_in_force() -> None:
    limits = {"investigation_start_working_days": 3, "rejection_notice_working_days": 3,
              "decision_working_days": {"dibao": 20, "tekun": 15},
              "decision_extended_working_days": 45, "tekun_confirmation_working_days": 15}
    dibao = {s["step"]: s for s in procedure("dibao", limits, 7)}
    assert dibao["publicity"]["calendar_days"] == 7
    assert dibao["decide"]["working_days"] == 20
    assert dibao["investigate"]["working_days"] == 3
    tekun = {s["step"]: s for s in procedure("tekun", limits, 7)}
    assert tekun["decide"]["working_days"] == 15
    assert tekun["decide"]["confirmation_working_days"] == 15
    linshi = {s["step"]: s for s in procedure("linshi", limits, 7)}
    # 支出型 goes through publicity; 急难型 may help first and skip it.
    assert "help_first" in linshi and "急难型" in linshi["publicity"]["detail"]
