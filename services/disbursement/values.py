"""The shapes that cross disbursement's domain, typed: what its functions return and its
aggregates take and keep. They are TypedDicts, plain dicts at run time, because each is
exactly what the events store (so the stored form is unchanged, old events load as they
are, and an answer is built from them without a conversion). `NotRequired` marks a key
that events written before it existed do not hold."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, NotRequired, TypedDict

from shared.contracts import StoredActor

# An account encrypted under the county's keyring (shared.fieldcrypt.EncryptedField:
# kid, nonce, ciphertext, mask).
SealedAccount = dict[str, Any]


# --- the ledger ------------------------------------------------------------------------------


class StepSource(TypedDict, total=False):
    """Where a ledger step came from: review's event (event_id, type, position,
    occurred_at, by), or a roster of this service for a 补发/追回 (type, roster_id,
    original_month, original_key, by)."""

    event_id: str
    type: str
    position: int
    occurred_at: str
    by: str | None
    roster_id: str
    original_month: str
    original_key: str


class StoredStep(TypedDict):
    seq: int
    month: str
    amount: str
    household_size: int
    change: str
    source: StepSource
    reasons: list[str]


class StoredPayee(TypedDict):
    name: str
    bank: str
    account_sealed: SealedAccount | None
    account_fp: str | None
    account_mask: str
    account_check: NotRequired[str | None]


# --- the roster ------------------------------------------------------------------------------


class Cause(StepSource, total=False):
    """A decision that caused a roster change: its source and what it decided."""

    change: str
    effective_month: str
    amount: str
    reasons: list[str]


class RosterChange(TypedDict):
    """One difference from last month's roster (Change: new, changed, ended, payment,
    arrears, recovery) with the decisions that caused it."""

    key: str
    case_id: str
    urban: bool
    change: str
    previous: str
    amount: str
    causes: list[Cause]


class HoldReason(TypedDict):
    code: str  # HOLD_REASONS
    text: NotRequired[str]  # added when the hold is made
    month: NotRequired[str]  # account_returned: the return's month, kind and ISO code
    kind: NotRequired[str]
    reason_code: NotRequired[str]
    reason_text: NotRequired[str]


class Hold(TypedDict):
    """A row the payability check holds, and the clerk's decision on it."""

    key: str
    case_id: str
    village: str
    name: str
    amount: str
    account_mask: str
    reasons: list[HoldReason]
    resolution: str | None  # HoldResolution
    reason: NotRequired[str]
    resolved_by: NotRequired[str | None]


class ReturnedAccount(TypedDict):
    """An account the bank returned (closed, blocked, wrong) in an earlier month."""

    month: str
    kind: str
    reason_code: str
    reason_text: str


class Discrepancy(TypedDict):
    """A difference between the locked roster and the bank's return file."""

    id: str
    kind: str  # DiscrepancyKind
    key: str | None
    case_id: str | None
    line: int | None
    account_mask: str
    roster_name: str | None
    bank_name: str | None
    roster_amount: str | None
    bank_amount: str | None
    reference: str | None
    # A failed line's reason as an ISO 20022 code, and the resolutions it allows.
    bank_code: NotRequired[str | None]
    reason_code: NotRequired[str]
    reason_text: NotRequired[str]
    account_status: NotRequired[str | None]
    codes_version: NotRequired[int]
    resolutions: NotRequired[list[str]]
    # Once imported, then resolved (Resolution) with its reason.
    resolution: NotRequired[str | None]
    reason: NotRequired[str]
    resolved_by: NotRequired[str | None]


class BankReturn(TypedDict):
    """The bank's return file a roster was reconciled against."""

    file_name: str
    sha256: str
    paid_total: Decimal
    imported_on: date
    late: bool


class RosterCorrection(TypedDict):
    key: str
    case_id: str
    previous: str
    amount: str
    reason: str
    actor: StoredActor


class ExportRecord(TypedDict):
    """The audited export: what was disclosed, by whom, the file's hash."""

    format: str
    layout: str  # bank_files.EXPORT_LAYOUTS; stored exports are "v1"
    sha256: str
    generated_at: datetime
    roster_version: int
    digest: str
    user_id: str | None


