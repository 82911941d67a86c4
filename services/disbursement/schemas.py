"""Disbursement's HTTP shapes: what each operation takes and answers (named, so the
contract documents every field), and the answers built from the aggregates.

A field written `= None` in an answer below may be absent rather than null: the answers are
built from what the events hold (a discrepancy returned before reason codes existed has no
codes) and keep that form; GET routes serialize with `response_model_exclude_unset`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from services.disbursement.domain import (
    FundPlan,
    HoldResolution,
    MonthlyRoster,
    MonthlyStatistics,
    Resolution,
)
from shared.contracts import Actor

Reason = Field(min_length=1, max_length=500)
# An instant as the read model holds it, ISO 8601 with its offset (not pydantic's "Z").
Instant = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str,
                                              when_used="json")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- requests ------------------------------------------------------------------------------


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


class Recovered(_In):
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    reason: str = Reason


class WriteOff(_In):
    reason: str = Reason


class IssuePlan(_In):
    reason: str | None = Field(None, min_length=1, max_length=500)


class Acknowledge(_In):
    receipt_reference: str = Field(min_length=1, max_length=64)
    note: str | None = Field(None, max_length=500)


# --- rosters -------------------------------------------------------------------------------


class BankReturnOut(BaseModel):
    file_name: str
    sha256: str
    paid_total: str
    imported_on: str
    late: bool


class DiscrepancyOut(BaseModel):
    """A difference between the locked roster and the bank's return, and its resolution."""

    id: str
    kind: str  # missing | extra | amount_differs | name_differs | failed
    key: str | None
    case_id: str | None
    line: int | None
    account_mask: str
    roster_name: str | None
    bank_name: str | None
    roster_amount: str | None
    bank_amount: str | None
    reference: str | None
    # A failed line's reason (ISO 20022) and what it allows; absent before reason codes.
    bank_code: str | None = None
    reason_code: str | None = None
    reason_text: str | None = None
    account_status: str | None = None
    codes_version: int | None = None
    resolutions: list[str] | None = None
    resolution: str | None
    reason: str | None = None  # once resolved
    resolved_by: str | None = None


class RosterOut(BaseModel):
    """A roster after a command: its state, totals, changes by kind and the bank return."""

    roster_id: str
    version: int
    township: str
    month: str
    kind: str
    status: str  # drafted | locked | reconciled
    cutoff: str
    rows: int
    total: str
    digest: str | None
    new: int
    changed: int
    ended: int
    corrections: int
    holds_open: int
    bank_return: BankReturnOut | None
    discrepancies: list[DiscrepancyOut]


class RosterSummaryOut(BaseModel):
    """A roster as the read model lists it."""

    roster_id: str
    township: str
    month: str
    kind: str
    status: str
    rows: int
    new: int
    changed: int
    ended: int
    corrections: int
    exports: int
    open_discrepancies: int
    digest: str | None
    drafted_at: Instant
    locked_by: str | None
    reconciled_at: Instant | None
    position: int
    total: str


class RosterRowOut(BaseModel):
    roster_id: str
    key: str
    case_id: str
    household: str
    village: str
    urban: bool
    name: str
    household_size: int
    policy_version: int | None
    source: str
    account_mask: str
    amount: str


