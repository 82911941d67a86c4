"""Reading cases: one case, a township's list, the opinion recomputed, the deadlines."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query

from services.review.routes import TOWNSHIP, App, Reader, Staff
from services.review.schemas import (
    CaseView,
    Deadlines,
    OpinionRecomputed,
    case_view,
    plain,
)
from shared.web import Offset, Page

router = APIRouter(tags=["cases"])


@router.get("/cases/{case_id}", response_model=CaseView)
def read(case_id: UUID, app: App, who: Reader) -> dict[str, Any]:
    return case_view(app.case(who, case_id), app.sees_verification(who))


@router.get("/cases/by-application/{application_id}", response_model=CaseView)
def by_application(application_id: UUID, app: App, who: Reader) -> dict[str, Any]:
    return case_view(app.case_for_application(who, application_id), app.sees_verification(who))


@router.get("/cases", response_model=Page)
def list_(app: App, who: Reader, township: str = Query(pattern=TOWNSHIP),
          status: str | None = Query(None, max_length=20),
          limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> dict[str, Any]:
    total, items = app.list_cases(who, township, limit, offset, status)
    return plain({"total": total, "limit": limit, "offset": offset, "items": items})


@router.get("/cases/{case_id}/opinion/recompute", response_model=OpinionRecomputed)
def recompute(case_id: UUID, app: App, who: Staff) -> dict[str, Any]:
    return plain(app.recompute_opinion(who, case_id))


@router.get("/deadlines", response_model=Deadlines, response_model_exclude_unset=True)
def deadlines(app: App, who: Staff, township: str = Query(pattern=TOWNSHIP),
              as_of: date | None = None) -> dict[str, Any]:
    return plain(app.deadlines(who, township, as_of or app.today()))
