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