class RosterRowsOut(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[RosterRowOut]


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


class ExportOut(BaseModel):
    """The audited export's record; the file is downloaded by its id."""

    export_id: str
    format: str
    sha256: str
    rows: int
    total: str


class CorrectionOut(BaseModel):
    key: str
    case_id: str
    previous: str
    amount: str
    reason: str
    actor: Actor


class RosterChangeOut(BaseModel):
    """One difference from last month's roster, with the decisions that caused it."""

    key: str
    case_id: str
    urban: bool
    change: str  # new | changed | ended | payment | arrears | recovery
    previous: str
    amount: str
    causes: list[dict[str, Any]]  # the upstream events (id, type, position, by…)


class KindChangesOut(BaseModel):
    kind: str
    roster: str | None  # None: no roster of this kind yet (the rest then absent)
    status: str | None = None
    rows: int | None = None
    total: str | None = None
    changes: list[RosterChangeOut] | None = None
    corrections: list[CorrectionOut] | None = None


class MonthChangesOut(BaseModel):
    township: str
    month: str
    previous_month: str
    kinds: list[KindChangesOut]


# --- recoveries and return codes -----------------------------------------------------------


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


# --- statistics, seals, the fund plan ------------------------------------------------------


class SealedDocumentOut(BaseModel):
    document_kind: str  # statistics_xlsx | statistics_pdf | fund_plan_json
    name: str
    media_type: str
    sha256: str
    signature: str
    key_id: str
    public_key: str
    algorithm: str = "ed25519"  # absent on documents sealed before SM2


class StatLineOut(BaseModel):
    households: int
    persons: int
    amount: str  # on the roster
    new: int
    ended: int
    paid: str  # what the bank paid: the amount less what is carried forward (补发)
    carried_forward: str
    # Absent from statistics sealed before the ledger's accounting (read them as 0.00).
    failed: str | None = None  # failed at the bank, however resolved
    arrears: str | None = None  # of the amount: rows paying earlier months (补发)
    recovered: str | None = None  # 追回 since the township's last statistics


class KindLineOut(StatLineOut):
    kind: str
    urban: bool


class FiguresOut(BaseModel):
    lines: list[KindLineOut]
    total: StatLineOut
    # The last recovered sum (its store position) these figures count.
    recovered_through: int | None = None


class StatisticsRosterOut(BaseModel):
    kind: str
    roster_id: str
    rows: int
    digest: str | None
    status: str


class StatisticsOut(BaseModel):
    statistics_id: str
    township: str
    month: str
    status: str  # sealed | filed
    figures: FiguresOut
    rosters: list[StatisticsRosterOut]
    documents: list[SealedDocumentOut]
    filed_on: str | None
    late: bool


class VerifyOut(BaseModel):
    """Whether a file is exactly a sealed document; an unknown file has only the first
    three fields."""

    valid: bool
    sha256: str
    reason: str | None
    document_kind: str | None = None
    name: str | None = None
    sealed_by: str | None = None
    month: str | None = None
    sealed_at: str | None = None
    key_id: str | None = None
    algorithm: str | None = None
    signer: str | None = None
    key_is_current: bool | None = None
    code: str | None = None


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


class PlanKindOut(BaseModel):
    kind: str
    rows: int
    households: int
    amount: str  # payable: paid, less recovered and held-back rows
    held_back_rows: int
    held_back_amount: str
    # Absent from plans compiled before the ledger's accounting.
    paid: str | None = None  # what the bank paid, arrears rows included
    arrears: str | None = None
    recovered: str | None = None  # 追回: comes back to the fund, so less is drawn


class PlanDocumentRefOut(BaseModel):
    document_kind: str
    sha256: str
    signature: str
    key_id: str
    public_key: str
    algorithm: str


class PlanTownshipOut(BaseModel):
    township: str
    flagged: bool  # rows held back for an unresolved spot-check error
    late: bool
    kinds: list[PlanKindOut]
    total: str
    rows: int
    statistics_documents: list[PlanDocumentRefOut]


class HeldBackOut(BaseModel):
    township: str
    kind: str
    key: str
    case_id: str
    amount: str
    spot_check_id: str
    finding: str | None


class SubsidyProjectOut(BaseModel):
    kind: str
    code: str
    short_name: str
    document: str
    document_number: str
    department: str
    level: str


class SubsidyProjectsOut(BaseModel):
    version: int
    effective_from: str
    projects: list[SubsidyProjectOut]


class PlanFiguresOut(BaseModel):
    townships: list[PlanTownshipOut]
    missing_townships: list[str]
    held_back: list[HeldBackOut]
    totals: dict[str, str]
    total: str
    rows: int
    subsidy_projects: SubsidyProjectsOut | None = None  # absent on plans before 一卡通


class FundPlanDocumentOut(PlanFiguresOut):
    """The issued plan as the one canonical JSON document its hash and seal cover."""

    document: str  # 资金发放计划
    region: str
    month: str


class AcknowledgementOut(BaseModel):
    receipt_reference: str
    note: str | None
    actor: Actor


class FundPlanOut(BaseModel):
    plan_id: str
    region: str
    month: str
    status: str  # compiled | issued | acknowledged
    plan: PlanFiguresOut
    document: SealedDocumentOut | None
    acknowledgement: AcknowledgementOut | None


class HouseholdListOut(BaseModel):
    sha256: str
    rows: int
    total: str
    projects_version: int


# --- answers from the aggregates (plain JSON, so an idempotent replay is the same bytes) --


def roster_json(r: MonthlyRoster) -> dict[str, Any]:
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


def holds_json(r: MonthlyRoster) -> dict[str, Any]:
    return {"roster_id": str(r.id), "status": r.status.value, "open": len(r.open_holds),
            "items": sorted(r.holds.values(), key=lambda h: (h["village"], h["key"]))}


def recovery_json(e: Any) -> dict[str, Any]:
    return {"key": str(e.key), "amount": str(e.steps[0].amount),
            "outstanding": str(e.recovery_outstanding)}


def statistics_json(s: MonthlyStatistics) -> dict[str, Any]:
    return {"statistics_id": str(s.id), "township": s.township, "month": s.month,
            "status": s.status.value, "figures": s.figures, "rosters": s.rosters,
            "documents": s.documents,
            "filed_on": s.filed_on.isoformat() if s.filed_on else None, "late": s.late}


def plan_json(p: FundPlan) -> dict[str, Any]:
    return {"plan_id": str(p.id), "region": p.region, "month": p.month,
            "status": p.status.value, "plan": p.plan,
            "document": p.document.to_wire() if p.document else None,
            "acknowledgement": p.acknowledgement}
