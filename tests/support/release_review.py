"""Write review's release-events fixture: a SQLite event store, encryption at rest on (key
file alongside), holding events of every aggregate kind review has (the policy table, review
cases of every kind and ending, entitlements through dynamic management, a spot check),
made by the code of the release through its application, as a county's store would hold
them.

    .venv/bin/python -m tests.support.release_review

tests/review/test_release_events.py loads them with the code of today, replays the same flow
with it and compares the events, and compares what today's contracts publish with
published.json. The committed files were written by the release (f1a6c7f, before issue 24
typed review's domain), published.json by `published()` run in a checkout of that commit
over the committed store. Re-running this with later code writes that later code's events,
which is not the point: keep the committed files.
"""

from __future__ import annotations

import gc
import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from services.review.application import ReviewApplication
from services.review.contracts import ReviewContracts
from services.review.domain import case_id_for, entitlement_id_for
from services.review.main import DEMO_POLICY_DIR, ReviewSettings
from shared.auth import Principal, Role
from shared.contracts import Actor
from shared.contracts.intake import ApplicationAcceptedV1, ChangeReportedV1
from shared.contracts.publicity import ReportUpheld
from shared.pii import Keyring, make_resident_id, mask_resident_id
from shared.regions import load_county

OUT = Path(__file__).parents[1] / "data" / "release_events" / "review"
YELIN, TAOYUAN = "469028100", "469028100201"  # 椰林镇 桃源村
DB, KEY, KEYRING = "review.db", "review-at-rest.key", "keyring.json"
PUBLISHED = "published.json"  # what the release's contracts made of these events

# Fixed ids: the test names the aggregates it loads.
APPLICATIONS = {name: UUID(f"0000a000-0000-4000-8000-{n:012d}") for n, name in enumerate(
    ["dibao", "tekun", "emergency", "expenditure", "edge", "rejected", "withdrawn",
     "objection"], start=1)}

CLERK = Principal(user_id="clerk-yelin-1", role=Role.TOWNSHIP_CLERK, township=YELIN,
                  name="王晓燕")
REVIEWER = Principal(user_id="rev-yelin-1", role=Role.TOWNSHIP_REVIEWER, township=YELIN)
LEADER = Principal(user_id="lead-yelin-1", role=Role.TOWNSHIP_LEADER, township=YELIN,
                   name="符海军")
CENTRE = Principal(user_id="centre-1", role=Role.COUNTY_CENTRE)
BUREAU = Principal(user_id="bureau-1", role=Role.COUNTY_BUREAU, name="陈国栋")
INTAKE_CLERK = CLERK.as_actor()
PUBLICITY = Actor(user_id="system:publicity", role="system", township=YELIN)

PANEL = [
    {"user_id": "u-lead", "name": "吉亚光", "role": "leader"},
    {"user_id": "u-dep", "name": "黎秀英", "role": "deputy"},
    {"user_id": "u-jw", "name": "王少华", "role": "discipline"},
    {"user_id": "u-dir", "name": "陈春梅", "role": "member"},
    {"user_id": "u-staff", "name": "卓文清", "role": "member"},
]
REPORT = {"bank": "两个账户合计8000元", "tax": "无纳税记录", "real_estate": "农村住房一处",
          "vehicles": "无", "social_insurance": "城乡居民基本养老保险",
          "business_registration": "无", "conclusion": "与申报一致"}
SELF_CARE = {"eating": True, "dressing": False, "bed_transfer": True, "toileting": False,
             "indoor_walking": True, "bathing": True}


def people(keyring: Keyring, applicant_born: date) -> list[dict[str, Any]]:
    out = []
    for seq, (name, relation, born, sex, extra) in enumerate([
        ("黎阿婆", "self", applicant_born, "female", {"work_capacity": "none"}),
        ("符阿妹", "child_in_law", date(1984, 5, 2), "female", {"work_capacity": "partial"}),
        ("黎小明", "grandchild", date(2014, 9, 1), "male", {"student": True}),
    ]):
        rid = make_resident_id("469028", born, seq + 10, sex)
        out.append({"name": name, "relation": relation, "birth_date": born,
                    "resident_id": keyring.seal(rid, mask_resident_id(rid), "member.resident_id"),
                    "fingerprint": keyring.fingerprint(rid), **extra})
    return out


