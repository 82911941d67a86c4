"""The household file (一户一档): scanned documents and a case's completeness."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from services.archive.document_store import sha256_of
from services.archive.domain import DocumentKind
from services.archive.routes import App, filers, readers
from services.archive.schemas import (
    ID_PATTERN,
    CaseId,
    Completeness,
    DocumentFiledOut,
    HouseholdFileView,
    HouseholdId,
)
from shared.auth import Principal
from shared.web import run_command

router = APIRouter(tags=["files"])


@router.post("/files/{household_id}/documents", status_code=201,
             response_model=DocumentFiledOut)
async def upload(app: App, request: Request, household_id: str = HouseholdId,
                 case_id: str = Form(pattern=ID_PATTERN),
                 document_kind: DocumentKind = Form(),
                 file: UploadFile = File(description="PDF, JPEG or PNG scan"),
                 who: Principal = Depends(filers)) -> Response:
    content = await file.read()  # the body limit already bounded it
    await file.close()
    fingerprint = {"case_id": case_id, "document_kind": document_kind.value,
                   "sha256": sha256_of(content)}
    return await run_in_threadpool(
        run_command, app, request, who, fingerprint,
        lambda: DocumentFiledOut.model_validate(
            app.file_document(who, household_id, case_id, document_kind, content)))


@router.get("/files/{household_id}", response_model=HouseholdFileView)
def household_file(app: App, household_id: str = HouseholdId,
                   who: Principal = Depends(readers)) -> HouseholdFileView:
    return HouseholdFileView.model_validate(app.household_file(who, household_id))


@router.get("/files/{household_id}/documents/{sha256}")
def open_document(app: App, household_id: str = HouseholdId,
                  sha256: str = Path(pattern=r"^[0-9a-f]{64}$"),
                  reason: str = Query(min_length=1, max_length=500),
                  who: Principal = Depends(readers)) -> Response:
    content, media = app.open_document(who, household_id, sha256, reason)
    return Response(content, media_type=media,
                    headers={"cache-control": "no-store", "x-content-type-options": "nosniff"})


@router.get("/cases/{case_id}/completeness", response_model=Completeness)
def completeness(app: App, case_id: str = CaseId,
                 who: Principal = Depends(readers)) -> Completeness:
    return Completeness.model_validate(app.completeness(who, case_id))
