"""Review's read models: cases per township with their deadlines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Date, String, Table
from sqlalchemy.orm import Session

from services.review.domain import ReviewCase
from shared.eventstore import POSITION, Projection


class ReviewProjection(Projection):
    def __init__(self) -> None:
        super().__init__()
        self.cases = Table(
            "review_cases", self.metadata,
            Column("case_id", String(36), primary_key=True),
            Column("application_id", String(36), nullable=False, unique=True),
            Column("kind", String(16), nullable=False),
            Column("township", String(12), nullable=False, index=True),
            Column("village", String(12), nullable=False),
            Column("status", String(16), nullable=False),
            Column("close_relative_declared", Boolean, nullable=False),
            Column("accepted_on", Date, nullable=False),
            Column("decision_due", Date, nullable=False, index=True),
            Column("deadlines_provisional", Boolean, nullable=False),
            Column("position", POSITION, nullable=False),
        )

    def apply(self, session: Session, event: Any, position: int) -> None:
        if isinstance(event, ReviewCase.Opened):
            session.execute(self.cases.insert().values(
                case_id=str(event.originator_id), application_id=str(event.application_id),
                kind=event.kind, township=event.township, village=event.village,
                status="opened", close_relative_declared=event.close_relative_declared,
                accepted_on=event.accepted_on, decision_due=event.decision_due,
                deadlines_provisional=event.deadlines_provisional, position=position))
