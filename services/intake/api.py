"""Intake's HTTP API: request/response schemas, roles and routing only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake.application import IntakeApplication
from services.intake.domain import Application, Status
from shared.auth import Principal, Role, require
from shared.contracts.common import AssistanceKind, LinshiType
from shared.contracts.intake import AssetKind, IncomeKind, WorkCapacity
from shared.pii import mask_bank_account, mask_phone, mask_resident_id
from shared.web import Offset, run_command

Name = Annotated[str, Field(min_length=1, max_length=64)]
Short = Annotated[str, Field(min_length=1, max_length=200)]
Long = Annotated[str, Field(min_length=1, max_length=1000)]
ResidentIdText = Annotated[str, Field(min_length=18, max_length=18)]
# Money in yuan to the fen; the sign and plausibility are domain rules (intake.negative_amount).
Money = Annotated[Decimal, Field(max_digits=16, decimal_places=2, allow_inf_nan=False)]
MaterialCode = Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]


class Relation(StrEnum):
    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    GRANDCHILD = "grandchild"
    GRANDPARENT = "grandparent"
    SIBLING = "sibling"
    OTHER = "other"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DisabilityIn(_In):
    kind: Literal["physical", "visual", "hearing", "speech", "intellectual", "mental",
                  "multiple"]
    grade: int = Field(ge=1, le=4)  # 1 is the most severe


class IncomeIn(_In):
    kind: IncomeKind
    amount: Money  # the total over `months`
    months: int = Field(le=1000)  # 1 = monthly; the policy bounds the period


class MemberIn(_In):
    name: Name
    resident_id: ResidentIdText
    relation: Relation
    birth_date: date
    work_capacity: WorkCapacity
    disability: DisabilityIn | None = None
    serious_illness: bool = False
    student: bool = False
    phone: str | None = Field(None, pattern=r"^\+?[0-9][0-9 -]{4,19}$")
    authorization_signed: bool = False  # signed the economic-verification authorization
    incomes: list[IncomeIn] = Field(default_factory=list, max_length=20)


class SupporterIn(_In):
    """A legal supporter of a 特困 applicant; signs the authorization too."""

    name: Name
    resident_id: ResidentIdText
    relation: Relation
    authorization_signed: bool = False


class AssetIn(_In):
    kind: AssetKind
    value: Money
    exempt: bool = False  # needed to live or work
    description: str | None = Field(None, max_length=200)


class BankAccountIn(_In):
    bank: Name
    holder_name: Name
    account: str = Field(pattern=r"^[0-9]{10,30}$")


class EntrustmentIn(_In):
    agent_name: Name
    agent_relation: str = Field(min_length=1, max_length=32)
    entrusted_on: date


class CloseRelativeIn(_In):
    member_name: Name
    official_name: Name
    official_post: Literal["township_staff", "village_committee"]
    relationship: str = Field(min_length=1, max_length=32)


class FilingContent(_In):
    """What the household gives; a resubmission gives all of it again, completed."""

    members: list[MemberIn] = Field(min_length=1, max_length=30)
    assets: list[AssetIn] = Field(default_factory=list, max_length=50)
    bank_account: BankAccountIn | None = None
    materials: list[MaterialCode] = Field(default_factory=list, max_length=40)
    legal_supporters: list[SupporterIn] = Field(default_factory=list, max_length=10)
    close_relative_declared: bool = False
    close_relatives: list[CloseRelativeIn] = Field(default_factory=list, max_length=10)
    entrustment: EntrustmentIn | None = None
    single_person: bool = False
    residence_basis: Literal["hukou", "residence_permit"] | None = None  # 临时救助 only


class SubmitApplication(FilingContent):
    kind: AssistanceKind
    linshi_type: LinshiType | None = None
    township: str = Field(pattern=r"^\d{9}$")  # 户籍 (临时救助: residence)
    village: str = Field(pattern=r"^\d{12}$")
    filed_by: Literal["applicant", "village_committee", "entrusted_person"]


class ReturnIn(_In):
    items: list[Short] = Field(default_factory=list, max_length=50)  # beyond the checklist
    note: str | None = Field(None, max_length=1000)


class ReasonIn(_In):
    reason: Long


class MemberLeftIn(_In):
    resident_id: ResidentIdText
    reason: Literal["moved_out", "died", "imprisoned", "drug_rehabilitation", "missing",
                    "other"]


class ChangedIncomeIn(IncomeIn):
    resident_id: ResidentIdText


class ChangeIn(_In):
    subject: Literal["members", "income", "assets"]
    description: Long
    occurred_on: date
    members_joined: list[MemberIn] = Field(default_factory=list, max_length=20)
    members_left: list[MemberLeftIn] = Field(default_factory=list, max_length=20)
    incomes: list[ChangedIncomeIn] = Field(default_factory=list, max_length=50)
    assets: list[AssetIn] = Field(default_factory=list, max_length=50)


class Created(BaseModel):
    application_id: UUID
    status: str


class MissingItemOut(BaseModel):
    code: str
    description: str


class ReturnedOut(Created):
    missing: list[MissingItemOut]


class ChangeOut(Created):
    change_id: UUID


def plain(value: Any) -> Any:
    """Enums to their values, recursively: domain events hold plain data."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def render_for(who: Principal, a: Application, unmasked: bool) -> dict[str, Any]:
    """The public filer never sees the township's review flags (no membership oracle)."""
    out = render(a, unmasked)
    if who.role is not Role.PUBLIC:
        out["already_members"] = list(getattr(a, "already_members", []))
    else:
        for change in out["changes"]:
            change.pop("already_members", None)
    return out


