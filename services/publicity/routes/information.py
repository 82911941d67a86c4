"""Policy information (政策宣传), no login: published answers, the standards and time limits
review applies, each kind's materials and procedure, and where the township offices are."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query

from services.publicity.routes import App, PublicRead
from services.publicity.schemas import (
    TOWNSHIP,
    AnswerPage,
    KindInformation,
    Standards,
    TimeLimits,
    TownshipOffices,
    no_sniff,
)
from shared.contracts.common import AssistanceKind
from shared.web import Offset

router = APIRouter(prefix="/public", tags=["public channel"], dependencies=[Depends(no_sniff)])


@router.get("/answers", response_model=AnswerPage)
def answers(app: App, _: PublicRead, township: str | None = Query(None, pattern=TOWNSHIP),
            topic: AssistanceKind | None = None, limit: int = Query(50, ge=1, le=200),
            offset: Offset = 0) -> dict[str, Any]:
    """Answered inquiries whose askers allowed publication: question and answer only."""
    total, rows = app.published_answers(township=township, topic=topic, limit=limit,
                                        offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": rows}


@router.get("/policy/standards", response_model=Standards)
def standards(app: App, _: PublicRead, on: date | None = None) -> dict[str, Any]:
    return app.standards(on)


@router.get("/policy/time-limits", response_model=TimeLimits)
def time_limits(app: App, _: PublicRead, on: date | None = None) -> dict[str, Any]:
    return app.time_limits(on)


@router.get("/policy/kinds/{kind}", response_model=KindInformation,
            response_model_exclude_unset=True)
def kind_information(kind: AssistanceKind, app: App, _: PublicRead) -> dict[str, Any]:
    return app.kind_information(kind)


@router.get("/townships", response_model=TownshipOffices)
def townships(app: App, _: PublicRead) -> dict[str, Any]:
    return app.township_offices()
