"""Archive's HTTP shapes: what a request may hold, and the named answers of every
operation (each serializes exactly as the plain data the application returns)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Self

from fastapi import Path, Query
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from services.archive.domain import DocumentKind
from services.archive.supervision import MonthlyFiling

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
HouseholdId = Path(pattern=ID_PATTERN)
CaseId = Path(pattern=ID_PATTERN)
Township = Query(None, pattern=r"^\d{9}$")
# Stream positions are 64-bit in the stores: a larger one is a 422, never an overflow.
MAX_POSITION = 2**63 - 1
MONTH_PATTERN = r"^[1-9]\d{3}-(0[1-9]|1[0-2])$"
TownshipPath = Path(pattern=r"^\d{9}$")
MonthPath = Path(pattern=MONTH_PATTERN)


# --- requests -------------------------------------------------------------------------------

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


# --- answers: the household file and custody ------------------------------------------------

class _Out(BaseModel):
    # Forbid: a key the model does not name fails loudly in tests, never vanishes.
    model_config = ConfigDict(extra="forbid")


class DocumentFiledOut(_Out):
    household_id: str
    case_id: str
    sha256: str
    size: int
    media_type: str
    document_kind: DocumentKind


class FiledDocument(_Out):
    position: int
    household_id: str
    case_id: str
    document_kind: str
    sha256: str
    size: int
    media_type: str
    stage: str | None
    filed_at: datetime
    filed_by: str | None
    filed_by_role: str | None


class CustodyEntry(_Out):
    position: int
    household_id: str
    copy_: str = Field(alias="copy")  # `copy` would shadow BaseModel.copy
    action: str
    case_id: str | None
    document_kinds: str | None  # JSON list, as recorded
    location: str | None
    borrower: str | None
    reason: str | None
    at: datetime
    by: str | None
    by_role: str | None


class CaseCompleteness(_Out):
    case_id: str
    kind: str | None
    stage: str | None
    complete: bool
    missing: dict[str, list[str]]  # per stage reached, the document kinds lacking


class PaperCopyView(_Out):
    location: str | None
    checked_out_to: str | None
    items: dict[str, list[str]]  # per case, the document kinds in this copy


class Inconsistency(_Out):
    case_id: str
    copy_: str = Field(alias="copy")
    paper_only: list[str]
    scanned_only: list[str]


class HouseholdFileView(_Out):
    household_id: str
    township: str
    version: int
    documents: list[FiledDocument]
    custody: list[CustodyEntry]
    completeness: list[CaseCompleteness]
    paper_copies: dict[str, PaperCopyView]
    consistency: list[Inconsistency]


class Completeness(_Out):
    case_id: str
    kind: str | None
    stage: str | None
    household_id: str | None
    complete: bool
    missing: dict[str, list[str]]
    filed: list[str]


class FileVersion(_Out):
    household_id: str
    version: int


# --- answers: the audit console -------------------------------------------------------------

class TimelineEntry(_Out):
    at: datetime
    source: str
    type: str
    position: int
    event_id: str
    aggregate_id: str
    aggregate_version: int
    case_id: str | None
    household_id: str | None
    township: str | None
    who: str | None
    role: str | None
    event: str | None
    label: str | None
    by: dict[str, Any] | None
    when: datetime | None
    changes: list[dict[str, Any]]
    why: str | None
    data: dict[str, Any]
    hash: str
    chain_status: str | None = None  # absent when the copy's status is not known

    @model_serializer(mode="wrap")
    def _omit_unknown_status(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        body: dict[str, Any] = handler(self)
        if body.get("chain_status", 0) is None:
            del body["chain_status"]
        return body


class CaseTimeline(_Out):
    case_id: str
    events: list[TimelineEntry]


class HouseholdTimeline(_Out):
    household_id: str
    events: list[TimelineEntry]


class ReplayedCase(_Out):
    """A case as the consolidated timeline tells it (domain.CaseState)."""

    case_ids: list[str]
    application_id: str | None
    kind: str | None
    township: str | None
    village: str | None
    household_id: str | None
    status: str | None
    stage: str | None
    close_relative_declared: bool
    accepted_on: date | None
    investigation_due: date | None
    decision_due: date | None
    investigated_on: date | None
    decided_on: date | None
    decision: str | None
    opinion_round: int | None
    opinion_approve: bool | None
    monthly_amount: str | None
    advance_assistance: bool
    documents: list[str]
    events: int
    last_event: dict[str, Any] | None


class CaseStateAt(_Out):
    as_of: datetime | None
    replayed_events: int
    state: ReplayedCase


class AggregateStateAt(_Out):
    source: str
    aggregate_id: str
    as_of: datetime | None
    version: int
    state: dict[str, Any]  # the owning service's plain values at that version


class SourceVerification(_Out):
    checked: int
    first_broken: dict[str, Any] | None
    missing: list[dict[str, Any]] = []


class SourceCompleteness(_Out):
    checkpoints: int
    covered_position: int
    missing: list[dict[str, Any]]


class ChainVerification(_Out):
    ok: bool
    checked: int
    sources: dict[str, SourceVerification]
    first_broken: dict[str, Any] | None
    completeness: dict[str, SourceCompleteness]


class SensitiveAccessEntry(TimelineEntry):
    fields: Any  # what was read, as the reading service recorded it
    case_ids: Any


class SensitiveAccess(_Out):
    township: str | None
    limit: int
    offset: int
    items: list[SensitiveAccessEntry]


class CaseSummary(_Out):
    case_id: str
    case_ids: list[str]
    township: str | None
    village: str | None
    kind: str | None
    status: str | None
    accepted_on: date | None
    investigation_due: date | None
    investigated_on: date | None
    decision_due: date | None
    decided_on: date | None
    decision: str | None
    advance_assistance: bool


class TownshipConflicts(_Out):
    count: int
    cases: list[CaseSummary]


class ConflictsOfInterest(_Out):
    total: int
    townships: dict[str, TownshipConflicts]


class IrregularCase(CaseSummary):
    findings: list[str]


class TownshipIrregularities(_Out):
    count: int
    cases: list[IrregularCase]


class IrregularDecisions(_Out):
    total: int
    townships: dict[str, TownshipIrregularities]
    as_of: date


class Alarm(_Out):
    alarm_id: str
    upstream: str
    aggregate_id: str
    aggregate_version: int
    position: int
    event_id: str
    type: str
    reason: str
    expected_prev_hash: str
    found_prev_hash: str
    stated_hash: str
    computed_hash: str
    case_id: str | None
    township: str | None
    raised_at: datetime
    resolution: str | None
    resolved_by: str | None
    resolved_reason: str | None


class Alarms(_Out):
    items: list[Alarm]


class AlarmResolved(_Out):
    alarm_id: str
    resolution: str | None


# --- answers: county supervision ------------------------------------------------------------

class FilingSummary(_Out):
    filing_id: str
    township: str
    month: str
    status: str
    version: int
    due_on: date

    @classmethod
    def of(cls, f: MonthlyFiling, **extra: Any) -> Self:
        return cls(filing_id=str(f.id), township=f.township, month=f.month,
                   status=f.status.value, version=f.version, due_on=f.due_on, **extra)


class FilingCompiled(FilingSummary):
    totals: dict[str, int]
    basis: dict[str, Any]


class FilingSubmitted(FilingSummary):
    late: bool | None
    submitted_on: str
    seal: dict[str, Any] | None


class FilingReceived(FilingSummary):
    received_on: str


class FilingQueried(FilingSummary):
    query_id: str


class FilingRow(_Out):
    filing_id: str
    township: str
    month: str
    status: str
    version: int
    due_on: date
    compiled_at: datetime
    compiled_by: str | None
    totals: dict[str, int]
    basis_sha256: str
    submitted_on: date | None
    submitted_by: str | None
    late: bool | None
    document_sha256: str | None
    received_on: date | None
    received_by: str | None
    open_queries: int
    township_name: str
    overdue: bool


class FilingExpected(_Out):
    township: str
    township_name: str
    month: str
    due_on: date
    status: str
    overdue: bool


class FilingRegister(_Out):
    items: list[FilingRow]
    not_compiled: list[FilingExpected]


class FilingView(_Out):
    filing_id: str
    township: str
    township_name: str
    month: str
    status: str
    version: int
    due_on: date
    due_provisional: bool
    late: bool
    overdue: bool
    basis: dict[str, Any]
    activity: dict[str, Any]
    submission: dict[str, Any] | None
    received_on: date | None
    queries: list[dict[str, Any]]


class Statistics(_Out):
    township: str | None
    kind: str | None
    as_of: date | None
    figures: list[str]
    series: list[dict[str, Any]]  # per month, every figure


class SupervisionAlertRow(_Out):
    alert_id: str
    kind: str
    subject: str
    township: str | None
    month: str | None
    case_id: str | None
    detail: dict[str, Any]
    raised_at: datetime
    raised_by: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    reason: str | None


class SupervisionAlerts(_Out):
    kind: str | None
    total: int
    items: list[SupervisionAlertRow]


class RaisedAlert(_Out):
    alert_id: str
    kind: str
    township: str | None
    month: str | None
    case_id: str | None


class AlertsRaised(_Out):
    raised: list[RaisedAlert]


class AlertAcknowledged(_Out):
    alert_id: str
    kind: str
    acknowledged: bool
