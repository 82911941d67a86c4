"""Intake's published integration events (the contract review and others consume).

Money is Decimal (a string in JSON). Resident IDs and bank accounts travel sealed, with a
keyed fingerprint for de-duplication; a consumer without the key sees only the mask.
Since `application_accepted` v2 the household's names, birth dates, health and income
details travel as one sealed blob (`HouseholdDetails`, purpose "intake.household").
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.contracts.common import AssistanceKind, LinshiType
from shared.contracts.registry import IntegrationEvent, contract
from shared.pii import Keyring, Sealed


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WorkCapacity(StrEnum):
    FULL = "full"  # 有劳动能力
    PARTIAL = "partial"  # 部分丧失
    NONE = "none"  # 无劳动能力


class IncomeKind(StrEnum):
    WAGE = "wage"  # 工资性收入 (net of necessary work costs)
    BUSINESS = "business"  # 家庭经营净收入
    PROPERTY = "property"  # 财产净收入
    TRANSFER = "transfer"  # 转移净收入
    PENSION = "pension"  # pensions other than the basic residents' pension
    # Not counted (DOMAIN.md "Income not counted"):
    PREFERENTIAL_CARE = "preferential_care"  # 优待抚恤金
    FAMILY_PLANNING_AWARD = "family_planning_award"
    SCHOLARSHIP = "scholarship"
    HEROISM_AWARD = "heroism_award"  # 见义勇为
    SOCIAL_ASSISTANCE = "social_assistance"
    BASIC_RESIDENT_PENSION = "basic_resident_pension"  # 城乡居民基础养老金


EXCLUDED_INCOME = frozenset({
    IncomeKind.PREFERENTIAL_CARE, IncomeKind.FAMILY_PLANNING_AWARD, IncomeKind.SCHOLARSHIP,
    IncomeKind.HEROISM_AWARD, IncomeKind.SOCIAL_ASSISTANCE, IncomeKind.BASIC_RESIDENT_PENSION,
})


class AssetKind(StrEnum):
    DEPOSIT = "deposit"
    VEHICLE = "vehicle"
    HOUSING_BEYOND_FIRST = "housing_beyond_first"
    SECURITIES = "securities"
    INSURANCE = "insurance"


class Disability(_Part):
    kind: Literal["physical", "visual", "hearing", "speech", "intellectual", "mental",
                  "multiple"]
    grade: int  # 1 (most severe) … 4


class MemberRef(_Part):
    """A household member as other services see them."""

    name: str
    relation: str
    birth_date: date
    resident_id: Sealed
    fingerprint: str
    disability: Disability | None = None
    serious_illness: bool = False
    work_capacity: WorkCapacity = WorkCapacity.FULL
    student: bool = False
    phone: Sealed | None = None


class IncomeItem(_Part):
    member_fingerprint: str
    kind: IncomeKind
    amount: Decimal  # total over `months`
    months: int  # the period the amount covers (1 = monthly)


class AssetItem(_Part):
    kind: AssetKind
    value: Decimal
    exempt: bool = False  # needed to live or work


class BankAccountRef(_Part):
    bank: str
    holder_name: str
    account: Sealed


class SupporterRef(_Part):
    """A legal supporter (法定赡养、抚养、扶养义务人) named in a 特困 application."""

    name: str
    relation: str
    resident_id: Sealed
    fingerprint: str


class CloseRelativeRef(_Part):
    """A declared close relative among township staff or village-committee members
    (近亲属备案): the case is registered separately and the county visits it itself."""

    member_name: str
    official_name: str
    official_post: Literal["township_staff", "village_committee"]
    relationship: str


class EntrustmentRef(_Part):
    """委托: who filed on the household's behalf, and since when."""

    agent_name: str
    agent_relation: str
    entrusted_on: date


class MissingItem(_Part):
    """One item a returned application lacks (一次性告知: all of them at once)."""

    code: str  # a checklist code, "bank_account", "signature:…", or "clerk" for free text
    description: str


class MemberLeft(_Part):
    fingerprint: str
    reason: Literal["moved_out", "died", "imprisoned", "drug_rehabilitation", "missing",
                    "other"]


