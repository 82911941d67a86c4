"""标准调整: what a newly published standard changes in a township, and its confirmation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from services.review.routes import TOWNSHIP, App, Leader, Staff, command
from services.review.schemas import StandardChangeConfirmed, StandardChangePreview

router = APIRouter(tags=["entitlement"])


@router.get("/townships/{township}/standard-changes/{policy_version}",
            summary="What a new standard (标准调整) changes in a township",
            response_model=StandardChangePreview)
def standard_changes(app: App, who: Staff, policy_version: int = PathParam(ge=1, le=10_000),
                     township: str = PathParam(pattern=TOWNSHIP)) -> dict[str, Any]:
    """Every live 低保 and 特困 entitlement recomputed under the version, with its
    current and new amount, for the township to confirm."""
    return app.standard_change_preview(who, township, policy_version)


@router.post("/townships/{township}/standard-changes/{policy_version}/confirm",
             summary="Confirm a new standard's changes (标准调整)",
             response_model=StandardChangeConfirmed)
def confirm_standard_changes(request: Request, app: App, who: Leader,
                             policy_version: int = PathParam(ge=1, le=10_000),
                             township: str = PathParam(pattern=TOWNSHIP)) -> Response:
    return command(app, request, who, None, lambda: app.confirm_standard_change(
        who, township, policy_version))