class RosterState(TypedDict):
    """What the statistics need to know of a roster: its status and row count."""

    status: str
    rows: int


class LedgerDetails(TypedDict, total=False):
    """What a ledger entry records besides its steps, by entry type: an entitlement's
    declared start; a 临时救助 payment's instalment and 先行救助; a 补发/追回's month and
    entry it corrects, its cause and a fraud's fine."""

    declared_start_month: str
    instalment: int
    instalments: int
    advance: bool
    declared_month: str
    original_month: str
    original_key: str
    roster_id: str
    cause_event_id: str
    change: str
    cause: str
    adjusted_late: str
    fine_multiple: str
    fine_amount: str
    fine_reason: str | None


# --- statistics, seals, the fund plan, spot checks, the rhythm --------------------------------


class FigureLine(TypedDict):
    """households, persons and money of one line of the 统计表 (the total has no kind)."""

    kind: NotRequired[str]
    urban: NotRequired[bool]
    households: int
    persons: int
    amount: str  # on the roster
    new: int
    ended: int
    paid: str  # the amount less what is carried forward (补发)
    carried_forward: str
    # Absent from statistics sealed before issue 18's accounting: read as 0.00.
    failed: NotRequired[str]  # failed at the bank, however resolved
    arrears: NotRequired[str]  # of the amount: rows paying earlier months (补发)
    recovered: NotRequired[str]  # 追回 since the township's last statistics


class Figures(TypedDict):
    lines: list[FigureLine]
    total: FigureLine
    # The last recovered sum (its store position) these figures count: the projection
    # marks those sums counted, so the next statistics start after them.
    recovered_through: NotRequired[int]


class StatisticsRoster(TypedDict):
    kind: str
    roster_id: str
    rows: int
    digest: str | None
    status: str


class StoredDocument(TypedDict):
    """A sealed document (domain.SealedDocument) as events keep it."""

    document_kind: str
    name: str
    media_type: str
    sha256: str
    signature: str
    key_id: str
    public_key: str
    algorithm: NotRequired[str]  # absent on documents sealed before SM2: ed25519


class DocumentRef(TypedDict):
    """A filed document as the fund plan names it: its hash and seal."""

    document_kind: str
    sha256: str
    signature: str
    key_id: str
    public_key: str
    algorithm: str


class Filing(TypedDict):
    """A township's filed statistics, as the fund plan counts them."""

    township: str
    figures: Figures
    rows: dict[str, int]  # by kind
    late: bool
    documents: list[DocumentRef]


class PlanKind(TypedDict):
    kind: str
    rows: int
    households: int
    amount: str  # payable: paid, less recovered and held-back rows
    held_back_rows: int
    held_back_amount: str
    paid: NotRequired[str]  # what the bank paid, arrears rows included
    arrears: NotRequired[str]
    recovered: NotRequired[str]


class PlanTownship(TypedDict):
    township: str
    flagged: bool
    late: bool
    kinds: list[PlanKind]
    total: str
    rows: int
    statistics_documents: list[DocumentRef]


class HeldBack(TypedDict):
    township: str
    kind: str
    key: str
    case_id: str
    amount: str
    spot_check_id: str
    finding: str | None


class PlanFigures(TypedDict):
    townships: list[PlanTownship]
    missing_townships: list[str]
    held_back: list[HeldBack]
    totals: dict[str, str]  # by kind
    total: str
    rows: int
    subsidy_projects: NotRequired[dict[str, Any]]  # finance_files.SubsidyProjects, 一卡通


class Acknowledgement(TypedDict):
    receipt_reference: str
    note: str | None
    actor: StoredActor


class SpotResult(TypedDict):
    """One case of review's spot check (shared.contracts.review.SpotCheckResult)."""

    case_id: str
    upheld: bool
    finding: str | None
    corrective_action: str | None
    resolved: bool


class RhythmEntry(TypedDict):
    policy_version: int
    effective_from: date
    cutoff_day: int
    reconcile_by_day: int
    file_by_day: int
