"""Review's HTTP API: request/response schemas, role requirements and routing only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.review.application import ReviewApplication
from services.review.domain import CareMode, Entitlement, ReviewCase, SpotCheck
from shared.auth import Principal, Role, require
from shared.contracts.intake import AssetKind, IncomeKind, WorkCapacity
from shared.web import Offset, Page, run_command

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Statement = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Township = Annotated[str, StringConstraints(pattern=r"^\d{9}$")]
Month = Annotated[str, StringConstraints(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")]

STAFF = (Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER, Role.COUNTY_CENTRE,
         Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)
MASKED = "***"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- investigation -----------------------------------------------------------------------------


class InvestigatorIn(Body):
    user_id: Ref | None = None
    name: Name


class AssignIn(Body):
    investigators: list[InvestigatorIn] = Field(default=[], max_length=10)
    contractor: Ref | None = None  # the contractor organisation (its tokens' "org")


class MemberFindingIn(Body):
    member_fingerprint: Ref
    counted: bool | None = None  # False: found not to belong to the household
    work_capacity: WorkCapacity | None = None
    serious_illness: bool | None = None
    disability_grade: int | None = Field(None, ge=1, le=4)
    finding: Text | None = None


class IncomeIn(Body):
    member_fingerprint: Ref
    kind: IncomeKind
    amount: Money  # total over `months`
    months: int = Field(ge=1, le=12)


class AssetIn(Body):
    kind: AssetKind
    value: Money
    exempt: bool = False


class DocumentIn(Body):
    document_id: Ref  # filed in archive
    kind: Literal["photo", "form", "letter", "other"]
    description: Text | None = None


class FindingsIn(Body):
    members: list[MemberFindingIn] = Field(default=[], max_length=30)
    incomes: list[IncomeIn] | None = Field(None, max_length=100)  # None: filed figures stand
    assets: list[AssetIn] | None = Field(None, max_length=100)
    irregular_income: bool | None = None


class VisitIn(FindingsIn):
    visited_on: date
    investigators: list[Name] = Field(max_length=10)
    members_present: list[Name] = Field(default=[], max_length=30)
    signed_by: list[Name] = Field(default=[], max_length=40)
    documents: list[DocumentIn] = Field(default=[], max_length=50)
    notes: Text = ""


class InterviewIn(Body):
    method: Literal["neighbour", "letter"]
    held_on: date
    with_whom: Name
    summary: Statement


class ReportIn(Body):
    bank: Text
    tax: Text
    real_estate: Text
    vehicles: Text
    social_insurance: Text
    business_registration: Text
    conclusion: Statement


# --- joint review and opinion ------------------------------------------------------------------


class PanelMemberIn(Body):
    user_id: Ref
    name: Name
    role: Literal["leader", "deputy", "discipline", "member"]
    present: bool
    related_to_household: bool = False
    recused: bool = False
    recusal_reason: Reason | None = None
    opinion: Literal["approve", "reject"] | None = None


class JointReviewIn(Body):
    held_on: date
    members: list[PanelMemberIn] = Field(min_length=1, max_length=30)
    outcome: Literal["approve", "reject"]


class SelfCareIn(Body):
    """Each activity: achieved (True) or not."""

    eating: bool
    dressing: bool
    bed_transfer: bool
    toileting: bool
    indoor_walking: bool
    bathing: bool


class OpinionIn(Body):
    approve: bool
    reasons: list[Reason] = Field(default=[], max_length=20)
    self_care: SelfCareIn | None = None  # 特困
    care_mode: CareMode | None = None  # 特困
    band: Annotated[str, StringConstraints(max_length=32)] | None = None  # 临时救助
    instalments: int | None = Field(None, ge=1, le=24)  # 临时救助


class ReasonsIn(Body):
    reasons: list[Reason] = Field(default=[], max_length=20)


class EndForCauseIn(Body):
    """注销 for a death or a fraud, from the first month not due (backdated: disbursement
    recovers the months paid since); fraud may carry the fine, 1-3x [S1 Art. 68]."""

    cause: Literal["death", "fraud"]
    first_month_not_due: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    reasons: list[Reason] = Field(default=[], max_length=20)
    fine_multiple: Decimal | None = Field(None, ge=1, le=3, decimal_places=2)
    fine_reason: Reason | None = None


class ConfirmIn(Body):
    notice: Statement  # the written confirmation notice


class ExtendIn(Body):
    reason: Reason


class AdvanceIn(Body):
    band: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    instalments: int = Field(1, ge=1, le=24)
    reason: Reason


class NoteIn(Body):
    note: Text = ""


# --- entitlements ------------------------------------------------------------------------------


class RecheckIn(Body):
    finding: Statement
    changed: bool = False


class AdjustIn(FindingsIn):
    self_care: SelfCareIn | None = None
    care_mode: CareMode | None = None
    reasons: list[Reason] = Field(default=[], max_length=20)
    apply_reported: bool = False  # apply the changes reported in intake


class PhaseOutIn(Body):
    months: int = Field(ge=1, le=12)
    reasons: list[Reason] = Field(default=[], max_length=20)


# --- policy and spot checks --------------------------------------------------------------------


Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=6, decimal_places=2)]
Positive = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
Days = Annotated[int, Field(ge=1, le=366)]


class AddonsIn(Body):
    elderly: Percent
    minor: Percent
    severe_disability: Percent
    serious_illness: Percent


class CareStandardsIn(Body):
    self_caring: Money
    partial: Money
    total: Money


class ByKindIn(Body):
    dibao: Days
    dibao_edge: Days
    tekun: Days
    linshi: Days


class PercentByKindIn(Body):
    dibao: Percent
    dibao_edge: Percent
    tekun: Percent
    linshi: Percent


class PolicyTermsIn(Body):
    illustrative: bool
    label: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    dibao_standard_urban: Positive
    dibao_standard_rural: Positive
    assessment_months: int
    rounding_quantum: Decimal
    rounding_mode: Literal["half_up", "up", "down"]
    addon_percent: AddonsIn
    addon_elderly_age: int = Field(ge=0, le=120)
    addon_minor_age: int = Field(ge=0, le=30)
    severe_disability_max_grade: int = Field(ge=1, le=4)
    financial_asset_limit_months: int = Field(ge=0, le=240)
    vehicle_allowed: bool
    extra_housing_allowed: bool
    tekun_basic_multiple: Positive
    tekun_care_standard: CareStandardsIn
    dibao_edge_multiple: Positive
    dibao_edge_validity_months: int = Field(ge=1, le=60)
    linshi_bands: dict[Annotated[str, StringConstraints(min_length=1, max_length=32)],
                       Positive] = Field(min_length=1, max_length=10)
    linshi_township_ceiling_multiple: Positive
    linshi_max_instalments: int = Field(ge=1, le=24)
    linshi_expenditure_income_limit: Positive
    linshi_advance_completion_working_days: Days
    investigation_start_working_days: Days
    decision_working_days: ByKindIn
    decision_extended_working_days: Days
    tekun_confirmation_working_days: Days
    rejection_notice_working_days: Days
    recheck_months_stable: int = Field(ge=1, le=24)
    recheck_months_irregular: int = Field(ge=1, le=24)
    recheck_months_tekun: int = Field(ge=1, le=24)
    phase_out_max_months: int
    roster_cutoff_day: int  # the monthly rhythm: shared.clock.MonthlyRhythm
    reconcile_by_day: int = 20
    file_by_day: int = 20
    spot_check_percent: PercentByKindIn
    joint_review_quorum: int = Field(ge=1, le=30)
    investigator_must_recuse: bool
    min_investigators: int
    tekun_elderly_age: int = Field(default=60, ge=1, le=120)
    tekun_minor_age: int = Field(default=16, ge=1, le=120)
    tekun_student_minor_age: int = Field(default=18, ge=1, le=120)
    working_age_min: int = Field(ge=0, le=100)
    working_age_max: int = Field(ge=0, le=100)


class PolicyIn(Body):
    effective_from: date
    reason: Reason
    terms: PolicyTermsIn


class SpotCheckIn(Body):
    township: Township
    month: Month


class SpotResultIn(Body):
    case_id: UUID
    upheld: bool
    finding: Text | None = None
    corrective_action: Text | None = None


# --- views -------------------------------------------------------------------------------------


class CaseView(BaseModel):
    """A review case; the fields every reader relies on, and the rest as the case has them."""

    model_config = ConfigDict(extra="allow")
    case_id: UUID
    version: int
    application_id: UUID
    kind: str = Field(examples=["dibao"])
    township: str = Field(examples=["469028100"])
    village: str | None = Field(None, examples=["469028100201"])
    status: str = Field(examples=["investigating"])
    round: int


class CaseStep(BaseModel):
    """A case after a command: where it stands now (some commands add their own fields)."""

    model_config = ConfigDict(extra="allow")
    case_id: UUID
    version: int
    status: str = Field(examples=["investigating"])
    round: int


class EntitlementStep(BaseModel):
    """An entitlement after a command, with its last change."""

    model_config = ConfigDict(extra="allow")
    entitlement_id: UUID
    version: int
    status: str = Field(examples=["active"])
    monthly_amount: str | None = Field(None, examples=["620.00"])
    recheck_due: date | None = None
    last_change: dict[str, Any] | None = None


class PolicyPublished(BaseModel):
    policy_version: int
    effective_from: date


class SpotCheckOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    spot_check_id: UUID
    version: int
    township: str
    month: str = Field(examples=["2026-11"])
    sample: list[Any]
    results: list[Any]
    completed: bool


def plain(value: Any) -> Any:
    """JSON-ready, with money as exact strings (never floats)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


