"""An entitlement's payment status: suspended, resumed, phased out (渐退), terminated (for a
death or a fraud: backdated, with fraud's fine)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.review.routes import App, Leader, command
from services.review.schemas import (
    EndForCauseIn,
    EntitlementStep,
    PhaseOutIn,
    ReasonsIn,
    entitlement_step,
)

router = APIRouter(tags=["entitlements"])


@router.post("/entitlements/{entitlement_id}/suspend", response_model=EntitlementStep)
def suspend(entitlement_id: UUID, body: ReasonsIn, request: Request, app: App,
            who: Leader) -> Response:
    return command(app, request, who, body, lambda: entitlement_step(app.change_status(
        who, entitlement_id, "suspend", body.reasons)))


@router.post("/entitlements/{entitlement_id}/resume", response_model=EntitlementStep)
def resume(entitlement_id: UUID, body: ReasonsIn, request: Request, app: App,
           who: Leader) -> Response:
    return command(app, request, who, body, lambda: entitlement_step(app.change_status(
        who, entitlement_id, "resume", body.reasons)))


@router.post("/entitlements/{entitlement_id}/phase-out", response_model=EntitlementStep)
def phase_out(entitlement_id: UUID, body: PhaseOutIn, request: Request, app: App,
              who: Leader) -> Response:
    return command(app, request, who, body, lambda: entitlement_step(app.change_status(
        who, entitlement_id, "phase_out", body.reasons, body.months)))


@router.post("/entitlements/{entitlement_id}/terminate", response_model=EntitlementStep)
def terminate(entitlement_id: UUID, body: ReasonsIn, request: Request, app: App,
              who: Leader) -> Response:
    return command(app, request, who, body, lambda: entitlement_step(app.change_status(
        who, entitlement_id, "terminate", body.reasons)))


@router.post("/entitlements/{entitlement_id}/end-for-cause", response_model=EntitlementStep)
def end_for_cause(entitlement_id: UUID, body: EndForCauseIn, request: Request, app: App,
                  who: Leader) -> Response:
    return command(app, request, who, body, lambda: entitlement_step(app.end_for_cause(
        who, entitlement_id, body.cause, body.first_month_not_due, body.reasons,
        body.fine_multiple, body.fine_reason)))
