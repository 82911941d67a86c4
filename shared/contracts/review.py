"""Review's published integration events: the decision and the benefit over time.

Consumers: publicity (opinions, terminations needing notice, entitlements for the
long-term roster), disbursement (entitlements, temporary payments, spot checks),
intake (case status), archive (everything; the investigation and joint-review facts feed
its supervision: decided without investigation, the county's own visit, an investigator
who voted).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.contracts.common import AssistanceKind
from shared.contracts.registry import IntegrationEvent, contract
from shared.fieldcrypt import EncryptedField


@contract
class CaseOpened(IntegrationEvent):
    SOURCE = "review"
    TYPE = "case_opened"
    case_id: UUID
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    accepted_on: date
    investigation_due: date
    decision_due: date
    deadlines_provisional: bool
    close_relative_declared: bool


class Investigator(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    user_id: str | None = None  # none for a contractor's staff known only by name
    name: str


@contract
class InvestigationAssigned(IntegrationEvent):
    """调查 assigned: the township's own team (at least the policy's minimum, 2) or a
    contractor (政府购买服务承接方), which then acts only on this case. Round 2… is the
    re-investigation after an upheld objection. Archive counts the investigation as started
    on `assigned_on` and knows who investigated (an investigator must not then vote)."""

    SOURCE = "review"
    TYPE = "investigation_assigned"
    case_id: UUID
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    round: int
    assigned_on: date
    investigators: list[Investigator] = []
    contractor: str | None = None  # the contractor organisation (its tokens' "org")


@contract
class HomeVisitRecorded(IntegrationEvent):
    """入户调查 on record: when, for which round, who visited, and whose visit it was. The
    county makes its own visit to a close-relative case (近亲属备案), so `visiting_body`
    says "county" when county staff recorded it. The findings on members, incomes and
    assets, the household members present and the notes are sensitive and never leave
    review; `document_ids` only name the forms and photos filed in archive."""

    SOURCE = "review"
    TYPE = "home_visit_recorded"
    case_id: UUID
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    round: int
    visited_on: date
    investigators: list[str]  # names, as the visit form is signed
    visiting_body: Literal["township", "county"]
    contractor: str | None = None
    document_ids: list[str] = []


class JointReviewMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    user_id: str
    name: str
    role: str  # leader | deputy | discipline | member (review's JOINT_REVIEW_ROLES)
    present: bool
    recused: bool = False
    recusal_reason: str | None = None
    related_to_household: bool = False
    opinion: str | None = None  # approve | reject; none for a member absent or recused


@contract
class JointReviewHeld(IntegrationEvent):
    """联审联批: the meeting of the township's review-and-confirmation group (审核确认小组):
    who sat, who recused and why, each member's opinion, and the outcome."""

    SOURCE = "review"
    TYPE = "joint_review_held"
    case_id: UUID
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    round: int
    held_on: date
    members: list[JointReviewMember]
    outcome: Literal["approve", "reject"]


@contract
class OpinionIssued(IntegrationEvent):
    """初审意见 of the joint review; publicity opens a 7-day notice when required."""

    SOURCE = "review"
    TYPE = "opinion_issued"
    case_id: UUID
    application_id: UUID
    household_id: str | None = None
    kind: AssistanceKind
    township: str
    village: str
    round: int  # 1, then 2… after an upheld objection and re-investigation
    approve: bool
    monthly_amount: Decimal | None = None  # one-off amount for 临时救助
    reasons: list[str] = []
    applicant_name: str  # publicity masks it under the display rule
    household_size: int
    publicity_required: bool = True  # False for 急难型 先行救助
    close_relative_declared: bool = False
    policy_version: int | None = None  # the policy table version the amount was computed by


@contract
class CaseConfirmed(IntegrationEvent):
    SOURCE = "review"
    TYPE = "case_confirmed"
    case_id: UUID
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    decided_on: date
    monthly_amount: Decimal | None = None
    entitlement_id: UUID | None = None  # none for 临时救助 and 低保边缘 recognition
    valid_until: date | None = None  # 低保边缘 recognition: reviewed after this day
    start_month: str | None = None  # "YYYY-MM": benefits from the first day of this month
    advance: bool = False  # 急难型 先行救助: decided before the record was complete


@contract
class CaseRejected(IntegrationEvent):
    SOURCE = "review"
    TYPE = "case_rejected"
    case_id: UUID
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    decided_on: date
    reasons: list[str]