def case_view(c: ReviewCase, sees_report: bool) -> dict[str, Any]:
    """One case; the verification report masked unless `sees_report` (the writer's rule)."""
    verification = None
    if c.verification_requested_on is not None:
        verification = {"requested_on": c.verification_requested_on,
                        "reported_on": c.verification and c.verification["reported_on"],
                        "masked": not sees_report, "report": None}
        if c.verification is not None:
            report = c.verification["report"]
            verification["report"] = (report if sees_report
                                      else {k: MASKED for k in report})
    payee = None
    if c.payee is not None:
        payee = {"name": c.payee["name"], "bank": c.payee["bank"],
                 "account": c.payee["account"]["mask"]}
    return plain({
        "case_id": c.id, "version": c.version, "application_id": c.application_id,
        "kind": c.kind, "linshi_type": c.linshi_type, "township": c.township,
        "village": c.village, "status": c.status, "round": c.round,
        "applicant_name": c.applicant_name, "household_size": c.household_size,
        "household_id": c.household_id, "accepted_on": c.accepted_on,
        "investigation_due": c.investigation_due, "decision_due": c.decision_due,
        "decision_extended": c.decision_extended,
        "deadlines_provisional": c.deadlines_provisional,
        "close_relative_declared": c.close_relative_declared,
        "household": c.household, "investigators": c.investigators,
        "contractor": c.contractor, "visits": c.visits, "interviews": c.interviews,
        "verification": verification, "joint_review": c.joint_review,
        "opinion": None if c.opinion is None else {
            k: v for k, v in c.opinion.items() if k != "inputs"},
        "rejection_due": c.rejection_due, "confirmation_due": c.confirmation_due,
        "decided_on": c.decided_on, "decision": c.decision, "advance": c.advance,
        "payments": c.payments, "payee": payee,
    })


