"""Publicity's request and response shapes, and how notices, reports and inquiries become
their responses.

Public responses are built field by field from `PublicNotice` / `PublicRosterItem`, which
hold only what the rules allow: masked name, household size, kind, amount, village (plus
the notice's own id and dates, needed to object). Nothing else can reach them.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.publicity.application import OfficialView, PublicityApplication
from services.publicity.domain import (
    ANSWER_MAX,
    CONTACT_MAX,
    FINDING_MAX,
    INQUIRY_TEXT_MAX,
    OBJECTION_TEXT_MAX,
    OBJECTOR_NAME_MAX,
    REASON_MAX,
    REPLY_MAX,
    REPORT_TEXT_MAX,
    REPORTER_NAME_MAX,
    Inquiry,
    InvestigationMethod,
    Notice,
    Report,
    ReportCategory,
    ReportQueue,
)
from shared.auth import Principal, Role
from shared.contracts.common import AssistanceKind

TOWNSHIP = r"^\d{9}$"
VILLAGE = r"^\d{12}$"
CODE_HEADER = "Receipt-Code"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ObjectionIn(_In):
    text: str = Field(min_length=1, max_length=OBJECTION_TEXT_MAX)
    contact: str | None = Field(None, max_length=CONTACT_MAX)
    name: str | None = Field(None, max_length=OBJECTOR_NAME_MAX)  # omit to stay anonymous


class InvestigationIn(_In):
    method: InvestigationMethod
    notes: str = Field(min_length=1, max_length=FINDING_MAX)


class ResolutionIn(_In):
    upheld: bool
    finding: str = Field(min_length=1, max_length=FINDING_MAX)  # the reasons, always


class VillageOut(BaseModel):
    code: str
    name: str | None


class PublicNotice(BaseModel):
    """公示 as posted on the village board."""

    notice_id: UUID
    subject: Literal["opinion", "termination"]
    starts_on: date
    ends_on: date
    name: str  # masked by the county's display rule
    household_size: int
    kind: AssistanceKind
    monthly_amount: Decimal | None
    village: VillageOut


class PublicRosterItem(BaseModel):
    """长期公示: name, household size and amount [S2 Art. 24], with kind and village."""

    reference: UUID  # opaque; lets a report (举报) name the entry without naming anyone
    name: str
    household_size: int
    kind: AssistanceKind
    monthly_amount: Decimal
    village: VillageOut


class NoticePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[PublicNotice]


class RosterPage(BaseModel):
    as_of: date
    total: int
    limit: int
    offset: int
    items: list[PublicRosterItem]


class ObjectionReceipt(BaseModel):
    objection_id: UUID
    notice_id: UUID
    status: str
    filed_on: date


class ObjectionState(BaseModel):
    objection_id: UUID
    status: str
    upheld: bool | None
    finding: str | None
    notice_status: str
    outcome: str | None


class ReportIn(_In):
    category: ReportCategory
    village: str = Field(pattern=VILLAGE)
    reference: UUID | None = None  # a notice id or roster reference from the public board
    text: str = Field(min_length=1, max_length=REPORT_TEXT_MAX)
    contact: str | None = Field(None, max_length=CONTACT_MAX)
    name: str | None = Field(None, max_length=REPORTER_NAME_MAX)  # omit to stay anonymous


class InquiryIn(_In):
    township: str | None = Field(None, pattern=TOWNSHIP)
    village: str | None = Field(None, pattern=VILLAGE)
    topic: AssistanceKind | None = None
    question: str = Field(min_length=1, max_length=INQUIRY_TEXT_MAX)
    contact: str | None = Field(None, max_length=CONTACT_MAX)
    publish_consent: bool = False  # the answer may be published (with the question)


class ReceiptOut(BaseModel):
    receipt: str
    code: str
    filed_on: date
    note: str = ("Keep the receipt number and the code: the code is shown only now and is "
                 "needed to see the status.")


class InquiryReceiptOut(ReceiptOut):
    due_on: date


class ReportStatusOut(BaseModel):
    """What the reporter sees: their own report's progress, never anyone's data."""

    receipt: str
    category: ReportCategory
    status: str
    filed_on: date
    concluded_on: date | None
    outcome: Literal["upheld", "not_upheld"] | None
    reply: str | None


class InquiryStatusOut(BaseModel):
    receipt: str
    status: str
    asked_on: date
    due_on: date
    answered_on: date | None
    answer: str | None
    published: bool


class ReportInvestigationIn(_In):
    notes: str = Field(min_length=1, max_length=FINDING_MAX)


class ReportFindingIn(_In):
    upheld: bool
    finding: str = Field(min_length=1, max_length=FINDING_MAX)  # the reasons, always
    reply: str | None = Field(None, max_length=REPLY_MAX)  # for the reporter: no one's data
    request_recheck: bool = False  # an upheld report about an official: recheck the case too


class EscalationIn(_In):
    reason: str = Field(min_length=1, max_length=REASON_MAX)


class AnswerIn(_In):
    answer: str = Field(min_length=1, max_length=ANSWER_MAX)
    publish: bool = True  # withhold when the question holds the asker's own circumstances


# --- officials' responses -------------------------------------------------------------------


class ObjectionInvestigationOut(BaseModel):
    method: InvestigationMethod
    notes: str
    on: date
    by: str | None  # the official's user id


class OfficialObjection(BaseModel):
    """An objection as officials see it; the words, contact and name only for the roles
    that handle it (never the village assistant, the household's neighbour)."""

    objection_id: UUID
    text: str | None
    contact: str | None
    objector_name: str | None
    filed_on: date
    status: Literal["pending", "under_investigation", "upheld", "not_upheld"]
    investigations: list[ObjectionInvestigationOut]
    upheld: bool | None
    finding: str | None
    resolved_on: date | None


class OfficialNotice(BaseModel):
    notice_id: UUID
    version: int
    case_id: UUID
    subject: Literal["opinion", "termination"]
    round: int
    kind: AssistanceKind
    township: str
    village: str
    status: Literal["open", "closed", "superseded"]
    starts_on: date
    ends_on: date
    display_name: str
    household_size: int
    monthly_amount: Decimal | None
    approve: bool
    outcome: Literal["clean", "objection_upheld"] | None
    finding: str | None
    closed_on: date | None
    objections: list[OfficialObjection]


class NoticeRow(BaseModel):
    """One line of a township's notice queue."""

    notice_id: UUID
    case_id: UUID
    subject: Literal["opinion", "termination"]
    round: int
    kind: AssistanceKind
    township: str
    village: str
    status: Literal["open", "closed", "superseded"]
    starts_on: date
    ends_on: date
    display_name: str
    household_size: int
    monthly_amount: Decimal | None
    outcome: Literal["clean", "objection_upheld"] | None
    closed_on: date | None
    objections_total: int
    objections_pending: int
    opened_at: datetime
    position: int


class OfficialNoticePage(BaseModel):
    total: int
    limit: int
    offset: int
    view: OfficialView
    items: list[NoticeRow]


class RouteOut(BaseModel):
    """A report handed on (only ever towards the discipline inspector)."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)
    from_: ReportQueue = Field(alias="from")
    to: ReportQueue
    reason: str
    on: date
    by: str | None


class ReportInvestigationOut(BaseModel):
    notes: str
    on: date
    by: str | None


class ReportView(BaseModel):
    """A report (举报) in full, for the queue that holds it."""

    report_id: UUID
    version: int
    receipt: str
    category: ReportCategory
    queue: ReportQueue
    township: str
    village: str
    reference: str | None
    case_id: UUID | None
    entitlement_id: UUID | None
    household_id: str | None
    text: str
    contact: str | None
    reporter_name: str | None
    filed_on: date
    status: Literal["received", "under_investigation", "concluded"]
    routes: list[RouteOut]
    investigations: list[ReportInvestigationOut]
    upheld: bool | None
    finding: str | None
    reply: str | None
    concluded_on: date | None
    recheck_requested: bool


class ReportRow(BaseModel):
    report_id: UUID
    receipt: str
    category: ReportCategory
    queue: ReportQueue
    township: str
    village: str
    status: Literal["received", "under_investigation", "concluded"]
    names_case: bool  # the report names a notice or roster line, so a case
    filed_on: date
    concluded_on: date | None
    upheld: bool | None
    position: int


class ReportPage(BaseModel):
    total: int
    limit: int
    offset: int
    queue: ReportQueue
    view: Literal["open", "concluded", "all"]
    items: list[ReportRow]


class InquiryView(BaseModel):
    """An inquiry (咨询) in full, for the township that answers it."""

    inquiry_id: UUID
    version: int
    receipt: str
    township: str
    village: str | None
    topic: AssistanceKind | None
    question: str
    contact: str | None
    publish_consent: bool
    asked_on: date
    due_on: date
    due_provisional: bool  # the working-day calendar did not reach the due date
    status: Literal["open", "answered"]
    answer: str | None
    answered_on: date | None
    published: bool


class InquiryRow(BaseModel):
    inquiry_id: UUID
    receipt: str
    township: str
    village: str | None
    topic: AssistanceKind | None
    status: Literal["open", "answered"]
    asked_on: date
    due_on: date
    due_provisional: bool
    answered_on: date | None
    late: bool | None
    published: bool
    question: str
    answer: str | None
    position: int
    overdue: bool
    working_days_late: int


class InquiryPage(BaseModel):
    total: int
    limit: int
    offset: int
    view: Literal["open", "overdue", "answered", "all"]
    items: list[InquiryRow]


# --- the public channel's information pages --------------------------------------------------


class PublishedAnswer(BaseModel):
    """An answered inquiry whose asker allowed publication: question and answer only."""

    inquiry_id: UUID
    township: str
    topic: AssistanceKind | None
    question: str
    answer: str
    asked_on: date
    answered_on: date


class AnswerPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[PublishedAnswer]


class PolicyTerms(BaseModel):
    """One version of review's policy, as review published it (the named terms only)."""

    policy_version: int
    effective_from: date
    illustrative: bool  # a demonstration table, not the county's
    label: str | None
    terms: dict[str, Any]


class Standards(BaseModel):
    on: date
    policy_version: int
    effective_from: date
    illustrative: bool
    label: str | None
    terms: dict[str, Any]
    upcoming: list[PolicyTerms]  # versions published to take effect later


class TimeLimits(BaseModel):
    on: date
    policy_version: int
    effective_from: date
    illustrative: bool
    label: str | None
    terms: dict[str, Any]


class MaterialOut(BaseModel):
    code: str
    name: str
    when: str
    condition: str  # the `when` in plain language
    held_by_government: bool  # read from government systems, never asked for
    bring: bool


class ProcedureStep(BaseModel):
    """One step of the procedure; the time limits are review's, in force today."""

    step: str
    name: str
    detail: str
    working_days: int | dict[str, int] | None = None
    calendar_days: int | None = None
    extended_working_days: int | dict[str, int] | None = None
    refusal_notice_working_days: int | None = None
    confirmation_working_days: int | None = None


class KindInformation(BaseModel):
    kind: AssistanceKind
    on: date
    checklist_version: int
    checklist_effective_from: date
    checklist_source: str
    materials: list[MaterialOut]
    materials_may_follow: list[str]
    policy_version: int
    procedure: list[ProcedureStep]


class CountyOut(BaseModel):
    code: str
    name: str


class VillageOffice(BaseModel):
    code: str
    name: str
    kind: str


class TownshipOffice(BaseModel):
    code: str
    name: str
    pinyin: str
    office: str  # where to apply, ask and report
    villages: list[VillageOffice]


class TownshipOffices(BaseModel):
    county: CountyOut
    villages_are_sample: bool  # the village list is illustrative, not the full register
    townships: list[TownshipOffice]


# --- building responses ---------------------------------------------------------------------


def _village(app: PublicityApplication, code: str) -> VillageOut:
    return VillageOut(code=code, name=app.village_name(code))


def public_notice(app: PublicityApplication, row: dict[str, Any]) -> PublicNotice:
    return PublicNotice(
        notice_id=row["notice_id"], subject=row["subject"], starts_on=row["starts_on"],
        ends_on=row["ends_on"], name=row["display_name"],
        household_size=row["household_size"], kind=row["kind"],
        monthly_amount=row["monthly_amount"], village=_village(app, row["village"]))


def public_roster_item(app: PublicityApplication, row: dict[str, Any]) -> PublicRosterItem:
    return PublicRosterItem(
        reference=row["entry_id"], name=row["display_name"],
        household_size=row["household_size"], kind=row["kind"],
        monthly_amount=row["monthly_amount"], village=_village(app, row["village"]))


# Who sees an objector's words and contact: the township that handles it and the county's
# oversight; not the village assistant, who lives next to the household objected to.
OBJECTION_READERS = frozenset({Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER,
                               Role.TOWNSHIP_LEADER, Role.COUNTY_CENTRE, Role.COUNTY_BUREAU,
                               Role.DISCIPLINE_INSPECTOR})


def official_notice(n: Notice, who: Principal) -> OfficialNotice:
    show = who.role in OBJECTION_READERS
    objections = [asdict(o if show else o.withheld()) for o in n.filed_objections]
    return OfficialNotice.model_validate({
        "notice_id": n.id, "version": n.version, "case_id": n.case_id, "subject": n.subject,
        "round": n.round, "kind": n.kind, "township": n.township, "village": n.village,
        "status": n.status, "starts_on": n.starts_on, "ends_on": n.ends_on,
        "display_name": n.display_name, "household_size": n.household_size,
        "monthly_amount": n.monthly_amount, "approve": n.approve, "outcome": n.outcome,
        "finding": n.finding, "closed_on": n.closed_on, "objections": objections})


def objection_state(n: Notice, objection_id: UUID) -> ObjectionState:
    o = n.objection(objection_id)
    return ObjectionState(objection_id=objection_id, status=o.status, upheld=o.upheld,
                          finding=o.finding, notice_status=n.status, outcome=n.outcome)


def code_shown_once(answer: dict[str, Any]) -> dict[str, Any]:
    # A retried filing gets its receipt back, never the code: that is shown once, not stored.
    return {**answer, "code": None,
            "note": "filed already; the code was shown once when the filing was made"}


def public_subject(client: str) -> Principal:
    return Principal(user_id="public:" + hashlib.sha256(client.encode()).hexdigest()[:32],
                     role=Role.PUBLIC)


def no_sniff(response: Response) -> None:
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["content-security-policy"] = "default-src 'none'"


def report_view(rep: Report) -> ReportView:
    return ReportView.model_validate({
        "report_id": rep.id, "version": rep.version, "receipt": rep.receipt,
        "category": rep.category, "queue": rep.queue, "township": rep.township,
        "village": rep.village, "reference": rep.reference, "case_id": rep.case_id,
        "entitlement_id": rep.entitlement_id, "household_id": rep.household_id,
        "text": rep.text, "contact": rep.contact, "reporter_name": rep.reporter_name,
        "filed_on": rep.filed_on, "status": rep.status, "routes": rep.routes,
        "investigations": rep.investigations, "upheld": rep.upheld, "finding": rep.finding,
        "reply": rep.reply, "concluded_on": rep.concluded_on,
        "recheck_requested": rep.recheck_requested})


def inquiry_view(q: Inquiry) -> InquiryView:
    return InquiryView.model_validate({
        "inquiry_id": q.id, "version": q.version, "receipt": q.receipt,
        "township": q.township, "village": q.village, "topic": q.topic,
        "question": q.question, "contact": q.contact, "publish_consent": q.publish_consent,
        "asked_on": q.asked_on, "due_on": q.due_on, "due_provisional": q.due_provisional,
        "status": q.status, "answer": q.answer, "answered_on": q.answered_on,
        "published": q.published})