def render(a: Application, unmasked: bool) -> dict[str, Any]:
    """One application in full; sensitive values masked unless `unmasked`."""
    def show(value: str | None, mask: Any) -> str | None:
        return value if unmasked or value is None else mask(value)

    def person(p: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in p.items() if k != "fingerprint"}
        out["resident_id"] = show(p["resident_id"], mask_resident_id)
        if "phone" in p:
            out["phone"] = show(p["phone"], mask_phone)
        return money(out)

    f = a.filing
    bank = f.get("bank_account")
    return money({
        "application_id": str(a.id), "version": a.version, "kind": a.kind,
        "linshi_type": a.linshi_type, "township": a.township, "village": a.village,
        "urban": a.urban, "status": a.status, "round": a.round, "filed_by": a.filed_by,
        "filed_on": a.filed_on, "accepted_on": a.accepted_on, "household_id": a.household_id,
        "policy_version": a.policy_version, "unmasked": unmasked,
        "close_relative_declared": a.close_relative_declared,
        "close_relatives": f.get("close_relatives", []), "entrustment": f.get("entrustment"),
        "single_person": f.get("single_person", False),
        "residence_basis": f.get("residence_basis"),
        "members": [person(m) for m in a.members],
        "household": [person(m) for m in a.household],
        "legal_supporters": [person(s) for s in f.get("legal_supporters", [])],
        "assets": f.get("assets", []),
        "bank_account": {**bank, "account": show(bank["account"], mask_bank_account)}
        if bank else None,
        "materials": f.get("materials", []),
        "returns": a.returns, "outstanding": a.outstanding,
        "closing_reason": a.closing_reason,
        "case_id": str(a.case_id) if a.case_id else None, "decided_on": a.decided_on,
        "decision_reasons": a.decision_reasons,
        "changes": [{**c, "change_id": str(c["change_id"]),
                     "members_joined": [person(m) for m in c.get("members_joined", [])],
                     "members_left": [{"reason": m["reason"]} for m in c.get("members_left", [])],
                     "incomes": [{k: v for k, v in i.items() if k != "member_fingerprint"}
                                 for i in c.get("incomes", [])]}
                    for c in a.changes],
    })