class PayeeRefV1(BaseModel):
    """The payee as v1 of entitlement_started and temporary_payment_approved carries it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    bank: str
    account: EncryptedField


class PayeeRef(PayeeRefV1):
    # 身份证号(脱敏) of the account holder, for the bank roster: masked by review, which can
    # unseal the ID, so the clear ID never travels. None: published before v2, or the
    # holder is not a member of the household.
    resident_id_mask: str | None = None


@contract
class EntitlementStartedV1(IntegrationEvent):
    """v1: the payee without its masked ID. Stored envelopes still parse, as v2."""

    SOURCE = "review"
    TYPE = "entitlement_started"
    entitlement_id: UUID
    case_id: UUID
    household_id: str | None = None
    kind: AssistanceKind
    township: str
    village: str
    urban: bool
    applicant_name: str
    household_size: int
    monthly_amount: Decimal
    breakdown: dict[str, Any]
    start_month: str  # "YYYY-MM": the month after the decision
    policy_version: int
    payee: PayeeRefV1 | None = None
    recheck_due: date | None = None
    valid_until: date | None = None  # 低保边缘 recognition validity
    # The business date of the decision (China's calendar), which the roster month follows.
    # Optional: envelopes published before it carry none (see `business_date`).
    decided_on: date | None = None

    def upcast(self) -> IntegrationEvent:
        return EntitlementStarted.model_validate(self.model_dump())


@contract
class EntitlementStarted(EntitlementStartedV1):
    """v2: v1, with the payee's masked resident ID (`PayeeRef.resident_id_mask`)."""

    VERSION = 2
    payee: PayeeRef | None = None

    def upcast(self) -> IntegrationEvent:
        return self


@contract
class EntitlementChanged(IntegrationEvent):
    SOURCE = "review"
    TYPE = "entitlement_changed"
    entitlement_id: UUID
    case_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    change: Literal["increase", "decrease", "suspend", "resume", "phase_out", "terminate"]
    monthly_amount: Decimal  # the amount from effective_month on (0 when stopped)
    household_size: int
    effective_month: str  # "YYYY-MM"
    reasons: list[str] = []
    until_month: str | None = None  # phase_out: the last month paid (渐退, at most 6 months)
    policy_version: int | None = None  # increase/decrease: the version it was recomputed by
    decided_on: date | None = None  # the decision's business date (a 特困 end: notice closed)
    # Optional (added for issue 18; older envelopes parse without them): why a backdated
    # end was decided, and for fraud the fine review imposed (S1 Art. 68: 1 to 3 times
    # the amount obtained) with its reason. Disbursement records the money.
    cause: Literal["death", "fraud"] | None = None
    fine_multiple: Decimal | None = None
    fine_reason: str | None = None


@contract
class PayeeChanged(IntegrationEvent):
    """收款账户变更 on a live entitlement (e.g. after the bank returned the old account as
    closed or blocked): disbursement pays the new account from the next open roster on,
    the 补发 still owed included. The account travels sealed, the holder's ID masked."""

    SOURCE = "review"
    TYPE = "payee_changed"
    entitlement_id: UUID
    case_id: UUID
    household_id: str | None = None
    kind: AssistanceKind
    township: str
    village: str
    payee: PayeeRef
    reason: str
    changed_on: date


@contract
class VerificationReported(IntegrationEvent):
    """家庭经济状况核对 report of the county centre. Its content is sensitive: the JSON of the
    report (bank, tax, real estate, vehicles, social insurance, business registration,
    conclusion) travels sealed (purpose "review.verification_report")."""

    SOURCE = "review"
    TYPE = "verification_reported"
    case_id: UUID
    application_id: UUID
    township: str
    reported_on: date
    report: EncryptedField


@contract
class TerminationNoticeRequested(IntegrationEvent):
    """A 特困 termination goes through 7 days' publicity before it takes effect."""

    SOURCE = "review"
    TYPE = "termination_notice_requested"
    entitlement_id: UUID
    case_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    applicant_name: str
    household_size: int
    reasons: list[str]
    decided_on: date | None = None  # the termination decision's business date


@contract
class TemporaryPaymentApprovedV1(IntegrationEvent):
    """临时救助 payment (or one instalment of it), incl. 急难型 先行救助. v1: the payee
    without its masked ID; stored envelopes still parse, as v2."""

    SOURCE = "review"
    TYPE = "temporary_payment_approved"
    payment_id: UUID
    case_id: UUID
    household_id: str | None = None
    township: str
    village: str
    urban: bool
    applicant_name: str
    household_size: int
    amount: Decimal
    month: str  # "YYYY-MM" it is paid in
    instalment: int = 1
    instalments: int = 1
    advance: bool = False  # 先行救助
    payee: PayeeRefV1 | None = None
    decided_on: date | None = None  # the approval's business date (confirmation or 先行救助)

    def upcast(self) -> IntegrationEvent:
        return TemporaryPaymentApproved.model_validate(self.model_dump())


@contract
class TemporaryPaymentApproved(TemporaryPaymentApprovedV1):
    """v2: v1, with the payee's masked resident ID (`PayeeRef.resident_id_mask`)."""

    VERSION = 2
    payee: PayeeRef | None = None

    def upcast(self) -> IntegrationEvent:
        return self


class SpotCheckResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    case_id: UUID
    upheld: bool
    finding: str | None = None
    corrective_action: str | None = None
    resolved: bool = True


@contract
class SpotCheckCompleted(IntegrationEvent):
    SOURCE = "review"
    TYPE = "spot_check_completed"
    spot_check_id: UUID
    township: str
    month: str  # "YYYY-MM"
    results: list[SpotCheckResult]


@contract
class PolicyChanged(IntegrationEvent):
    SOURCE = "review"
    TYPE = "policy_changed"
    version: int
    effective_from: date
    table: dict[str, Any]
