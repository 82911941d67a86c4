"""The bank: the audited export of a locked roster, the bank's return file and the
discrepancies it shows, and the return codes in force."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response

from services.disbursement.domain import PaidKind
from services.disbursement.routes.common import (
    ACCEPT,
    MEDIA,
    MONTH,
    ROSTER,
    TOWNSHIP,
    App,
    Clerk,
    Reader,
    download,
    upload,
)
from services.disbursement.schemas import (
    ExportOut,
    ExportRequest,
    ResolveDiscrepancies,
    ReturnCodeOut,
    ReturnCodesOut,
    RosterOut,
    roster_json,
)
from services.disbursement.seal import sha256_hex
from shared.web import run_command


def export_name(township: str, month: str, kind: str, fmt: str) -> str:
    return f"发放花名册-{township}-{month}-{kind}.{fmt}"


router = APIRouter(tags=["disbursement"])


@router.post(ROSTER + "/exports", status_code=201, response_model=ExportOut)
def export(body: ExportRequest, request: Request, kind: PaidKind, app: App, who: Clerk,
           township: str = TOWNSHIP, month: str = MONTH) -> Response:
    """The audited export: its record (JSON), or with `Accept: text/csv` (or the XLSX
    type) the file itself, generated once; either way it can be downloaded below."""
    made: list[tuple[dict[str, Any], bytes]] = []

    def command() -> dict[str, Any]:
        made.append(app.create_export(who, township, month, kind.value, body.format,
                                      body.encoding))
        return made[0][0]

    # The idempotency store keeps only the record (no bank account): a replay answers
    # with it (also when a concurrent retry won and this export was rolled back), and
    # the file is downloaded below.
    answer = run_command(app, request, who, body, command)
    if (not made or "idempotent-replay" in answer.headers
            or ACCEPT[body.format] not in request.headers.get("accept", "")):
        return answer
    meta, content = made[0]
    return download(content, export_name(township, month, kind.value, body.format),
                    MEDIA[body.format], status_code=201,
                    headers={"x-export-id": meta["export_id"]})


@router.get(ROSTER + "/exports/{export_id}")
def export_download(export_id: str, kind: PaidKind, app: App, who: Clerk,
                    township: str = TOWNSHIP, month: str = MONTH) -> Response:
    fmt, content = app.export_file(who, township, month, kind.value, export_id)
    return download(content, export_name(township, month, kind.value, fmt), MEDIA[fmt])


@router.post(ROSTER + "/bank-return", status_code=201, response_model=RosterOut)
def bank_return(request: Request, kind: PaidKind, app: App, who: Clerk,
                township: str = TOWNSHIP, month: str = MONTH, file: UploadFile = File(...),
                scheme: str | None = Query(None, pattern=r"^[a-z0-9_]{1,32}$",
                                           description="the bank's code scheme "
                                           "(default: the code book's)")) -> Response:
    """The bank's return file; each failed line's reason is mapped to its ISO 20022
    code, which decides the resolutions allowed."""
    name, content = upload(file)
    fingerprint = {"file_name": name, "sha256": sha256_hex(content), "scheme": scheme}
    return run_command(app, request, who, fingerprint, lambda: roster_json(
        app.import_bank_return(who, township, month, kind.value, name, content, scheme)))


@router.post(ROSTER + "/discrepancies/resolve", response_model=RosterOut)
def resolve(body: ResolveDiscrepancies, request: Request, kind: PaidKind, app: App,
            who: Clerk, township: str = TOWNSHIP, month: str = MONTH) -> Response:
    return run_command(app, request, who, body, lambda: roster_json(app.resolve_discrepancies(
        who, township, month, kind.value, body.discrepancy_ids, body.resolution,
        body.reason)), status_code=200)


@router.get("/bank-return-codes", summary="The bank return reason codes in force",
            response_model=ReturnCodesOut)
def return_codes(app: App, who: Reader) -> ReturnCodesOut:
    """ISO 20022 reason codes, the resolutions each allows, and each bank's own codes
    (versioned data)."""
    book = app.rules.return_codes.in_force(app.today())
    return ReturnCodesOut(
        version=book.version, effective_from=book.effective_from.isoformat(),
        default_scheme=book.default_scheme, unspecified=book.unspecified,
        codes=[ReturnCodeOut(code=c.code, text=c.text, name=c.name, account=c.account,
                             resolutions=list(c.resolutions)) for c in book.codes.values()],
        schemes={k: dict(v) for k, v in book.schemes.items()})
