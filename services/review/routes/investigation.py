"""The investigation: assignment, home visits, interviews, and the county's verification."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.review.routes import App, Assigner, Centre, Clerk, Investigator, Visitor, command
from services.review.schemas import (
    AssignIn,
    CaseStep,
    InterviewIn,
    ReportIn,
    VisitIn,
    case_step,
    enum_values,
)
from shared.auth import Role

FINDINGS = {"members", "incomes", "assets", "irregular_income"}

router = APIRouter()


@router.post("/cases/{case_id}/investigation/assign", tags=["investigation"],
             response_model=CaseStep)
def assign(case_id: UUID, body: AssignIn, request: Request, app: App,
           who: Assigner) -> Response:
    return command(app, request, who, body, lambda: case_step(app.assign_investigation(
        who, case_id, [i.model_dump() for i in body.investigators], body.contractor)))


@router.post("/cases/{case_id}/investigation/visits", tags=["investigation"],
             response_model=CaseStep, status_code=201)
def visit(case_id: UUID, body: VisitIn, request: Request, app: App, who: Visitor) -> Response:
    findings = body.model_dump(include=FINDINGS, mode="python")
    record = body.model_dump(exclude=FINDINGS, mode="python")
    record["contractor"] = who.org if who.role is Role.CONTRACTOR_INVESTIGATOR else None
    return command(app, request, who, body, lambda: case_step(
        app.record_home_visit(who, case_id, record, enum_values(findings))), 201)


@router.post("/cases/{case_id}/investigation/interviews", tags=["investigation"],
             response_model=CaseStep, status_code=201)
def interview(case_id: UUID, body: InterviewIn, request: Request, app: App,
              who: Investigator) -> Response:
    return command(app, request, who, body, lambda: case_step(
        app.record_interview(who, case_id, body.model_dump())), 201)


@router.post("/cases/{case_id}/verification/request", tags=["verification"],
             response_model=CaseStep)
def request_verification(case_id: UUID, request: Request, app: App, who: Clerk) -> Response:
    return command(app, request, who, None, lambda: case_step(
        app.request_verification(who, case_id)))


@router.post("/cases/{case_id}/verification/report", tags=["verification"],
             response_model=CaseStep, status_code=201)
def report(case_id: UUID, body: ReportIn, request: Request, app: App, who: Centre) -> Response:
    return command(app, request, who, body, lambda: case_step(
        app.record_verification(who, case_id, body.model_dump())), 201)
