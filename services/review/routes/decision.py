"""The decision: confirmation, rejection, and advance (先行) assistance."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.review.routes import App, Assigner, Leader, command
from services.review.schemas import (
    AdvanceGranted,
    AdvanceIn,
    CaseConfirmed,
    CaseStep,
    ConfirmIn,
    NoteIn,
    ReasonsIn,
    case_step,
    plain,
)

router = APIRouter(tags=["decision"])


@router.post("/cases/{case_id}/confirm", response_model=CaseConfirmed)
def confirm(case_id: UUID, body: ConfirmIn, request: Request, app: App,
            who: Leader) -> Response:
    def run() -> dict[str, Any]:
        c, ent = app.confirm(who, case_id, body.notice)
        return {**case_step(c), **plain({"decision": c.decision,
                                         "entitlement_id": ent and ent.id})}
    return command(app, request, who, body, run)


@router.post("/cases/{case_id}/reject", response_model=CaseStep)
def reject(case_id: UUID, body: ReasonsIn, request: Request, app: App,
           who: Leader) -> Response:
    return command(app, request, who, body, lambda: case_step(
        app.reject(who, case_id, body.reasons)))


@router.post("/cases/{case_id}/advance", response_model=AdvanceGranted, status_code=201)
def advance(case_id: UUID, body: AdvanceIn, request: Request, app: App,
            who: Leader) -> Response:
    def run() -> dict[str, Any]:
        c = app.grant_advance(who, case_id, body.band, body.instalments, body.reason)
        return {**case_step(c), **plain({"advance": c.advance, "payments": c.payments})}
    return command(app, request, who, body, run, 201)


@router.post("/cases/{case_id}/advance/complete", response_model=CaseStep)
def complete_advance(case_id: UUID, body: NoteIn, request: Request, app: App,
                     who: Assigner) -> Response:
    return command(app, request, who, body, lambda: case_step(
        app.complete_advance_record(who, case_id, body.note)))