def accepted(keyring: Keyring, which: str, kind: str, on: date, linshi_type: str | None = None,
             applicant_born: date = date(1956, 3, 14)) -> ApplicationAcceptedV1:
    members = people(keyring, applicant_born)
    members[2]["disability"] = {"grade": 2, "kind": "intellectual"} if which == "tekun" else None
    return ApplicationAcceptedV1.model_validate({
        "application_id": APPLICATIONS[which], "kind": kind, "township": YELIN,
        "village": TAOYUAN, "accepted_on": on, "applicant_name": "黎阿婆", "members": members,
        "close_relative_declared": which == "objection", "household_id": f"hh-{which}",
        "linshi_type": linshi_type, "urban": False,
        "incomes": [
            {"member_fingerprint": members[1]["fingerprint"], "kind": "wage",
             "amount": Decimal(3000), "months": 6},
            {"member_fingerprint": members[0]["fingerprint"], "kind": "basic_resident_pension",
             "amount": Decimal(1080), "months": 6},
        ],
        "assets": [{"kind": "deposit", "value": Decimal(8000)}],
        "bank_account": {"bank": "海南农信", "holder_name": "黎阿婆",
                         "account": keyring.seal("6228480123456789012", "***************9012",
                                                 "bank_account")},
    })


class Flow:
    def __init__(self, app: ReviewApplication, keyring: Keyring) -> None:
        self.app, self.keyring = app, keyring

    @contextmanager
    def on(self, day: date) -> Iterator[None]:
        self.app.today = lambda: day
        yield

    def open(self, which: str, kind: str, on: date, **extra: Any) -> UUID:
        with self.on(on):
            return self.app.open_case(accepted(self.keyring, which, kind, on, **extra),
                                      INTAKE_CLERK)

    def investigate(self, case_id: UUID, on: date, findings: dict[str, Any] | None = None,
                    assign: bool = True) -> None:
        with self.on(on):
            if assign:
                self.app.assign_investigation(CLERK, case_id, [
                    {"user_id": "u-w", "name": "王调查"}, {"user_id": "u-c", "name": "陈调查"}],
                    None)
            visit = {"visited_on": on, "investigators": ["王调查", "陈调查"],
                     "members_present": ["黎阿婆", "符阿妹"],
                     "signed_by": ["王调查", "陈调查", "黎阿婆"],
                     "documents": [{"document_id": f"arc-{case_id.hex[:6]}", "kind": "form",
                                    "description": None}],
                     "notes": "入户核实家庭成员与收入", "contractor": None}
            self.app.record_home_visit(CLERK, case_id, visit, findings or {
                "members": [], "incomes": None, "assets": None, "irregular_income": None})

    def verify(self, case_id: UUID, on: date) -> None:
        with self.on(on):
            self.app.record_interview(CLERK, case_id, {
                "method": "neighbour", "held_on": on, "with_whom": "邻居王大姐",
                "summary": "家中无其他收入来源"})
            self.app.request_verification(CLERK, case_id)
            self.app.record_verification(CENTRE, case_id, REPORT)

    def review(self, case_id: UUID, on: date, outcome: str = "approve") -> None:
        members = [{**m, "present": True, "related_to_household": False, "recused": False,
                    "recusal_reason": None, "opinion": outcome} for m in PANEL]
        with self.on(on):
            self.app.hold_joint_review(REVIEWER, case_id, on, members, outcome)

    def opinion(self, case_id: UUID, on: date, approve: bool = True, **assessment: Any) -> None:
        with self.on(on):
            self.app.issue_opinion(REVIEWER, case_id, approve,
                                   ["家庭人均收入低于当地低保标准"] if approve
                                   else ["家庭人均收入高于当地低保标准"],
                                   {"self_care": None, "care_mode": None, "band": None,
                                    "instalments": None, **assessment})

    def publicity(self, case_id: UUID, opened: date, closed: date, outcome: str = "clean",
                  round_: int = 1) -> None:
        notice = UUID(int=case_id.int ^ round_)
        with self.on(opened):
            self.app.publicity_opened(case_id, notice, round_, opened,
                                      date.fromordinal(opened.toordinal() + 6), PUBLICITY)
        with self.on(closed):
            self.app.publicity_closed(case_id, notice, round_, outcome,
                                      None if outcome == "clean" else "经核实有未申报经营收入",
                                      closed, PUBLICITY)

    def confirm(self, case_id: UUID, on: date) -> None:
        with self.on(on):
            self.app.confirm(LEADER, case_id, "经审核，符合条件，予以确认")