def entitlement_view(e: Entitlement) -> dict[str, Any]:
    return plain({
        "entitlement_id": e.id, "version": e.version, "case_id": e.case_id, "kind": e.kind,
        "household_id": e.household_id, "township": e.township, "village": e.village,
        "urban": e.urban, "applicant_name": e.applicant_name,
        "household_size": e.household_size, "monthly_amount": e.monthly_amount,
        "breakdown": e.breakdown, "policy_version": e.policy_version,
        "start_month": e.start_month, "status": e.status, "recheck_due": e.recheck_due,
        "recheck_months": e.recheck_months, "rechecks": e.rechecks, "changes": e.changes,
        "phase_out_until": e.phase_out_until, "ends_after": e.ends_after,
        "reported_changes": e.reported_changes,
        "recheck_requests": e.recheck_requests,
        "pending_termination": e.pending_termination,
    })


def spot_check_view(s: SpotCheck) -> dict[str, Any]:
    return plain({"spot_check_id": s.id, "version": s.version, "township": s.township,
                  "month": s.month, "seed": s.seed, "population": s.population,
                  "percent": s.percent, "policy_version": s.policy_version,
                  "sample": s.sample, "results": list(s.results.values()),
                  "completed": s.completed})


def _summary(c: ReviewCase) -> dict[str, Any]:
    return plain({"case_id": c.id, "version": c.version, "status": c.status,
                  "round": c.round})


