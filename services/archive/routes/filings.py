"""County supervision: the township's monthly filing (报备), compiled from the record,
sealed and submitted by the leader, received and queried by the county bureau."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.archive.routes import (
    App,
    filing_readers,
    leader,
    township_staff,
    xlsx,
)
from services.archive.schemas import (
    MONTH_PATTERN,
    FilingCompiled,
    FilingRegister,
    FilingSubmitted,
    FilingView,
    MonthPath,
    SubmitFiling,
    Township,
    TownshipPath,
)
from shared.auth import Principal
from shared.web import run_command

router = APIRouter(prefix="/supervision/filings", tags=["supervision"])
FILING = "/{township}/{month}"


@router.post(FILING + "/compile", status_code=201, response_model=FilingCompiled)
def compile_filing(app: App, request: Request, township: str = TownshipPath,
                   month: str = MonthPath,
                   who: Principal = Depends(township_staff)) -> Response:
    def command() -> FilingCompiled:
        f = app.supervision.compile_filing(who, township, month)
        return FilingCompiled.of(f, totals={k: v["total"]
                                            for k, v in f.activity["lines"].items()},
                                 basis=f.basis)
    return run_command(app, request, who, None, command)


@router.get("", response_model=FilingRegister)
def filings(app: App, township: str | None = Township,
            month: str | None = Query(None, pattern=MONTH_PATTERN),
            who: Principal = Depends(filing_readers)) -> FilingRegister:
    return FilingRegister.model_validate(app.supervision.filings(who, township, month))


@router.get(FILING, response_model=FilingView)
def filing(app: App, township: str = TownshipPath, month: str = MonthPath,
           who: Principal = Depends(filing_readers)) -> FilingView:
    return FilingView.model_validate(app.supervision.filing(who, township, month))


@router.get(FILING + "/document")
def filing_document(app: App, township: str = TownshipPath, month: str = MonthPath,
                    who: Principal = Depends(filing_readers)) -> Response:
    content, status, check = app.supervision.filing_document(who, township, month)
    headers = {"x-document-status": status}
    if check:
        headers |= {"x-seal-valid": str(check["seal_valid"]).lower(),
                    "x-document-sha256": check["sha256"]}
    return xlsx(content, f"报备-{township}-{month}.xlsx", **headers)


@router.post(FILING + "/submit", response_model=FilingSubmitted)
def submit_filing(app: App, body: SubmitFiling, request: Request,
                  township: str = TownshipPath, month: str = MonthPath,
                  who: Principal = Depends(leader)) -> Response:
    def command() -> FilingSubmitted:
        f = app.supervision.submit_filing(who, township, month, body.reviewed_version,
                                          body.note)
        sub = f.submission or {}
        return FilingSubmitted.of(f, late=sub.get("late"),
                                  submitted_on=str(sub.get("submitted_on")),
                                  seal=sub.get("document", {}).get("seal"))
    return run_command(app, request, who, body, command, status_code=200)
