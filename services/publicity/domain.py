"""Publicity's domain: the Notice (公示) of a review opinion or a 特困 termination, its
objections (异议), and the long-term roster (长期公示) of current beneficiaries.

Pure: no I/O, no framework. Dates arrive from the application's clock; the display rule
and the window length arrive from settings. Nothing here ever holds a full name, an ID
number or a bank account: the application masks the applicant's name before an event is
made, so the public can be shown any stored field of `PublicContent` without a filter.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared.contracts import Actor, StoredActor
from shared.errors import RuleViolation
from shared.pii import mask_name

OBJECTION_TEXT_MAX = 2000
CONTACT_MAX = 64
OBJECTOR_NAME_MAX = 32
FINDING_MAX = 2000
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# The scheduler closes windows on the system's behalf: the audit still names a "who".
SYSTEM_ACTOR = Actor(user_id="system:publicity-scheduler", role="system")



class NoticeSubject(StrEnum):
    OPINION = "opinion"  # 初审意见公示
    TERMINATION = "termination"  # 特困终止供养公示


class NoticeStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    SUPERSEDED = "superseded"  # a later round of the same case replaced it before it closed


class Outcome(StrEnum):
    CLEAN = "clean"  # 公示无异议 (or every objection not upheld)
    OBJECTION_UPHELD = "objection_upheld"  # 异议成立: review re-investigates


class ObjectionStatus(StrEnum):
    PENDING = "pending"
    UNDER_INVESTIGATION = "under_investigation"
    UPHELD = "upheld"
    NOT_UPHELD = "not_upheld"


OPEN_OBJECTION = frozenset({ObjectionStatus.PENDING, ObjectionStatus.UNDER_INVESTIGATION})


class InvestigationMethod(StrEnum):
    RE_INVESTIGATION = "re_investigation"  # 重新调查核实
    DEMOCRATIC_APPRAISAL = "democratic_appraisal"  # 民主评议


class RosterChange(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"
    SUSPEND = "suspend"
    RESUME = "resume"
    PHASE_OUT = "phase_out"  # 渐退: still paid, so still listed
    TERMINATE = "terminate"  # 注销


# --- values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeWindow:
    """公示期: posted on `starts_on`, open through the whole of `ends_on`.

    The posting day is not counted (民法典 Art. 201: a period in days starts the next day),
    so a 7-day window posted on the 1st ends on the 8th and closes at the start of the 9th.
    """

    starts_on: date
    ends_on: date

    @classmethod
    def posted(cls, on: date, days: int) -> NoticeWindow:
        if days < 1:
            raise RuleViolation("publicity.window_days", "a notice window is at least one day",
                                field="notice_window_days")
        return cls(on, on + timedelta(days=days))

    def accepts_objections_on(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on

    def has_ended_by(self, day: date) -> bool:
        return day > self.ends_on

    @property
    def ended_on(self) -> date:
        """The first day after the window: when a clean notice is deemed closed."""
        return self.ends_on + timedelta(days=1)


@dataclass(frozen=True)
class PublicContent:
    """Everything the public may see about a household, and nothing else (DOMAIN.md, Privacy):
    the masked name, household size, kind of assistance, monthly amount, and village."""

    display_name: str
    household_size: int
    kind: str
    monthly_amount: Decimal | None
    village: str

    @classmethod
    def masked(cls, applicant_name: str, rule: str, household_size: int, kind: str,
               monthly_amount: Decimal | None, village: str) -> PublicContent:
        if household_size < 1:
            raise RuleViolation("publicity.household_size", "a household has at least one member",
                                field="household_size")
        if monthly_amount is not None and monthly_amount < 0:
            raise RuleViolation("publicity.amount", "an amount cannot be negative",
                                field="monthly_amount")
        display = mask_name(applicant_name, rule)
        if not display:
            raise RuleViolation("publicity.applicant_name", "the applicant has no name",
                                field="applicant_name")
        amount = monthly_amount.quantize(Decimal("0.01")) if monthly_amount is not None else None
        return cls(display, household_size, kind, amount, village)


@dataclass(frozen=True)
class ObjectionInvestigation:
    """What the township did to test an objection: 重新调查 or 民主评议."""

    method: InvestigationMethod
    notes: str
    on: date
    by: str | None  # the official's user id


@dataclass(frozen=True)
class Objection:
    """异议 as the notice holds it: the objector's words, contact and name (absent when
    anonymous), how it was investigated, and its finding once given."""

    objection_id: UUID
    text: str | None
    contact: str | None
    objector_name: str | None
    filed_on: date
    status: ObjectionStatus
    investigations: tuple[ObjectionInvestigation, ...]
    upheld: bool | None
    finding: str | None
    resolved_on: date | None

    @classmethod
    def of(cls, stored: dict[str, Any]) -> Objection:
        """From the plain form the notice's events build."""
        return cls(
            objection_id=UUID(stored["objection_id"]), text=stored["text"],
            contact=stored["contact"], objector_name=stored["objector_name"],
            filed_on=stored["filed_on"], status=ObjectionStatus(stored["status"]),
            investigations=tuple(ObjectionInvestigation(
                method=InvestigationMethod(i["method"]), notes=i["notes"], on=i["on"],
                by=i["by"]) for i in stored["investigations"]),
            upheld=stored["upheld"], finding=stored["finding"],
            resolved_on=stored["resolved_on"])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_OBJECTION

    def withheld(self) -> Objection:
        """Without the objector's words, contact and name: for readers who may not see who
        objected (the village assistant lives next to the household)."""
        return replace(self, text=None, contact=None, objector_name=None)


