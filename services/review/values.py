"""The shapes that cross review's domain, as typed values: the household (its members,
incomes and assets), the investigators' findings, a reported change, the assessment and the
inputs of an opinion, the amount's breakdown and the opinion itself.

Pure, like the domain. Events keep storing plain data: every value reads the stored form
with `of()` and writes it with `to_stored()`, the same keys and value types the events
always held, so events written before these types existed load as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import Decimal
from typing import Any

# A stored value: what an event's attribute holds (plain dicts and lists, dates, Decimals).
Stored = dict[str, Any]


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


# ============================================================================================
# The household
# ============================================================================================


@dataclass(frozen=True)
class Member:
    """A household member as review knows them: the ID only masked and fingerprinted."""

    fingerprint: str
    name: str
    relation: str | None
    birth_date: date
    resident_id_mask: str | None = None
    disability_grade: int | None = None
    disability_kind: str | None = None
    serious_illness: bool = False
    work_capacity: str = "full"
    student: bool = False
    counted: bool = True  # False: found not to belong to the household, or left it
    finding: str | None = None  # the investigators' note; stored only when there is one

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Member:
        return cls(fingerprint=stored["fingerprint"], name=stored["name"],
                   relation=stored.get("relation"), birth_date=stored["birth_date"],
                   resident_id_mask=stored.get("resident_id_mask"),
                   disability_grade=stored.get("disability_grade"),
                   disability_kind=stored.get("disability_kind"),
                   serious_illness=bool(stored.get("serious_illness")),
                   work_capacity=stored.get("work_capacity", "full"),
                   student=bool(stored.get("student")),
                   counted=stored.get("counted", True), finding=stored.get("finding"))

    def to_stored(self) -> Stored:
        out: Stored = {
            "fingerprint": self.fingerprint, "name": self.name, "relation": self.relation,
            "birth_date": self.birth_date, "resident_id_mask": self.resident_id_mask,
            "disability_grade": self.disability_grade, "disability_kind": self.disability_kind,
            "serious_illness": self.serious_illness, "work_capacity": self.work_capacity,
            "student": self.student, "counted": self.counted}
        if self.finding:
            out["finding"] = self.finding
        return out


@dataclass(frozen=True)
class Income:
    """One member's income of one kind: `amount` in total over `months`."""

    member_fingerprint: str
    kind: str
    amount: Decimal
    months: int

    @property
    def monthly(self) -> Decimal:
        return self.amount / self.months

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Income:
        return cls(member_fingerprint=stored["member_fingerprint"], kind=stored["kind"],
                   amount=_decimal(stored["amount"]), months=int(stored["months"]))

    def to_stored(self) -> Stored:
        return {"member_fingerprint": self.member_fingerprint, "kind": self.kind,
                "amount": self.amount, "months": self.months}


@dataclass(frozen=True)
class Asset:
    kind: str
    value: Decimal
    exempt: bool = False

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Asset:
        return cls(kind=stored["kind"], value=_decimal(stored["value"]),
                   exempt=bool(stored.get("exempt", False)))

    def to_stored(self) -> Stored:
        return {"kind": self.kind, "value": self.value, "exempt": self.exempt}


@dataclass(frozen=True)
class Household:
    """The household an amount is computed from: as filed, then as the home visit found it."""

    urban: bool = False
    members: tuple[Member, ...] = ()
    incomes: tuple[Income, ...] = ()
    assets: tuple[Asset, ...] = ()
    irregular_income: bool = False

    @property
    def counted_members(self) -> list[Member]:
        return [m for m in self.members if m.counted]

    @property
    def applicant(self) -> Member | None:
        return next((m for m in self.counted_members if m.relation == "self"), None)

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> Household:
        if not stored:
            return cls()
        return cls(urban=bool(stored.get("urban")),
                   members=tuple(Member.of(m) for m in stored.get("members", [])),
                   incomes=tuple(Income.of(i) for i in stored.get("incomes", [])),
                   assets=tuple(Asset.of(a) for a in stored.get("assets", [])),
                   irregular_income=bool(stored.get("irregular_income")))

    def to_stored(self) -> Stored:
        return {"urban": self.urban, "members": [m.to_stored() for m in self.members],
                "incomes": [i.to_stored() for i in self.incomes],
                "assets": [a.to_stored() for a in self.assets],
                "irregular_income": self.irregular_income}


