"""The county's seals: the public trust list, and whether a file is a sealed document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from services.disbursement.routes.common import App, Verifier, upload
from services.disbursement.schemas import TrustListOut, VerifyOut
from services.disbursement.seal import sha256_hex
from shared.web import run_command

router = APIRouter(tags=["disbursement"])


@router.get("/seals/trust-list", response_model=TrustListOut)
def trust_list(app: App) -> dict[str, Any]:
    """The county's seal trust list (shared.seals): public, no login, so that anyone
    holding a sealed file can check it offline (lingshui verify-seal)."""
    return app.seals.trust_list().to_wire()


@router.post("/seals/verify", response_model=VerifyOut)
def verify(request: Request, app: App, who: Verifier,
           file: UploadFile = File(...)) -> Response:
    """Is this file exactly a sealed document, unaltered? (Writes nothing.)"""
    _, content = upload(file)
    return run_command(app, request, who, {"sha256": sha256_hex(content)},
                       lambda: app.verify_document(content), status_code=200)
