"""Review's domain events → published integration events."""

from __future__ import annotations

from typing import Any

from services.review.domain import ReviewCase
from shared.bus import Outgoing
from shared.contracts.review import CaseOpened


def to_integration(event: Any, position: int) -> Outgoing | None:
    if isinstance(event, ReviewCase.Opened):
        return Outgoing(CaseOpened(
            case_id=event.originator_id, application_id=event.application_id, kind=event.kind,
            township=event.township, village=event.village, accepted_on=event.accepted_on,
            investigation_due=event.investigation_due, decision_due=event.decision_due,
            deadlines_provisional=event.deadlines_provisional,
            close_relative_declared=event.close_relative_declared,
        ), case_id=str(event.originator_id), township=event.township)
    return None