@contract
class ApplicationSubmitted(IntegrationEvent):
    SOURCE = "intake"
    TYPE = "application_submitted"
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    household_size: int
    close_relative_declared: bool
    household_id: str | None = None
    linshi_type: LinshiType | None = None
    filed_by: Literal["applicant", "village_committee", "entrusted_person"] | None = None
    filed_on: date | None = None


@contract
class ApplicationAcceptedV1(IntegrationEvent):
    """The case as filed, at acceptance, all in clear: no longer published, still parsed
    (stored envelopes); v2 seals the personal parts (`ApplicationAccepted.opened`)."""

    SOURCE = "intake"
    TYPE = "application_accepted"
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    accepted_on: date
    applicant_name: str
    members: list[MemberRef]
    close_relative_declared: bool
    household_id: str | None = None  # stable across a household's applications
    linshi_type: LinshiType | None = None
    urban: bool | None = None  # from the village register: urban and rural standards differ
    incomes: list[IncomeItem] = []
    assets: list[AssetItem] = []
    bank_account: BankAccountRef | None = None
    single_person: bool = False  # 单人保 for a member of a 低保边缘 family
    # Added in intake #3 (optional, so older copies still parse):
    filed_on: date | None = None
    filed_by: Literal["applicant", "village_committee", "entrusted_person"] | None = None
    entrustment: EntrustmentRef | None = None
    legal_supporters: list[SupporterRef] = []  # 特困 only
    close_relatives: list[CloseRelativeRef] = []
    residence_basis: Literal["hukou", "residence_permit"] | None = None  # 临时救助 only
    materials: list[str] = []  # checklist codes provided
    materials_outstanding: list[MissingItem] = []  # 急难型: may follow after acceptance
    policy_version: int | None = None  # the intake checklist version the filing met


HOUSEHOLD_PURPOSE = "intake.household"
MEMBER_ID_PURPOSE = "member.resident_id"  # a member's sealed resident ID (MemberRef)


class HouseholdDetails(_Part):
    """What `application_accepted` v2 seals as one JSON blob: the people, their health and
    their money. IDs, phones and the account stay sealed inside it as in v1."""

    applicant_name: str
    members: list[MemberRef]
    incomes: list[IncomeItem] = []
    assets: list[AssetItem] = []
    bank_account: BankAccountRef | None = None
    entrustment: EntrustmentRef | None = None
    legal_supporters: list[SupporterRef] = []
    close_relatives: list[CloseRelativeRef] = []


@contract
class ApplicationAccepted(IntegrationEvent):
    """The case as filed, at acceptance: opens the review case. Only what routing and
    supervision need is in clear; `household` is `HouseholdDetails` sealed under
    HOUSEHOLD_PURPOSE (its mask is the applicant's masked name)."""

    SOURCE = "intake"
    TYPE = "application_accepted"
    VERSION = 2
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    accepted_on: date
    household_size: int
    household: Sealed
    close_relative_declared: bool
    household_id: str | None = None
    linshi_type: LinshiType | None = None
    urban: bool | None = None
    single_person: bool = False
    filed_on: date | None = None
    filed_by: Literal["applicant", "village_committee", "entrusted_person"] | None = None
    residence_basis: Literal["hukou", "residence_permit"] | None = None
    materials: list[str] = []
    materials_outstanding: list[MissingItem] = []
    policy_version: int | None = None

    @classmethod
    def sealing(cls, details: HouseholdDetails, keyring: Keyring, mask: str, nonce_context: str,
                **clear: object) -> ApplicationAccepted:
        blob = keyring.seal(details.model_dump_json(), mask, HOUSEHOLD_PURPOSE,
                            nonce_context=nonce_context)
        return cls.model_validate({**clear, "household": blob,
                                   "household_size": len(details.members)})

    def details(self, keyring: Keyring) -> HouseholdDetails:
        """Raises shared.pii.SealError without the key (or if the blob was tampered)."""
        return HouseholdDetails.model_validate_json(
            keyring.unseal(self.household, HOUSEHOLD_PURPOSE))

    def opened(self, keyring: Keyring) -> ApplicationAcceptedV1:
        """The v1 shape, unsealed: what a consumer holding the key works with."""
        clear = self.model_dump(exclude={"household", "household_size"})
        return ApplicationAcceptedV1.model_validate(
            {**clear, **self.details(keyring).model_dump()})


