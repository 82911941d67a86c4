"""Confirmed entitlements: reading them, rechecks and adjustment (动态管理)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.review.routes import TOWNSHIP, App, Leader, Rechecker, Staff, command
from services.review.schemas import (
    AdjustIn,
    EntitlementAdjusted,
    EntitlementStep,
    EntitlementView,
    RecheckIn,
    entitlement_step,
    entitlement_view,
    enum_values,
    plain,
)
from shared.web import Offset, Page

router = APIRouter(tags=["entitlements"])


@router.get("/entitlements/{entitlement_id}", response_model=EntitlementView)
def entitlement(entitlement_id: UUID, app: App, who: Staff) -> dict[str, Any]:
    return entitlement_view(app.entitlement(who, entitlement_id))


@router.get("/entitlements", response_model=Page)
def entitlements(app: App, who: Staff, township: str = Query(pattern=TOWNSHIP),
                 recheck_due_by: date | None = None,
                 status: str | None = Query(None, max_length=20),
                 limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> dict[str, Any]:
    total, items = app.list_entitlements(who, township, recheck_due_by, status, limit, offset)
    return plain({"total": total, "limit": limit, "offset": offset, "items": items})


@router.post("/entitlements/{entitlement_id}/rechecks", response_model=EntitlementStep,
             status_code=201)
def recheck(entitlement_id: UUID, body: RecheckIn, request: Request, app: App,
            who: Rechecker) -> Response:
    return command(app, request, who, body, lambda: entitlement_step(app.record_recheck(
        who, entitlement_id, body.finding, body.changed)), 201)


@router.post("/entitlements/{entitlement_id}/adjust", response_model=EntitlementAdjusted)
def adjust(entitlement_id: UUID, body: AdjustIn, request: Request, app: App,
           who: Leader) -> Response:
    findings = enum_values(body.model_dump(include={"members", "incomes", "assets",
                                                    "irregular_income"}))
    assessment = {"self_care": body.self_care.model_dump() if body.self_care else None,
                  "care_mode": body.care_mode.value if body.care_mode else None}

    def run() -> dict[str, Any]:
        e, change = app.adjust(who, entitlement_id, findings, assessment, body.reasons,
                               body.apply_reported)
        return entitlement_step(e, change=change, breakdown=e.breakdown)
    return command(app, request, who, body, run)