# ============================================================================================
# What changes a household: the investigators' findings, a change reported in intake
# ============================================================================================


@dataclass(frozen=True)
class MemberFinding:
    """What the home visit found about one member; None: as filed."""

    member_fingerprint: str
    counted: bool | None = None
    work_capacity: str | None = None
    serious_illness: bool | None = None
    disability_grade: int | None = None
    finding: str | None = None

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> MemberFinding:
        return cls(member_fingerprint=stored["member_fingerprint"],
                   counted=stored.get("counted"), work_capacity=stored.get("work_capacity"),
                   serious_illness=stored.get("serious_illness"),
                   disability_grade=stored.get("disability_grade"),
                   finding=stored.get("finding"))


@dataclass(frozen=True)
class Findings:
    """The home visit's (or an adjustment's) findings. Income and asset lists replace the
    filed ones when given; None means the filed figures were confirmed."""

    members: tuple[MemberFinding, ...] = ()
    incomes: tuple[Income, ...] | None = None
    assets: tuple[Asset, ...] | None = None
    irregular_income: bool | None = None

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> Findings:
        stored = stored or {}
        incomes, assets = stored.get("incomes"), stored.get("assets")
        return cls(members=tuple(MemberFinding.of(m) for m in stored.get("members") or []),
                   incomes=None if incomes is None else tuple(Income.of(i) for i in incomes),
                   assets=None if assets is None else tuple(Asset.of(a) for a in assets),
                   irregular_income=stored.get("irregular_income"))


@dataclass(frozen=True)
class MemberLeft:
    fingerprint: str
    reason: str

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> MemberLeft:
        return cls(fingerprint=stored["fingerprint"], reason=stored["reason"])

    def to_stored(self) -> Stored:
        return {"fingerprint": self.fingerprint, "reason": self.reason}


@dataclass(frozen=True)
class ReportedChange:
    """A change reported in intake, kept on the entitlement until an adjustment applies it."""

    change_id: str
    subject: str  # members | income | assets
    description: str
    occurred_on: date
    members_left: tuple[MemberLeft, ...] = ()
    members_joined: tuple[Member, ...] = ()
    incomes: tuple[Income, ...] = ()
    assets: tuple[Asset, ...] = ()
    already_members: tuple[str, ...] = ()  # stored only when there are any

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> ReportedChange:
        return cls(change_id=stored["change_id"], subject=stored["subject"],
                   description=stored["description"], occurred_on=stored["occurred_on"],
                   members_left=tuple(MemberLeft.of(m) for m in stored.get("members_left", [])),
                   members_joined=tuple(Member.of(m) for m in stored.get("members_joined", [])),
                   incomes=tuple(Income.of(i) for i in stored.get("incomes", [])),
                   assets=tuple(Asset.of(a) for a in stored.get("assets", [])),
                   already_members=tuple(stored.get("already_members", [])))

    def to_stored(self) -> Stored:
        out: Stored = {
            "change_id": self.change_id, "subject": self.subject,
            "description": self.description, "occurred_on": self.occurred_on,
            "members_left": [m.to_stored() for m in self.members_left],
            "members_joined": [m.to_stored() for m in self.members_joined],
            "incomes": [i.to_stored() for i in self.incomes],
            "assets": [a.to_stored() for a in self.assets]}
        if self.already_members:
            out["already_members"] = list(self.already_members)
        return out


# ============================================================================================
# The investigation: who investigates, the home visit, interviews, the centre's report,
# the joint review's members
# ============================================================================================


@dataclass(frozen=True)
class Investigator:
    name: str
    user_id: str | None = None  # None: not a user of the system (a village cadre)

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Investigator:
        return cls(name=stored["name"], user_id=stored.get("user_id"))

    def to_stored(self) -> Stored:
        return {"user_id": self.user_id, "name": self.name}


