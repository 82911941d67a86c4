"""The shapes of a filing as typed values: the Household (申请家庭) with its Members, their
Incomes, its Assets, and the rest of what the household gives.

Pure. Events keep the plain form (`to_stored()`, exactly what they always held: lists,
Decimals, dates, plain strings), so events written before these values existed load
unchanged (`of(stored)`); the aggregate keeps that form, these values cross its boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict

from shared.contracts.intake import AssetKind, IncomeKind, WorkCapacity


class _Value(BaseModel):
    # Enum members are kept as their plain values: the stored form is plain strings.
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=True)

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Self:
        return cls.model_validate(stored)

    def to_stored(self) -> dict[str, Any]:
        return self.model_dump()


class Income(_Value):
    """One income of a member: `amount` yuan over `months` (1 = monthly)."""

    kind: IncomeKind
    amount: Decimal
    months: int


class Disability(_Value):
    kind: str
    grade: int  # 1 is the most severe


class _Person(_Value):
    """Someone with an ID number (normalised by the filing rules) and, once the application
    layer adds it, its keyed hash `fingerprint`. The fields are the subclasses', in the
    order the stored form has them."""

    def to_stored(self) -> dict[str, Any]:
        # A fingerprint is stored last, and only once there is one (as it always was).
        return self.model_dump(exclude={"fingerprint"} if self.fingerprint is None else None)

    def fingerprinted(self, fingerprint: Callable[[str], str]) -> Self:
        return self.model_copy(update={"fingerprint": fingerprint(self.resident_id)})


class Member(_Person):
    """A member of the household (家庭成员)."""

    name: str
    resident_id: str
    relation: str  # "self" is the applicant
    birth_date: date
    work_capacity: WorkCapacity
    disability: Disability | None = None
    serious_illness: bool = False
    student: bool = False
    phone: str | None = None
    authorization_signed: bool = False  # the economic-verification authorization
    incomes: list[Income] = []
    fingerprint: str | None = None

    @property
    def is_applicant(self) -> bool:
        return self.relation == "self"


class Supporter(_Person):
    """A legal supporter of a 特困 applicant (法定赡养、抚养、扶养义务人)."""

    name: str
    resident_id: str
    relation: str
    authorization_signed: bool = False
    fingerprint: str | None = None


class Asset(_Value):
    kind: AssetKind
    value: Decimal
    exempt: bool = False  # needed to live or work
    description: str | None = None


class BankAccount(_Value):
    bank: str
    holder_name: str
    account: str


class Entrustment(_Value):
    """委托: who files on the household's behalf, and since when."""

    agent_name: str
    agent_relation: str
    entrusted_on: date


class CloseRelative(_Value):
    """A member's close relative among the officials who handle the case (近亲属备案)."""

    member_name: str
    official_name: str
    official_post: Literal["township_staff", "village_committee"]
    relationship: str


class MissingItem(_Value):
    """One thing a filing still lacks (一次性告知): a checklist item's code, "bank_account",
    "signature:<field>", or "clerk" for what the township adds."""

    code: str
    description: str


class Household(_Value):
    """The household as filed: what a filing (and a resubmission, in full) gives."""

    members: list[Member]
    assets: list[Asset] = []
    bank_account: BankAccount | None = None
    materials: list[str] = []
    legal_supporters: list[Supporter] = []
    close_relative_declared: bool = False
    close_relatives: list[CloseRelative] = []
    entrustment: Entrustment | None = None
    single_person: bool = False  # 单人保
    residence_basis: Literal["hukou", "residence_permit"] | None = None  # 临时救助 only

    def to_stored(self) -> dict[str, Any]:
        stored = self.model_dump()
        stored["members"] = [m.to_stored() for m in self.members]
        stored["legal_supporters"] = [s.to_stored() for s in self.legal_supporters]
        return stored

    @property
    def applicant(self) -> Member:
        return next(m for m in self.members if m.is_applicant)

    def fingerprinted(self, fingerprint: Callable[[str], str]) -> Household:
        """Every member and supporter with the keyed hash of their ID number."""
        return self.model_copy(update={
            "members": [m.fingerprinted(fingerprint) for m in self.members],
            "legal_supporters": [s.fingerprinted(fingerprint) for s in self.legal_supporters]})


class LeftMember(_Value):
    """A member who left the household: named by ID number as reported, then by its
    fingerprint (which the household is searched by)."""

    resident_id: str | None = None
    reason: Literal["moved_out", "died", "imprisoned", "drug_rehabilitation", "missing",
                    "other"]
    fingerprint: str | None = None

    def to_stored(self) -> dict[str, Any]:
        return self.model_dump(exclude={k for k in ("resident_id", "fingerprint")
                                        if getattr(self, k) is None})


class ChangedIncome(_Value):
    """A member's income as changed: reported by ID number, kept by fingerprint only."""

    kind: IncomeKind
    amount: Decimal
    months: int
    resident_id: str | None = None
    member_fingerprint: str | None = None

    def to_stored(self) -> dict[str, Any]:
        return self.model_dump(exclude={k for k in ("resident_id", "member_fingerprint")
                                        if getattr(self, k) is None})


class HouseholdChange(_Value):
    """动态管理: what a confirmed household reports changed in its members, income or
    assets."""

    subject: Literal["members", "income", "assets"]
    description: str
    occurred_on: date
    members_joined: list[Member] = []
    members_left: list[LeftMember] = []
    incomes: list[ChangedIncome] = []
    assets: list[Asset] = []

    def to_stored(self) -> dict[str, Any]:
        stored = self.model_dump()
        for group in ("members_joined", "members_left", "incomes"):
            stored[group] = [item.to_stored() for item in getattr(self, group)]
        return stored

    def fingerprinted(self, fingerprint: Callable[[str], str]) -> HouseholdChange:
        """People by keyed hash; an income keeps only its member's fingerprint."""
        def hashed(rid: str | None) -> str:
            if rid is None:
                raise ValueError("a reported person is named by ID number")
            return fingerprint(rid)
        return self.model_copy(update={
            "members_joined": [m.fingerprinted(fingerprint) for m in self.members_joined],
            "members_left": [m.model_copy(update={"fingerprint": hashed(m.resident_id)})
                             for m in self.members_left],
            "incomes": [i.model_copy(update={"member_fingerprint": hashed(i.resident_id),
                                             "resident_id": None}) for i in self.incomes]})
