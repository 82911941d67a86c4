"""Publicity's domain: the Notice (公示) of a review opinion or a 特困 termination, its
objections (异议), and the long-term roster (长期公示) of current beneficiaries.

Pure: no I/O, no framework. Dates arrive from the application's clock; the display rule
and the window length arrive from settings. Nothing here ever holds a full name, an ID
number or a bank account: the application masks the applicant's name before an event is
made, so the public can be shown any stored field of `PublicContent` without a filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared.errors import RuleViolation
from shared.pii import mask_name

OBJECTION_TEXT_MAX = 2000
CONTACT_MAX = 64
OBJECTOR_NAME_MAX = 32
FINDING_MAX = 2000
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# The scheduler closes windows on the system's behalf: the audit still names a "who".
SYSTEM_ACTOR: dict[str, Any] = {"user_id": "system:publicity-scheduler", "role": "system",
                                "township": None, "village": None}


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


def notice_id_for(case_id: UUID, subject: str, round_: int) -> UUID:
    # One notice per (case, subject, round): a replayed opinion cannot post a second one.
    return uuid5(NAMESPACE_URL, f"lingshui:publicity-notice:{case_id}:{subject}:{round_}")


def roster_entry_id_for(entitlement_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:publicity-roster:{entitlement_id}")


def month_of(day: date) -> str:
    return f"{day:%Y-%m}"


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
                 opened_from: str, actor: dict[str, Any]) -> None:
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
             actor: dict[str, Any]) -> Notice:
        if round_ < 1:
            raise RuleViolation("publicity.round", "rounds start at 1", field="round")
        return cls(case_id=case_id, subject=subject.value, round_=round_, kind=kind,
                   township=township, village=village, household_id=household_id,
                   entitlement_id=entitlement_id, starts_on=window.starts_on,
                   ends_on=window.ends_on, display_name=content.display_name,
                   name_rule=name_rule, household_size=content.household_size,
                   monthly_amount=content.monthly_amount, approve=approve,
                   opened_from=opened_from, actor=actor)

    @property
    def window(self) -> NoticeWindow:
        return NoticeWindow(self.starts_on, self.ends_on)

    @property
    def is_open(self) -> bool:
        return self.status == NoticeStatus.OPEN

    @property
    def pending_objections(self) -> list[str]:
        return [oid for oid, o in self.objections.items() if o["status"] in OPEN_OBJECTION]

    def public_content(self) -> PublicContent:
        return PublicContent(self.display_name, self.household_size, self.kind,
                             self.monthly_amount, self.village)

    # -- objections --

    def file_objection(self, objection_id: UUID, *, text: str, contact: str | None,
                       objector_name: str | None, on: date, actor: dict[str, Any]) -> None:
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
            filed_on=on, actor=actor)

    @event("ObjectionFiled")
    def _objection_filed(self, objection_id: str, text: str, contact: str | None,
                         objector_name: str | None, filed_on: date,
                         actor: dict[str, Any]) -> None:
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
                             notes: str, on: date, actor: dict[str, Any]) -> None:
        """重新调查 or 民主评议: what the township did to test the objection."""
        o = self._objection(objection_id)
        if o["status"] not in OPEN_OBJECTION:
            raise RuleViolation("publicity.objection_resolved",
                                "this objection already has a finding", field="objection_id")
        self._investigation_recorded(
            objection_id=str(objection_id), method=method.value,
            notes=_text(notes, "notes", FINDING_MAX, required=True), on=on, actor=actor)

    @event("InvestigationRecorded")
    def _investigation_recorded(self, objection_id: str, method: str, notes: str, on: date,
                                actor: dict[str, Any]) -> None:
        o = self.objections[objection_id]
        o["status"] = ObjectionStatus.UNDER_INVESTIGATION.value
        o["investigations"].append({"method": method, "notes": notes, "on": on,
                                    "by": actor.get("user_id")})

    def resolve_objection(self, objection_id: UUID, *, upheld: bool, finding: str, on: date,
                          actor: dict[str, Any]) -> None:
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
                                 finding=reasons, on=on, actor=actor)
        if not self.is_open:
            return
        if upheld:
            self._closed(outcome=Outcome.OBJECTION_UPHELD.value, finding=reasons,
                         closed_on=on, actor=actor)
        elif self.window.has_ended_by(on) and not self.pending_objections:
            # The window ran out while this was open: its finding is what closes it.
            self._closed(outcome=Outcome.CLEAN.value, finding=None, closed_on=on, actor=actor)

    @event("ObjectionResolved")
    def _objection_resolved(self, objection_id: str, upheld: bool, finding: str, on: date,
                            actor: dict[str, Any]) -> None:
        o = self.objections[objection_id]
        o["status"] = (ObjectionStatus.UPHELD if upheld else ObjectionStatus.NOT_UPHELD).value
        o["upheld"], o["finding"], o["resolved_on"] = upheld, finding, on

    # -- closing --

    def close_if_due(self, today: date, actor: dict[str, Any] = SYSTEM_ACTOR) -> bool:
        """Close clean once the window has ended with no objection awaiting a finding.

        The close date is the day after the window, not the day the scheduler ran, so a
        notice closed late (the service was down) records the same facts as one closed
        on time: nobody could object in between.
        """
        if not self.is_open or not self.window.has_ended_by(today) or self.pending_objections:
            return False
        self._closed(outcome=Outcome.CLEAN.value, finding=None,
                     closed_on=self.window.ended_on, actor=actor)
        return True

    @event("Closed")
    def _closed(self, outcome: str, finding: str | None, closed_on: date,
                actor: dict[str, Any]) -> None:
        self.status = NoticeStatus.CLOSED
        self.outcome, self.finding, self.closed_on = outcome, finding, closed_on

    def supersede(self, by_notice: UUID, actor: dict[str, Any]) -> None:
        if not self.is_open:
            return
        self._superseded(by_notice=by_notice, actor=actor)

    @event("Superseded")
    def _superseded(self, by_notice: UUID, actor: dict[str, Any]) -> None:
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
                 actor: dict[str, Any]) -> None:
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
              actor: dict[str, Any]) -> RosterEntry:
        if content.monthly_amount is None:
            raise RuleViolation("publicity.amount", "a listed benefit has a monthly amount",
                                field="monthly_amount")
        return cls(entitlement_id=entitlement_id, case_id=case_id, kind=content.kind,
                   township=township, village=content.village,
                   display_name=content.display_name, name_rule=name_rule,
                   household_size=content.household_size,
                   monthly_amount=content.monthly_amount,
                   start_month=check_month(start_month, "start_month"),
                   source_event_id=source_event_id, actor=actor)

    def change(self, change: RosterChange, *, monthly_amount: Decimal, household_size: int,
               effective_month: str, source_event_id: str, actor: dict[str, Any]) -> None:
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
                      source_event_id=source_event_id, actor=actor)

    @event("Changed")
    def _changed(self, change: str, listed: bool, monthly_amount: Decimal, household_size: int,
                 effective_month: str, source_event_id: str, actor: dict[str, Any]) -> None:
        self.listed = listed
        self.monthly_amount = monthly_amount
        self.household_size = household_size
        self.effective_month = effective_month
        self.terminated = change == RosterChange.TERMINATE.value
