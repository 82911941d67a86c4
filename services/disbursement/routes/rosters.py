"""The monthly roster (发放花名册): draft, read, lock, correct, and explain the change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.disbursement.domain import PaidKind
from services.disbursement.routes.common import MONTH, ROSTER, TOWNSHIP, App, Clerk, Reader
from services.disbursement.schemas import (
    Correction,
    MonthChangesOut,
    RosterOut,
    RosterRowsOut,
    RosterSummaryOut,
    roster_json,
)
from shared.web import Offset, run_command

router = APIRouter(tags=["disbursement"])


@router.post(ROSTER + "/draft", status_code=201, response_model=RosterOut)
def draft(request: Request, kind: PaidKind, app: App, who: Clerk, township: str = TOWNSHIP,
          month: str = MONTH) -> Response:
    return run_command(app, request, who, None, lambda: roster_json(
        app.draft_roster(who, township, month, kind.value)))


@router.get(ROSTER, response_model=RosterSummaryOut, response_model_exclude_unset=True)
def roster(kind: PaidKind, app: App, who: Reader, township: str = TOWNSHIP,
           month: str = MONTH) -> dict[str, Any]:
    return app.roster_summary(who, township, month, kind.value)


@router.get(ROSTER + "/rows", response_model=RosterRowsOut, response_model_exclude_unset=True)
def rows(kind: PaidKind, app: App, who: Reader, township: str = TOWNSHIP, month: str = MONTH,
         limit: int = Query(100, ge=1, le=1000), offset: Offset = 0) -> dict[str, Any]:
    total, items = app.roster_rows(who, township, month, kind.value, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.post(ROSTER + "/lock", response_model=RosterOut)
def lock(request: Request, kind: PaidKind, app: App, who: Clerk, township: str = TOWNSHIP,
         month: str = MONTH) -> Response:
    return run_command(app, request, who, None, lambda: roster_json(
        app.lock_roster(who, township, month, kind.value)), status_code=200)


@router.post(ROSTER + "/corrections", status_code=201, response_model=RosterOut)
def correct(body: Correction, request: Request, kind: PaidKind, app: App, who: Clerk,
            township: str = TOWNSHIP, month: str = MONTH) -> Response:
    return run_command(app, request, who, body, lambda: roster_json(app.correct_roster(
        who, township, month, kind.value, body.key, body.amount, body.reason)))


@router.get("/townships/{township}/months/{month}/changes", response_model=MonthChangesOut,
            response_model_exclude_unset=True)
def changes(app: App, who: Reader, township: str = TOWNSHIP, month: str = MONTH) -> dict[str, Any]:
    """Explain the change: each roster difference from last month and its causes."""
    return app.explain_changes(who, township, month)
