"""County supervision: alerts (预警) a scan raises, read and acknowledged by supervisors."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.archive.routes import App, centre, supervisors
from services.archive.schemas import (
    MONTH_PATTERN,
    Acknowledge,
    AlertAcknowledged,
    AlertsRaised,
    RaisedAlert,
    ScanAlerts,
    SupervisionAlerts,
    Township,
)
from services.archive.supervision import AlertKind
from shared.auth import Principal
from shared.web import run_command

Month = Query(None, pattern=MONTH_PATTERN)

router = APIRouter(prefix="/supervision/alerts", tags=["supervision"])


@router.get("", response_model=SupervisionAlerts)
def alerts(app: App, township: str | None = Township, month: str | None = Month,
           open_only: bool = False, who: Principal = Depends(supervisors)) -> SupervisionAlerts:
    return SupervisionAlerts.model_validate(
        app.supervision.supervision_alerts(who, None, township, month, open_only))


@router.get("/{kind}", response_model=SupervisionAlerts)
def alerts_of_kind(app: App, kind: AlertKind, township: str | None = Township,
                   month: str | None = Month, open_only: bool = False,
                   who: Principal = Depends(supervisors)) -> SupervisionAlerts:
    return SupervisionAlerts.model_validate(
        app.supervision.supervision_alerts(who, kind.value, township, month, open_only))


@router.post("/scan", response_model=AlertsRaised)
def scan(app: App, body: ScanAlerts, request: Request,
         who: Principal = Depends(centre)) -> Response:
    def command() -> AlertsRaised:
        raised = app.supervision.scan_alerts(who, body.months or None)
        return AlertsRaised(raised=[RaisedAlert(alert_id=str(a.id), kind=a.kind,
                                                township=a.township, month=a.month,
                                                case_id=a.case_id) for a in raised])
    return run_command(app, request, who, body, command, status_code=200)


@router.post("/{alert_id}/acknowledge", response_model=AlertAcknowledged)
def acknowledge_alert(app: App, alert_id: UUID, body: Acknowledge, request: Request,
                      who: Principal = Depends(supervisors)) -> Response:
    def command() -> AlertAcknowledged:
        a = app.supervision.acknowledge_supervision_alert(who, alert_id, body.reason)
        return AlertAcknowledged(alert_id=str(alert_id), kind=a.kind, acknowledged=True)
    return run_command(app, request, who, body, command, status_code=200)
