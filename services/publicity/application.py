"""Publicity's one writer: notices and their objections, the long-term roster, and the
queries behind the public board and the officials' queues."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, select

from services.publicity.domain import (
    CODE_ALPHABET,
    CODE_LENGTH,
    MATERIAL_CONDITIONS,
    STANDARD_TERMS,
    SYSTEM_ACTOR,
    TIME_LIMIT_TERMS,
    Inquiry,
    InquiryStatus,
    InvestigationMethod,
    Notice,
    NoticeStatus,
    NoticeSubject,
    NoticeWindow,
    PolicyBulletin,
    PolicyVersion,
    PublicContent,
    Report,
    ReportCategory,
    ReportQueue,
    ReportStatus,
    ReportSubject,
    RosterChange,
    RosterEntry,
    Secret,
    check_code,
    may_decide_report,
    may_investigate_report,
    may_read_report,
    notice_id_for,
    policy_bulletin_id,
    procedure,
    public_terms,
    roster_entry_id_for,
)
from services.publicity.projections import PublicityProjection
from shared.auth import Principal, Role
from shared.calendar import WorkingCalendar
from shared.clock import Clock, month_of, today
from shared.contracts import Actor
from shared.contracts.common import AssistanceKind
from shared.contracts.review import (
    EntitlementChanged,
    EntitlementStarted,
    OpinionIssued,
    PolicyChanged,
    TerminationNoticeRequested,
)
from shared.errors import Forbidden, NotFound, RuleViolation
from shared.eventstore import ServiceApplication
from shared.regions import County, UnknownRegion
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

# Objectors are not identified to the township: the event records only that the public filed.
PUBLIC_ACTOR = Actor(user_id="public", role="public")

OfficialView = Literal["open", "closing_soon", "pending_objections", "closed", "all"]


@dataclass(frozen=True)
class PublicityPolicy:
    """The county's settings for publicity (DOMAIN.md marks them "setting")."""

    window_days: int = 7  # 公示期, calendar days [S2 Art. 19]
    name_rule: str = "keep_surname"  # how the public board masks names
    closing_soon_days: int = 2  # officials' "closing soon" horizon
    inquiry_response_working_days: int = 5  # 咨询答复时限 (county setting)


class MaterialItem(BaseModel):
    """One line of intake's materials checklist (材料清单), as intake's policy file has it."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    code: str
    name: str
    when: str = "always"
    held_by_government: bool = False


class ChecklistVersion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    version: int = Field(ge=1)
    effective_from: date
    source: str = ""
    materials_may_follow: tuple[str, ...] = ()
    materials: dict[AssistanceKind, tuple[MaterialItem, ...]]


class Checklists(BaseModel):
    """Intake's checklists, read from the very file intake enforces (never its code): only
    the parts the public page shows, so intake may add rules without breaking this."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    versions: tuple[ChecklistVersion, ...] = Field(min_length=1)

    def in_force(self, on: date) -> ChecklistVersion | None:
        # Intake's rule: versions ascend; the last one effective by `on` applies.
        eligible = [v for v in self.versions if v.effective_from <= on]
        return eligible[-1] if eligible else None


