"""The township's monthly statistics (统计表): sealed (电子印章), filed, downloaded."""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.disbursement.routes.common import (
    MONTH,
    TOWNSHIP,
    App,
    Filer,
    Leader,
    Reader,
    download,
)
from services.disbursement.schemas import StatisticsOut, statistics_json
from shared.web import run_command

router = APIRouter(tags=["disbursement"])
STATISTICS = "/statistics/{township}/{month}"


@router.post(STATISTICS + "/seal", status_code=201, response_model=StatisticsOut)
def seal(request: Request, app: App, who: Leader, township: str = TOWNSHIP,
         month: str = MONTH) -> Response:
    return run_command(app, request, who, None, lambda: statistics_json(
        app.seal_statistics(who, township, month)))


@router.post(STATISTICS + "/file", response_model=StatisticsOut)
def file_(request: Request, app: App, who: Filer, township: str = TOWNSHIP,
          month: str = MONTH) -> Response:
    return run_command(app, request, who, None, lambda: statistics_json(
        app.file_statistics(who, township, month)), status_code=200)


@router.get(STATISTICS, response_model=StatisticsOut, response_model_exclude_unset=True)
def statistics(app: App, who: Reader, township: str = TOWNSHIP,
               month: str = MONTH) -> dict[str, Any]:
    return statistics_json(app.statistics(who, township, month))


@router.get(STATISTICS + "/documents/{fmt}")
def statistics_document(fmt: Literal["xlsx", "pdf"], app: App, who: Reader,
                        township: str = TOWNSHIP, month: str = MONTH) -> Response:
    doc, content = app.statistics_document(who, township, month, f"statistics_{fmt}")
    return download(content, doc["name"], doc["media_type"])


@router.get(STATISTICS + "/documents/{fmt}/seal")
def statistics_document_seal(fmt: Literal["xlsx", "pdf"], app: App, who: Reader,
                             township: str = TOWNSHIP, month: str = MONTH) -> Response:
    """The document's seal, for an offline check: the GB/T 38540 SES_Signature (DER)
    of an SM2 seal, or the seal as JSON (Ed25519)."""
    doc, _ = app.statistics_document(who, township, month, f"statistics_{fmt}")
    if doc.get("algorithm") == "sm2":
        return download(base64.b64decode(doc["signature"]), f"{doc['name']}.ses",
                        "application/octet-stream")
    seal = {k: doc[k] for k in ("document_kind", "sha256", "signature", "key_id",
                                "public_key")} | {"owner": township, "subject": month}
    return download(json.dumps(seal).encode(), f"{doc['name']}.seal.json",
                    "application/octet-stream")
