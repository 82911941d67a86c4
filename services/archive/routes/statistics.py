"""County supervision: statistics and dynamic analysis, as figures, XLSX and charts."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.archive.routes import App, supervisors, xlsx
from services.archive.schemas import MONTH_PATTERN, Statistics, Township
from services.archive.supervision import FIGURES, KINDS
from shared.auth import Principal

Kind = Query(None, pattern="^(" + "|".join(KINDS) + ")$")
First = Query(alias="from", pattern=MONTH_PATTERN)
Last = Query(alias="to", pattern=MONTH_PATTERN)

router = APIRouter(prefix="/supervision/statistics", tags=["supervision"])


@router.get("", response_model=Statistics)
def statistics(app: App, township: str | None = Township, kind: str | None = Kind,
               first: str = First, last: str = Last, as_of: date | None = None,
               who: Principal = Depends(supervisors)) -> Statistics:
    return Statistics.model_validate(
        app.supervision.statistics(who, township, kind, first, last, as_of))


@router.get(".xlsx")
def statistics_xlsx(app: App, township: str | None = Township, first: str = First,
                    last: str = Last, as_of: date | None = None,
                    who: Principal = Depends(supervisors)) -> Response:
    content = app.supervision.statistics_workbook(who, township, first, last, as_of)
    return xlsx(content, f"统计-{township or '全县'}-{first}-{last}.xlsx")


@router.get("/chart.png")
def statistics_chart(app: App, figure: str = Query(pattern="^(" + "|".join(FIGURES) + ")$"),
                     township: str | None = Township, kind: str | None = Kind,
                     first: str = First, last: str = Last, as_of: date | None = None,
                     who: Principal = Depends(supervisors)) -> Response:
    png = app.supervision.statistics_chart(who, figure, township, kind, first, last, as_of)
    return Response(png, media_type="image/png", headers={"cache-control": "no-store"})
