"""County supervision: the bureau receives a submitted filing (报备) and queries it; the
township answers."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.archive.routes import App, answerers, bureau
from services.archive.schemas import (
    FilingAnswer,
    FilingQueried,
    FilingQuery,
    FilingReceived,
    MonthPath,
    TownshipPath,
)
from shared.auth import Principal
from shared.web import run_command

router = APIRouter(prefix="/supervision/filings/{township}/{month}", tags=["supervision"])


@router.post("/receive", response_model=FilingReceived)
def receive_filing(app: App, request: Request, township: str = TownshipPath,
                   month: str = MonthPath, who: Principal = Depends(bureau)) -> Response:
    def command() -> FilingReceived:
        f = app.supervision.receive_filing(who, township, month)
        return FilingReceived.of(f, received_on=str(f.received_on))
    return run_command(app, request, who, None, command, status_code=200)


@router.post("/queries", status_code=201, response_model=FilingQueried)
def query_filing(app: App, body: FilingQuery, request: Request,
                 township: str = TownshipPath, month: str = MonthPath,
                 who: Principal = Depends(bureau)) -> Response:
    def command() -> FilingQueried:
        f, query_id = app.supervision.query_filing(who, township, month, body.question)
        return FilingQueried.of(f, query_id=str(query_id))
    return run_command(app, request, who, body, command)


@router.post("/queries/{query_id}/answer", response_model=FilingQueried)
def answer_query(app: App, query_id: UUID, body: FilingAnswer, request: Request,
                 township: str = TownshipPath, month: str = MonthPath,
                 who: Principal = Depends(answerers)) -> Response:
    def command() -> FilingQueried:
        f = app.supervision.answer_filing_query(who, township, month, query_id, body.answer)
        return FilingQueried.of(f, query_id=str(query_id))
    return run_command(app, request, who, body, command, status_code=200)