@dataclass(frozen=True)
class Document:
    """A document filed in archive for the case (the signed form, a photo, a letter)."""

    document_id: str
    kind: str
    description: str | None = None

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Document:
        return cls(document_id=stored["document_id"], kind=stored["kind"],
                   description=stored.get("description"))

    def to_stored(self) -> Stored:
        return {"document_id": self.document_id, "kind": self.kind,
                "description": self.description}


@dataclass(frozen=True)
class HomeVisit:
    """入户调查: who visited, who was present and signed the form, the documents."""

    visited_on: date
    investigators: tuple[str, ...]
    members_present: tuple[str, ...] = ()
    signed_by: tuple[str, ...] = ()
    documents: tuple[Document, ...] = ()
    notes: str = ""
    contractor: str | None = None  # the contractor organisation that visited, if any

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> HomeVisit:
        return cls(visited_on=stored["visited_on"],
                   investigators=tuple(stored["investigators"]),
                   members_present=tuple(stored.get("members_present", [])),
                   signed_by=tuple(stored.get("signed_by", [])),
                   documents=tuple(Document.of(d) for d in stored.get("documents", [])),
                   notes=stored.get("notes", ""), contractor=stored.get("contractor"))

    def to_stored(self) -> Stored:
        return {"visited_on": self.visited_on, "investigators": list(self.investigators),
                "members_present": list(self.members_present),
                "signed_by": list(self.signed_by),
                "documents": [d.to_stored() for d in self.documents], "notes": self.notes,
                "contractor": self.contractor}


@dataclass(frozen=True)
class Interview:
    """邻里访问 (a neighbour) or 信函索证 (a letter)."""

    method: str
    held_on: date
    with_whom: str
    summary: str

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Interview:
        return cls(method=stored["method"], held_on=stored["held_on"],
                   with_whom=stored["with_whom"], summary=stored["summary"])

    def to_stored(self) -> Stored:
        return {"method": self.method, "held_on": self.held_on, "with_whom": self.with_whom,
                "summary": self.summary}


@dataclass(frozen=True)
class VerificationReport:
    """家庭经济状况核对: the county centre's findings, source by source. Sensitive."""

    bank: str
    tax: str
    real_estate: str
    vehicles: str
    social_insurance: str
    business_registration: str
    conclusion: str

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> VerificationReport:
        return cls(**{f.name: stored[f.name] for f in fields(cls)})

    def to_stored(self) -> Stored:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class PanelMember:
    """A member of the joint review (联审联批), with their opinion when sitting."""

    user_id: str
    name: str
    role: str  # leader | deputy | discipline | member
    present: bool
    related_to_household: bool = False
    recused: bool = False
    recusal_reason: str | None = None
    opinion: str | None = None  # approve | reject

    @property
    def sits(self) -> bool:
        return self.present and not self.recused

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> PanelMember:
        return cls(user_id=stored["user_id"], name=stored["name"], role=stored["role"],
                   present=stored["present"],
                   related_to_household=bool(stored.get("related_to_household", False)),
                   recused=bool(stored.get("recused", False)),
                   recusal_reason=stored.get("recusal_reason"), opinion=stored.get("opinion"))

    def to_stored(self) -> Stored:
        return {"user_id": self.user_id, "name": self.name, "role": self.role,
                "present": self.present, "related_to_household": self.related_to_household,
                "recused": self.recused, "recusal_reason": self.recusal_reason,
                "opinion": self.opinion}


# ============================================================================================
# An opinion's assessment and inputs
# ============================================================================================


@dataclass(frozen=True)
class Assessment:
    """What the township assessed besides the household: 特困's self-care and care mode,
    临时救助's band and instalments. None: not assessed (not this kind, or not given)."""

    self_care: Mapping[str, bool] | None = None
    care_mode: str | None = None
    band: str | None = None
    instalments: int | None = None

    @classmethod
    def of(cls, given: Mapping[str, Any] | None) -> Assessment:
        given = given or {}
        return cls(self_care=given.get("self_care"), care_mode=given.get("care_mode"),
                   band=given.get("band"), instalments=given.get("instalments"))


@dataclass(frozen=True)
class TekunAssessment:
    self_care: Mapping[str, bool]  # the six activities, achieved or not
    care_mode: str | None


