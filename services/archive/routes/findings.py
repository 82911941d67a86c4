"""The inspectors' views (监督): sensitive access, conflicts of interest, irregular
decisions, and the chain alarms they close."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.archive.routes import App, auditors, county
from services.archive.schemas import (
    Acknowledge,
    AlarmResolved,
    Alarms,
    ConflictsOfInterest,
    IrregularDecisions,
    SensitiveAccess,
    Township,
)
from shared.auth import Principal
from shared.web import Offset, run_command

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/sensitive-access", response_model=SensitiveAccess)
def sensitive_access(app: App, township: str | None = Township,
                     since: datetime | None = None, until: datetime | None = None,
                     limit: int = Query(100, ge=1, le=1000), offset: Offset = 0,
                     who: Principal = Depends(auditors)) -> SensitiveAccess:
    return SensitiveAccess.model_validate(
        app.sensitive_access(who, township, since, until, limit, offset))


@router.get("/conflicts-of-interest", response_model=ConflictsOfInterest)
def conflicts(app: App, township: str | None = Township,
              who: Principal = Depends(auditors)) -> ConflictsOfInterest:
    return ConflictsOfInterest.model_validate(app.conflicts_of_interest(who, township))


@router.get("/irregular-decisions", response_model=IrregularDecisions)
def irregular(app: App, township: str | None = Township, as_of: date | None = None,
              who: Principal = Depends(auditors)) -> IrregularDecisions:
    return IrregularDecisions.model_validate(app.irregular_decisions(who, township, as_of))


@router.get("/alarms", response_model=Alarms)
def alarms(app: App, township: str | None = Township, open_only: bool = False,
           who: Principal = Depends(auditors)) -> Alarms:
    return Alarms.model_validate({"items": app.alarms(who, township, open_only)})


@router.post("/alarms/{alarm_id}/acknowledge", response_model=AlarmResolved)
def acknowledge(app: App, alarm_id: UUID, body: Acknowledge, request: Request,
                who: Principal = Depends(county)) -> Response:
    def command() -> AlarmResolved:
        a = app.acknowledge_alarm(who, alarm_id, body.reason)
        return AlarmResolved(alarm_id=str(alarm_id), resolution=a.resolution)
    return run_command(app, request, who, body, command, status_code=200)
