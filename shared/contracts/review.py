"""Review's published integration events."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from shared.contracts.common import AssistanceKind
from shared.contracts.registry import IntegrationEvent, contract


@contract
class CaseOpened(IntegrationEvent):
    SOURCE = "review"
    TYPE = "case_opened"
    case_id: UUID
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    accepted_on: date
    investigation_due: date
    decision_due: date
    deadlines_provisional: bool
    close_relative_declared: bool
