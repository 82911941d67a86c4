"""Archive's HTTP API: the household file, documents, custody, the audit console, and county
supervision (app.supervision)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.archive.application import ArchiveApplication
from services.archive.document_store import sha256_of
from services.archive.domain import DocumentKind, PaperCopy
from services.archive.report_files import XLSX
from services.archive.supervision import FIGURES, KINDS, AlertKind, MonthlyFiling
from shared.auth import Principal, Role, require
from shared.contracts.common import SERVICES
from shared.errors import RuleViolation
from shared.web import Offset, run_command

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
HouseholdId = Path(pattern=ID_PATTERN)
CaseId = Path(pattern=ID_PATTERN)
Township = Query(None, pattern=r"^\d{9}$")
# Stream positions are 64-bit in the stores: a larger one is a 422, never an overflow.
MAX_POSITION = 2**63 - 1
MONTH_PATTERN = r"^[1-9]\d{3}-(0[1-9]|1[0-2])$"
TownshipPath = Path(pattern=r"^\d{9}$")
MonthPath = Path(pattern=MONTH_PATTERN)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PaperItems(_In):
    case_id: str = Field(pattern=ID_PATTERN)
    document_kinds: list[DocumentKind] = Field(min_length=1, max_length=len(DocumentKind))
    location: str = Field(min_length=1, max_length=200)  # e.g. "椰林镇社会事务服务中心 档案柜3-2"


class CheckOut(_In):
    borrower: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=500)


class Return(_In):
    location: str = Field(min_length=1, max_length=200)


class Acknowledge(_In):
    reason: str = Field(min_length=1, max_length=500)


class SubmitFiling(_In):
    reviewed_version: int = Field(ge=1, le=10_000)  # the compiled version the leader reviewed
    note: str | None = Field(None, max_length=1000)


class FilingQuery(_In):
    question: str = Field(min_length=1, max_length=2000)


class FilingAnswer(_In):
    answer: str = Field(min_length=1, max_length=4000)


class ScanAlerts(_In):
    months: list[str] = Field(default=[], max_length=24)

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[str]) -> list[str]:
        for m in v:
            if not re.fullmatch(MONTH_PATTERN, m):
                raise ValueError(f"{m!r} is not a month (YYYY-MM)")
        return v


def _filing_summary(f: MonthlyFiling, **extra: Any) -> dict[str, Any]:
    return {"filing_id": str(f.id), "township": f.township, "month": f.month,
            "status": f.status.value, "version": f.version, "due_on": f.due_on.isoformat(),
            **extra}


def _xlsx(content: bytes, name: str, **headers: str) -> Response:
    return Response(content, media_type=XLSX, headers={
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "cache-control": "no-store", **headers})


def router(app: ArchiveApplication) -> APIRouter:
    r = APIRouter()
    filers = require(Role.VILLAGE_ASSISTANT, Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER,
                     Role.TOWNSHIP_LEADER, Role.COUNTY_CENTRE, Role.COUNTY_BUREAU)
    custodians = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_LEADER, Role.COUNTY_CENTRE,
                         Role.COUNTY_BUREAU)
    readers = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER,
                      Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)
    auditors = readers  # township staff: their own township only (checked in the application)
    county = require(Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)

    # --- the household file (一户一档) ----------------------------------------------------

    @r.post("/files/{household_id}/documents", status_code=201, tags=["files"])
    async def upload(request: Request, household_id: str = HouseholdId,
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
            lambda: app.file_document(who, household_id, case_id, document_kind, content))

    @r.get("/files/{household_id}", tags=["files"])
    def household_file(household_id: str = HouseholdId,
                       who: Principal = Depends(readers)) -> dict[str, Any]:
        return app.household_file(who, household_id)

    @r.get("/files/{household_id}/documents/{sha256}", tags=["files"])
    def open_document(household_id: str = HouseholdId,
                      sha256: str = Path(pattern=r"^[0-9a-f]{64}$"),
                      reason: str = Query(min_length=1, max_length=500),
                      who: Principal = Depends(readers)) -> Response:
        content, media = app.open_document(who, household_id, sha256, reason)
        return Response(content, media_type=media,
                        headers={"cache-control": "no-store", "x-content-type-options": "nosniff"})

    @r.get("/cases/{case_id}/completeness", tags=["files"])
    def completeness(case_id: str = CaseId, who: Principal = Depends(readers)) -> dict[str, Any]:
        return app.completeness(who, case_id)

    @r.post("/files/{household_id}/paper/{copy}/items", status_code=201, tags=["custody"])
    def paper_items(body: PaperItems, request: Request, copy: PaperCopy,
                    household_id: str = HouseholdId,
                    who: Principal = Depends(custodians)) -> Response:
        def command() -> dict[str, Any]:
            f = app.file_paper_items(who, household_id, copy, body.case_id,
                                     body.document_kinds, body.location)
            return {"household_id": household_id, "version": f.version}
        return run_command(app, request, who, body, command)

    @r.post("/files/{household_id}/paper/{copy}/check-out", tags=["custody"])
    def check_out(body: CheckOut, request: Request, copy: PaperCopy,
                  household_id: str = HouseholdId,
                  who: Principal = Depends(custodians)) -> Response:
        def command() -> dict[str, Any]:
            f = app.check_out(who, household_id, copy, body.borrower, body.reason)
            return {"household_id": household_id, "version": f.version}
        return run_command(app, request, who, body, command, status_code=200)

    @r.post("/files/{household_id}/paper/{copy}/return", tags=["custody"])
    def return_copy(body: Return, request: Request, copy: PaperCopy,
                    household_id: str = HouseholdId,
                    who: Principal = Depends(custodians)) -> Response:
        def command() -> dict[str, Any]:
            f = app.return_copy(who, household_id, copy, body.location)
            return {"household_id": household_id, "version": f.version}
        return run_command(app, request, who, body, command, status_code=200)

    # --- the audit console ----------------------------------------------------------------

    @r.get("/audit/cases/{case_id}/timeline", tags=["audit"])
    def case_timeline(case_id: str = CaseId, who: Principal = Depends(auditors)) -> Any:
        return app.case_timeline(who, case_id)

    @r.get("/audit/households/{household_id}/timeline", tags=["audit"])
    def household_timeline(household_id: str = HouseholdId,
                           who: Principal = Depends(auditors)) -> Any:
        return app.household_timeline(who, household_id)

    @r.get("/audit/cases/{case_id}/state", tags=["audit"])
    def case_state(case_id: str = CaseId, at: datetime | None = Query(None),
                   who: Principal = Depends(auditors)) -> Any:
        if at is not None and at.tzinfo is None:
            raise RuleViolation("archive.naive_timestamp",
                                "give the time with its offset, e.g. 2025-03-01T12:00:00+08:00",
                                field="at")
        return app.case_state(who, case_id, at)

    @r.get("/audit/aggregates/{source}/{aggregate_id}/state", tags=["audit"])
    def aggregate_state(source: str = Path(pattern="^(" + "|".join(SERVICES) + ")$"),
                        aggregate_id: UUID = Path(), at: datetime | None = Query(None),
                        who: Principal = Depends(auditors)) -> Any:
        if at is not None and at.tzinfo is None:
            raise RuleViolation("archive.naive_timestamp",
                                "give the time with its offset, e.g. 2025-03-01T12:00:00+08:00",
                                field="at")
        return app.aggregate_state(who, source, aggregate_id, at)

    @r.get("/audit/cases/{case_id}/verification", tags=["audit"])
    def verify_case(case_id: str = CaseId, who: Principal = Depends(auditors)) -> Any:
        return app.verify_case(who, case_id)

    @r.get("/audit/streams/{source}/verification", tags=["audit"])
    def verify_stream(source: str = Path(pattern="^(" + "|".join(SERVICES) + ")$"),
                      first: int = Query(1, ge=1, le=MAX_POSITION),
                      last: int | None = Query(None, ge=1, le=MAX_POSITION),
                      who: Principal = Depends(county)) -> Any:
        return app.verify_stream(who, source, first, last)

    @r.get("/audit/sensitive-access", tags=["audit"])
    def sensitive_access(township: str | None = Township, since: datetime | None = None,
                         until: datetime | None = None, limit: int = Query(100, ge=1, le=1000),
                         offset: Offset = 0,
                         who: Principal = Depends(auditors)) -> Any:
        return app.sensitive_access(who, township, since, until, limit, offset)

    @r.get("/audit/conflicts-of-interest", tags=["audit"])
    def conflicts(township: str | None = Township, who: Principal = Depends(auditors)) -> Any:
        return app.conflicts_of_interest(who, township)

    @r.get("/audit/irregular-decisions", tags=["audit"])
    def irregular(township: str | None = Township, as_of: date | None = None,
                  who: Principal = Depends(auditors)) -> Any:
        return app.irregular_decisions(who, township, as_of)

    @r.get("/audit/alarms", tags=["audit"])
    def alarms(township: str | None = Township, open_only: bool = False,
               who: Principal = Depends(auditors)) -> Any:
        return {"items": app.alarms(who, township, open_only)}

    @r.post("/audit/alarms/{alarm_id}/acknowledge", tags=["audit"])
    def acknowledge(alarm_id: UUID, body: Acknowledge, request: Request,
                    who: Principal = Depends(county)) -> Response:
        def command() -> dict[str, Any]:
            a = app.acknowledge_alarm(who, alarm_id, body.reason)
            return {"alarm_id": str(alarm_id), "resolution": a.resolution}
        return run_command(app, request, who, body, command, status_code=200)

    # --- county supervision: the monthly filing (报备) ---------------------------------------

    county = app.supervision  # commands still run (and commit) through `app`
    township_staff = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER)
    filing_readers = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER,
                             Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)
    leader = require(Role.TOWNSHIP_LEADER)
    bureau = require(Role.COUNTY_BUREAU)
    answerers = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_LEADER)
    supervisors = require(Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)
    filing_path = "/supervision/filings/{township}/{month}"

    @r.post(filing_path + "/compile", status_code=201, tags=["supervision"])
    def compile_filing(request: Request, township: str = TownshipPath,
                       month: str = MonthPath,
                       who: Principal = Depends(township_staff)) -> Response:
        def command() -> dict[str, Any]:
            f = county.compile_filing(who, township, month)
            return _filing_summary(f, totals={k: v["total"]
                                              for k, v in f.activity["lines"].items()},
                                   basis=f.basis)
        return run_command(app, request, who, None, command)

    @r.get("/supervision/filings", tags=["supervision"])
    def filings(township: str | None = Township,
                month: str | None = Query(None, pattern=MONTH_PATTERN),
                who: Principal = Depends(filing_readers)) -> Any:
        return county.filings(who, township, month)

    @r.get(filing_path, tags=["supervision"])
    def filing(township: str = TownshipPath, month: str = MonthPath,
               who: Principal = Depends(filing_readers)) -> Any:
        return county.filing(who, township, month)

    @r.get(filing_path + "/document", tags=["supervision"])
    def filing_document(township: str = TownshipPath, month: str = MonthPath,
                        who: Principal = Depends(filing_readers)) -> Response:
        content, status, check = county.filing_document(who, township, month)
        headers = {"x-document-status": status}
        if check:
            headers |= {"x-seal-valid": str(check["seal_valid"]).lower(),
                        "x-document-sha256": check["sha256"]}
        return _xlsx(content, f"报备-{township}-{month}.xlsx", **headers)

    @r.post(filing_path + "/submit", tags=["supervision"])
    def submit_filing(body: SubmitFiling, request: Request, township: str = TownshipPath,
                      month: str = MonthPath, who: Principal = Depends(leader)) -> Response:
        def command() -> dict[str, Any]:
            f = county.submit_filing(who, township, month, body.reviewed_version, body.note)
            sub = f.submission or {}
            return _filing_summary(f, late=sub.get("late"),
                                   submitted_on=str(sub.get("submitted_on")),
                                   seal=sub.get("document", {}).get("seal"))
        return run_command(app, request, who, body, command, status_code=200)

    @r.post(filing_path + "/receive", tags=["supervision"])
    def receive_filing(request: Request, township: str = TownshipPath,
                       month: str = MonthPath, who: Principal = Depends(bureau)) -> Response:
        def command() -> dict[str, Any]:
            f = county.receive_filing(who, township, month)
            return _filing_summary(f, received_on=str(f.received_on))
        return run_command(app, request, who, None, command, status_code=200)

    @r.post(filing_path + "/queries", status_code=201, tags=["supervision"])
    def query_filing(body: FilingQuery, request: Request, township: str = TownshipPath,
                     month: str = MonthPath, who: Principal = Depends(bureau)) -> Response:
        def command() -> dict[str, Any]:
            f, query_id = county.query_filing(who, township, month, body.question)
            return _filing_summary(f, query_id=str(query_id))
        return run_command(app, request, who, body, command)

    @r.post(filing_path + "/queries/{query_id}/answer", tags=["supervision"])
    def answer_query(query_id: UUID, body: FilingAnswer, request: Request,
                     township: str = TownshipPath, month: str = MonthPath,
                     who: Principal = Depends(answerers)) -> Response:
        def command() -> dict[str, Any]:
            f = county.answer_filing_query(who, township, month, query_id, body.answer)
            return _filing_summary(f, query_id=str(query_id))
        return run_command(app, request, who, body, command, status_code=200)

    # --- county supervision: statistics and dynamic analysis -------------------------------

    kind_query = Query(None, pattern="^(" + "|".join(KINDS) + ")$")
    first_query = Query(alias="from", pattern=MONTH_PATTERN)
    last_query = Query(alias="to", pattern=MONTH_PATTERN)

    @r.get("/supervision/statistics", tags=["supervision"])
    def statistics(township: str | None = Township, kind: str | None = kind_query,
                   first: str = first_query, last: str = last_query,
                   as_of: date | None = None, who: Principal = Depends(supervisors)) -> Any:
        return county.statistics(who, township, kind, first, last, as_of)

    @r.get("/supervision/statistics.xlsx", tags=["supervision"])
    def statistics_xlsx(township: str | None = Township, first: str = first_query,
                        last: str = last_query, as_of: date | None = None,
                        who: Principal = Depends(supervisors)) -> Response:
        content = county.statistics_workbook(who, township, first, last, as_of)
        return _xlsx(content, f"统计-{township or '全县'}-{first}-{last}.xlsx")

    @r.get("/supervision/statistics/chart.png", tags=["supervision"])
    def statistics_chart(figure: str = Query(pattern="^(" + "|".join(FIGURES) + ")$"),
                         township: str | None = Township, kind: str | None = kind_query,
                         first: str = first_query, last: str = last_query,
                         as_of: date | None = None,
                         who: Principal = Depends(supervisors)) -> Response:
        png = county.statistics_chart(who, figure, township, kind, first, last, as_of)
        return Response(png, media_type="image/png", headers={"cache-control": "no-store"})

    # --- county supervision: alerts ------------------------------------------------------------

    @r.get("/supervision/alerts", tags=["supervision"])
    def alerts(township: str | None = Township,
               month: str | None = Query(None, pattern=MONTH_PATTERN),
               open_only: bool = False, who: Principal = Depends(supervisors)) -> Any:
        return county.supervision_alerts(who, None, township, month, open_only)

    @r.get("/supervision/alerts/{kind}", tags=["supervision"])
    def alerts_of_kind(kind: AlertKind, township: str | None = Township,
                       month: str | None = Query(None, pattern=MONTH_PATTERN),
                       open_only: bool = False,
                       who: Principal = Depends(supervisors)) -> Any:
        return county.supervision_alerts(who, kind.value, township, month, open_only)

    @r.post("/supervision/alerts/scan", tags=["supervision"])
    def scan(body: ScanAlerts, request: Request,
             who: Principal = Depends(require(Role.COUNTY_CENTRE))) -> Response:
        def command() -> dict[str, Any]:
            raised = county.scan_alerts(who, body.months or None)
            return {"raised": [{"alert_id": str(a.id), "kind": a.kind,
                                "township": a.township, "month": a.month,
                                "case_id": a.case_id} for a in raised]}
        return run_command(app, request, who, body, command, status_code=200)

    @r.post("/supervision/alerts/{alert_id}/acknowledge", tags=["supervision"])
    def acknowledge_alert(alert_id: UUID, body: Acknowledge, request: Request,
                          who: Principal = Depends(supervisors)) -> Response:
        def command() -> dict[str, Any]:
            a = county.acknowledge_supervision_alert(who, alert_id, body.reason)
            return {"alert_id": str(alert_id), "kind": a.kind, "acknowledged": True}
        return run_command(app, request, who, body, command, status_code=200)

    return r
