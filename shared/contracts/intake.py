"""Intake's published integration events (the contract review and others consume)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.contracts.common import AssistanceKind
from shared.contracts.registry import IntegrationEvent, contract
from shared.pii import Sealed


class MemberRef(BaseModel):
    """A household member as other services see them: the ID sealed, a keyed fingerprint
    for de-duplication, never the plaintext ID."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    relation: str
    birth_date: date
    resident_id: Sealed
    fingerprint: str


@contract
class ApplicationSubmitted(IntegrationEvent):
    SOURCE = "intake"
    TYPE = "application_submitted"
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    household_size: int
    close_relative_declared: bool


@contract
class ApplicationAccepted(IntegrationEvent):
    SOURCE = "intake"
    TYPE = "application_accepted"
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    accepted_on: date
    applicant_name: str
    members: list[MemberRef]
    close_relative_declared: bool
