"""Intake's one writer: filing and acceptance of applications."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import func, select

from services.intake.domain import Application, check_filing
from services.intake.projections import IntakeProjection
from shared.auth import Principal
from shared.contracts.common import AssistanceKind
from shared.eventstore import ServiceApplication
from shared.pii import china_today
from shared.regions import County
from shared.settings import ServiceSettings


class IntakeApplication(ServiceApplication):
    name = "intake"

    def __init__(self, settings: ServiceSettings, county: County,
                 today: Callable[[], date] = china_today) -> None:
        self.county, self.today = county, today
        self.views = IntakeProjection()
        super().__init__(settings, self.views)

    def submit(self, who: Principal, *, kind: AssistanceKind, township: str, village: str,
               members: list[dict[str, Any]], filed_by: str,
               close_relative_declared: bool) -> UUID:
        who.check_jurisdiction(township, village)
        check_filing(self.county, kind, township, village, members)
        application = Application(
            kind=kind.value, township=township, village=village, members=members,
            filed_by=filed_by, close_relative_declared=close_relative_declared,
            actor=who.actor())
        self.save(application)
        return application.id

    def accept(self, who: Principal, application_id: UUID) -> Application:
        application: Application = self.get(application_id, "application")
        who.check_jurisdiction(application.township)
        application.accept(self.today(), who.actor())
        self.save(application)
        return application

    def application(self, who: Principal, application_id: UUID) -> Application:
        application: Application = self.get(application_id, "application")
        who.check_jurisdiction(application.township, application.village)
        return application

    def list_applications(self, who: Principal, township: str, status: str | None,
                          limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        who.check_jurisdiction(township, who.village)
        t = self.views.applications
        q = select(t).where(t.c.township == township)
        if who.village:  # a village assistant sees only their own village's filings
            q = q.where(t.c.village == who.village)
        if status:
            q = q.where(t.c.status == status)
        with self.read_session() as s:
            total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
            rows = s.execute(q.order_by(t.c.submitted_at.desc()).limit(limit).offset(offset))
            return total, [dict(r._mapping) for r in rows]
