"""追回: money paid for months it was not due, recovered or written off by a decision."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.disbursement.routes.common import TOWNSHIP, App, Clerk, Leader, Reader
from services.disbursement.schemas import (
    Recovered,
    RecoveriesOut,
    RecoveryDecisionOut,
    WriteOff,
    recovery_json,
)
from shared.web import run_command

router = APIRouter(tags=["disbursement"])


@router.get("/townships/{township}/recoveries", summary="Recoveries (追回) of a township",
            response_model=RecoveriesOut)
def recoveries(app: App, who: Reader, township: str = TOWNSHIP) -> dict[str, Any]:
    """Money paid for months it was not due (a decrease, a backdated end, a death or
    fraud decided after the month's roster), what is recovered and written off."""
    return {"township": township, "items": app.recoveries(who, township)}


@router.post("/recoveries/{key}/recovered", summary="Record money recovered (追回)",
             response_model=RecoveryDecisionOut)
def recovered(body: Recovered, request: Request, key: UUID, app: App, who: Clerk) -> Response:
    return run_command(app, request, who, body, lambda: recovery_json(
        app.record_recovered(who, key, body.amount, body.reason)), status_code=200)


@router.post("/recoveries/{key}/write-off",
             summary="Write off what is left (核销), with a reason",
             response_model=RecoveryDecisionOut)
def write_off(body: WriteOff, request: Request, key: UUID, app: App, who: Leader) -> Response:
    return run_command(app, request, who, body, lambda: recovery_json(
        app.write_off_recovery(who, key, body.reason)), status_code=200)
