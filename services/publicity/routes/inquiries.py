"""The officials' side of inquiries (咨询): the township's list (overdue ones flagged), one
inquiry, and its answer."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.publicity.routes import App, Staff, TownshipOfficial
from services.publicity.schemas import (
    TOWNSHIP,
    AnswerIn,
    InquiryPage,
    InquiryView,
    inquiry_view,
)
from shared.web import Offset, run_command

router = APIRouter(tags=["reports and inquiries"])


@router.get("/inquiries", response_model=InquiryPage)
def inquiries(app: App, who: Staff, township: str = Query(pattern=TOWNSHIP),
              view: Literal["open", "overdue", "answered", "all"] = "open",
              limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> dict[str, Any]:
    total, items = app.inquiries(who, township, view, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "view": view, "items": items}


@router.get("/inquiries/{inquiry_id}", response_model=InquiryView)
def inquiry(inquiry_id: UUID, app: App, who: Staff) -> InquiryView:
    return inquiry_view(app.inquiry(who, inquiry_id))


@router.post("/inquiries/{inquiry_id}/answer", response_model=InquiryView)
def answer(inquiry_id: UUID, body: AnswerIn, request: Request, app: App,
           who: TownshipOfficial) -> Response:
    return run_command(app, request, who, body, lambda: inquiry_view(
        app.answer_inquiry(who, inquiry_id, body.answer, body.publish)), status_code=200)
