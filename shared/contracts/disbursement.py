"""Disbursement's published integration events: the month's roster, its reconciliation,
the township's sealed statistics and the county's fund plan.

`fund_plan_issued` is the contract the county finance bureau (县财政局) consumes: totals per
township and kind, rows count, the plan document's hash and the seals (signatures) of the
county bureau and of every township filing it rests on. Money is Decimal (a string in JSON).
No bank account or name travels here: an export is reported by its hash only.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.contracts.common import AssistanceKind
from shared.contracts.registry import IntegrationEvent, contract


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Seal(_Part):
    """An electronic seal (电子印章, shared.seals): `sm2`, a GB/T 38540 SES_Signature (DER,
    base64, in `signature`); or `ed25519` (envelopes from before SM2), a signature over
    `lingshui-seal/v1|<owner>|<month>|<document_kind>|<sha256>`. Verify it against the
    county's seal trust list, never against `public_key`, which only names the key."""

    owner: str  # division code of the sealing township or county
    document_kind: str  # statistics_xlsx | statistics_pdf | fund_plan_json
    sha256: str
    signature: str  # base64
    key_id: str
    public_key: str  # base64: raw Ed25519, or SM2 SubjectPublicKeyInfo DER
    algorithm: Literal["sm2", "ed25519"] = "ed25519"


@contract
class RosterLocked(IntegrationEvent):
    SOURCE = "disbursement"
    TYPE = "roster_locked"
    roster_id: UUID
    township: str
    month: str  # "YYYY-MM"
    kind: AssistanceKind
    rows: int
    total: Decimal
    digest: str  # sha256 of the locked rows in canonical form
    locked_on: date | None = None  # business date; None in envelopes from before it was sent


@contract
class RosterCorrected(IntegrationEvent):
    SOURCE = "disbursement"
    TYPE = "roster_corrected"
    roster_id: UUID
    township: str
    month: str
    kind: AssistanceKind
    key: str  # entitlement or payment id of the row
    case_id: UUID
    previous: Decimal
    amount: Decimal  # 0 removes the payment
    reason: str
    digest: str


@contract
class RosterExported(IntegrationEvent):
    """Audited: bank accounts were unsealed into a file for the bank; who and which file."""

    SOURCE = "disbursement"
    TYPE = "roster_exported"
    roster_id: UUID
    export_id: UUID
    township: str
    month: str
    kind: AssistanceKind
    format: Literal["csv", "xlsx"]
    sha256: str
    rows: int
    total: Decimal


@contract
class RosterReconciled(IntegrationEvent):
    SOURCE = "disbursement"
    TYPE = "roster_reconciled"
    roster_id: UUID
    township: str
    month: str
    kind: AssistanceKind
    rows: int
    total: Decimal
    paid_total: Decimal
    bank_file_sha256: str
    discrepancies: int  # each with a recorded resolution
    late: bool  # the bank's file was imported after the reconciliation day
    reconciled_on: date | None = None  # business date; None in envelopes from before it


class StatisticsLine(_Part):
    kind: AssistanceKind
    urban: bool
    households: int
    persons: int
    amount: Decimal  # on the roster
    new: int
    ended: int
    paid: Decimal | None = None  # what the bank paid (None: sealed before it was stated)
    carried_forward: Decimal | None = None  # failed, owed on the next roster (补发)
    failed: Decimal | None = None  # failed at the bank, however resolved
    arrears: Decimal | None = None  # of the amount: rows paying earlier months (补发)
    recovered: Decimal | None = None  # 追回 since the township's last statistics


class StatisticsTotal(_Part):
    households: int
    persons: int
    amount: Decimal
    new: int
    ended: int
    paid: Decimal | None = None
    carried_forward: Decimal | None = None
    failed: Decimal | None = None
    arrears: Decimal | None = None
    recovered: Decimal | None = None


@contract
class StatisticsSealed(IntegrationEvent):
    """《城乡低保、特困供养资金和临时救助发放统计表》 of a township and month, sealed."""

    SOURCE = "disbursement"
    TYPE = "statistics_sealed"
    statistics_id: UUID
    township: str
    month: str
    lines: list[StatisticsLine]
    total: StatisticsTotal
    seals: list[Seal]


@contract
class StatisticsFiled(IntegrationEvent):
    SOURCE = "disbursement"
    TYPE = "statistics_filed"
    statistics_id: UUID
    township: str
    month: str
    filed_on: date
    due_on: date
    late: bool


class PlanKindTotal(_Part):
    kind: AssistanceKind
    rows: int
    households: int
    amount: Decimal  # payable: paid, less recovered and held-back rows
    held_back_rows: int
    held_back_amount: Decimal
    paid: Decimal | None = None  # what the bank paid, arrears rows included (None: before)
    arrears: Decimal | None = None
    recovered: Decimal | None = None  # 追回: comes back to the fund, so less is drawn


class PlanTownship(_Part):
    township: str
    flagged: bool  # its spot check found errors that are not resolved
    late: bool  # its statistics were filed after the due day
    rows: int
    total: Decimal
    kinds: list[PlanKindTotal]
    seals: list[Seal]  # the township's sealed statistics this plan rests on


class HeldBackRow(_Part):
    township: str
    kind: AssistanceKind
    key: str
    case_id: UUID
    amount: Decimal
    spot_check_id: UUID
    finding: str | None = None


class SubsidyProject(_Part):
    """一卡通 project metadata (versioned policy data of disbursement)."""

    kind: AssistanceKind
    code: str  # 项目编码
    short_name: str  # 项目简称, at most 7 characters (the passbook memo)
    document: str  # 政策文件
    document_number: str  # 文号
    department: str  # 主管部门
    level: str  # 政策级次: central | provincial | municipal | county


class SubsidyProjects(_Part):
    version: int
    effective_from: date
    projects: list[SubsidyProject]


@contract
class FundPlanIssued(IntegrationEvent):
    """资金发放计划 to the finance bureau. Verify `seal` over `document_sha256` (the
    canonical JSON at GET /fund-plans/{month}/document) before paying."""

    SOURCE = "disbursement"
    TYPE = "fund_plan_issued"
    plan_id: UUID
    region: str
    month: str
    issued_on: date
    townships: list[PlanTownship]
    missing_townships: list[str]
    held_back: list[HeldBackRow]
    totals: dict[str, Decimal]  # per kind
    total: Decimal
    rows: int
    document_sha256: str
    seal: Seal  # the county bureau's
    reason: str | None = None  # why it was issued with townships missing
    issued_at: datetime | None = None
    # Optional (issue 18; plans issued before it have none): the subsidy projects in force.
    subsidy_projects: SubsidyProjects | None = None


@contract
class FundPlanAcknowledged(IntegrationEvent):
    SOURCE = "disbursement"
    TYPE = "fund_plan_acknowledged"
    plan_id: UUID
    region: str
    month: str
    document_sha256: str
    receipt_reference: str
    note: str | None = None
