"""Review's request and response schemas, and the views that answer with them.

The policy terms' input model is built from the domain's `PolicyTerms` and the bounds
declared beside it (policy_bounds.py); the joint review's roles are the domain's."""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from services.review.domain import (
    JOINT_REVIEW_ROLES,
    CareMode,
    Entitlement,
    PolicyTerms,
    ReviewCase,
    SpotCheck,
)
from services.review.policy_bounds import NOT_SET, TERM_BOUNDS, Bounds
from shared.contracts.intake import AssetKind, IncomeKind, WorkCapacity

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Statement = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Township = Annotated[str, StringConstraints(pattern=r"^\d{9}$")]
Month = Annotated[str, StringConstraints(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")]

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


PanelRole = Literal[tuple(sorted(JOINT_REVIEW_ROLES))]  # the domain's list, not a copy


class PanelMemberIn(Body):
    user_id: Ref
    name: Name
    role: PanelRole
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


class EndForCauseIn(Body):
    """注销 for a death or a fraud, from the first month not due (backdated: disbursement
    recovers the months paid since); fraud may carry the fine, 1-3x [S1 Art. 68]."""

    cause: Literal["death", "fraud"]
    first_month_not_due: Month
    reasons: list[Reason] = Field(default=[], max_length=20)
    fine_multiple: Decimal | None = Field(None, ge=1, le=3, decimal_places=2)
    fine_reason: Reason | None = None


class PayeeChangeIn(Body):
    """收款账户变更: the household's new bank account. The number is checked (6 to 32
    digits; a UnionPay card passes its Luhn check) and sealed at once."""

    holder_name: Name
    bank: Name
    account_number: str = Field(min_length=1, max_length=40, examples=["6222020200112345674"])
    reason: Reason
    # When the holder is not a household member (e.g. a guardian's account): why.
    holder_not_member_reason: Reason | None = None


class PayeeChanged(BaseModel):
    """The entitlement's payee after the change: the account shown masked only."""

    entitlement_id: UUID
    version: int
    payee: PayeeView
    holder_is_member: bool
    reason: str


def payee_changed(e: Entitlement, reason: str) -> dict[str, Any]:
    p = e.payee or {}
    return plain({"entitlement_id": e.id, "version": e.version,
                  "payee": {"name": p["name"], "bank": p["bank"],
                            "account": p["account"]["mask"]},
                  "holder_is_member": getattr(e, "payee_holder_not_member", None) is None,
                  "reason": reason})


# --- policy and spot checks --------------------------------------------------------------------


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _term(name: str, hint: Any, b: Bounds) -> Any:
    """One term's input type: the domain's type within the domain's declared bounds."""
    numeric = {k: v for k in ("ge", "gt", "le", "max_digits", "decimal_places")
               if (v := getattr(b, k)) is not None}
    if get_origin(hint) is dict:
        value = Annotated[get_args(hint)[1], Field(**numeric)]
        if b.keys:  # one value per category, all of them
            return create_model(f"{_camel(name)}In", __base__=Body,
                                **{k: (value, ...) for k in b.keys})
        key = Annotated[str, StringConstraints(min_length=1, max_length=b.key_max_length)]
        return Annotated[dict[key, value], Field(min_length=1, max_length=b.max_keys)]
    if b.choices:
        return Literal[b.choices]
    if hint is str:
        return Annotated[str, StringConstraints(min_length=b.min_length,
                                                max_length=b.max_length)]
    return Annotated[hint, Field(**numeric)] if numeric else hint


def _policy_terms_in() -> type[Body]:
    hints = get_type_hints(PolicyTerms)
    terms = [f.name for f in dataclass_fields(PolicyTerms)]
    if set(terms) != set(TERM_BOUNDS):  # a term added to the domain without its bounds
        raise TypeError(f"policy_bounds.py and PolicyTerms differ: "
                        f"{sorted(set(terms) ^ set(TERM_BOUNDS))}")
    return create_model(
        "PolicyTermsIn", __base__=Body,
        __doc__="Every term of a policy version (PolicyTerms), each within its bounds.",
        **{n: (_term(n, hints[n], TERM_BOUNDS[n]),
               ... if TERM_BOUNDS[n].default is NOT_SET else TERM_BOUNDS[n].default)
           for n in terms})


PolicyTermsIn = _policy_terms_in()


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


class VerificationView(BaseModel):
    """The county centre's economic verification (经济状况核对): the report masked for roles
    that may not see it."""

    requested_on: date
    reported_on: date | None = None
    masked: bool
    report: dict[str, str] | None = None  # each finding, or "***" when masked


class PayeeView(BaseModel):
    """Who is paid: the account shown masked only."""

    name: str
    bank: str
    account: str = Field(examples=["***************9012"])


class CaseView(BaseModel):
    """A review case: the household as investigated, the investigation, the verification,
    the joint review, the opinion, the decision, and its statutory time limits."""

    model_config = ConfigDict(extra="allow")
    case_id: UUID
    version: int
    application_id: UUID
    kind: str = Field(examples=["dibao"])
    linshi_type: str | None = None  # 临时救助: emergency or expenditure
    township: str = Field(examples=["469028100"])
    village: str | None = Field(None, examples=["469028100201"])
    status: str = Field(examples=["investigating"])
    round: int  # a new round after an upheld objection
    applicant_name: str | None = None
    household_size: int | None = None
    household_id: str | None = None
    accepted_on: date | None = None
    investigation_due: date | None = None
    decision_due: date | None = None
    decision_extended: bool | None = None
    deadlines_provisional: bool | None = None  # counted past the published calendar
    close_relative_declared: bool | None = None  # 近亲属备案
    household: dict[str, Any] | None = None  # members (ids masked), incomes, assets
    investigators: list[dict[str, Any]] | None = None
    contractor: str | None = None
    visits: list[dict[str, Any]] | None = None
    interviews: list[dict[str, Any]] | None = None
    verification: VerificationView | None = None
    joint_review: dict[str, Any] | None = None
    opinion: dict[str, Any] | None = None  # approve, reasons, amount and its breakdown
    rejection_due: date | None = None
    confirmation_due: date | None = None
    decided_on: date | None = None
    decision: dict[str, Any] | None = None
    advance: dict[str, Any] | None = None  # 先行救助
    payments: list[dict[str, Any]] | None = None  # 临时救助 instalments
    payee: PayeeView | None = None


class CaseStep(BaseModel):
    """A case after a command: where it stands now (some commands add their own fields)."""

    model_config = ConfigDict(extra="allow")
    case_id: UUID
    version: int
    status: str = Field(examples=["investigating"])
    round: int


class OpinionIssued(CaseStep):
    """The case with the township's opinion (审核意见): for an approval, the amount and how
    it was computed under the policy version in force."""

    approve: bool
    reasons: list[str]
    amount: str | None = Field(None, examples=["1580"])  # None for a refusal
    breakdown: dict[str, Any] | None = None
    policy_version: int
    issued_on: date
    publicity_required: bool  # a refusal is not publicised
    household_size: int


class DeadlineExtended(CaseStep):
    decision_due: date  # the extended time limit


class CaseConfirmed(CaseStep):
    """The decision; a 低保 or 特困 confirmation also starts an entitlement."""

    decision: dict[str, Any]  # outcome, notice, amount, start_month, valid_until
    entitlement_id: UUID | None = None  # None for 临时救助 and 低保边缘


class AdvanceGranted(CaseStep):
    """先行救助 granted and confirmed at once: its record is due later, with the payments."""

    advance: dict[str, Any]  # granted_on, completion_due, completed_on
    payments: list[dict[str, Any]]


class EntitlementStep(BaseModel):
    """An entitlement after a command, with its last change."""

    model_config = ConfigDict(extra="allow")
    entitlement_id: UUID
    version: int
    status: str = Field(examples=["active"])
    monthly_amount: str | None = Field(None, examples=["620.00"])
    recheck_due: date | None = None
    last_change: dict[str, Any] | None = None


class EntitlementAdjusted(EntitlementStep):
    change: str = Field(examples=["decrease"])  # increase or decrease (unchanged is refused)
    breakdown: dict[str, Any]  # the amount recomputed


class PolicyPublished(BaseModel):
    policy_version: int
    effective_from: date


class SpotCheckOut(BaseModel):
    """A spot check: the sample drawn (reproducible from its seed) and the results."""

    model_config = ConfigDict(extra="allow")
    spot_check_id: UUID
    version: int
    township: str = Field(examples=["469028100"])
    month: str = Field(examples=["2026-11"])
    seed: str | None = None
    population: dict[str, int] | None = None  # confirmations by kind in the month
    percent: dict[str, str] | None = None  # the policy's rate by kind
    policy_version: int | None = None
    sample: list[dict[str, Any]]
    results: list[dict[str, Any]]
    completed: bool


class OpinionRecomputed(BaseModel):
    """A recorded opinion's amount recomputed from its inputs and policy version."""

    policy_version: int = Field(examples=[2])
    recorded: dict[str, Any]  # the breakdown as recorded
    recomputed: dict[str, Any]  # the same computation run again now
    identical: bool


class DeadlineItem(BaseModel):
    """One open time limit of a case: overdue (working days late) or due soon (left)."""

    case_id: str
    kind: str = Field(examples=["dibao"])
    village: str | None = None
    status: str = Field(examples=["investigating"])
    deadline: str = Field(examples=["decision"])  # which time limit
    due: date
    provisional: bool  # the calendar beyond its published year is a guess
    working_days_late: int | None = None
    working_days_left: int | None = None


class Deadlines(BaseModel):
    """A township's open cases against their statutory time limits, as of a date."""

    township: str = Field(examples=["469028100"])
    as_of: date
    due_soon_until: date
    overdue: list[DeadlineItem]
    due_soon: list[DeadlineItem]


class EntitlementView(BaseModel):
    """A confirmed entitlement: its amount and breakdown, rechecks, changes and status."""

    model_config = ConfigDict(extra="allow")
    entitlement_id: UUID
    version: int
    case_id: UUID
    kind: str = Field(examples=["dibao"])
    household_id: str | None = None
    township: str = Field(examples=["469028100"])
    village: str | None = None
    urban: bool
    applicant_name: str
    household_size: int
    monthly_amount: str = Field(examples=["1580"])
    breakdown: dict[str, Any] | None = None
    policy_version: int
    start_month: str = Field(examples=["2026-04"])
    status: str = Field(examples=["active"])
    recheck_due: date | None = None
    recheck_months: int | None = None
    rechecks: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    phase_out_until: str | None = None
    ends_after: str | None = None
    reported_changes: list[dict[str, Any]]
    recheck_requests: list[dict[str, Any]]
    pending_termination: dict[str, Any] | None = None


class PolicyInForce(BaseModel):
    """The policy version in force on a date, with every term as published."""

    on: date
    policy_version: int = Field(examples=[2])
    terms: dict[str, Any]  # PolicyTermsIn's fields; money and rates as exact strings


class PolicyVersion(BaseModel):
    policy_version: int = Field(examples=[1])
    effective_from: date
    terms: dict[str, Any]
    reason: str


class PolicyVersions(BaseModel):
    """Every published policy version, oldest first."""

    versions: list[PolicyVersion]


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


def entitlement_step(e: Entitlement, **extra: Any) -> dict[str, Any]:
    """An entitlement after a command, with its last change."""
    last = e.changes[-1] if e.changes else None
    return plain({"entitlement_id": e.id, "version": e.version, "status": e.status,
                  "monthly_amount": e.monthly_amount, "recheck_due": e.recheck_due,
                  "last_change": last, **extra})


def spot_check_view(s: SpotCheck) -> dict[str, Any]:
    return plain({"spot_check_id": s.id, "version": s.version, "township": s.township,
                  "month": s.month, "seed": s.seed, "population": s.population,
                  "percent": s.percent, "policy_version": s.policy_version,
                  "sample": s.sample, "results": list(s.results.values()),
                  "completed": s.completed})


def case_step(c: ReviewCase) -> dict[str, Any]:
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


def enum_values(data: dict[str, Any]) -> dict[str, Any]:
    """Enum members as their plain values, as the domain stores them."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out[k] = enum_values(v)
        elif isinstance(v, list):
            out[k] = [enum_values(i) if isinstance(i, dict) else
                      (i.value if isinstance(i, Enum) else i) for i in v]
        else:
            out[k] = v.value if isinstance(v, Enum) else v
    return out