@contract
class ApplicationReturned(IntegrationEvent):
    """退回补正: every missing item, told at once."""

    SOURCE = "intake"
    TYPE = "application_returned"
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    returned_on: date
    missing: list[MissingItem]
    note: str | None = None


@contract
class ApplicationResubmitted(IntegrationEvent):
    SOURCE = "intake"
    TYPE = "application_resubmitted"
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    resubmitted_on: date
    round: int  # 2 for the first resubmission
    household_size: int
    close_relative_declared: bool


@contract
class ApplicationDeclined(IntegrationEvent):
    """不予受理, with the reason given to the applicant."""

    SOURCE = "intake"
    TYPE = "application_declined"
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    declined_on: date
    reason: str


@contract
class ApplicationWithdrawn(IntegrationEvent):
    """The applicant withdrew. `was_accepted`: review holds an open case to close."""

    SOURCE = "intake"
    TYPE = "application_withdrawn"
    application_id: UUID
    kind: AssistanceKind
    township: str
    village: str
    withdrawn_on: date
    reason: str
    was_accepted: bool
    case_id: UUID | None = None


@contract
class ChangeReportedV1(IntegrationEvent):
    """A reported change all in clear: no longer published, still parsed (stored
    envelopes); v2 seals what changed (`ChangeReported.opened`)."""

    SOURCE = "intake"
    TYPE = "change_reported"
    change_id: UUID
    application_id: UUID
    case_id: UUID | None = None
    household_id: str | None = None
    kind: AssistanceKind
    township: str
    village: str
    reported_on: date
    occurred_on: date
    subject: Literal["members", "income", "assets"]
    description: str
    members_joined: list[MemberRef] = []
    members_left: list[MemberLeft] = []
    incomes: list[IncomeItem] = []  # the members' incomes from occurred_on
    assets: list[AssetItem] = []  # the household's assets from occurred_on
    # Fields of a public report naming someone already in another open application or
    # active case of the kind (intake answered as usual): the township decides.
    already_members: list[str] = []



CHANGE_PURPOSE = "intake.change"


class ChangeDetails(_Part):
    """What `change_reported` v2 seals: who joined or left and why, their health, the new
    incomes and assets, and the clerk's description."""

    description: str
    members_joined: list[MemberRef] = []
    members_left: list[MemberLeft] = []
    incomes: list[IncomeItem] = []
    assets: list[AssetItem] = []
    already_members: list[str] = []


@contract
class ChangeReported(IntegrationEvent):
    """A confirmed household reports a change (members, income or assets): review's
    dynamic management (动态管理) consumes it. `details` is `ChangeDetails` sealed under
    CHANGE_PURPOSE; lists in it hold only what changed."""

    SOURCE = "intake"
    TYPE = "change_reported"
    VERSION = 2
    change_id: UUID
    application_id: UUID
    case_id: UUID | None = None
    household_id: str | None = None
    kind: AssistanceKind
    township: str
    village: str
    reported_on: date
    occurred_on: date
    subject: Literal["members", "income", "assets"]
    details: Sealed

    @classmethod
    def sealing(cls, details: ChangeDetails, keyring: Keyring, nonce_context: str,
                **clear: object) -> ChangeReported:
        blob = keyring.seal(details.model_dump_json(), "", CHANGE_PURPOSE,
                            nonce_context=nonce_context)
        return cls.model_validate({**clear, "details": blob})

    def opened(self, keyring: Keyring) -> ChangeReportedV1:
        """The v1 shape, unsealed (shared.pii.SealError without the key)."""
        details = ChangeDetails.model_validate_json(keyring.unseal(self.details,
                                                                   CHANGE_PURPOSE))
        return ChangeReportedV1.model_validate(
            {**self.model_dump(exclude={"details"}), **details.model_dump()})


@contract
class SensitiveDataViewed(IntegrationEvent):
    """An unmasked view of an application's ID numbers, bank account or phones: who
    (the envelope's actor), what, when (occurred_at) and why, for the inspectors."""

    SOURCE = "intake"
    TYPE = "sensitive_data_viewed"
    disclosure_id: UUID
    application_id: UUID
    township: str
    village: str
    fields: list[str]
    reason: str
