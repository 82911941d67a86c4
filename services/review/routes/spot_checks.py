"""The county's random spot checks (抽查) of township decisions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.review.routes import App, Centre, Staff, command
from services.review.schemas import SpotCheckIn, SpotCheckOut, SpotResultIn, spot_check_view

router = APIRouter(tags=["spot checks"])


@router.post("/spot-checks", response_model=SpotCheckOut, status_code=201)
def draw(body: SpotCheckIn, request: Request, app: App, who: Centre) -> Response:
    return command(app, request, who, body, lambda: spot_check_view(
        app.draw_spot_check(who, body.township, body.month)), 201)


@router.get("/spot-checks/{spot_check_id}", response_model=SpotCheckOut)
def spot_check(spot_check_id: UUID, app: App, who: Staff) -> dict[str, Any]:
    return spot_check_view(app.spot_check(who, spot_check_id))


@router.post("/spot-checks/{spot_check_id}/results", response_model=SpotCheckOut,
             status_code=201)
def spot_result(spot_check_id: UUID, body: SpotResultIn, request: Request, app: App,
                who: Centre) -> Response:
    return command(app, request, who, body, lambda: spot_check_view(
        app.record_spot_check_result(who, spot_check_id, str(body.case_id), body.upheld,
                                     body.finding, body.corrective_action)), 201)


@router.post("/spot-checks/{spot_check_id}/complete", response_model=SpotCheckOut)
def spot_complete(spot_check_id: UUID, request: Request, app: App, who: Centre) -> Response:
    return command(app, request, who, None, lambda: spot_check_view(
        app.complete_spot_check(who, spot_check_id)))