def notice_id_for(case_id: UUID, subject: str, round_: int) -> UUID:
    # One notice per (case, subject, round): a replayed opinion cannot post a second one.
    return uuid5(NAMESPACE_URL, f"lingshui:publicity-notice:{case_id}:{subject}:{round_}")


def roster_entry_id_for(entitlement_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:publicity-roster:{entitlement_id}")


def check_month(value: str, field: str) -> str:
    if not _MONTH.fullmatch(value):
        raise RuleViolation("publicity.month", f"{value!r} is not a YYYY-MM month", field=field)
    return value


def _text(value: str | None, field: str, limit: int, *, required: bool) -> str | None:
    value = value.strip() if value is not None else None
    if not value:
        if required:
            raise RuleViolation("publicity.text_required", f"{field} must not be empty",
                                field=field)
        return None
    if len(value) > limit:
        raise RuleViolation("publicity.text_too_long", f"{field} exceeds {limit} characters",
                            field=field)
    return value


# --- the notice -------------------------------------------------------------------------------


class Notice(Aggregate):
    """公示: one posting of a review opinion (or a 特困 termination) in the household's village.

    Objections (异议) live inside the notice: each is filed, investigated and resolved here,
    and an upheld one closes the notice, so the outcome and its causes share one history.
    """

    @staticmethod
    def create_id(case_id: UUID, subject: str, round_: int, **_: Any) -> UUID:
        return notice_id_for(case_id, subject, round_)

    @event("Opened")
    def __init__(self, case_id: UUID, subject: str, round_: int, kind: str, township: str,
                 village: str, household_id: str | None, entitlement_id: UUID | None,
                 starts_on: date, ends_on: date, display_name: str, name_rule: str,
                 household_size: int, monthly_amount: Decimal | None, approve: bool,
                 opened_from: str, actor: StoredActor) -> None:
        self.case_id = case_id
        self.subject = subject
        self.round = round_
        self.kind = kind
        self.township = township
        self.village = village
        self.household_id = household_id
        self.entitlement_id = entitlement_id
        self.starts_on = starts_on
        self.ends_on = ends_on
        self.display_name = display_name
        self.name_rule = name_rule
        self.household_size = household_size
        self.monthly_amount = monthly_amount
        self.approve = approve
        self.opened_from = opened_from  # the upstream event id: the audit's "why"
        self.status = NoticeStatus.OPEN
        self.outcome: str | None = None
        self.finding: str | None = None
        self.closed_on: date | None = None
        self.objections: dict[str, dict[str, Any]] = {}

    @classmethod
    def post(cls, *, case_id: UUID, subject: NoticeSubject, round_: int, kind: str,
             township: str, village: str, household_id: str | None,
             entitlement_id: UUID | None, window: NoticeWindow, content: PublicContent,
             name_rule: str, approve: bool, opened_from: str,
             actor: Actor) -> Notice:
        if round_ < 1:
            raise RuleViolation("publicity.round", "rounds start at 1", field="round")
        return cls(case_id=case_id, subject=subject.value, round_=round_, kind=kind,
                   township=township, village=village, household_id=household_id,
                   entitlement_id=entitlement_id, starts_on=window.starts_on,
                   ends_on=window.ends_on, display_name=content.display_name,
                   name_rule=name_rule, household_size=content.household_size,
                   monthly_amount=content.monthly_amount, approve=approve,
                   opened_from=opened_from, actor=actor.stored())

    @property
    def window(self) -> NoticeWindow:
        return NoticeWindow(self.starts_on, self.ends_on)

    @property
    def is_open(self) -> bool:
        return self.status == NoticeStatus.OPEN

    @property
    def filed_objections(self) -> list[Objection]:
        """Every objection to this notice, in the order filed."""
        return [Objection.of(o) for o in self.objections.values()]

    def objection(self, objection_id: UUID) -> Objection:
        return Objection.of(self._objection(objection_id))

    @property
    def pending_objections(self) -> list[str]:
        return [oid for oid, o in self.objections.items() if o["status"] in OPEN_OBJECTION]

    # -- objections --

    def file_objection(self, objection_id: UUID, *, text: str, contact: str | None,
                       objector_name: str | None, on: date, actor: Actor) -> None:
        """Anyone may object while the notice is posted, named or anonymous."""
        if not self.is_open:
            raise RuleViolation("publicity.notice_closed",
                                f"this notice is {self.status}; objections are closed",
                                field="notice_id")
        if not self.window.accepts_objections_on(on):
            raise RuleViolation("publicity.outside_window",
                                f"objections are accepted from {self.starts_on} "
                                f"to {self.ends_on}", field="notice_id")
        body = _text(text, "text", OBJECTION_TEXT_MAX, required=True)
        self._objection_filed(
            objection_id=str(objection_id), text=body,
            contact=_text(contact, "contact", CONTACT_MAX, required=False),
            objector_name=_text(objector_name, "name", OBJECTOR_NAME_MAX, required=False),
            filed_on=on, actor=actor.stored())

    @event("ObjectionFiled")
    def _objection_filed(self, objection_id: str, text: str, contact: str | None,
                         objector_name: str | None, filed_on: date,
                         actor: StoredActor) -> None:
        self.objections[objection_id] = {
            "objection_id": objection_id, "text": text, "contact": contact,
            "objector_name": objector_name, "filed_on": filed_on,
            "status": ObjectionStatus.PENDING.value, "investigations": [],
            "upheld": None, "finding": None, "resolved_on": None,
        }

    def _objection(self, objection_id: UUID) -> dict[str, Any]:
        found = self.objections.get(str(objection_id))
        if found is None:
            raise RuleViolation("publicity.unknown_objection",
                                f"no objection {objection_id} on this notice",
                                field="objection_id")
        return found

    def record_investigation(self, objection_id: UUID, *, method: InvestigationMethod,
                             notes: str, on: date, actor: Actor) -> None:
        """重新调查 or 民主评议: what the township did to test the objection."""
        o = self._objection(objection_id)
        if o["status"] not in OPEN_OBJECTION:
            raise RuleViolation("publicity.objection_resolved",
                                "this objection already has a finding", field="objection_id")
        self._investigation_recorded(
            objection_id=str(objection_id), method=method.value,
            notes=_text(notes, "notes", FINDING_MAX, required=True), on=on, actor=actor.stored())

    @event("InvestigationRecorded")
    def _investigation_recorded(self, objection_id: str, method: str, notes: str, on: date,
                                actor: StoredActor) -> None:
        o = self.objections[objection_id]
        o["status"] = ObjectionStatus.UNDER_INVESTIGATION.value
        o["investigations"].append({"method": method, "notes": notes, "on": on,
                                    "by": actor.get("user_id")})

    def resolve_objection(self, objection_id: UUID, *, upheld: bool, finding: str, on: date,
                          actor: Actor) -> None:
        """The township's finding, with reasons. Upheld closes the notice: review re-investigates.

        An objection left over on a notice that already closed may still get its finding
        (the audit needs one for every objection) but no longer changes the outcome.
        """
        o = self._objection(objection_id)
        if o["status"] not in OPEN_OBJECTION:
            raise RuleViolation("publicity.objection_resolved",
                                "this objection already has a finding", field="objection_id")
        reasons = _text(finding, "finding", FINDING_MAX, required=True)
        self._objection_resolved(objection_id=str(objection_id), upheld=upheld,
                                 finding=reasons, on=on, actor=actor.stored())
        if not self.is_open:
            return
        if upheld:
            self._closed(outcome=Outcome.OBJECTION_UPHELD.value, finding=reasons,
                         closed_on=on, actor=actor.stored())
        elif self.window.has_ended_by(on) and not self.pending_objections:
            # The window ran out while this was open: its finding is what closes it.
            self._closed(outcome=Outcome.CLEAN.value, finding=None, closed_on=on,
                         actor=actor.stored())

    @event("ObjectionResolved")
    def _objection_resolved(self, objection_id: str, upheld: bool, finding: str, on: date,
                            actor: StoredActor) -> None:
        o = self.objections[objection_id]
        o["status"] = (ObjectionStatus.UPHELD if upheld else ObjectionStatus.NOT_UPHELD).value
        o["upheld"], o["finding"], o["resolved_on"] = upheld, finding, on

    # -- closing --

    def close_if_due(self, today: date, actor: Actor = SYSTEM_ACTOR) -> bool:
        """Close clean once the window has ended with no objection awaiting a finding.

        The close date is the day after the window, not the day the scheduler ran, so a
        notice closed late (the service was down) records the same facts as one closed
        on time: nobody could object in between.
        """
        if not self.is_open or not self.window.has_ended_by(today) or self.pending_objections:
            return False
        self._closed(outcome=Outcome.CLEAN.value, finding=None,
                     closed_on=self.window.ended_on, actor=actor.stored())
        return True

    @event("Closed")
    def _closed(self, outcome: str, finding: str | None, closed_on: date,
                actor: StoredActor) -> None:
        self.status = NoticeStatus.CLOSED
        self.outcome, self.finding, self.closed_on = outcome, finding, closed_on

    def supersede(self, by_notice: UUID, actor: Actor) -> None:
        if not self.is_open:
            return
        self._superseded(by_notice=by_notice, actor=actor.stored())

    @event("Superseded")
    def _superseded(self, by_notice: UUID, actor: StoredActor) -> None:
        self.status = NoticeStatus.SUPERSEDED


# --- the long-term roster ---------------------------------------------------------------------


_LISTED_AFTER = {
    RosterChange.INCREASE: None, RosterChange.DECREASE: None,  # None: keeps listed/suspended
    RosterChange.PHASE_OUT: None, RosterChange.RESUME: True,
    RosterChange.SUSPEND: False, RosterChange.TERMINATE: False,
}


class RosterEntry(Aggregate):
    """长期公示名册条目: one confirmed benefit as the village notice board shows it over time.

    Each event is effective from a month, so the roster "as of" any past date is the latest
    event effective by then (see projections).
    """

    @staticmethod
    def create_id(entitlement_id: UUID, **_: Any) -> UUID:
        return roster_entry_id_for(entitlement_id)

    @event("Listed")
    def __init__(self, entitlement_id: UUID, case_id: UUID, kind: str, township: str,
                 village: str, display_name: str, name_rule: str, household_size: int,
                 monthly_amount: Decimal, start_month: str, source_event_id: str,
                 actor: StoredActor) -> None:
        self.entitlement_id = entitlement_id
        self.case_id = case_id
        self.kind = kind
        self.township = township
        self.village = village
        self.display_name = display_name
        self.name_rule = name_rule
        self.household_size = household_size
        self.monthly_amount = monthly_amount
        self.effective_month = start_month
        self.listed = True
        self.terminated = False

    @classmethod
    def list_(cls, *, entitlement_id: UUID, case_id: UUID, township: str,
              content: PublicContent, name_rule: str, start_month: str, source_event_id: str,
              actor: Actor) -> RosterEntry:
        if content.monthly_amount is None:
            raise RuleViolation("publicity.amount", "a listed benefit has a monthly amount",
                                field="monthly_amount")
        return cls(entitlement_id=entitlement_id, case_id=case_id, kind=content.kind,
                   township=township, village=content.village,
                   display_name=content.display_name, name_rule=name_rule,
                   household_size=content.household_size,
                   monthly_amount=content.monthly_amount,
                   start_month=check_month(start_month, "start_month"),
                   source_event_id=source_event_id, actor=actor.stored())

    def change(self, change: RosterChange, *, monthly_amount: Decimal, household_size: int,
               effective_month: str, source_event_id: str, actor: Actor) -> None:
        if self.terminated:
            raise RuleViolation("publicity.roster_terminated",
                                "this benefit was terminated; a new one starts a new entry",
                                field="entitlement_id")
        if household_size < 1:
            raise RuleViolation("publicity.household_size", "a household has at least one member",
                                field="household_size")
        if monthly_amount < 0:
            raise RuleViolation("publicity.amount", "an amount cannot be negative",
                                field="monthly_amount")
        listed = _LISTED_AFTER[change]
        self._changed(change=change.value,
                      listed=self.listed if listed is None else listed,
                      monthly_amount=monthly_amount.quantize(Decimal("0.01")),
                      household_size=household_size,
                      effective_month=check_month(effective_month, "effective_month"),
                      source_event_id=source_event_id, actor=actor.stored())

    @event("Changed")
    def _changed(self, change: str, listed: bool, monthly_amount: Decimal, household_size: int,
                 effective_month: str, source_event_id: str, actor: StoredActor) -> None:
        self.listed = listed
        self.monthly_amount = monthly_amount
        self.household_size = household_size
        self.effective_month = effective_month
        self.terminated = change == RosterChange.TERMINATE.value


# =============================================================================================
# The public channel (issue #10): reports (举报), inquiries (咨询), policy information (政策宣传)
# =============================================================================================

REPORT_TEXT_MAX = 4000
REPORTER_NAME_MAX = 32
INQUIRY_TEXT_MAX = 2000
ANSWER_MAX = 4000
REPLY_MAX = 1000
REASON_MAX = 500
RECEIPT_PATTERN = r"^(JB|ZX)-\d{8}-[0-9A-HJKMNP-TV-Z]{8}$"
# Crockford's base32: no I, L, O, U, so a code read out over the phone is not misheard.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 80 bits: not guessable, even without the rate limit


class ReportCategory(StrEnum):
    """What a report (举报) alleges."""

    NOT_ELIGIBLE = "not_eligible"  # 不符合条件仍享受救助 (错保)
    LEFT_OUT = "left_out"  # 符合条件未被纳入 (漏保)
    FAVOURITISM = "favouritism"  # 人情保、关系保
    BRIBERY = "bribery"  # 索贿受贿
    DATA_LEAK = "data_leak"  # 泄露个人信息

    @property
    def about_official(self) -> bool:
        return self in (ReportCategory.FAVOURITISM, ReportCategory.BRIBERY,
                        ReportCategory.DATA_LEAK)


class ReportQueue(StrEnum):
    TOWNSHIP = "township"  # 乡镇社会事务服务中心: reports about households
    DISCIPLINE = "discipline"  # 纪委监委: reports about officials, never the accused township


class ReportStatus(StrEnum):
    RECEIVED = "received"
    UNDER_INVESTIGATION = "under_investigation"
    CONCLUDED = "concluded"


class InquiryStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"


TOWNSHIP_STAFF = frozenset({"township_clerk", "township_reviewer", "township_leader"})
COUNTY_CIVIL_AFFAIRS = frozenset({"county_centre", "county_bureau"})
DISCIPLINE = "discipline_inspector"


def queue_for(category: ReportCategory) -> ReportQueue:
    """Reports about officials go to the discipline inspector, whatever township they name."""
    return ReportQueue.DISCIPLINE if category.about_official else ReportQueue.TOWNSHIP


def may_read_report(queue: str, report_township: str, role: str,
                    township: str | None) -> bool:
    """The discipline queue is the inspector's alone: not the accused township, and not the
    county's civil-affairs offices, which a report about favouritism may also implicate.
    A household report is the township's, under the county's and the inspector's oversight."""
    if queue == ReportQueue.DISCIPLINE:
        return role == DISCIPLINE
    if role == DISCIPLINE or role in COUNTY_CIVIL_AFFAIRS:
        return True
    return role in TOWNSHIP_STAFF and township == report_township


def may_investigate_report(queue: str, report_township: str, role: str,
                           township: str | None) -> bool:
    if queue == ReportQueue.DISCIPLINE:
        return role == DISCIPLINE
    return role in TOWNSHIP_STAFF and township == report_township


def may_decide_report(queue: str, report_township: str, role: str,
                      township: str | None) -> bool:
    """The finding is the joint-review group's (reviewer, leader) or the inspector's."""
    if queue == ReportQueue.DISCIPLINE:
        return role == DISCIPLINE
    return role in ("township_reviewer", "township_leader") and township == report_township


def normalize_code(code: str) -> str:
    """Codes are typed by hand: ignore case, spaces and hyphens; read O as 0 and I/L as 1."""
    cleaned = re.sub(r"[\s-]", "", code).upper()
    return cleaned.translate(str.maketrans("OIL", "011"))


def code_digest(code: str, salt: str) -> str:
    # The code carries 80 random bits, so a salted SHA-256 cannot be reversed by search.
    return hashlib.sha256(f"{salt}:{normalize_code(code)}".encode()).hexdigest()


def check_code(code: str, salt: str, digest: str) -> bool:
    """Constant-time: the comparison's duration says nothing about how close a guess was."""
    return hmac.compare_digest(code_digest(code, salt), digest)


def format_code(raw: str) -> str:
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


@dataclass(frozen=True)
class Secret:
    """What the reporter or asker is given once: the receipt number and its code."""

    receipt: str
    code: str  # shown once, never stored
    salt: str
    digest: str

    @classmethod
    def issued(cls, receipt: str, raw_code: str, salt: str) -> Secret:
        if len(raw_code) != CODE_LENGTH or set(raw_code) - set(CODE_ALPHABET):
            raise ValueError("a code is 16 characters of Crockford's base32")
        code = format_code(raw_code)
        return cls(receipt, code, salt, code_digest(code, salt))


@dataclass(frozen=True)
class ReportSubject:
    """Whom a report is about: a village, and optionally what the public board showed
    (a notice or a roster line), resolved here to the case behind it."""

    township: str
    village: str
    reference: str | None = None
    case_id: UUID | None = None
    entitlement_id: UUID | None = None
    household_id: str | None = None


class Report(Aggregate):
    """举报: filed by anyone without logging in, handled in one queue, concluded with a
    finding. The reporter follows it with the receipt number and code; only a hash of
    the code is kept."""

    # Never in an audit record (shared.audit): a report about an official must not reach
    # the township accused, so its records carry no place, case or words at all.
    AUDIT_WITHHELD = frozenset({"township", "village", "reference", "case_id",
                                "entitlement_id", "household_id", "finding", "reply", "notes",
                                "receipt"})

    @event("Filed")
    def __init__(self, receipt: str, category: str, queue: str, township: str, village: str,
                 reference: str | None, case_id: UUID | None, entitlement_id: UUID | None,
                 household_id: str | None, text: str, contact: str | None,
                 reporter_name: str | None, code_salt: str, code_digest: str, filed_on: date,
                 actor: StoredActor) -> None:
        self.receipt = receipt
        self.category = category
        self.queue = queue
        self.township = township  # for a report about an official: the township accused
        self.village = village
        self.reference = reference
        self.case_id = case_id
        self.entitlement_id = entitlement_id
        self.household_id = household_id
        self.text = text  # as given; escaped on output, never rewritten
        self.contact = contact
        self.reporter_name = reporter_name
        self.code_salt = code_salt
        self.code_digest = code_digest
        self.filed_on = filed_on
        self.status = ReportStatus.RECEIVED
        self.routes: list[dict[str, Any]] = []
        self.investigations: list[dict[str, Any]] = []
        self.upheld: bool | None = None
        self.finding: str | None = None
        self.reply: str | None = None
        self.concluded_on: date | None = None
        self.recheck_requested = False

    @classmethod
    def file(cls, *, category: ReportCategory, subject: ReportSubject, text: str,
             contact: str | None, reporter_name: str | None, secret: Secret, on: date,
             actor: Actor) -> Report:
        return cls(receipt=secret.receipt, category=category.value,
                   queue=queue_for(category).value, township=subject.township,
                   village=subject.village, reference=subject.reference,
                   case_id=subject.case_id, entitlement_id=subject.entitlement_id,
                   household_id=subject.household_id,
                   text=_text(text, "text", REPORT_TEXT_MAX, required=True),
                   contact=_text(contact, "contact", CONTACT_MAX, required=False),
                   reporter_name=_text(reporter_name, "name", REPORTER_NAME_MAX,
                                       required=False),
                   code_salt=secret.salt, code_digest=secret.digest, filed_on=on,
                   actor=actor.stored())

    @property
    def about_official(self) -> bool:
        return ReportCategory(self.category).about_official

    def code_matches(self, code: str) -> bool:
        return check_code(code, self.code_salt, self.code_digest)

    def _open(self) -> None:
        if self.status == ReportStatus.CONCLUDED:
            raise RuleViolation("publicity.report_concluded", "this report has its finding",
                                field="report_id")

    def escalate(self, reason: str, on: date, actor: Actor) -> None:
        """A household report that turns out to accuse an official goes to the inspector.
        Nothing sends a report the other way: the accused must never receive it."""
        self._open()
        if self.queue == ReportQueue.DISCIPLINE:
            raise RuleViolation("publicity.already_with_discipline",
                                "the discipline inspector already holds this report",
                                field="report_id")
        self._routed(queue=ReportQueue.DISCIPLINE.value,
                     reason=_text(reason, "reason", REASON_MAX, required=True), on=on,
                     actor=actor.stored())

    @event("Routed")
    def _routed(self, queue: str, reason: str, on: date, actor: StoredActor) -> None:
        self.routes.append({"from": self.queue, "to": queue, "reason": reason, "on": on,
                            "by": actor.get("user_id")})
        self.queue = queue

    def record_investigation(self, notes: str, on: date, actor: Actor) -> None:
        """调查核实: what was done to test the report."""
        self._open()
        self._investigation_recorded(
            notes=_text(notes, "notes", FINDING_MAX, required=True), on=on, actor=actor.stored())

    @event("InvestigationRecorded")
    def _investigation_recorded(self, notes: str, on: date, actor: StoredActor) -> None:
        self.status = ReportStatus.UNDER_INVESTIGATION
        self.investigations.append({"notes": notes, "on": on, "by": actor.get("user_id")})

    def record_finding(self, *, upheld: bool, finding: str, reply: str | None,
                       request_recheck: bool, on: date, actor: Actor) -> None:
        """The finding, with reasons, and a reply for the reporter that holds nobody
        else's data. An upheld household report asks review to recheck the household; an
        upheld report about an official does so only when the inspector asks."""
        self._open()
        if request_recheck and not upheld:
            raise RuleViolation("publicity.recheck_needs_upheld",
                                "only an upheld report asks for a recheck",
                                field="request_recheck")
        reasons = _text(finding, "finding", FINDING_MAX, required=True)
        self._finding_recorded(
            upheld=upheld, finding=reasons,
            reply=_text(reply, "reply", REPLY_MAX, required=False), on=on, actor=actor.stored())
        household = not self.about_official
        if upheld and (household or request_recheck):
            if self.about_official and self.case_id is None and self.entitlement_id is None:
                raise RuleViolation("publicity.nothing_to_recheck",
                                    "the report names no case or roster entry to recheck",
                                    field="request_recheck")
            self._recheck_requested(on=on, actor=actor.stored())

    @event("FindingRecorded")
    def _finding_recorded(self, upheld: bool, finding: str, reply: str | None, on: date,
                          actor: StoredActor) -> None:
        self.status = ReportStatus.CONCLUDED
        self.upheld, self.finding, self.reply, self.concluded_on = upheld, finding, reply, on

    @event("RecheckRequested")
    def _recheck_requested(self, on: date, actor: StoredActor) -> None:
        self.recheck_requested = True


class Inquiry(Aggregate):
    """咨询: a question to a township, answered within a time limit in working days. The
    answer is public only when the asker allowed it and the township did not withhold it
    (a question may hold the asker's own circumstances)."""

    @event("Asked")
    def __init__(self, receipt: str, township: str, village: str | None, topic: str | None,
                 question: str, contact: str | None, publish_consent: bool, code_salt: str,
                 code_digest: str, asked_on: date, due_on: date, due_provisional: bool,
                 actor: StoredActor) -> None:
        self.receipt = receipt
        self.township = township
        self.village = village
        self.topic = topic
        self.question = question
        self.contact = contact
        self.publish_consent = publish_consent
        self.code_salt = code_salt
        self.code_digest = code_digest
        self.asked_on = asked_on
        self.due_on = due_on
        self.due_provisional = due_provisional
        self.status = InquiryStatus.OPEN
        self.answer: str | None = None
        self.answered_on: date | None = None
        self.published = False

    @classmethod
    def ask(cls, *, township: str, village: str | None, topic: str | None, question: str,
            contact: str | None, publish_consent: bool, secret: Secret, on: date,
            due_on: date, due_provisional: bool, actor: Actor) -> Inquiry:
        if due_on <= on:
            raise RuleViolation("publicity.inquiry_due", "the response limit is at least a "
                                "working day", field="inquiry_response_working_days")
        return cls(receipt=secret.receipt, township=township, village=village, topic=topic,
                   question=_text(question, "question", INQUIRY_TEXT_MAX, required=True),
                   contact=_text(contact, "contact", CONTACT_MAX, required=False),
                   publish_consent=publish_consent, code_salt=secret.salt,
                   code_digest=secret.digest, asked_on=on, due_on=due_on,
                   due_provisional=due_provisional, actor=actor.stored())

    def code_matches(self, code: str) -> bool:
        return check_code(code, self.code_salt, self.code_digest)

    def is_overdue_on(self, day: date) -> bool:
        return self.status == InquiryStatus.OPEN and day > self.due_on

    def give_answer(self, answer: str, *, publish: bool, on: date,
                    actor: Actor) -> None:
        if self.status == InquiryStatus.ANSWERED:
            raise RuleViolation("publicity.inquiry_answered", "this inquiry has its answer",
                                field="inquiry_id")
        self._answered(answer=_text(answer, "answer", ANSWER_MAX, required=True),
                       published=self.publish_consent and publish, answered_on=on,
                       late=on > self.due_on, actor=actor.stored())

    @event("Answered")
    def _answered(self, answer: str, published: bool, answered_on: date, late: bool,
                  actor: StoredActor) -> None:
        self.status = InquiryStatus.ANSWERED
        self.answer, self.published, self.answered_on = answer, published, answered_on


# --- policy information (政策宣传): what review enforces, as review published it ------------


def policy_bulletin_id(region: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:publicity-policy-bulletin:{region}")


class PolicyBulletin(Aggregate):
    """Review's policy table as review published it (policy_changed), kept so the public
    page states exactly the version review applies on a given day, and when it changes."""

    @staticmethod
    def create_id(region: str, **_: Any) -> UUID:
        return policy_bulletin_id(region)

    @event("Created")
    def __init__(self, region: str, actor: StoredActor) -> None:
        self.region = region
        self.versions: list[dict[str, Any]] = []

    def record(self, policy_version: int, effective_from: date, terms: dict[str, Any],
               source_event_id: str, actor: Actor) -> bool:
        """False when this version is already known (a replay of review's stream)."""
        if any(v["policy_version"] == policy_version for v in self.versions):
            return False
        self._recorded(policy_version=policy_version, effective_from=effective_from,
                       terms=terms, source_event_id=source_event_id, actor=actor.stored())
        return True

    @event("VersionRecorded")
    def _recorded(self, policy_version: int, effective_from: date, terms: dict[str, Any],
                  source_event_id: str, actor: StoredActor) -> None:
        self.versions.append({"policy_version": policy_version,
                              "effective_from": effective_from, "terms": terms})

    def in_force(self, on: date) -> PolicyVersion | None:
        """Review's own rule: the latest effective date by `on`, then the latest version."""
        candidates = [v for v in self._known() if v.effective_from <= on]
        if not candidates:
            return None
        return max(candidates, key=lambda v: (v.effective_from, v.policy_version))

    def upcoming(self, on: date) -> list[PolicyVersion]:
        return sorted((v for v in self._known() if v.effective_from > on),
                      key=lambda v: (v.effective_from, v.policy_version))

    def _known(self) -> list[PolicyVersion]:
        return [PolicyVersion(v["policy_version"], v["effective_from"], v["terms"])
                for v in self.versions]


@dataclass(frozen=True)
class PolicyVersion:
    """One version of review's policy table, as review published it (policy_changed)."""

    policy_version: int
    effective_from: date
    terms: dict[str, Any]  # review's table: publicity shows named terms, never rules on them


STANDARD_TERMS = ("dibao_standard_urban", "dibao_standard_rural", "dibao_edge_multiple",
                  "tekun_basic_multiple", "tekun_care_standard", "addon_percent",
                  "linshi_bands", "linshi_township_ceiling_multiple")
TIME_LIMIT_TERMS = ("investigation_start_working_days", "decision_working_days",
                    "decision_extended_working_days", "tekun_confirmation_working_days",
                    "rejection_notice_working_days", "linshi_advance_completion_working_days",
                    "recheck_months_stable", "recheck_months_irregular",
                    "recheck_months_tekun", "phase_out_max_months",
                    "dibao_edge_validity_months")


def public_terms(version: PolicyVersion, names: tuple[str, ...]) -> dict[str, Any]:
    """A version's public face: the named terms as review published them (missing ones are
    left out, so a term review drops never shows a stale value)."""
    terms = version.terms
    return {"policy_version": version.policy_version,
            "effective_from": version.effective_from,
            "illustrative": bool(terms.get("illustrative", False)),
            "label": terms.get("label"),
            "terms": {n: terms[n] for n in names if n in terms}}


# Plain-language conditions for the intake checklist's fixed vocabulary.
MATERIAL_CONDITIONS = {
    "always": "所有申请 (every application)",
    "entrusted": "委托他人或村（居）委会代为申请时 (when someone applies on the household's "
                 "behalf)",
    "has_income": "家庭成员有收入时 (when a member has income)",
    "any_disability": "家庭成员有残疾时 (when a member is disabled)",
    "any_serious_illness": "家庭成员患重病时 (when a member is seriously ill)",
    "any_adult_student": "有成年在校学生时 (when an adult member is a full-time student)",
    "has_legal_supporters": "有法定赡养、抚养、扶养义务人时 (when there are legal supporters)",
    "hukou_basis": "以户籍地申请时 (when applying where the hukou is)",
    "residence_permit_basis": "以居住证申请时 (when applying with a residence permit)",
    "single_person": "单人保申请时 (for a single-person application)",
}


def procedure(kind: str, limits: dict[str, Any], notice_window_days: int) -> list[dict[str, Any]]:
    """The steps of a kind of assistance, with the time limits review enforces filled in
    from the policy in force (DOMAIN.md "Case lifecycle"; no number lives here)."""
    decision = limits.get("decision_working_days", {}).get(kind)
    steps: list[dict[str, Any]] = [
        {"step": "apply", "name": "申请", "detail":
            "向户籍所在地乡镇提出书面申请" if kind != "linshi" else "向急难发生地乡镇提出申请"},
        {"step": "accept", "name": "受理", "detail": "材料不全的，一次性告知需补齐的全部材料"},
    ]
    if kind == "linshi":
        steps.append({"step": "help_first", "name": "急难型先行救助",
                      "detail": "急难型可先行救助，事后补齐材料和签字",
                      "working_days": limits.get("linshi_advance_completion_working_days")})
    steps += [
        {"step": "investigate", "name": "调查核实", "detail": "入户调查、邻里访问、经济状况核对",
         "working_days": limits.get("investigation_start_working_days")},
        {"step": "review", "name": "审核", "detail": "乡镇审核确认小组提出审核意见"},
    ]
    steps.append({"step": "publicity", "name": "公示",
                  "detail": "审核意见在村（居）公示，公示期内可提出异议" + (
                      "；急难型先行救助可免于公示" if kind == "linshi" else ""),
                  "calendar_days": notice_window_days})
    steps.append({"step": "decide", "name": "确认", "detail":
                  "自受理之日起作出决定；不予确认的书面告知理由",
                  "working_days": decision,
                  "extended_working_days": limits.get("decision_extended_working_days"),
                  "refusal_notice_working_days": limits.get("rejection_notice_working_days")})
    if kind == "tekun":
        steps[-1]["confirmation_working_days"] = limits.get("tekun_confirmation_working_days")
    return steps
