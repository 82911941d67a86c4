"""The officials' side of reports (举报): the queues, a report, its investigation, its
finding, and the hand-on of a report that accuses an official to the inspector."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.publicity.domain import ReportQueue
from services.publicity.routes import App, Staff
from services.publicity.schemas import (
    TOWNSHIP,
    EscalationIn,
    ReportFindingIn,
    ReportInvestigationIn,
    ReportPage,
    ReportView,
    report_view,
)
from shared.auth import Principal, Role, require
from shared.web import Offset, run_command

# Who may act on a given report is the domain's rule (queue, role, township).
Handler = Annotated[Principal, Depends(require(
    Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER,
    Role.DISCIPLINE_INSPECTOR))]

router = APIRouter(tags=["reports and inquiries"])


@router.get("/reports", response_model=ReportPage)
def reports(app: App, who: Staff, queue: ReportQueue = ReportQueue.TOWNSHIP,
            township: str | None = Query(None, pattern=TOWNSHIP),
            view: Literal["open", "concluded", "all"] = "open",
            limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> dict[str, Any]:
    total, items = app.reports(who, queue=queue, township=township, view=view, limit=limit,
                               offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "queue": queue, "view": view,
            "items": items}


@router.get("/reports/{report_id}", response_model=ReportView)
def report(report_id: UUID, app: App, who: Staff) -> ReportView:
    return report_view(app.report(who, report_id))


@router.post("/reports/{report_id}/investigation", response_model=ReportView)
def investigate(report_id: UUID, body: ReportInvestigationIn, request: Request, app: App,
                who: Handler) -> Response:
    return run_command(app, request, who, body, lambda: report_view(
        app.record_report_investigation(who, report_id, body.notes)), status_code=200)


@router.post("/reports/{report_id}/finding", response_model=ReportView)
def finding(report_id: UUID, body: ReportFindingIn, request: Request, app: App,
            who: Handler) -> Response:
    return run_command(app, request, who, body, lambda: report_view(
        app.record_report_finding(who, report_id, upheld=body.upheld, finding=body.finding,
                                  reply=body.reply, request_recheck=body.request_recheck)),
        status_code=200)


@router.post("/reports/{report_id}/escalation", response_model=ReportView)
def escalate(report_id: UUID, body: EscalationIn, request: Request, app: App,
             who: Staff) -> Response:
    return run_command(app, request, who, body, lambda: report_view(
        app.escalate_report(who, report_id, body.reason)), status_code=200)