class StandardChangeItem(BaseModel):
    entitlement_id: str
    case_id: str
    kind: str
    village: str
    current: str
    new: str
    effective_month: str


class StandardChangePreview(BaseModel):
    township: str
    policy_version: int
    effective_month: str
    items: list[StandardChangeItem]


class StandardChangeConfirmed(BaseModel):
    township: str
    policy_version: int
    effective_month: str
    changed: int


def router(app: ReviewApplication) -> APIRouter:
    r = APIRouter()
    readers = require(*STAFF, Role.CONTRACTOR_INVESTIGATOR)
    staff = require(*STAFF)
    assigners = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_LEADER)
    investigators = require(Role.TOWNSHIP_CLERK, Role.CONTRACTOR_INVESTIGATOR)
    # The county makes its own home visit to a close relative's case (近亲属备案).
    visitors = require(Role.TOWNSHIP_CLERK, Role.CONTRACTOR_INVESTIGATOR, Role.COUNTY_CENTRE,
                       Role.COUNTY_BUREAU)
    clerks = require(Role.TOWNSHIP_CLERK)
    centre = require(Role.COUNTY_CENTRE)
    panel = require(Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER)
    leader = require(Role.TOWNSHIP_LEADER)
    bureau = require(Role.COUNTY_BUREAU)
    recheckers = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER)

    def command(request: Request, who: Principal, body: BaseModel | None, run: Any,
                status_code: int = 200) -> Response:
        return run_command(app, request, who, body, run, status_code=status_code)

    # --- cases: reads ----------------------------------------------------------------------

    @r.get("/cases/{case_id}", tags=["cases"], response_model=CaseView)
    def read(case_id: UUID, who: Principal = Depends(readers)) -> dict[str, Any]:
        return case_view(app.case(who, case_id), app.sees_verification(who))

    @r.get("/cases/by-application/{application_id}", tags=["cases"], response_model=CaseView)
    def by_application(application_id: UUID,
                       who: Principal = Depends(readers)) -> dict[str, Any]:
        return case_view(app.case_for_application(who, application_id),
                         app.sees_verification(who))

    @r.get("/cases", tags=["cases"], response_model=Page)
    def list_(township: str = Query(pattern=r"^\d{9}$"), status: str | None = Query(
                  None, max_length=20), limit: int = Query(50, ge=1, le=500),
              offset: Offset = 0, who: Principal = Depends(readers)) -> dict[str, Any]:
        total, items = app.list_cases(who, township, limit, offset, status)
        return plain({"total": total, "limit": limit, "offset": offset, "items": items})

    @r.get("/cases/{case_id}/opinion/recompute", tags=["cases"])
    def recompute(case_id: UUID, who: Principal = Depends(staff)) -> dict[str, Any]:
        return plain(app.recompute_opinion(who, case_id))

    @r.get("/deadlines", tags=["cases"])
    def deadlines(township: str = Query(pattern=r"^\d{9}$"), as_of: date | None = None,
                  who: Principal = Depends(staff)) -> dict[str, Any]:
        return plain(app.deadlines(who, township, as_of or app.today()))

    # --- investigation and verification ----------------------------------------------------

    @r.post("/cases/{case_id}/investigation/assign", tags=["investigation"],
            response_model=CaseStep)
    def assign(case_id: UUID, body: AssignIn, request: Request,
               who: Principal = Depends(assigners)) -> Response:
        return command(request, who, body, lambda: _summary(app.assign_investigation(
            who, case_id, [i.model_dump() for i in body.investigators], body.contractor)))

    @r.post("/cases/{case_id}/investigation/visits", tags=["investigation"],
            response_model=CaseStep, status_code=201)
    def visit(case_id: UUID, body: VisitIn, request: Request,
              who: Principal = Depends(visitors)) -> Response:
        findings = body.model_dump(include={"members", "incomes", "assets", "irregular_income"},
                                   mode="python")
        record = body.model_dump(exclude={"members", "incomes", "assets", "irregular_income"},
                                 mode="python")
        record["contractor"] = who.org if who.role is Role.CONTRACTOR_INVESTIGATOR else None
        return command(request, who, body, lambda: _summary(
            app.record_home_visit(who, case_id, record, _enums(findings))), 201)

    @r.post("/cases/{case_id}/investigation/interviews", tags=["investigation"],
            response_model=CaseStep, status_code=201)
    def interview(case_id: UUID, body: InterviewIn, request: Request,
                  who: Principal = Depends(investigators)) -> Response:
        return command(request, who, body, lambda: _summary(
            app.record_interview(who, case_id, body.model_dump())), 201)

    @r.post("/cases/{case_id}/verification/request", tags=["verification"], response_model=CaseStep)
    def request_verification(case_id: UUID, request: Request,
                             who: Principal = Depends(clerks)) -> Response:
        return command(request, who, None, lambda: _summary(
            app.request_verification(who, case_id)))

    @r.post("/cases/{case_id}/verification/report", tags=["verification"],
            response_model=CaseStep, status_code=201)
    def report(case_id: UUID, body: ReportIn, request: Request,
               who: Principal = Depends(centre)) -> Response:
        return command(request, who, body, lambda: _summary(
            app.record_verification(who, case_id, body.model_dump())), 201)

    # --- joint review, opinion, decision ---------------------------------------------------

    @r.post("/cases/{case_id}/joint-review", tags=["review"],
            response_model=CaseStep, status_code=201)
    def joint_review(case_id: UUID, body: JointReviewIn, request: Request,
                     who: Principal = Depends(panel)) -> Response:
        return command(request, who, body, lambda: _summary(app.hold_joint_review(
            who, case_id, body.held_on, [m.model_dump() for m in body.members],
            body.outcome)), 201)

    @r.post("/cases/{case_id}/opinion", tags=["review"], response_model=CaseStep, status_code=201)
    def opinion(case_id: UUID, body: OpinionIn, request: Request,
                who: Principal = Depends(panel)) -> Response:
        assessment = {"self_care": body.self_care.model_dump() if body.self_care else None,
                      "care_mode": body.care_mode.value if body.care_mode else None,
                      "band": body.band, "instalments": body.instalments}

        def run() -> dict[str, Any]:
            c = app.issue_opinion(who, case_id, body.approve, body.reasons, assessment)
            assert c.opinion is not None
            return {**_summary(c), **plain({k: v for k, v in c.opinion.items()
                                            if k != "inputs"})}
        return command(request, who, body, run, 201)

    @r.post("/cases/{case_id}/county-approval", tags=["review"], response_model=CaseStep)
    def county_approval(case_id: UUID, body: ReasonsIn, request: Request,
                        who: Principal = Depends(bureau)) -> Response:
        return command(request, who, body, lambda: _summary(
            app.approve_at_county(who, case_id, body.reasons)))

    @r.post("/cases/{case_id}/deadline-extension", tags=["review"], response_model=CaseStep)
    def extend(case_id: UUID, body: ExtendIn, request: Request,
               who: Principal = Depends(leader)) -> Response:
        def run() -> dict[str, Any]:
            c = app.extend_deadline(who, case_id, body.reason)
            return {**_summary(c), "decision_due": c.decision_due.isoformat()}
        return command(request, who, body, run)

    @r.post("/cases/{case_id}/confirm", tags=["decision"], response_model=CaseStep)
    def confirm(case_id: UUID, body: ConfirmIn, request: Request,
                who: Principal = Depends(leader)) -> Response:
        def run() -> dict[str, Any]:
            c, ent = app.confirm(who, case_id, body.notice)
            return {**_summary(c), **plain({"decision": c.decision,
                                            "entitlement_id": ent and ent.id})}
        return command(request, who, body, run)

    @r.post("/cases/{case_id}/reject", tags=["decision"], response_model=CaseStep)
    def reject(case_id: UUID, body: ReasonsIn, request: Request,
               who: Principal = Depends(leader)) -> Response:
        return command(request, who, body, lambda: _summary(
            app.reject(who, case_id, body.reasons)))

    @r.post("/cases/{case_id}/advance", tags=["decision"], response_model=CaseStep, status_code=201)
    def advance(case_id: UUID, body: AdvanceIn, request: Request,
                who: Principal = Depends(leader)) -> Response:
        def run() -> dict[str, Any]:
            c = app.grant_advance(who, case_id, body.band, body.instalments, body.reason)
            return {**_summary(c), **plain({"advance": c.advance, "payments": c.payments})}
        return command(request, who, body, run, 201)

    @r.post("/cases/{case_id}/advance/complete", tags=["decision"], response_model=CaseStep)
    def complete_advance(case_id: UUID, body: NoteIn, request: Request,
                         who: Principal = Depends(assigners)) -> Response:
        return command(request, who, body, lambda: _summary(
            app.complete_advance_record(who, case_id, body.note)))

    # --- entitlements ------------------------------------------------------------------------

    @r.get("/entitlements/{entitlement_id}", tags=["entitlements"])
    def entitlement(entitlement_id: UUID, who: Principal = Depends(staff)) -> dict[str, Any]:
        return entitlement_view(app.entitlement(who, entitlement_id))

    @r.get("/entitlements", tags=["entitlements"], response_model=Page)
    def entitlements(township: str = Query(pattern=r"^\d{9}$"),
                     recheck_due_by: date | None = None,
                     status: str | None = Query(None, max_length=20),
                     limit: int = Query(50, ge=1, le=500), offset: Offset = 0,
                     who: Principal = Depends(staff)) -> dict[str, Any]:
        total, items = app.list_entitlements(who, township, recheck_due_by, status, limit,
                                             offset)
        return plain({"total": total, "limit": limit, "offset": offset, "items": items})

    def _ent(e: Entitlement, **extra: Any) -> dict[str, Any]:
        last = e.changes[-1] if e.changes else None
        return plain({"entitlement_id": e.id, "version": e.version, "status": e.status,
                      "monthly_amount": e.monthly_amount, "recheck_due": e.recheck_due,
                      "last_change": last, **extra})

    @r.post("/entitlements/{entitlement_id}/rechecks", tags=["entitlements"],
            response_model=EntitlementStep, status_code=201)
    def recheck(entitlement_id: UUID, body: RecheckIn, request: Request,
                who: Principal = Depends(recheckers)) -> Response:
        return command(request, who, body, lambda: _ent(app.record_recheck(
            who, entitlement_id, body.finding, body.changed)), 201)

    @r.post("/entitlements/{entitlement_id}/adjust", tags=["entitlements"],
            response_model=EntitlementStep)
    def adjust(entitlement_id: UUID, body: AdjustIn, request: Request,
               who: Principal = Depends(leader)) -> Response:
        findings = _enums(body.model_dump(include={"members", "incomes", "assets",
                                                   "irregular_income"}))
        assessment = {"self_care": body.self_care.model_dump() if body.self_care else None,
                      "care_mode": body.care_mode.value if body.care_mode else None}

        def run() -> dict[str, Any]:
            e, change = app.adjust(who, entitlement_id, findings, assessment, body.reasons,
                                   body.apply_reported)
            return _ent(e, change=change, breakdown=e.breakdown)
        return command(request, who, body, run)

    @r.post("/entitlements/{entitlement_id}/suspend", tags=["entitlements"],
            response_model=EntitlementStep)
    def suspend(entitlement_id: UUID, body: ReasonsIn, request: Request,
                who: Principal = Depends(leader)) -> Response:
        return command(request, who, body, lambda: _ent(app.change_status(
            who, entitlement_id, "suspend", body.reasons)))

    @r.post("/entitlements/{entitlement_id}/resume", tags=["entitlements"],
            response_model=EntitlementStep)
    def resume(entitlement_id: UUID, body: ReasonsIn, request: Request,
               who: Principal = Depends(leader)) -> Response:
        return command(request, who, body, lambda: _ent(app.change_status(
            who, entitlement_id, "resume", body.reasons)))

    @r.post("/entitlements/{entitlement_id}/phase-out", tags=["entitlements"],
            response_model=EntitlementStep)
    def phase_out(entitlement_id: UUID, body: PhaseOutIn, request: Request,
                  who: Principal = Depends(leader)) -> Response:
        return command(request, who, body, lambda: _ent(app.change_status(
            who, entitlement_id, "phase_out", body.reasons, body.months)))

    @r.post("/entitlements/{entitlement_id}/terminate", tags=["entitlements"],
            response_model=EntitlementStep)
    def terminate(entitlement_id: UUID, body: ReasonsIn, request: Request,
                  who: Principal = Depends(leader)) -> Response:
        return command(request, who, body, lambda: _ent(app.change_status(
            who, entitlement_id, "terminate", body.reasons)))

    # --- policy table --------------------------------------------------------------------------

    @r.get("/policy", tags=["policy"])
    def policy(on: date | None = None, who: Principal = Depends(staff)) -> dict[str, Any]:
        day = on or app.today()
        version, terms = app.policy_on(day)
        return plain({"on": day, "policy_version": version, "terms": terms.to_dict()})

    @r.get("/policy/versions", tags=["policy"])
    def policy_versions(who: Principal = Depends(staff)) -> dict[str, Any]:
        return plain({"versions": app.policy_versions()})

    @r.post("/policy", tags=["policy"], response_model=PolicyPublished, status_code=201)
    def publish_policy(body: PolicyIn, request: Request,
                       who: Principal = Depends(bureau)) -> Response:
        def run() -> dict[str, Any]:
            version = app.publish_policy(who, body.effective_from,
                                         body.terms.model_dump(mode="python"), body.reason)
            return {"policy_version": version, "effective_from": body.effective_from.isoformat()}
        return command(request, who, body, run, 201)

    # --- spot checks ---------------------------------------------------------------------------

    @r.post("/spot-checks", tags=["spot checks"], response_model=SpotCheckOut, status_code=201)
    def draw(body: SpotCheckIn, request: Request, who: Principal = Depends(centre)) -> Response:
        return command(request, who, body, lambda: spot_check_view(
            app.draw_spot_check(who, body.township, body.month)), 201)

    @r.get("/spot-checks/{spot_check_id}", tags=["spot checks"])
    def spot_check(spot_check_id: UUID, who: Principal = Depends(staff)) -> dict[str, Any]:
        return spot_check_view(app.spot_check(who, spot_check_id))

    @r.post("/spot-checks/{spot_check_id}/results", tags=["spot checks"],
            response_model=SpotCheckOut, status_code=201)
    def spot_result(spot_check_id: UUID, body: SpotResultIn, request: Request,
                    who: Principal = Depends(centre)) -> Response:
        return command(request, who, body, lambda: spot_check_view(
            app.record_spot_check_result(who, spot_check_id, str(body.case_id), body.upheld,
                                         body.finding, body.corrective_action)), 201)

    @r.post("/spot-checks/{spot_check_id}/complete", tags=["spot checks"],
            response_model=SpotCheckOut)
    def spot_complete(spot_check_id: UUID, request: Request,
                      who: Principal = Depends(centre)) -> Response:
        return command(request, who, None, lambda: spot_check_view(
            app.complete_spot_check(who, spot_check_id)))

    @r.get("/townships/{township}/standard-changes/{policy_version}", tags=["entitlement"],
           summary="What a new standard (标准调整) changes in a township",
           response_model=StandardChangePreview)
    def standard_changes(policy_version: int = PathParam(ge=1, le=10_000),
                         township: str = PathParam(pattern=r"^\d{9}$"),
                         who: Principal = Depends(staff)) -> dict[str, Any]:
        """Every live 低保 and 特困 entitlement recomputed under the version, with its
        current and new amount, for the township to confirm."""
        return app.standard_change_preview(who, township, policy_version)

    @r.post("/townships/{township}/standard-changes/{policy_version}/confirm",
            tags=["entitlement"], summary="Confirm a new standard's changes (标准调整)",
            response_model=StandardChangeConfirmed)
    def confirm_standard_changes(request: Request,
                                 policy_version: int = PathParam(ge=1, le=10_000),
                                 township: str = PathParam(pattern=r"^\d{9}$"),
                                 who: Principal = Depends(leader)) -> Response:
        return command(request, who, None, lambda: app.confirm_standard_change(
            who, township, policy_version))

    # --- issue 18: 注销 for a death or a fraud (a separate block; moved with the routes) ----

    @r.post("/entitlements/{entitlement_id}/end-for-cause", tags=["entitlements"],
            response_model=EntitlementStep)
    def end_for_cause(entitlement_id: UUID, body: EndForCauseIn, request: Request,
                      who: Principal = Depends(leader)) -> Response:
        return command(request, who, body, lambda: _ent(app.end_for_cause(
            who, entitlement_id, body.cause, body.first_month_not_due, body.reasons,
            body.fine_multiple, body.fine_reason)))

    return r


def _enums(data: dict[str, Any]) -> dict[str, Any]:
    """Enum members as their plain values, as the domain stores them."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out[k] = _enums(v)
        elif isinstance(v, list):
            out[k] = [_enums(i) if isinstance(i, dict) else
                      (i.value if isinstance(i, Enum) else i) for i in v]
        else:
            out[k] = v.value if isinstance(v, Enum) else v
    return out
