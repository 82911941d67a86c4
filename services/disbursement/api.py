"""Disbursement's HTTP API: schemas, roles and routing only; the rules live in the domain."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.disbursement.application import DisbursementApplication
from services.disbursement.domain import (
    HoldResolution,
    MonthlyRoster,
    MonthlyStatistics,
    Resolution,
)
from services.disbursement.seal import sha256_hex
from shared.auth import Principal, Role, require
from shared.errors import RuleViolation
from shared.web import Offset, run_command

TOWNSHIP = Path(pattern=r"^\d{9}$")
MONTH = Path(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")
Reason = Field(min_length=1, max_length=500)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX}
ACCEPT = {"csv": "text/csv", "xlsx": XLSX}  # asks for the export's file in the answer


class RosterKind(StrEnum):
    """The kinds paid in cash (低保边缘 is a recognition only)."""

    DIBAO = "dibao"
    TEKUN = "tekun"
    LINSHI = "linshi"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Correction(_In):
    key: str = Field(min_length=1, max_length=36)
    amount: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    reason: str = Reason


class ExportRequest(_In):
    format: Literal["csv", "xlsx"]
    encoding: Literal["utf-8", "gbk"] = "utf-8"  # CSV only: GBK for banks' tools that need it


class ResolveDiscrepancies(_In):
    discrepancy_ids: list[str] = Field(min_length=1, max_length=10_000)
    resolution: Resolution
    reason: str = Reason


class ResolveHolds(_In):
    keys: list[str] = Field(min_length=1, max_length=10_000)
    resolution: HoldResolution
    reason: str = Reason


class HoldReasonOut(BaseModel):
    code: str  # no_account, account_format, card_luhn, holder_name_differs, account_returned
    text: str
    month: str | None = None  # account_returned: the month and ISO code of the return
    kind: str | None = None
    reason_code: str | None = None
    reason_text: str | None = None


class HoldOut(BaseModel):
    key: str
    case_id: str
    village: str
    name: str
    amount: str
    account_mask: str
    reasons: list[HoldReasonOut]
    resolution: HoldResolution | None
    reason: str | None = None
    resolved_by: str | None = None


class HoldsOut(BaseModel):
    roster_id: str
    status: str
    open: int
    items: list[HoldOut]


def _recovery(e: Any) -> dict[str, Any]:
    return {"key": str(e.key), "amount": str(e.steps[0].amount),
            "outstanding": str(e.recovery_outstanding)}


def _holds(r: MonthlyRoster) -> dict[str, Any]:
    return {"roster_id": str(r.id), "status": r.status.value, "open": len(r.open_holds),
            "items": sorted(r.holds.values(), key=lambda h: (h["village"], h["key"]))}


class Recovered(_In):
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    reason: str = Reason


class WriteOff(_In):
    reason: str = Reason


class RecoveryOut(BaseModel):
    key: str
    township: str
    kind: str
    case_id: str
    household_id: str | None
    month: str  # the roster it is listed on
    original_month: str  # the month it corrects
    original_key: str
    cause: str | None  # death | fraud | None
    amount: str
    recovered: str
    written_off: str
    fine: str | None  # fraud: the fine review imposed (1-3x), recorded here
    fine_reason: str | None
    status: str  # owed | recovered | written_off
    adjusted_late: bool
    reason: str | None
    decided_by: str | None
    position: int


class RecoveriesOut(BaseModel):
    township: str
    items: list[RecoveryOut]


class RecoveryDecisionOut(BaseModel):
    key: str
    amount: str
    outstanding: str


class HouseholdListOut(BaseModel):
    sha256: str
    rows: int
    total: str
    projects_version: int


class IssuePlan(_In):
    reason: str | None = Field(None, min_length=1, max_length=500)


class Acknowledge(_In):
    receipt_reference: str = Field(min_length=1, max_length=64)
    note: str | None = Field(None, max_length=500)


class ReturnCodeOut(BaseModel):
    code: str
    text: str
    name: str
    account: str | None
    resolutions: list[str]


class ReturnCodesOut(BaseModel):
    version: int
    effective_from: str
    default_scheme: str
    unspecified: str
    codes: list[ReturnCodeOut]
    schemes: dict[str, dict[str, str]]


def _roster(r: MonthlyRoster) -> dict[str, Any]:
    return {"roster_id": str(r.id), "version": r.version, "township": r.township,
            "month": r.month, "kind": r.kind, "status": r.status.value,
            "cutoff": r.cutoff.isoformat(), "rows": len(r.rows), "total": str(r.total),
            "digest": r.digest,
            "new": sum(1 for c in r.changes if c["change"] == "new"),
            "changed": sum(1 for c in r.changes if c["change"] == "changed"),
            "ended": sum(1 for c in r.changes if c["change"] == "ended"),
            "corrections": len(r.corrections), "holds_open": len(r.open_holds),
            "bank_return": ({**r.bank_return, "paid_total": str(r.bank_return["paid_total"]),
                             "imported_on": r.bank_return["imported_on"].isoformat()}
                            if r.bank_return else None),
            "discrepancies": list(r.discrepancies.values())}


def _statistics(s: MonthlyStatistics) -> dict[str, Any]:
    return {"statistics_id": str(s.id), "township": s.township, "month": s.month,
            "status": s.status.value, "figures": s.figures, "rosters": s.rosters,
            "documents": s.documents,
            "filed_on": s.filed_on.isoformat() if s.filed_on else None, "late": s.late}


def _plan(p: Any) -> dict[str, Any]:
    return {"plan_id": str(p.id), "region": p.region, "month": p.month,
            "status": p.status.value, "plan": p.plan,
            "document": p.document.to_wire() if p.document else None,
            "acknowledgement": p.acknowledgement}


def _download(content: bytes, name: str, media_type: str, status_code: int = 200,
              headers: dict[str, str] | None = None) -> Response:
    return Response(content, status_code=status_code, media_type=media_type, headers={
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "x-content-sha256": sha256_hex(content), "cache-control": "no-store",
        **(headers or {})})


def _export_name(township: str, month: str, kind: str, fmt: str) -> str:
    return f"发放花名册-{township}-{month}-{kind}.{fmt}"


def _upload(file: UploadFile, max_name: int = 200) -> tuple[str, bytes]:
    name = file.filename or "upload"
    if len(name) > max_name:
        raise RuleViolation("disbursement.file_name", "the file name is too long", field="file")
    return name, file.file.read()


class TrustedKeyOut(BaseModel):
    owner: str
    owner_name: str
    algorithm: str
    key_id: str
    public_key: str
    valid_from: str
    valid_until: str | None = None
    revoked_at: str | None = None
    revocation_reason: str | None = None


class TrustListOut(BaseModel):
    format: str
    county: str
    updated_at: str | None = None
    keys: list[TrustedKeyOut]


def router(app: DisbursementApplication) -> APIRouter:
    r = APIRouter(tags=["disbursement"])
    clerk = require(Role.TOWNSHIP_CLERK)
    readers = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER,
                      Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)
    sealers = require(Role.TOWNSHIP_LEADER)  # the seal is the township's signature
    filers = require(Role.TOWNSHIP_LEADER, Role.TOWNSHIP_CLERK)
    county = require(Role.COUNTY_BUREAU)
    plan_readers = require(Role.COUNTY_BUREAU, Role.COUNTY_CENTRE, Role.DISCIPLINE_INSPECTOR,
                           Role.FINANCE_BUREAU)
    verifiers = require(*(set(Role) - {Role.PUBLIC}))
    base = "/rosters/{township}/{month}/{kind}"

    # --- rosters -------------------------------------------------------------------------

    @r.post(base + "/draft", status_code=201)
    def draft(request: Request, kind: RosterKind, township: str = TOWNSHIP,
              month: str = MONTH, who: Principal = Depends(clerk)) -> Response:
        return run_command(app, request, who, None, lambda: _roster(
            app.draft_roster(who, township, month, kind.value)))

    @r.get(base)
    def roster(kind: RosterKind, township: str = TOWNSHIP, month: str = MONTH,
               who: Principal = Depends(readers)) -> dict[str, Any]:
        return app.roster_summary(who, township, month, kind.value)

    @r.get(base + "/rows")
    def rows(kind: RosterKind, township: str = TOWNSHIP, month: str = MONTH,
             limit: int = Query(100, ge=1, le=1000), offset: Offset = 0,
             who: Principal = Depends(readers)) -> dict[str, Any]:
        total, items = app.roster_rows(who, township, month, kind.value, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "items": items}

    @r.post(base + "/lock")
    def lock(request: Request, kind: RosterKind, township: str = TOWNSHIP, month: str = MONTH,
             who: Principal = Depends(clerk)) -> Response:
        return run_command(app, request, who, None, lambda: _roster(
            app.lock_roster(who, township, month, kind.value)), status_code=200)

    @r.get(base + "/holds", summary="Rows held by the payability check",
           response_model=HoldsOut)
    def holds(kind: RosterKind, township: str = TOWNSHIP, month: str = MONTH,
              who: Principal = Depends(readers)) -> dict[str, Any]:
        """Rows the bank would refuse (no or malformed account, a UnionPay card number
        failing Luhn, a holder who is not the payee, an account returned closed, blocked
        or wrong last month), each with its reasons; the lock refuses while any is open."""
        return _holds(app.roster_holds(who, township, month, kind.value))

    @r.post(base + "/holds/resolve", summary="Release or exclude held rows, with a reason",
            response_model=HoldsOut)
    def resolve_holds(body: ResolveHolds, request: Request, kind: RosterKind,
                      township: str = TOWNSHIP, month: str = MONTH,
                      who: Principal = Depends(clerk)) -> Response:
        """`released`: paid as drafted (a person checked it); `excluded`: off this roster,
        owed on the next one as 补发."""
        return run_command(app, request, who, body, lambda: _holds(app.resolve_holds(
            who, township, month, kind.value, body.keys, body.resolution, body.reason)),
            status_code=200)

    @r.post(base + "/corrections", status_code=201)
    def correct(body: Correction, request: Request, kind: RosterKind,
                township: str = TOWNSHIP, month: str = MONTH,
                who: Principal = Depends(clerk)) -> Response:
        return run_command(app, request, who, body, lambda: _roster(app.correct_roster(
            who, township, month, kind.value, body.key, body.amount, body.reason)))

    @r.post(base + "/exports", status_code=201)
    def export(body: ExportRequest, request: Request, kind: RosterKind,
               township: str = TOWNSHIP, month: str = MONTH,
               who: Principal = Depends(clerk)) -> Response:
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
        return _download(content, _export_name(township, month, kind.value, body.format),
                         MEDIA[body.format], status_code=201,
                         headers={"x-export-id": meta["export_id"]})

    @r.get(base + "/exports/{export_id}")
    def export_download(export_id: str, kind: RosterKind, township: str = TOWNSHIP,
                        month: str = MONTH, who: Principal = Depends(clerk)) -> Response:
        fmt, content = app.export_file(who, township, month, kind.value, export_id)
        return _download(content, _export_name(township, month, kind.value, fmt), MEDIA[fmt])

    @r.post(base + "/bank-return", status_code=201)
    def bank_return(request: Request, kind: RosterKind, township: str = TOWNSHIP,
                    month: str = MONTH, file: UploadFile = File(...),
                    scheme: str | None = Query(None, pattern=r"^[a-z0-9_]{1,32}$",
                                               description="the bank's code scheme "
                                               "(default: the code book's)"),
                    who: Principal = Depends(clerk)) -> Response:
        """The bank's return file; each failed line's reason is mapped to its ISO 20022
        code, which decides the resolutions allowed."""
        name, content = _upload(file)
        fingerprint = {"file_name": name, "sha256": sha256_hex(content), "scheme": scheme}
        return run_command(app, request, who, fingerprint, lambda: _roster(
            app.import_bank_return(who, township, month, kind.value, name, content, scheme)))

    @r.get("/bank-return-codes", summary="The bank return reason codes in force",
           response_model=ReturnCodesOut)
    def return_codes(who: Principal = Depends(readers)) -> ReturnCodesOut:
        """ISO 20022 reason codes, the resolutions each allows, and each bank's own codes
        (versioned data)."""
        book = app.rules.return_codes.in_force(app.today())
        return ReturnCodesOut(
            version=book.version, effective_from=book.effective_from.isoformat(),
            default_scheme=book.default_scheme, unspecified=book.unspecified,
            codes=[ReturnCodeOut(code=c.code, text=c.text, name=c.name, account=c.account,
                                 resolutions=list(c.resolutions))
                   for c in book.codes.values()],
            schemes={k: dict(v) for k, v in book.schemes.items()})

    @r.post(base + "/discrepancies/resolve")
    def resolve(body: ResolveDiscrepancies, request: Request, kind: RosterKind,
                township: str = TOWNSHIP, month: str = MONTH,
                who: Principal = Depends(clerk)) -> Response:
        return run_command(app, request, who, body, lambda: _roster(app.resolve_discrepancies(
            who, township, month, kind.value, body.discrepancy_ids, body.resolution,
            body.reason)), status_code=200)

    @r.get("/townships/{township}/recoveries", summary="Recoveries (追回) of a township",
           response_model=RecoveriesOut)
    def recoveries(township: str = TOWNSHIP,
                   who: Principal = Depends(readers)) -> dict[str, Any]:
        """Money paid for months it was not due (a decrease, a backdated end, a death or
        fraud decided after the month's roster), what is recovered and written off."""
        return {"township": township, "items": app.recoveries(who, township)}

    @r.post("/recoveries/{key}/recovered", summary="Record money recovered (追回)",
            response_model=RecoveryDecisionOut)
    def recovered(body: Recovered, request: Request, key: UUID,
                  who: Principal = Depends(clerk)) -> Response:
        return run_command(app, request, who, body, lambda: _recovery(
            app.record_recovered(who, key, body.amount, body.reason)), status_code=200)

    @r.post("/recoveries/{key}/write-off", summary="Write off what is left (核销), with a reason",
            response_model=RecoveryDecisionOut)
    def write_off(body: WriteOff, request: Request, key: UUID,
                  who: Principal = Depends(require(Role.TOWNSHIP_LEADER))) -> Response:
        return run_command(app, request, who, body, lambda: _recovery(
            app.write_off_recovery(who, key, body.reason)), status_code=200)

    @r.get("/townships/{township}/months/{month}/changes")
    def changes(township: str = TOWNSHIP, month: str = MONTH,
                who: Principal = Depends(readers)) -> dict[str, Any]:
        """Explain the change: each roster difference from last month and its causes."""
        return app.explain_changes(who, township, month)

    # --- statistics and the seal ---------------------------------------------------------

    @r.post("/statistics/{township}/{month}/seal", status_code=201)
    def seal(request: Request, township: str = TOWNSHIP, month: str = MONTH,
             who: Principal = Depends(sealers)) -> Response:
        return run_command(app, request, who, None, lambda: _statistics(
            app.seal_statistics(who, township, month)))

    @r.post("/statistics/{township}/{month}/file")
    def file_(request: Request, township: str = TOWNSHIP, month: str = MONTH,
              who: Principal = Depends(filers)) -> Response:
        return run_command(app, request, who, None, lambda: _statistics(
            app.file_statistics(who, township, month)), status_code=200)

    @r.get("/statistics/{township}/{month}")
    def statistics(township: str = TOWNSHIP, month: str = MONTH,
                   who: Principal = Depends(readers)) -> dict[str, Any]:
        return _statistics(app.statistics(who, township, month))

    @r.get("/statistics/{township}/{month}/documents/{fmt}")
    def statistics_document(fmt: Literal["xlsx", "pdf"], township: str = TOWNSHIP,
                            month: str = MONTH, who: Principal = Depends(readers)) -> Response:
        doc, content = app.statistics_document(who, township, month, f"statistics_{fmt}")
        return _download(content, doc["name"], doc["media_type"])

    @r.get("/seals/trust-list", response_model=TrustListOut)
    def trust_list() -> dict[str, Any]:
        """The county's seal trust list (shared.seals): public, no login, so that anyone
        holding a sealed file can check it offline (lingshui verify-seal)."""
        return app.seals.trust_list().to_wire()

    @r.get("/statistics/{township}/{month}/documents/{fmt}/seal")
    def statistics_document_seal(fmt: Literal["xlsx", "pdf"], township: str = TOWNSHIP,
                                 month: str = MONTH,
                                 who: Principal = Depends(readers)) -> Response:
        """The document's seal, for an offline check: the GB/T 38540 SES_Signature (DER)
        of an SM2 seal, or the seal as JSON (Ed25519)."""
        doc, _ = app.statistics_document(who, township, month, f"statistics_{fmt}")
        if doc.get("algorithm") == "sm2":
            return _download(base64.b64decode(doc["signature"]), f"{doc['name']}.ses",
                             "application/octet-stream")
        seal = {k: doc[k] for k in ("document_kind", "sha256", "signature", "key_id",
                                    "public_key")} | {"owner": township, "subject": month}
        return _download(json.dumps(seal).encode(), f"{doc['name']}.seal.json",
                         "application/octet-stream")

    @r.post("/seals/verify")
    def verify(request: Request, file: UploadFile = File(...),
               who: Principal = Depends(verifiers)) -> Response:
        """Is this file exactly a sealed document, unaltered? (Writes nothing.)"""
        _, content = _upload(file)
        return run_command(app, request, who, {"sha256": sha256_hex(content)},
                           lambda: app.verify_document(content), status_code=200)

    # --- fund plan -------------------------------------------------------------------------

    @r.post("/fund-plans/{month}/compile", status_code=201)
    def compile_plan(request: Request, month: str = MONTH,
                     who: Principal = Depends(county)) -> Response:
        return run_command(app, request, who, None,
                           lambda: _plan(app.compile_fund_plan(who, month)))

    @r.post("/fund-plans/{month}/issue")
    def issue(body: IssuePlan, request: Request, month: str = MONTH,
              who: Principal = Depends(county)) -> Response:
        return run_command(app, request, who, body, lambda: _plan(
            app.issue_fund_plan(who, month, body.reason)), status_code=200)

    @r.get("/fund-plans/{month}")
    def plan(month: str = MONTH, who: Principal = Depends(plan_readers)) -> dict[str, Any]:
        return _plan(app.fund_plan(who, month))

    @r.get("/fund-plans/{month}/document")
    def plan_document(month: str = MONTH, who: Principal = Depends(plan_readers)) -> Response:
        return _download(app.fund_plan_document(who, month),
                         f"资金发放计划-{app.county.code}-{month}.json", "application/json")

    @r.post("/fund-plans/{month}/household-list", status_code=201,
            summary="The 分户清单 of an issued plan, for the finance bureau's 一卡通 system",
            response_model=HouseholdListOut)
    def household_list(request: Request, month: str = MONTH,
                       who: Principal = Depends(require(Role.FINANCE_BUREAU,
                                                        Role.COUNTY_BUREAU))) -> Response:
        """An audited disclosure of accounts: the record (JSON), or with `Accept: text/csv`
        the file itself (UTF-8 CSV, a trailer row with count and total)."""
        made: list[tuple[dict[str, Any], bytes]] = []

        def command() -> dict[str, Any]:
            made.append(app.household_list(who, month))
            return made[0][0]

        answer = run_command(app, request, who, None, command)
        if (not made or "idempotent-replay" in answer.headers
                or "text/csv" not in request.headers.get("accept", "")):
            return answer
        return _download(made[0][1], f"分户清单-{app.county.code}-{month}.csv",
                         MEDIA["csv"], status_code=201)

    @r.post("/fund-plans/{month}/acknowledge")
    def acknowledge(body: Acknowledge, request: Request, month: str = MONTH,
                    who: Principal = Depends(require(Role.FINANCE_BUREAU))) -> Response:
        return run_command(app, request, who, body, lambda: _plan(app.acknowledge_fund_plan(
            who, month, body.receipt_reference, body.note)), status_code=200)

    return r
