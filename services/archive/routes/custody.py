"""The paper file's two copies (一式两份): items filed, check-out and return."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.archive.domain import PaperCopy
from services.archive.routes import App, custodians
from services.archive.schemas import CheckOut, FileVersion, HouseholdId, PaperItems, Return
from shared.auth import Principal
from shared.web import run_command

router = APIRouter(prefix="/files/{household_id}/paper/{copy}", tags=["custody"])


@router.post("/items", status_code=201, response_model=FileVersion)
def paper_items(app: App, body: PaperItems, request: Request, copy: PaperCopy,
                household_id: str = HouseholdId,
                who: Principal = Depends(custodians)) -> Response:
    def command() -> FileVersion:
        f = app.file_paper_items(who, household_id, copy, body.case_id,
                                 body.document_kinds, body.location)
        return FileVersion(household_id=household_id, version=f.version)
    return run_command(app, request, who, body, command)


@router.post("/check-out", response_model=FileVersion)
def check_out(app: App, body: CheckOut, request: Request, copy: PaperCopy,
              household_id: str = HouseholdId,
              who: Principal = Depends(custodians)) -> Response:
    def command() -> FileVersion:
        f = app.check_out(who, household_id, copy, body.borrower, body.reason)
        return FileVersion(household_id=household_id, version=f.version)
    return run_command(app, request, who, body, command, status_code=200)


@router.post("/return", response_model=FileVersion)
def return_copy(app: App, body: Return, request: Request, copy: PaperCopy,
                household_id: str = HouseholdId,
                who: Principal = Depends(custodians)) -> Response:
    def command() -> FileVersion:
        f = app.return_copy(who, household_id, copy, body.location)
        return FileVersion(household_id=household_id, version=f.version)
    return run_command(app, request, who, body, command, status_code=200)