def write(out: Path = OUT, keyring_from: Path | None = None) -> None:
    """`keyring_from`: the release's keyring, so fingerprints come out the same."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    if keyring_from is not None:
        shutil.copy(keyring_from, out / KEYRING)
    settings = ReviewSettings(var_dir=out, keyring_file=out / KEYRING, encrypt_at_rest=True,
                              cipher_key_file=out / KEY, seed_demo_policy=False)
    keyring = Keyring.load_or_create(out / KEYRING)
    app = ReviewApplication(settings, settings.calendar, load_county(settings.region),
                            keyring=keyring)
    seed = json.loads((DEMO_POLICY_DIR / f"policy_{settings.region}_demo.json")
                      .read_text(encoding="utf-8"))
    app.seed_policy(seed["versions"])
    f = Flow(app, keyring)
    ids = {k: case_id_for(v) for k, v in APPLICATIONS.items()}

    # 低保: the whole procedure, the visit correcting the filed figures.
    dibao = ids["dibao"]
    f.open("dibao", "dibao", date(2026, 3, 2))
    mother = app._case(dibao).household["members"][1]["fingerprint"]
    f.investigate(dibao, date(2026, 3, 4), {
        "members": [{"member_fingerprint": mother, "counted": None, "work_capacity": "partial",
                     "serious_illness": True, "disability_grade": None,
                     "finding": "在县城打零工，患慢性病"}],
        "incomes": [{"member_fingerprint": mother, "kind": "wage", "amount": Decimal("3600"),
                     "months": 6}],
        "assets": None, "irregular_income": True})
    f.verify(dibao, date(2026, 3, 5))
    f.review(dibao, date(2026, 3, 6))
    f.opinion(dibao, date(2026, 3, 9))
    f.publicity(dibao, date(2026, 3, 10), date(2026, 3, 17))
    f.confirm(dibao, date(2026, 3, 18))

    # 特困: the self-care assessment, confirmation due after publicity.
    tekun = ids["tekun"]
    f.open("tekun", "tekun", date(2026, 3, 2), applicant_born=date(1950, 8, 8))
    f.investigate(tekun, date(2026, 3, 4))
    f.verify(tekun, date(2026, 3, 5))
    f.review(tekun, date(2026, 3, 6))
    f.opinion(tekun, date(2026, 3, 9), self_care=SELF_CARE, care_mode="dispersed")
    f.publicity(tekun, date(2026, 3, 10), date(2026, 3, 17))
    f.confirm(tekun, date(2026, 3, 19))

    # 临时救助 急难型: 先行救助 first, the record completed afterwards.
    emergency = ids["emergency"]
    f.open("emergency", "linshi", date(2026, 3, 3), linshi_type="emergency")
    with f.on(date(2026, 3, 3)):
        app.grant_advance(LEADER, emergency, "serious", 2, "房屋火灾，先行救助")
    f.investigate(emergency, date(2026, 3, 6))
    with f.on(date(2026, 3, 10)):
        app.complete_advance_record(CLERK, emergency, "补齐入户调查表与签字")

    # 临时救助 支出型 above the township ceiling: the county bureau approves.
    expenditure = ids["expenditure"]
    f.open("expenditure", "linshi", date(2026, 3, 2), linshi_type="expenditure")
    f.investigate(expenditure, date(2026, 3, 4))
    f.verify(expenditure, date(2026, 3, 5))
    f.review(expenditure, date(2026, 3, 6))
    f.opinion(expenditure, date(2026, 3, 9), band="major", instalments=3)
    with f.on(date(2026, 3, 10)):
        app.approve_at_county(BUREAU, expenditure, ["重病医疗支出，超过乡镇审批额度"])
    f.publicity(expenditure, date(2026, 3, 11), date(2026, 3, 18))
    f.confirm(expenditure, date(2026, 3, 19))

    # 低保边缘: confirmed with a validity.
    edge = ids["edge"]
    f.open("edge", "dibao_edge", date(2026, 3, 2))
    f.investigate(edge, date(2026, 3, 4))
    f.verify(edge, date(2026, 3, 5))
    f.review(edge, date(2026, 3, 6))
    f.opinion(edge, date(2026, 3, 9))
    f.publicity(edge, date(2026, 3, 10), date(2026, 3, 17))
    f.confirm(edge, date(2026, 3, 20))

    # Rejected after a joint review that rejects.
    rejected = ids["rejected"]
    f.open("rejected", "dibao", date(2026, 3, 2))
    f.investigate(rejected, date(2026, 3, 4))
    f.verify(rejected, date(2026, 3, 5))
    f.review(rejected, date(2026, 3, 6), outcome="reject")
    f.opinion(rejected, date(2026, 3, 9), approve=False)
    with f.on(date(2026, 3, 10)):
        app.reject(LEADER, rejected, ["家庭人均收入高于当地低保标准"])

    # Withdrawn in intake while open.
    f.open("withdrawn", "dibao", date(2026, 3, 2))
    with f.on(date(2026, 3, 5)):
        app.application_withdrawn(APPLICATIONS["withdrawn"], "申请人外出务工，撤回申请",
                                  date(2026, 3, 5), INTAKE_CLERK)

    # An objection upheld in publicity: a second round, the time limit extended.
    objection = ids["objection"]
    f.open("objection", "dibao", date(2026, 3, 2))
    f.investigate(objection, date(2026, 3, 4))
    f.verify(objection, date(2026, 3, 5))
    f.review(objection, date(2026, 3, 6))
    f.opinion(objection, date(2026, 3, 9))
    f.publicity(objection, date(2026, 3, 10), date(2026, 3, 17), outcome="upheld")
    with f.on(date(2026, 3, 18)):
        app.extend_deadline(LEADER, objection, "公示异议成立，重新调查")

    # 抽查 of March's confirmations.
    with f.on(date(2026, 4, 8)):
        check = app.draw_spot_check(CENTRE, YELIN, "2026-03")
        for n, s in enumerate(check.sample):
            upheld = n % 2 == 0
            app.record_spot_check_result(
                CENTRE, check.id, s["case_id"], upheld, None if upheld else "收入核算有误",
                None if upheld else "重新核算并追回多发资金")
        app.complete_spot_check(CENTRE, check.id)

    # 动态管理 of the 低保 benefit: a reported change, a report found true, the adjustment,
    # a recheck, a new standard, suspension, resumption, 渐退.
    dibao_ent = entitlement_id_for(dibao)
    boy = app._case(dibao).household["members"][2]
    with f.on(date(2026, 4, 10)):
        app.change_reported(ChangeReportedV1.model_validate({
            "change_id": UUID(int=1), "application_id": APPLICATIONS["dibao"],
            "case_id": dibao, "kind": "dibao", "township": YELIN, "village": TAOYUAN,
            "reported_on": date(2026, 4, 10), "occurred_on": date(2026, 4, 1),
            "subject": "income", "description": "符阿妹在椰林镇超市就业",
            "incomes": [{"member_fingerprint": mother, "kind": "wage",
                         "amount": Decimal("4800"), "months": 6}],
            "members_left": [{"fingerprint": boy["fingerprint"], "reason": "moved_out"}]}),
            INTAKE_CLERK)
    with f.on(date(2026, 4, 12)):
        app.report_upheld(ReportUpheld(
            report_id=UUID(int=2), category="not_eligible", township=YELIN, village=TAOYUAN,
            case_id=dibao, entitlement_id=dibao_ent, finding="经营收入未申报",
            upheld_on=date(2026, 4, 12)), PUBLICITY)
    with f.on(date(2026, 4, 15)):
        app.adjust(LEADER, dibao_ent, {"members": [], "incomes": None, "assets": None,
                                       "irregular_income": None},
                   {"self_care": None, "care_mode": None}, ["家庭收入增加，核减保障金"],
                   apply_reported=True)
    with f.on(date(2026, 4, 16)):
        app.record_recheck(LEADER, dibao_ent, "复查：收入变化已调整", False)
    with f.on(date(2026, 6, 10)):
        terms = dict(app.policy_versions()[-1]["terms"])
        terms |= {"dibao_standard_rural": "720", "dibao_standard_urban": "760",
                  "label": "2026年7月起提高城乡低保标准"}
        app.publish_policy(BUREAU, date(2026, 7, 1), _plain(terms), "县政府提高低保标准")
    with f.on(date(2026, 7, 2)):
        app.confirm_standard_change(LEADER, YELIN, 3)
    tekun_ent = entitlement_id_for(tekun)
    for day, change, reasons in [
        (date(2026, 7, 10), "suspend", ["外出半年，暂停发放待核实"]),
        (date(2026, 8, 3), "resume", ["已返乡核实"]),
        (date(2026, 9, 1), "phase_out", ["符阿妹稳定就业，渐退"]),
    ]:
        with f.on(day):
            app.change_status(LEADER, dibao_ent, change, reasons,
                              3 if change == "phase_out" else None)

    # 特困 termination: publicity, an objection upheld (withdrawn), then a clean notice.
    with f.on(date(2026, 7, 20)):
        app.change_status(LEADER, tekun_ent, "terminate", ["由子女接回赡养"])
    with f.on(date(2026, 7, 28)):
        app.termination_notice_closed(tekun, "upheld", "子女无赡养能力", date(2026, 7, 28),
                                      PUBLICITY)
    with f.on(date(2026, 8, 5)):
        app.change_status(LEADER, tekun_ent, "terminate", ["入住敬老院后由亲属供养"])
    with f.on(date(2026, 8, 13)):
        app.termination_notice_closed(tekun, "clean", None, date(2026, 8, 13), PUBLICITY)
    app.close()


def compact(db_file: Path) -> None:
    """Small pages, no free ones: the committed store stays small (the content is as
    written)."""
    db = sqlite3.connect(db_file)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA page_size=1024")
        db.execute("VACUUM")
    finally:
        db.close()


def published(store: Path) -> list[dict[str, Any] | None]:
    """What review's contracts publish for each event of a store, as JSON: the release's
    answer is committed (published.json) for today's code to give again."""
    settings = ReviewSettings(var_dir=store, keyring_file=store / KEYRING, encrypt_at_rest=True,
                              cipher_key_file=store / KEY, seed_demo_policy=False)
    keyring = Keyring.load_or_create(store / KEYRING)
    app = ReviewApplication(settings, settings.calendar, load_county(settings.region),
                            keyring=keyring)
    contracts = ReviewContracts(app, keyring)
    out: list[dict[str, Any] | None] = []
    try:
        for position, event in app.iter_domain_events():
            message = contracts(event, position)
            out.append(None if message is None else {
                "type": message.contract.TYPE, "version": message.contract.VERSION,
                "data": message.contract.model_dump(mode="json"), "case_id": message.case_id,
                "household_id": message.household_id, "township": message.township})
    finally:
        app.close()
    return out


def write_published(messages: list[dict[str, Any] | None]) -> None:
    lines = [json.dumps(m, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
             for m in messages]
    (OUT / PUBLISHED).write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")


def _plain(terms: dict[str, Any]) -> dict[str, Any]:
    return {k: ({i: str(x) for i, x in v.items()} if isinstance(v, dict)
                else str(v) if isinstance(v, Decimal) else v) for k, v in terms.items()}


if __name__ == "__main__":
    write()
    gc.collect()  # the application's connections, before the store is rewritten
    compact(OUT / DB)
    write_published(published(OUT))
    for extra in OUT.iterdir():  # what the fixture needs is the store, its key, the keyring
        if extra.name not in (DB, KEY, KEYRING, PUBLISHED):
            shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
    for p in sorted(OUT.iterdir()):
        print(p.name, p.stat().st_size)
