"""Writes publicity's release events: a SQLite event store (encryption at rest on, its key
alongside) holding every aggregate kind (notices with objections, roster entries, reports,
inquiries, the policy bulletin) through a realistic flow, made with the code of the release
before issue 24's typed values. tests/publicity/test_release_events.py loads them with the
current code. Rerun only to make a new baseline:

    .venv/bin/python -m tests.support.release_publicity
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from services.publicity.application import PublicityApplication
from services.publicity.domain import InvestigationMethod, ReportCategory
from services.publicity.main import PublicitySettings
from shared.auth import Principal, Role
from shared.clock import CHINA, ManualClock
from shared.contracts import Actor
from shared.contracts.common import AssistanceKind
from shared.contracts.review import (
    EntitlementChanged,
    EntitlementStarted,
    OpinionIssued,
    PolicyChanged,
    TerminationNoticeRequested,
)
from shared.regions import load_county

OUT = Path(__file__).parents[1] / "data" / "release_events" / "publicity"
YELIN, TAOYUAN = "469028100", "469028100201"  # 椰林镇 桃源村
START = datetime(2026, 3, 9, 9, 0, tzinfo=CHINA)  # a Monday
LEADER = Actor(user_id="lead-yelin", role="township_leader", township=YELIN)
CASE_A = UUID("0b6c2f4e-1a3d-4e5f-8a9b-0c1d2e3f4a5b")
CASE_B = UUID("1c7d3a5f-2b4e-4f6a-9bac-1d2e3f4a5b6c")
CASE_T = UUID("2d8e4b6a-3c5f-4a7b-acbd-2e3f4a5b6c7d")
ENTITLEMENT = UUID("3e9f5c7b-4d6a-4b8c-bdce-3f4a5b6c7d8e")
ENTITLEMENT_T = UUID("4fa06d8c-5e7b-4c9d-cedf-4a5b6c7d8e9f")


def open_app(out: Path, clock: ManualClock) -> PublicityApplication:
    s = PublicitySettings(var_dir=out, encrypt_at_rest=True,
                          cipher_key_file=out / "at-rest.key")
    return PublicityApplication(s, load_county(s.region), clock=clock)


def opinion(case_id: UUID, round_: int, name: str, **more: Any) -> OpinionIssued:
    return OpinionIssued(**{
        "case_id": case_id, "application_id": UUID(int=case_id.int ^ 1), "kind": "dibao",
        "township": YELIN, "village": TAOYUAN, "round": round_, "approve": True,
        "monthly_amount": Decimal("640"), "reasons": ["家庭人均收入低于当地低保标准"],
        "applicant_name": name, "household_size": 2, "household_id": "hh-4e1d9a7c", **more})


def flow(app: PublicityApplication, clock: ManualClock) -> dict[str, Any]:
    """Every aggregate kind and event type, as review's events and the users cause them."""
    clerk = Principal("clerk-yelin-1", Role.TOWNSHIP_CLERK, YELIN, name="王海燕")
    reviewer = Principal("rev-yelin-1", Role.TOWNSHIP_REVIEWER, YELIN)
    inspector = Principal("jw-county-1", Role.DISCIPLINE_INSPECTOR)

    # Notices: case A round 1 superseded by round 2, whose objection is not upheld and
    # which then closes clean; case B's objection is upheld; a 特困 termination stays open.
    a1 = app.open_opinion_notice(opinion(CASE_A, 1, "黎阿婆"), LEADER, "ev-a1")
    a2 = app.open_opinion_notice(opinion(CASE_A, 2, "黎阿婆"), LEADER, "ev-a2")
    assert a1 and a2
    o_a = app.file_objection(a2, text="该户儿子在三亚打工，收入未申报", contact="13907561234",
                             objector_name=None)
    app.record_investigation(clerk, a2, o_a, method=InvestigationMethod.RE_INVESTIGATION,
                             notes="入户核实：儿子已于2025年分户")
    app.resolve_objection(reviewer, a2, o_a, upheld=False, finding="儿子已分户，不计入家庭收入")
    b = app.open_opinion_notice(opinion(CASE_B, 1, "符秀英", household_size=3,
                                        monthly_amount=Decimal("960")), LEADER, "ev-b1")
    assert b
    o_b = app.file_objection(b, text="该户有一辆小轿车", contact=None, objector_name="陈亚妹")
    app.record_investigation(clerk, b, o_b, method=InvestigationMethod.DEMOCRATIC_APPRAISAL,
                             notes="民主评议：村民代表确认该户有车")
    app.resolve_objection(reviewer, b, o_b, upheld=True, finding="家庭拥有机动车，不符合条件")

    # The roster: a 低保 entitlement listed, raised, then terminated; a 特困 one listed.
    app.list_entitlement(EntitlementStarted(
        entitlement_id=ENTITLEMENT, case_id=CASE_A, kind="dibao", township=YELIN,
        village=TAOYUAN, urban=False, applicant_name="黎阿婆", household_size=2,
        monthly_amount=Decimal("640"), breakdown={}, start_month="2026-03", policy_version=1),
        LEADER, "ev-r1")
    app.change_entitlement(EntitlementChanged(
        entitlement_id=ENTITLEMENT, case_id=CASE_A, kind="dibao", township=YELIN,
        village=TAOYUAN, change="increase", monthly_amount=Decimal("700"), household_size=3,
        effective_month="2026-04"), LEADER, "ev-r2")
    app.change_entitlement(EntitlementChanged(
        entitlement_id=ENTITLEMENT, case_id=CASE_A, kind="dibao", township=YELIN,
        village=TAOYUAN, change="terminate", monthly_amount=Decimal("0"), household_size=3,
        effective_month="2026-06", reasons=["家庭收入超过低保标准"]), LEADER, "ev-r3")
    app.list_entitlement(EntitlementStarted(
        entitlement_id=ENTITLEMENT_T, case_id=CASE_T, kind="tekun", township=YELIN,
        village=TAOYUAN, urban=False, applicant_name="黎阿公", household_size=1,
        monthly_amount=Decimal("1180"), breakdown={}, start_month="2026-01",
        policy_version=1), LEADER, "ev-r4")
    t = app.open_termination_notice(TerminationNoticeRequested(
        entitlement_id=ENTITLEMENT_T, case_id=CASE_T, kind="tekun", township=YELIN,
        village=TAOYUAN, applicant_name="黎阿公", household_size=1,
        reasons=["供养对象死亡"]), LEADER, "ev-t1")

    # Reports: about a household (upheld, recheck), about an official (escalated, then the
    # inspector's finding); an inquiry answered and published; the policy bulletin.
    r1, s1 = app.file_report(category=ReportCategory.NOT_ELIGIBLE, village=TAOYUAN,
                             reference=a2, text="该户新盖两层楼房",
                             contact="13700001111", reporter_name=None)
    app.record_report_investigation(clerk, r1.id, "入户查看：确有新建楼房")
    app.record_report_finding(reviewer, r1.id, upheld=True, finding="家庭财产超过规定",
                              reply="经核实，举报情况属实，已启动复核", request_recheck=False)
    r2, s2 = app.file_report(category=ReportCategory.LEFT_OUT, village=TAOYUAN, reference=None,
                             text="村干部优亲厚友，把亲戚纳入低保", contact=None,
                             reporter_name="匿名村民")
    app.escalate_report(clerk, r2.id, "举报内容涉及村干部，转纪委监委")
    app.record_report_investigation(inspector, r2.id, "调阅审批材料，约谈村委会主任")
    app.record_report_finding(inspector, r2.id, upheld=False, finding="未发现优亲厚友问题",
                              reply=None, request_recheck=False)
    q, sq = app.ask(township=YELIN, village=None, topic=AssistanceKind.DIBAO,
                    question="低保申请需要准备哪些材料？", contact="13698765432",
                    publish_consent=True)
    clock.advance(timedelta(days=2))
    app.answer_inquiry(clerk, q.id, "需要申请书、户口簿、身份证和家庭收入证明。", True)
    app.record_policy(PolicyChanged(version=3, effective_from=START.date(), table={
        "label": "2026年海南省城乡低保标准", "dibao_standard_urban": "720",
        "dibao_standard_rural": "640", "decision_working_days": {"dibao": 20, "tekun": 20}}),
        LEADER, "ev-p3")

    clock.advance(timedelta(days=6))  # a2's window has ended: the scheduler closes it
    closed = app.close_due_notices()
    return {"notices": {"a1": str(a1), "a2": str(a2), "b": str(b), "termination": str(t)},
           "objections": {"a2": str(o_a), "b": str(o_b)}, "closed_by_scheduler":
           [str(c) for c in closed], "reports": {
               "household": {"id": str(r1.id), "receipt": s1.receipt, "code": s1.code},
               "official": {"id": str(r2.id), "receipt": s2.receipt, "code": s2.code}},
           "inquiry": {"id": str(q.id), "receipt": sq.receipt, "code": sq.code}}


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    clock = ManualClock(START)
    app = open_app(OUT, clock)
    out = flow(app, clock)
    app.close()
    (OUT / "ids.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n",
                                  encoding="utf-8")
    for f in OUT.glob("publicity.db-*"):
        f.unlink()


if __name__ == "__main__":
    main()