@dataclass(frozen=True)
class LinshiAssessment:
    band: str | None
    instalments: int
    linshi_type: str | None


@dataclass(frozen=True)
class OpinionInputs:
    """What an amount is computed from, recorded with it so it can be recomputed."""

    household: Household
    on: date
    tekun: TekunAssessment | None = None  # 特困 only
    linshi: LinshiAssessment | None = None  # 临时救助 only

    def on_day(self, on: date) -> OpinionInputs:
        return replace(self, on=on)

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> OpinionInputs:
        # A kind's assessment is stored exactly when the kind has one: its keys say which.
        tekun = linshi = None
        if "self_care" in stored:
            tekun = TekunAssessment(self_care=dict(stored["self_care"] or {}),
                                    care_mode=stored.get("care_mode"))
        if "band" in stored:
            linshi = LinshiAssessment(band=stored["band"], instalments=stored["instalments"],
                                      linshi_type=stored.get("linshi_type"))
        return cls(household=Household.of(stored["household"]), on=stored["on"],
                   tekun=tekun, linshi=linshi)

    def to_stored(self) -> Stored:
        out: Stored = {"household": self.household.to_stored(), "on": self.on}
        if self.tekun is not None:
            out |= {"self_care": dict(self.tekun.self_care), "care_mode": self.tekun.care_mode}
        if self.linshi is not None:
            out |= {"band": self.linshi.band, "instalments": self.linshi.instalments,
                    "linshi_type": self.linshi.linshi_type}
        return out


# ============================================================================================
# The breakdown: how an amount was computed, kind by kind, as the decision shows it
# ============================================================================================

# Amounts in a stored breakdown are text (exact, as shown); typed, they are Decimals.
_TO_STORED = {
    "Decimal": str,
    "Decimal | None": lambda v: None if v is None else str(v),
    "tuple[str, ...]": list,
    "tuple[Decimal, ...]": lambda v: [str(x) for x in v],
    "tuple[Addon, ...]": lambda v: [a.to_stored() for a in v],
}
_OF_STORED = {
    "Decimal": Decimal,
    "Decimal | None": lambda v: None if v is None else Decimal(v),
    "tuple[str, ...]": tuple,
    "tuple[Decimal, ...]": lambda v: tuple(Decimal(x) for x in v),
    "tuple[Addon, ...]": lambda v: tuple(Addon.of(a) for a in v),
}


class _StoredAsFields:
    """Stored as a dict of its fields in their order, converted by their declared types."""

    @classmethod
    def _converters(cls, table: Mapping[str, Any]) -> list[tuple[str, Any]]:
        # Per class and direction, once: a standard change converts every entitlement's.
        key = f"_converters_{id(table)}"
        if key not in cls.__dict__:
            setattr(cls, key, [(f.name, table.get(str(f.type), _same))
                               for f in fields(cls)])  # type: ignore[arg-type]
        converters: list[tuple[str, Any]] = cls.__dict__[key]
        return converters

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Any:
        return cls(**{name: convert(stored[name])
                      for name, convert in cls._converters(_OF_STORED)})

    def to_stored(self) -> Stored:
        return {name: convert(getattr(self, name))
                for name, convert in self._converters(_TO_STORED)}


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Addon(_StoredAsFields):
    """分类施保: one member's add-on."""

    member: str
    category: str
    percent: Decimal
    amount: Decimal


@dataclass(frozen=True)
class DibaoBreakdown(_StoredAsFields):
    """低保 补差: (standard − per-capita income) × members + add-ons, rounded per policy."""

    kind: str
    standard_kind: str
    standard: Decimal
    assessment_months: int
    income_over_period: Decimal
    excluded_income_over_period: Decimal
    members_counted: int
    per_capita_income: Decimal
    gap_per_capita: Decimal
    gap_total: Decimal
    addons: tuple[Addon, ...]
    addons_total: Decimal
    unrounded: Decimal
    rounding: str
    eligible: bool
    ineligible_reasons: tuple[str, ...]
    monthly_amount: Decimal


