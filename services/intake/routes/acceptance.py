"""The township's decisions on acceptance (受理): accept, return for completion, decline."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.intake.routes import App, Clerk
from services.intake.schemas import Created, ReasonIn, ReturnedOut, ReturnIn
from shared.web import run_command

router = APIRouter(tags=["applications"])


@router.post("/applications/{application_id}/accept", response_model=Created)
def accept(application_id: UUID, request: Request, app: App, who: Clerk) -> Response:
    def command() -> Created:
        a = app.accept(who, application_id)
        return Created(application_id=a.id, status=a.status)
    return run_command(app, request, who, None, command, status_code=200)


@router.post("/applications/{application_id}/return", response_model=ReturnedOut)
def return_(application_id: UUID, body: ReturnIn, request: Request, app: App,
            who: Clerk) -> Response:
    def command() -> ReturnedOut:
        a = app.return_for_completion(who, application_id, body.items, body.note)
        return ReturnedOut(application_id=a.id, status=a.status,
                           missing=a.returns[-1]["missing"])
    return run_command(app, request, who, body, command, status_code=200)


@router.post("/applications/{application_id}/decline", response_model=Created)
def decline(application_id: UUID, body: ReasonIn, request: Request, app: App,
            who: Clerk) -> Response:
    def command() -> Created:
        a = app.decline(who, application_id, body.reason)
        return Created(application_id=a.id, status=a.status)
    return run_command(app, request, who, body, command, status_code=200)
