"""Intake's read models: the clerk's list of applications."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String, Table, update
from sqlalchemy.orm import Session

from services.intake.domain import Application
from shared.eventstore import POSITION, Projection


class IntakeProjection(Projection):
    def __init__(self) -> None:
        super().__init__()
        self.applications = Table(
            "intake_applications", self.metadata,
            Column("application_id", String(36), primary_key=True),
            Column("kind", String(16), nullable=False, index=True),
            Column("township", String(12), nullable=False, index=True),
            Column("village", String(12), nullable=False),
            Column("status", String(16), nullable=False, index=True),
            Column("household_size", Integer, nullable=False),
            Column("close_relative_declared", Boolean, nullable=False),
            Column("submitted_at", DateTime(timezone=True), nullable=False),
            Column("accepted_on", Date),
            Column("position", POSITION, nullable=False),
        )

    def apply(self, session: Session, event: Any, position: int) -> None:
        t = self.applications
        key = str(event.originator_id)
        if isinstance(event, Application.Submitted):
            session.execute(t.insert().values(
                application_id=key, kind=event.kind, township=event.township,
                village=event.village, status="submitted", household_size=len(event.members),
                close_relative_declared=event.close_relative_declared,
                submitted_at=event.timestamp, position=position))
        elif isinstance(event, Application.Accepted):
            session.execute(update(t).where(t.c.application_id == key).values(
                status="accepted", accepted_on=event.accepted_on, position=position))