@dataclass(frozen=True)
class TekunBreakdown(_StoredAsFields):
    """特困: basic living standard + care by self-care tier."""

    kind: str
    standard_kind: str
    standard: Decimal
    basic_multiple: Decimal
    basic_living: Decimal
    activities_not_achieved: int
    self_care_tier: str
    care_standard: Decimal
    care_mode: str
    unrounded: Decimal
    rounding: str
    eligible: bool
    ineligible_reasons: tuple[str, ...]
    monthly_amount: Decimal


@dataclass(frozen=True)
class DibaoEdgeBreakdown(_StoredAsFields):
    """低保边缘: the income test against a multiple of the standard; no monthly amount."""

    kind: str
    standard_kind: str
    standard: Decimal
    multiple: Decimal
    threshold: Decimal
    assessment_months: int
    members_counted: int
    per_capita_income: Decimal
    below_dibao_standard: bool
    validity_months: int
    eligible: bool
    ineligible_reasons: tuple[str, ...]
    monthly_amount: Decimal


@dataclass(frozen=True)
class LinshiBreakdown(_StoredAsFields):
    """临时救助: band months × standard × household size, paid in instalments."""

    kind: str
    linshi_type: str | None
    standard_kind: str
    standard: Decimal
    household_size: int
    band: str
    band_months: Decimal
    unrounded: Decimal
    rounding: str
    township_ceiling: Decimal
    ceiling_multiple: Decimal
    county_approval_required: bool
    instalments: tuple[Decimal, ...]
    per_capita_income: Decimal | None
    eligible: bool
    ineligible_reasons: tuple[str, ...]
    monthly_amount: Decimal  # the one-off amount for 临时救助


Breakdown = DibaoBreakdown | TekunBreakdown | DibaoEdgeBreakdown | LinshiBreakdown
_BREAKDOWNS: dict[str, type[Any]] = {"dibao": DibaoBreakdown, "tekun": TekunBreakdown,
                                     "dibao_edge": DibaoEdgeBreakdown, "linshi": LinshiBreakdown}


def breakdown_of(stored: Mapping[str, Any]) -> Breakdown:
    result: Breakdown = _BREAKDOWNS[stored["kind"]].of(stored)
    return result


def members_counted(breakdown: Breakdown, otherwise: int) -> int:
    """The household size the amount counted (特困 counts the one person it supports)."""
    if isinstance(breakdown, DibaoBreakdown | DibaoEdgeBreakdown):
        return breakdown.members_counted
    if isinstance(breakdown, LinshiBreakdown):
        return breakdown.household_size
    return otherwise


# ============================================================================================
# The opinion (初审意见)
# ============================================================================================


@dataclass(frozen=True)
class Opinion:
    """The township's opinion of one round (or the 先行救助 grant standing in for it)."""

    round: int
    approve: bool
    reasons: tuple[str, ...]
    amount: Decimal | None
    breakdown: Breakdown | None
    inputs: OpinionInputs
    policy_version: int
    issued_on: date
    publicity_required: bool
    household_size: int

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Opinion:
        b = stored["breakdown"]
        return cls(round=stored["round"], approve=stored["approve"],
                   reasons=tuple(stored["reasons"]), amount=stored["amount"],
                   breakdown=None if b is None else breakdown_of(b),
                   inputs=OpinionInputs.of(stored["inputs"]),
                   policy_version=stored["policy_version"], issued_on=stored["issued_on"],
                   publicity_required=stored["publicity_required"],
                   household_size=stored["household_size"])

    def to_stored(self) -> Stored:
        return {"round": self.round, "approve": self.approve, "reasons": list(self.reasons),
                "amount": self.amount,
                "breakdown": None if self.breakdown is None else self.breakdown.to_stored(),
                "inputs": self.inputs.to_stored(), "policy_version": self.policy_version,
                "issued_on": self.issued_on, "publicity_required": self.publicity_required,
                "household_size": self.household_size}


# ============================================================================================
# The spot check (抽查)
# ============================================================================================


@dataclass(frozen=True)
class SampledCase:
    case_id: str
    kind: str

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> SampledCase:
        return cls(case_id=stored["case_id"], kind=stored["kind"])

    def to_stored(self) -> Stored:
        return {"case_id": self.case_id, "kind": self.kind}
