"""The household's side: file, complete after a return, withdraw, report a change."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.intake.domain import Status
from services.intake.routes import App, Filer
from services.intake.schemas import (
    ChangeIn,
    ChangeOut,
    Created,
    FilingContent,
    ReasonIn,
    SubmitApplication,
    plain,
)
from services.intake.values import Household, HouseholdChange
from shared.web import run_command

router = APIRouter(tags=["applications"])


@router.post("/applications", status_code=201, response_model=Created)
def submit(body: SubmitApplication, request: Request, app: App, who: Filer) -> Response:
    def command() -> Created:
        application_id = app.submit(
            who, kind=body.kind, linshi_type=plain(body.linshi_type),
            township=body.township, village=body.village, filed_by=body.filed_by,
            filing=Household.of(plain(body.model_dump(include=set(FilingContent.model_fields)))))
        return Created(application_id=application_id, status=Status.SUBMITTED)
    return run_command(app, request, who, body, command)


@router.post("/applications/{application_id}/resubmit", response_model=Created)
def resubmit(application_id: UUID, body: FilingContent, request: Request, app: App,
             who: Filer) -> Response:
    def command() -> Created:
        a = app.resubmit(who, application_id, Household.of(plain(body.model_dump())))
        return Created(application_id=a.id, status=a.status)
    return run_command(app, request, who, body, command, status_code=200)


@router.post("/applications/{application_id}/withdraw", response_model=Created)
def withdraw(application_id: UUID, body: ReasonIn, request: Request, app: App,
             who: Filer) -> Response:
    def command() -> Created:
        a = app.withdraw(who, application_id, body.reason)
        return Created(application_id=a.id, status=a.status)
    return run_command(app, request, who, body, command, status_code=200)


@router.post("/applications/{application_id}/changes", status_code=201,
             response_model=ChangeOut)
def report_change(application_id: UUID, body: ChangeIn, request: Request, app: App,
                  who: Filer) -> Response:
    def command() -> ChangeOut:
        change_id = app.report_change(who, application_id,
                                      HouseholdChange.of(plain(body.model_dump())))
        return ChangeOut(application_id=application_id, status=Status.CONFIRMED,
                         change_id=change_id)
    return run_command(app, request, who, body, command)
