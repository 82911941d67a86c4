"""Intake's published integration events (the contract review and others consume).

Money is Decimal (a string in JSON). Resident IDs and bank accounts travel sealed, with a
keyed fingerprint for de-duplication; a consumer without the key sees only the mask.
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
from shared.pii import Sealed


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


@contract
class ApplicationAccepted(IntegrationEvent):
    """The case as filed, at acceptance: opens the review case."""

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
