"""The officials' side of notices: the township's queue, a notice with its objections, and
the investigation and finding of each objection."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.publicity.application import OfficialView
from services.publicity.routes import App, TownshipOfficial
from services.publicity.schemas import (
    OBJECTION_READERS,
    TOWNSHIP,
    InvestigationIn,
    ObjectionState,
    OfficialNotice,
    OfficialNoticePage,
    ResolutionIn,
    objection_state,
    official_notice,
)
from shared.auth import Principal, Role, require
from shared.web import Offset, run_command

Reader = Annotated[Principal, Depends(require(Role.VILLAGE_ASSISTANT, *OBJECTION_READERS))]
# The finding is the joint-review group's (审核确认小组) to give.
Decider = Annotated[Principal, Depends(require(Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER))]

router = APIRouter(tags=["notices"])


@router.get("/notices", response_model=OfficialNoticePage)
def list_(app: App, who: Reader, township: str = Query(pattern=TOWNSHIP),
          view: OfficialView = "open", limit: int = Query(50, ge=1, le=500),
          offset: Offset = 0) -> dict[str, Any]:
    total, items = app.official_notices(who, township, view, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "view": view, "items": items}


@router.get("/notices/{notice_id}", response_model=OfficialNotice)
def read(notice_id: UUID, app: App, who: Reader) -> OfficialNotice:
    return official_notice(app.notice(who, notice_id), who)


@router.post("/notices/{notice_id}/objections/{objection_id}/investigation",
             response_model=ObjectionState)
def investigate(notice_id: UUID, objection_id: UUID, body: InvestigationIn, request: Request,
                app: App, who: TownshipOfficial) -> Response:
    def command() -> ObjectionState:
        n = app.record_investigation(who, notice_id, objection_id, method=body.method,
                                     notes=body.notes)
        return objection_state(n, objection_id)
    return run_command(app, request, who, body, command, status_code=200)


@router.post("/notices/{notice_id}/objections/{objection_id}/resolution",
             response_model=ObjectionState)
def resolve(notice_id: UUID, objection_id: UUID, body: ResolutionIn, request: Request,
            app: App, who: Decider) -> Response:
    def command() -> ObjectionState:
        n = app.resolve_objection(who, notice_id, objection_id, upheld=body.upheld,
                                  finding=body.finding)
        return objection_state(n, objection_id)
    return run_command(app, request, who, body, command, status_code=200)