class PublicityApplication(ServiceApplication):
    name = "publicity"

    def __init__(self, settings: ServiceSettings, county: County,
                 policy: PublicityPolicy | None = None, clock: Clock | None = None,
                 calendar: WorkingCalendar | None = None,
                 checklists: Checklists | None = None) -> None:
        self.county = county
        self.policy = policy or PublicityPolicy()
        self.clock: Clock = clock or settings.clock
        self.calendar = calendar or settings.calendar
        self.checklists = checklists
        self.views = PublicityProjection()
        super().__init__(settings, self.views)

    def today(self) -> date:
        return today(self.clock)

    # --- reactions to review --------------------------------------------------------------

    def open_opinion_notice(self, opinion: OpinionIssued, actor: Actor,
                            source_event_id: str) -> UUID | None:
        """Post a review opinion in the household's village, unless it needs no publicity
        (急难型 先行救助) or this round is already posted."""
        if not opinion.publicity_required:
            return None
        content = PublicContent.masked(
            opinion.applicant_name, self.policy.name_rule, opinion.household_size,
            opinion.kind.value, opinion.monthly_amount if opinion.approve else None,
            opinion.village)
        return self._post(
            case_id=opinion.case_id, subject=NoticeSubject.OPINION, round_=opinion.round,
            kind=opinion.kind.value, township=opinion.township, village=opinion.village,
            household_id=opinion.household_id, entitlement_id=None, content=content,
            approve=opinion.approve, source_event_id=source_event_id, actor=actor)

    def open_termination_notice(self, request: TerminationNoticeRequested,
                                actor: Actor, source_event_id: str) -> UUID | None:
        """特困 termination: 7 days' publicity before it takes effect. The amount shown is
        the one being stopped, from the roster (when the roster knows the benefit)."""
        entry = self._roster_entry(request.entitlement_id)
        content = PublicContent.masked(
            request.applicant_name, self.policy.name_rule, request.household_size,
            request.kind.value, entry.monthly_amount if entry else None, request.village)
        with self.read_session() as s:
            t = self.views.notices
            rounds = s.execute(select(func.max(t.c.round)).where(
                t.c.case_id == str(request.case_id),
                t.c.subject == NoticeSubject.TERMINATION.value)).scalar()
        return self._post(
            case_id=request.case_id, subject=NoticeSubject.TERMINATION,
            round_=(rounds or 0) + 1, kind=request.kind.value, township=request.township,
            village=request.village, household_id=None, entitlement_id=request.entitlement_id,
            content=content, approve=False, source_event_id=source_event_id, actor=actor)

    def _post(self, *, case_id: UUID, subject: NoticeSubject, round_: int, kind: str,
              township: str, village: str, household_id: str | None,
              entitlement_id: UUID | None, content: PublicContent, approve: bool,
              source_event_id: str, actor: Actor) -> UUID | None:
        t = self.views.notices
        with self.read_session() as s:
            earlier = s.execute(select(t.c.notice_id, t.c.round, t.c.status).where(
                t.c.case_id == str(case_id), t.c.subject == subject.value)).all()
        if any(r.round >= round_ for r in earlier):
            # The same round again (or a stale one) under a new position: already posted.
            log.warning("notice for case %s %s round %d already posted; ignored",
                        case_id, subject, round_)
            return None
        notice = Notice.post(
            case_id=case_id, subject=subject, round_=round_, kind=kind, township=township,
            village=village, household_id=household_id, entitlement_id=entitlement_id,
            window=NoticeWindow.posted(self.today(), self.policy.window_days), content=content,
            name_rule=self.policy.name_rule, approve=approve, opened_from=source_event_id,
            actor=actor)
        replaced = []
        for r in earlier:
            if r.status == NoticeStatus.OPEN.value:
                old: Notice = self.get(UUID(r.notice_id), "notice")
                old.supersede(notice.id, actor)
                replaced.append(old)
        self.save(notice, *replaced)
        return notice.id

    def list_entitlement(self, started: EntitlementStarted, actor: Actor,
                         source_event_id: str) -> UUID | None:
        entry_id = roster_entry_id_for(started.entitlement_id)
        if self._roster_entry(started.entitlement_id) is not None:
            log.warning("roster entry %s already listed; ignored", entry_id)
            return None
        content = PublicContent.masked(
            started.applicant_name, self.policy.name_rule, started.household_size,
            started.kind.value, started.monthly_amount, started.village)
        entry = RosterEntry.list_(
            entitlement_id=started.entitlement_id, case_id=started.case_id,
            township=started.township, content=content, name_rule=self.policy.name_rule,
            start_month=started.start_month, source_event_id=source_event_id, actor=actor)
        self.save(entry)
        return entry.id

    def change_entitlement(self, changed: EntitlementChanged, actor: Actor,
                           source_event_id: str) -> None:
        entry = self._roster_entry(changed.entitlement_id)
        if entry is None:
            raise RuleViolation("publicity.unknown_entitlement",
                                f"entitlement {changed.entitlement_id} was never started here",
                                field="entitlement_id")
        entry.change(RosterChange(changed.change), monthly_amount=changed.monthly_amount,
                     household_size=changed.household_size,
                     effective_month=changed.effective_month, source_event_id=source_event_id,
                     actor=actor)
        self.save(entry)

    def _roster_entry(self, entitlement_id: UUID) -> RosterEntry | None:
        try:
            entry: RosterEntry = self.get(roster_entry_id_for(entitlement_id), "roster entry")
        except NotFound:
            return None
        return entry

    # --- objections -------------------------------------------------------------------------

    def file_objection(self, notice_id: UUID, *, text: str, contact: str | None,
                       objector_name: str | None) -> UUID:
        """异议: anyone, no login. Only the public notice's id is needed."""
        notice = self._notice(notice_id)
        objection_id = uuid4()
        notice.file_objection(objection_id, text=text, contact=contact,
                              objector_name=objector_name, on=self.today(), actor=PUBLIC_ACTOR)
        self.save(notice)
        return objection_id

    def record_investigation(self, who: Principal, notice_id: UUID, objection_id: UUID, *,
                             method: InvestigationMethod, notes: str) -> Notice:
        notice = self._notice(notice_id)
        who.check_jurisdiction(notice.township)
        notice.record_investigation(objection_id, method=method, notes=notes, on=self.today(),
                                    actor=who.as_actor())
        self.save(notice)
        return notice

    def resolve_objection(self, who: Principal, notice_id: UUID, objection_id: UUID, *,
                          upheld: bool, finding: str) -> Notice:
        notice = self._notice(notice_id)
        who.check_jurisdiction(notice.township)
        notice.resolve_objection(objection_id, upheld=upheld, finding=finding, on=self.today(),
                                 actor=who.as_actor())
        self.save(notice)
        return notice

    def _notice(self, notice_id: UUID) -> Notice:
        notice: Notice = self.get(notice_id, "notice")
        return notice

    # --- the scheduler's command -------------------------------------------------------------

    def close_due_notices(self, limit: int = 200) -> list[UUID]:
        """Close every open notice whose window has ended and that awaits no finding.

        Safe to run any time and from any replica: a notice closed concurrently loses the
        version race and is simply skipped here.
        """
        day = self.today()
        t = self.views.notices
        with self.read_session() as s:
            due = s.execute(select(t.c.notice_id).where(
                t.c.status == NoticeStatus.OPEN.value, t.c.ends_on < day,
                t.c.objections_pending == 0).order_by(t.c.ends_on).limit(limit)).scalars().all()
        closed: list[UUID] = []
        for key in due:
            notice = self._notice(UUID(key))
            if notice.close_if_due(day, SYSTEM_ACTOR):
                try:
                    self.save(notice)
                except IntegrityError:  # an objection or another closer got there first
                    continue
                closed.append(notice.id)
        return closed

    # --- queries ----------------------------------------------------------------------------

    def village_name(self, code: str) -> str | None:
        try:
            return self.county.village(code)[1].name
        except UnknownRegion:
            return None

    def check_place(self, township: str | None, village: str | None) -> None:
        if village is not None and township is not None and not self.county.is_village_of(
                village, township):
            raise RuleViolation("publicity.unknown_village",
                                f"village {village} is not in township {township}",
                                field="village")
        if village is not None and township is None:
            try:
                self.county.village(village)
            except UnknownRegion as e:
                raise RuleViolation("publicity.unknown_village", str(e), field="village") from None
        if township is not None:
            try:
                self.county.township(township)
            except UnknownRegion as e:
                raise RuleViolation("publicity.unknown_township", str(e),
                                    field="township") from None

    def public_notices(self, *, township: str | None, village: str | None, limit: int,
                       offset: int) -> tuple[int, list[dict[str, Any]]]:
        """The notices posted now: open ones only, public fields only."""
        self.check_place(township, village)
        t = self.views.notices
        q = select(t).where(t.c.status == NoticeStatus.OPEN.value)
        if township is not None:
            q = q.where(t.c.township == township)
        if village is not None:
            q = q.where(t.c.village == village)
        return self._page(q, [t.c.village, t.c.starts_on, t.c.notice_id], limit, offset)

    def public_notice(self, notice_id: UUID) -> dict[str, Any]:
        t = self.views.notices
        with self.read_session() as s:
            row = s.execute(select(t).where(t.c.notice_id == str(notice_id),
                                            t.c.status == NoticeStatus.OPEN.value)).first()
        if row is None:
            raise NotFound("publicity.notice_not_posted", f"no notice {notice_id} is posted")
        return dict(row._mapping)

    def official_notices(self, who: Principal, township: str, view: OfficialView, limit: int,
                         offset: int) -> tuple[int, list[dict[str, Any]]]:
        who.check_jurisdiction(township, who.village)
        t = self.views.notices
        q = select(t).where(t.c.township == township)
        if who.village:  # a village assistant: their own village's board
            q = q.where(t.c.village == who.village)
        is_open = t.c.status == NoticeStatus.OPEN.value
        horizon = self.today() + timedelta(days=self.policy.closing_soon_days)
        q = q.where({
            "open": is_open,
            "closing_soon": and_(is_open, t.c.ends_on <= horizon),
            "pending_objections": t.c.objections_pending > 0,
            "closed": t.c.status != NoticeStatus.OPEN.value,
            "all": t.c.notice_id.is_not(None),
        }[view])
        return self._page(q, [t.c.ends_on, t.c.notice_id], limit, offset)

    def notice(self, who: Principal, notice_id: UUID) -> Notice:
        notice = self._notice(notice_id)
        who.check_jurisdiction(notice.township, notice.village)
        return notice

    def roster(self, *, township: str | None, village: str | None, as_of: date | None,
               limit: int, offset: int) -> tuple[date, int, list[dict[str, Any]]]:
        """长期公示 as it stood on `as_of` (default today): per entry, the latest event
        effective by that month, if it left the household listed."""
        self.check_place(township, village)
        day = as_of or self.today()
        if day > self.today():
            raise RuleViolation("publicity.as_of_future", "as_of cannot be in the future",
                                field="as_of")
        r = self.views.roster
        latest = func.row_number().over(
            partition_by=r.c.entry_id,
            order_by=[r.c.effective_month.desc(), r.c.position.desc()]).label("rn")
        inner = select(r, latest).where(r.c.effective_month <= month_of(day))
        if township is not None:
            inner = inner.where(r.c.township == township)
        if village is not None:
            inner = inner.where(r.c.village == village)
        sub = inner.subquery()
        q = select(sub).where(sub.c.rn == 1, sub.c.listed.is_(True))
        total, items = self._page(q, [sub.c.village, sub.c.display_name, sub.c.entry_id],
                                  limit, offset)
        return day, total, items

    def _page(self, q: Any, order: list[Any], limit: int,
              offset: int) -> tuple[int, list[dict[str, Any]]]:
        with self.read_session() as s:
            total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
            rows = s.execute(q.order_by(*order).limit(limit).offset(offset))
            return int(total), [dict(row._mapping) for row in rows]

    # for tests and ops: what notice a case round got
    @staticmethod
    def notice_id(case_id: UUID, subject: str, round_: int) -> UUID:
        return notice_id_for(case_id, subject, round_)

    # =========================================================================================
    # The public channel: reports (举报), inquiries (咨询), policy information (政策宣传)
    # =========================================================================================

    def _secret(self, prefix: str) -> Secret:
        """A receipt number nobody holds yet and a fresh code; only the code's hash is kept."""
        for _ in range(5):
            tail = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
            receipt = f"{prefix}-{self.today():%Y%m%d}-{tail}"
            if self._by_receipt(receipt) is None:
                raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                return Secret.issued(receipt, raw, secrets.token_hex(16))
        raise RuntimeError("could not draw a free receipt number")  # 32^8 per day: never

    def _by_receipt(self, receipt: str) -> tuple[str, UUID] | None:
        for kind, table, key in (("report", self.views.reports, "report_id"),
                                 ("inquiry", self.views.inquiries, "inquiry_id")):
            with self.read_session() as s:
                found = s.execute(select(table.c[key]).where(
                    table.c.receipt == receipt)).scalar()
            if found is not None:
                return kind, UUID(found)
        return None

    def _place(self, township: str | None, village: str | None) -> tuple[str, str | None]:
        """The township a public submission goes to, from its village when one is given."""
        if village is not None:
            self.check_place(township, village)
            return self.county.village(village)[0].code, village
        if township is None:
            raise RuleViolation("publicity.place_required", "name a township or a village",
                                field="township")
        self.check_place(township, None)
        return township, None

    # --- reports ---------------------------------------------------------------------------

    def resolve_reference(self, village: str, reference: UUID | None) -> ReportSubject:
        """What the public board showed (a notice, or a roster line's reference) → the case
        behind it. Only publicity knows the mapping; the reporter never learns it."""
        township, _ = self._place(None, village)
        if reference is None:
            return ReportSubject(township=township, village=village)
        try:
            found: Notice | RosterEntry = self.get(reference, "reference")
        except NotFound:
            raise RuleViolation("publicity.unknown_reference",
                                "no notice or roster entry has this reference",
                                field="reference") from None
        if not isinstance(found, Notice | RosterEntry):
            raise RuleViolation("publicity.unknown_reference",
                                "no notice or roster entry has this reference",
                                field="reference")
        if found.village != village:
            raise RuleViolation("publicity.reference_elsewhere",
                                "this reference belongs to another village", field="reference")
        household = found.household_id if isinstance(found, Notice) else None
        return ReportSubject(township=township, village=village, reference=str(reference),
                             case_id=found.case_id, entitlement_id=found.entitlement_id,
                             household_id=household)

    def file_report(self, *, category: ReportCategory, village: str, reference: UUID | None,
                    text: str, contact: str | None, reporter_name: str | None
                    ) -> tuple[Report, Secret]:
        """举报: anyone, no login. The event records only that the public filed it."""
        subject = self.resolve_reference(village, reference)
        secret = self._secret("JB")
        report = Report.file(category=category, subject=subject, text=text, contact=contact,
                             reporter_name=reporter_name, secret=secret, on=self.today(),
                             actor=PUBLIC_ACTOR)
        self.save(report)
        return report, secret

    def report_for_reporter(self, receipt: str, code: str) -> Report:
        """The reporter's own report, or the same 404 for an unknown receipt and a wrong code
        (no oracle for which receipts exist)."""
        found = self._by_receipt(receipt)
        report = self.get(found[1], "report") if found and found[0] == "report" else None
        # Compare even when the receipt is unknown, so both refusals take the same time.
        matches = report.code_matches(code) if report is not None else _spend_a_comparison(code)
        if report is None or not matches:
            raise NotFound("publicity.receipt_not_found",
                           "no report with this receipt number and code")
        return report

    def report(self, who: Principal, report_id: UUID) -> Report:
        """A report the caller may read; any other is "not found", so the accused township
        cannot even learn that a report about it exists."""
        try:
            report = self.get(report_id, "report")
        except NotFound:
            report = None
        if not isinstance(report, Report) or not may_read_report(
                report.queue, report.township, who.role.value, who.township):
            raise NotFound("publicity.report_not_found", f"report {report_id} not found")
        return report

    def reports(self, who: Principal, *, queue: ReportQueue, township: str | None,
                view: Literal["open", "concluded", "all"], limit: int,
                offset: int) -> tuple[int, list[dict[str, Any]]]:
        t = self.views.reports
        if queue == ReportQueue.DISCIPLINE and who.role is not Role.DISCIPLINE_INSPECTOR:
            raise Forbidden("publicity.discipline_queue",
                            "only the discipline inspector reads this queue", field="queue")
        if township is not None:
            self.check_place(township, None)
            who.check_jurisdiction(township)
        elif not who.is_county:
            raise RuleViolation("publicity.township_required", "name your township",
                                field="township")
        q = select(t).where(t.c.queue == queue.value)
        if township is not None:
            q = q.where(t.c.township == township)
        if view == "open":
            q = q.where(t.c.status != ReportStatus.CONCLUDED.value)
        elif view == "concluded":
            q = q.where(t.c.status == ReportStatus.CONCLUDED.value)
        total, rows = self._page(q, [t.c.filed_on, t.c.report_id], limit, offset)
        # Belt and braces: the rule itself, applied to every row returned.
        visible = [r for r in rows if may_read_report(r["queue"], r["township"],
                                                      who.role.value, who.township)]
        if len(visible) != len(rows):  # pragma: no cover - the query already excludes them
            raise Forbidden("publicity.report_scope", "listing crossed a queue boundary")
        return total, visible

    def _acting_on(self, who: Principal, report_id: UUID,
                   allowed: Any) -> Report:
        report = self.report(who, report_id)
        if not allowed(report.queue, report.township, who.role.value, who.township):
            raise Forbidden("publicity.report_role",
                            f"role {who.role.value} may not do this to this report",
                            field="role")
        return report

    def escalate_report(self, who: Principal, report_id: UUID, reason: str) -> Report:
        report = self.report(who, report_id)  # whoever may read a household report
        report.escalate(reason, self.today(), who.as_actor())
        self.save(report)
        return report

    def record_report_investigation(self, who: Principal, report_id: UUID,
                                    notes: str) -> Report:
        report = self._acting_on(who, report_id, may_investigate_report)
        report.record_investigation(notes, self.today(), who.as_actor())
        self.save(report)
        return report

    def record_report_finding(self, who: Principal, report_id: UUID, *, upheld: bool,
                              finding: str, reply: str | None,
                              request_recheck: bool) -> Report:
        report = self._acting_on(who, report_id, may_decide_report)
        report.record_finding(upheld=upheld, finding=finding, reply=reply,
                              request_recheck=request_recheck, on=self.today(),
                              actor=who.as_actor())
        self.save(report)
        return report

    # --- inquiries -------------------------------------------------------------------------

    def ask(self, *, township: str | None, village: str | None,
            topic: AssistanceKind | None, question: str, contact: str | None,
            publish_consent: bool) -> tuple[Inquiry, Secret]:
        """咨询: answered by the township within the response limit, in working days."""
        township, village = self._place(township, village)
        today = self.today()
        due = self.calendar.add_working_days(today,
                                             self.policy.inquiry_response_working_days)
        secret = self._secret("ZX")
        inquiry = Inquiry.ask(township=township, village=village,
                              topic=topic.value if topic else None, question=question,
                              contact=contact, publish_consent=publish_consent,
                              secret=secret, on=today, due_on=due.due,
                              due_provisional=due.provisional, actor=PUBLIC_ACTOR)
        self.save(inquiry)
        return inquiry, secret

    def inquiry_for_asker(self, receipt: str, code: str) -> Inquiry:
        found = self._by_receipt(receipt)
        inquiry = self.get(found[1], "inquiry") if found and found[0] == "inquiry" else None
        matches = inquiry.code_matches(code) if inquiry is not None else _spend_a_comparison(
            code)
        if inquiry is None or not matches:
            raise NotFound("publicity.receipt_not_found",
                           "no inquiry with this receipt number and code")
        return inquiry

    def inquiry(self, who: Principal, inquiry_id: UUID) -> Inquiry:
        try:
            inquiry = self.get(inquiry_id, "inquiry")
        except NotFound:
            inquiry = None
        if not isinstance(inquiry, Inquiry):
            raise NotFound("publicity.inquiry_not_found", f"inquiry {inquiry_id} not found")
        who.check_jurisdiction(inquiry.township)
        return inquiry

    def answer_inquiry(self, who: Principal, inquiry_id: UUID, answer: str,
                       publish: bool) -> Inquiry:
        inquiry = self.inquiry(who, inquiry_id)
        inquiry.give_answer(answer, publish=publish, on=self.today(), actor=who.as_actor())
        self.save(inquiry)
        return inquiry

    def inquiries(self, who: Principal, township: str,
                  view: Literal["open", "overdue", "answered", "all"], limit: int,
                  offset: int) -> tuple[int, list[dict[str, Any]]]:
        """The township's inquiries; "overdue": unanswered past the limit, oldest first,
        with the working days late."""
        self.check_place(township, None)
        who.check_jurisdiction(township)
        t = self.views.inquiries
        today = self.today()
        q = select(t).where(t.c.township == township)
        is_open = t.c.status == InquiryStatus.OPEN.value
        q = q.where({"open": is_open, "overdue": and_(is_open, t.c.due_on < today),
                     "answered": t.c.status == InquiryStatus.ANSWERED.value,
                     "all": t.c.inquiry_id.is_not(None)}[view])
        total, rows = self._page(q, [t.c.due_on, t.c.inquiry_id], limit, offset)
        for r in rows:
            overdue = r["status"] == InquiryStatus.OPEN.value and r["due_on"] < today
            r["overdue"] = overdue
            r["working_days_late"] = (self.calendar.working_days_between(r["due_on"], today)
                                      if overdue else 0)
        return total, rows

    def published_answers(self, *, township: str | None, topic: AssistanceKind | None,
                          limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        self.check_place(township, None)
        t = self.views.inquiries
        q = select(t.c.inquiry_id, t.c.township, t.c.topic, t.c.question, t.c.answer,
                   t.c.asked_on, t.c.answered_on).where(t.c.published.is_(True))
        if township is not None:
            q = q.where(t.c.township == township)
        if topic is not None:
            q = q.where(t.c.topic == topic.value)
        sub = q.subquery()
        return self._page(select(sub), [sub.c.answered_on.desc(), sub.c.inquiry_id],
                          limit, offset)

    # --- policy information ------------------------------------------------------------------

    def record_policy(self, changed: PolicyChanged, actor: Actor,
                      source_event_id: str) -> bool:
        """Review published a policy version: keep it to show from its effective date."""
        try:
            bulletin: PolicyBulletin = self.get(policy_bulletin_id(self.settings.region))
        except NotFound:
            bulletin = PolicyBulletin(region=self.settings.region, actor=actor.stored())
        if not bulletin.record(changed.version, changed.effective_from, changed.table,
                               source_event_id, actor):
            return False
        self.save(bulletin)
        return True

    def _bulletin(self) -> PolicyBulletin:
        try:
            bulletin: PolicyBulletin = self.get(policy_bulletin_id(self.settings.region))
        except NotFound:
            raise NotFound("publicity.policy_not_published",
                           "review has not published a policy table yet") from None
        return bulletin

    def _policy_day(self, on: date | None) -> date:
        day = on or self.today()
        if day > self.today():
            raise RuleViolation("publicity.as_of_future",
                                "ask about today or the past; scheduled changes are listed "
                                "under upcoming", field="on")
        return day

    def _in_force(self, on: date | None) -> tuple[date, PolicyVersion, PolicyBulletin]:
        day = self._policy_day(on)
        bulletin = self._bulletin()
        version = bulletin.in_force(day)
        if version is None:
            raise NotFound("publicity.policy_not_in_force", f"no policy was in force on {day}")
        return day, version, bulletin

    def standards(self, on: date | None) -> dict[str, Any]:
        """The standards review applies on `on` (default today), and those scheduled."""
        day, version, bulletin = self._in_force(on)
        return {"on": day, **public_terms(version, STANDARD_TERMS),
                "upcoming": [public_terms(v, STANDARD_TERMS)
                             for v in bulletin.upcoming(self.today())]}

    def time_limits(self, on: date | None) -> dict[str, Any]:
        day, version, _ = self._in_force(on)
        body = public_terms(version, TIME_LIMIT_TERMS)
        body["terms"] |= {
            "notice_window_days": self.policy.window_days,
            "inquiry_response_working_days": self.policy.inquiry_response_working_days}
        return {"on": day, **body}

    def kind_information(self, kind: AssistanceKind) -> dict[str, Any]:
        """The materials checklist intake enforces today, and the procedure with the time
        limits review enforces today."""
        day = self.today()
        checklist = self.checklists.in_force(day) if self.checklists else None
        if checklist is None:
            raise NotFound("publicity.checklist_unavailable",
                           "the materials checklist is not available")
        limits = self._in_force(day)[1]
        items = [{"code": m.code, "name": m.name, "when": m.when,
                  "condition": MATERIAL_CONDITIONS.get(m.when, m.when),
                  "held_by_government": m.held_by_government,
                  "bring": not m.held_by_government}
                 for m in checklist.materials.get(kind, ())]
        return {"kind": kind.value, "on": day, "checklist_version": checklist.version,
                "checklist_effective_from": checklist.effective_from,
                "checklist_source": checklist.source, "materials": items,
                "materials_may_follow": (list(checklist.materials_may_follow)
                                         if kind is AssistanceKind.LINSHI else []),
                "policy_version": limits.policy_version,
                "procedure": procedure(kind.value, limits.terms, self.policy.window_days)}

    def township_offices(self) -> dict[str, Any]:
        """Where to apply, ask and report: each township's social-affairs service centre."""
        return {"county": {"code": self.county.code, "name": self.county.name},
                "villages_are_sample": self.county.villages_are_sample,
                "townships": [{
                    "code": t.code, "name": t.name, "pinyin": t.pinyin,
                    "office": f"{t.name}社会事务服务中心",
                    "villages": [{"code": v.code, "name": v.name, "kind": v.kind}
                                 for v in t.villages]} for t in self.county.townships]}



def _spend_a_comparison(code: str) -> bool:
    """An unknown receipt still costs one hash and comparison, like a wrong code."""
    check_code(code, "0" * 32, "0" * 64)
    return False