def money(value: Any) -> Any:
    """Decimals as strings: JSON floats would round money."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: money(v) for k, v in value.items()}
    if isinstance(value, list):
        return [money(v) for v in value]
    return value


def router(app: IntakeApplication) -> APIRouter:
    r = APIRouter(tags=["applications"])
    filers = require(Role.VILLAGE_ASSISTANT, Role.TOWNSHIP_CLERK, Role.PUBLIC)
    clerk = require(Role.TOWNSHIP_CLERK)
    readers = require(Role.VILLAGE_ASSISTANT, Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER,
                      Role.TOWNSHIP_LEADER, Role.COUNTY_CENTRE, Role.COUNTY_BUREAU,
                      Role.DISCIPLINE_INSPECTOR, Role.PUBLIC)
    auditors = require(Role.DISCIPLINE_INSPECTOR, Role.COUNTY_BUREAU, Role.COUNTY_CENTRE)

    def status_of(a: Application) -> Created:
        return Created(application_id=a.id, status=a.status)

    @r.post("/applications", status_code=201, response_model=Created)
    def submit(body: SubmitApplication, request: Request,
               who: Principal = Depends(filers)) -> Response:
        def command() -> Created:
            application_id = app.submit(
                who, kind=body.kind, linshi_type=plain(body.linshi_type),
                township=body.township, village=body.village, filed_by=body.filed_by,
                filing=plain(body.model_dump(include=set(FilingContent.model_fields))))
            return Created(application_id=application_id, status=Status.SUBMITTED)
        return run_command(app, request, who, body, command)

    @r.post("/applications/{application_id}/accept", response_model=Created)
    def accept(application_id: UUID, request: Request,
               who: Principal = Depends(clerk)) -> Response:
        return run_command(app, request, who, None,
                           lambda: status_of(app.accept(who, application_id)), status_code=200)

    @r.post("/applications/{application_id}/return", response_model=ReturnedOut)
    def return_(application_id: UUID, body: ReturnIn, request: Request,
                who: Principal = Depends(clerk)) -> Response:
        def command() -> ReturnedOut:
            a = app.return_for_completion(who, application_id, body.items, body.note)
            return ReturnedOut(application_id=a.id, status=a.status,
                               missing=a.returns[-1]["missing"])
        return run_command(app, request, who, body, command, status_code=200)

    @r.post("/applications/{application_id}/resubmit", response_model=Created)
    def resubmit(application_id: UUID, body: FilingContent, request: Request,
                 who: Principal = Depends(filers)) -> Response:
        return run_command(app, request, who, body, lambda: status_of(
            app.resubmit(who, application_id, plain(body.model_dump()))), status_code=200)

    @r.post("/applications/{application_id}/decline", response_model=Created)
    def decline(application_id: UUID, body: ReasonIn, request: Request,
                who: Principal = Depends(clerk)) -> Response:
        return run_command(app, request, who, body, lambda: status_of(
            app.decline(who, application_id, body.reason)), status_code=200)

    @r.post("/applications/{application_id}/withdraw", response_model=Created)
    def withdraw(application_id: UUID, body: ReasonIn, request: Request,
                 who: Principal = Depends(filers)) -> Response:
        return run_command(app, request, who, body, lambda: status_of(
            app.withdraw(who, application_id, body.reason)), status_code=200)

    @r.post("/applications/{application_id}/changes", status_code=201, response_model=ChangeOut)
    def report_change(application_id: UUID, body: ChangeIn, request: Request,
                      who: Principal = Depends(filers)) -> Response:
        def command() -> ChangeOut:
            change_id = app.report_change(who, application_id, plain(body.model_dump()))
            return ChangeOut(application_id=application_id, status=Status.CONFIRMED,
                             change_id=change_id)
        return run_command(app, request, who, body, command)

    @r.get("/applications/{application_id}")
    def read(application_id: UUID,
             unmask: bool = Query(False, description="show ID numbers, bank account, phones"),
             reason: str | None = Query(None, max_length=200, description="why, if unmasking"),
             who: Principal = Depends(readers)) -> dict[str, Any]:
        return render_for(who, app.view(who, application_id, unmask, reason), unmask)

    @r.get("/applications/{application_id}/missing")
    def missing(application_id: UUID, who: Principal = Depends(readers)) -> dict[str, Any]:
        """What the filing still lacks against its checklist (for the 一次性告知 notice)."""
        a = app.application(who, application_id)
        return {"application_id": str(a.id), "missing": app.missing(a)}

    @r.get("/applications/{application_id}/disclosures")
    def disclosures(application_id: UUID,
                    who: Principal = Depends(auditors)) -> dict[str, Any]:
        """Who saw this application's sensitive data unmasked, when and why."""
        return {"application_id": str(application_id),
                "items": app.disclosures(who, application_id)}

    @r.get("/applications")
    def list_(township: str | None = Query(None, pattern=r"^\d{9}$"),
              status: Status | None = None, kind: AssistanceKind | None = None,
              village: str | None = Query(None, pattern=r"^\d{12}$"),
              filed_from: date | None = None, filed_to: date | None = None,
              limit: int = Query(50, ge=1, le=500), offset: Offset = 0,
              who: Principal = Depends(readers)) -> dict[str, Any]:
        total, items = app.list_applications(
            who, township=township, status=plain(status), kind=plain(kind), village=village,
            filed_from=filed_from, filed_to=filed_to, limit=limit, offset=offset)
        return {"total": total, "limit": limit, "offset": offset, "items": items}

    return r
