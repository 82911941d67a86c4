"""Review's one writer."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, select

from services.review.domain import (
    DECISION_WORKING_DAYS,
    INVESTIGATION_START_WORKING_DAYS,
    ReviewCase,
    case_id_for,
)
from services.review.projections import ReviewProjection
from shared.auth import Principal
from shared.calendar import WorkingCalendar
from shared.contracts.intake import ApplicationAccepted
from shared.eventstore import ServiceApplication
from shared.settings import ServiceSettings


class ReviewApplication(ServiceApplication):
    name = "review"

    def __init__(self, settings: ServiceSettings, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self.views = ReviewProjection()
        super().__init__(settings, self.views)

    def open_case(self, accepted: ApplicationAccepted, actor: dict[str, Any]) -> UUID:
        investigation = self.calendar.add_working_days(accepted.accepted_on,
                                                       INVESTIGATION_START_WORKING_DAYS)
        decision = self.calendar.add_working_days(accepted.accepted_on,
                                                  DECISION_WORKING_DAYS[accepted.kind.value])
        case = ReviewCase(
            application_id=accepted.application_id, kind=accepted.kind.value,
            township=accepted.township, village=accepted.village,
            accepted_on=accepted.accepted_on, household_size=len(accepted.members),
            applicant_name=accepted.applicant_name,
            close_relative_declared=accepted.close_relative_declared,
            investigation_due=investigation.due, decision_due=decision.due,
            deadlines_provisional=investigation.provisional or decision.provisional,
            actor=actor)
        self.save(case)
        return case.id

    def case(self, who: Principal, case_id: UUID) -> ReviewCase:
        case: ReviewCase = self.get(case_id, "review case")
        who.check_jurisdiction(case.township)
        return case

    def case_for_application(self, who: Principal, application_id: UUID) -> ReviewCase:
        return self.case(who, case_id_for(application_id))

    def list_cases(self, who: Principal, township: str, limit: int,
                   offset: int) -> tuple[int, list[dict[str, Any]]]:
        who.check_jurisdiction(township)
        t = self.views.cases
        q = select(t).where(t.c.township == township)
        with self.read_session() as s:
            total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
            rows = s.execute(q.order_by(t.c.decision_due).limit(limit).offset(offset))
            return total, [dict(r._mapping) for r in rows]
