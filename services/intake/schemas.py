"""Intake's request and response shapes, and how an application becomes its response."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain import Application, Status
from shared.auth import Principal, Role
from shared.contracts.common import AssistanceKind, LinshiType
from shared.contracts.intake import AssetKind, IncomeKind, WorkCapacity
from shared.pii import mask_bank_account, mask_phone, mask_resident_id

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


# --- responses ------------------------------------------------------------------------------
# Money leaves as a decimal string (JSON floats would round it); an absent optional key
# stays absent (routes answer with response_model_exclude_unset).
Amount = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", examples=["1860.00"])]


class IncomeOut(BaseModel):
    kind: IncomeKind
    amount: Amount
    months: int


class DisabilityOut(BaseModel):
    kind: str
    grade: int


class MemberOut(BaseModel):
    """A household member; the ID number and phone masked unless the view is unmasked."""

    name: str
    resident_id: str
    relation: Relation
    birth_date: date
    work_capacity: WorkCapacity
    disability: DisabilityOut | None = None
    serious_illness: bool = False
    student: bool = False
    phone: str | None = None
    authorization_signed: bool = False
    incomes: list[IncomeOut] = []


class SupporterOut(BaseModel):
    name: str
    resident_id: str
    relation: Relation
    authorization_signed: bool


class AssetOut(BaseModel):
    kind: AssetKind
    value: Amount
    exempt: bool
    description: str | None


class BankAccountOut(BaseModel):
    bank: str
    holder_name: str
    account: str  # masked unless unmasked


class EntrustmentOut(BaseModel):
    agent_name: str
    agent_relation: str
    entrusted_on: date


class CloseRelativeOut(BaseModel):
    member_name: str
    official_name: str
    official_post: Literal["township_staff", "village_committee"]
    relationship: str


class ReturnRecord(BaseModel):
    """One return for completion (一次性告知): everything missing at once, and why."""

    missing: list[MissingItemOut]
    note: str | None
    returned_on: date
    round: int


class MemberLeftOut(BaseModel):
    reason: str  # the person is not named: they left the household


class ChangedIncomeOut(BaseModel):
    kind: IncomeKind
    amount: Amount
    months: int


class ReportedChange(BaseModel):
    change_id: UUID
    reported_on: date
    subject: Literal["members", "income", "assets"]
    description: str
    occurred_on: date
    members_joined: list[MemberOut]
    members_left: list[MemberLeftOut]
    incomes: list[ChangedIncomeOut]
    assets: list[AssetOut]
    already_members: list[str] | None = None  # the township's flags; never to the public


class ApplicationView(BaseModel):
    """One application in full, as filed and as it stands."""

    application_id: UUID
    version: int
    kind: AssistanceKind
    linshi_type: LinshiType | None
    township: str
    village: str
    urban: bool
    status: Status
    round: int
    filed_by: str
    filed_on: date
    accepted_on: date | None
    household_id: str
    policy_version: int
    unmasked: bool
    close_relative_declared: bool
    close_relatives: list[CloseRelativeOut]
    entrustment: EntrustmentOut | None
    single_person: bool
    residence_basis: Literal["hukou", "residence_permit"] | None
    members: list[MemberOut]  # as filed
    household: list[MemberOut]  # as it stands after reported changes
    legal_supporters: list[SupporterOut]
    assets: list[AssetOut]
    bank_account: BankAccountOut | None
    materials: list[str]
    returns: list[ReturnRecord]
    outstanding: list[MissingItemOut]  # materials that may follow acceptance (急难型)
    closing_reason: str | None
    case_id: UUID | None
    decided_on: date | None
    decision_reasons: list[str]
    changes: list[ReportedChange]
    already_members: list[str] | None = None  # the township's flags; never to the public


class MissingOut(BaseModel):
    application_id: UUID
    missing: list[MissingItemOut]


class DisclosureOut(BaseModel):
    """One unmasked view: who saw which kinds of value, when and why."""

    disclosure_id: UUID
    application_id: UUID
    township: str
    viewer_user_id: str
    viewer_role: str
    fields: str = Field(examples=["members.resident_id,bank_account.account"])
    reason: str
    viewed_at: datetime


class DisclosuresOut(BaseModel):
    application_id: UUID
    items: list[DisclosureOut]


class ApplicationRow(BaseModel):
    """One line of the clerk's list."""

    application_id: UUID
    kind: AssistanceKind
    linshi_type: LinshiType | None
    township: str
    village: str
    status: Status
    applicant_name: str
    household_size: int
    household_id: str
    filed_by: str
    close_relative_declared: bool
    filed_on: date
    submitted_at: datetime
    round: int
    accepted_on: date | None
    case_id: UUID | None


class ApplicationPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ApplicationRow]


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
        "members": [person(m.to_stored()) for m in a.members],
        "household": [person(m.to_stored()) for m in a.household],
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


