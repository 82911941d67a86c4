"""Publicity's published integration events: the 公示 and its outcome."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from shared.contracts.registry import IntegrationEvent, contract


@contract
class NoticeOpened(IntegrationEvent):
    SOURCE = "publicity"
    TYPE = "notice_opened"
    notice_id: UUID
    case_id: UUID
    subject: Literal["opinion", "termination"]
    round: int
    township: str
    village: str
    starts_on: date
    ends_on: date


@contract
class ObjectionFiled(IntegrationEvent):
    """Only the fact travels: the objection's text and contact stay in publicity."""

    SOURCE = "publicity"
    TYPE = "objection_filed"
    notice_id: UUID
    case_id: UUID
    objection_id: UUID
    township: str


@contract
class ObjectionResolved(IntegrationEvent):
    SOURCE = "publicity"
    TYPE = "objection_resolved"
    notice_id: UUID
    case_id: UUID
    objection_id: UUID
    township: str
    upheld: bool
    finding: str


@contract
class NoticeClosed(IntegrationEvent):
    """Review confirms after "clean", re-investigates after "objection_upheld"."""

    SOURCE = "publicity"
    TYPE = "notice_closed"
    notice_id: UUID
    case_id: UUID
    subject: Literal["opinion", "termination"]
    round: int
    township: str
    village: str
    outcome: Literal["clean", "objection_upheld"]
    finding: str | None = None
    closed_on: date


# --- the public channel (issue #10): reports (举报) and inquiries (咨询) ----------------------
# A report's text, the reporter's contact and name, and an inquiry's question never travel:
# they stay in publicity. A report about an official (queue "discipline") carries no
# township, case or household on the bus, in its data or in its envelope, so no consumer
# can show it to the township it accuses.

ReportCategory = Literal["not_eligible", "left_out", "favouritism", "bribery", "data_leak"]
ReportQueue = Literal["township", "discipline"]


@contract
class ReportFiled(IntegrationEvent):
    SOURCE = "publicity"
    TYPE = "report_filed"
    report_id: UUID
    category: ReportCategory
    queue: ReportQueue
    township: str | None = None  # only for the township queue
    filed_on: date


@contract
class ReportRouted(IntegrationEvent):
    """A report moved to another queue (a township escalating to the discipline inspector)."""

    SOURCE = "publicity"
    TYPE = "report_routed"
    report_id: UUID
    queue: ReportQueue
    township: str | None = None  # only for the township queue
    routed_on: date


@contract
class ReportFindingRecorded(IntegrationEvent):
    SOURCE = "publicity"
    TYPE = "report_finding_recorded"
    report_id: UUID
    category: ReportCategory
    queue: ReportQueue
    township: str | None = None  # only for the township queue
    upheld: bool
    concluded_on: date


@contract
class ReportUpheld(IntegrationEvent):
    """A report found true that calls for a recheck (复查) of the household it names: review
    brings the entitlement's recheck forward. For a report about an official this is sent
    only when the discipline inspector asks for the recheck, and without the finding."""

    SOURCE = "publicity"
    TYPE = "report_upheld"
    report_id: UUID
    category: ReportCategory
    township: str
    village: str
    case_id: UUID | None = None
    entitlement_id: UUID | None = None
    finding: str | None = None  # the township's finding (household reports only)
    upheld_on: date


@contract
class InquiryAsked(IntegrationEvent):
    SOURCE = "publicity"
    TYPE = "inquiry_asked"
    inquiry_id: UUID
    township: str
    topic: str | None = None  # an assistance kind, when the asker chose one
    asked_on: date
    due_on: date
    due_provisional: bool = False


@contract
class InquiryAnswered(IntegrationEvent):
    SOURCE = "publicity"
    TYPE = "inquiry_answered"
    inquiry_id: UUID
    township: str
    answered_on: date
    due_on: date
    late: bool
    published: bool
