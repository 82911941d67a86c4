"""Review's HTTP API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from services.review.application import ReviewApplication
from services.review.domain import ReviewCase
from shared.auth import Principal, Role, require


def _case(c: ReviewCase) -> dict[str, Any]:
    return {"case_id": str(c.id), "version": c.version, "application_id": str(c.application_id),
            "kind": c.kind, "township": c.township, "village": c.village, "status": c.status,
            "accepted_on": c.accepted_on, "investigation_due": c.investigation_due,
            "decision_due": c.decision_due, "deadlines_provisional": c.deadlines_provisional,
            "close_relative_declared": c.close_relative_declared}


def router(app: ReviewApplication) -> APIRouter:
    r = APIRouter(tags=["cases"])
    readers = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER,
                      Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)

    @r.get("/cases/{case_id}")
    def read(case_id: UUID, who: Principal = Depends(readers)) -> dict[str, Any]:
        return _case(app.case(who, case_id))

    @r.get("/cases/by-application/{application_id}")
    def by_application(application_id: UUID,
                       who: Principal = Depends(readers)) -> dict[str, Any]:
        return _case(app.case_for_application(who, application_id))

    @r.get("/cases")
    def list_(township: str = Query(pattern=r"^\d{9}$"), limit: int = Query(50, ge=1, le=500),
              offset: int = Query(0, ge=0), who: Principal = Depends(readers)) -> dict[str, Any]:
        total, items = app.list_cases(who, township, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "items": items}

    return r
